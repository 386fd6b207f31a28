"""Rules of engagement: the plan's routing rules written for reps (who owns what and by which
rule, families, named accounts, exceptions and disputes), to read here or download as HTML or
Markdown. Made by territory_core.route.engagement."""
from __future__ import annotations

import streamlit as st

from territory_core.route.engagement import engagement_document
from ui.format import md
from ui.routing import plan_picker, router_for

st.title("Rules of engagement")
st.caption("Generated from the plan: share it with the reps so everyone knows who owns what, and how disputes are "
           "decided.")

scn = plan_picker("roe_plan", container=st.columns([2, 4])[0])
if scn is not None:
    router, err = router_for(scn)
    if router is None:
        st.error(f"The plan's rules could not be compiled: {md(err)}")
    else:
        doc = engagement_document(router)
        html_doc = doc.html()
        stem = "".join(ch if ch.isalnum() else "_" for ch in scn.label).strip("_") or "plan"
        c1, c2, _ = st.columns([1, 1, 3])
        c1.download_button("Download HTML", html_doc.encode("utf-8"), f"rules_of_engagement_{stem}.html", "text/html",
                           key="roe_dl_html", on_click="ignore")
        c2.download_button("Download Markdown", doc.markdown().encode("utf-8"), f"rules_of_engagement_{stem}.md",
                           "text/markdown", key="roe_dl_md", on_click="ignore")
        st.iframe(html_doc, height="content")  # srcdoc: the document's own styles stay inside it
