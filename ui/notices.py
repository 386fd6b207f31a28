"""Notices several pages share: what the active dataset is missing, in plain words, with the way
to fix it. The words come from the core (territory_core.ingest.owners); this draws them."""
from __future__ import annotations

import streamlit as st

from territory_core.dataset import Dataset
from territory_core.ingest.owners import rep_coverage
from ui.format import md


def reps_notice(ds: Dataset, *, stop: bool = False) -> bool:
    """Say what is missing when the dataset has no (active) reps or owners that match no rep, with
    a link to the Data page. Returns True when the reps cover every owner. With ``stop``, a page
    that cannot work without reps ends here (after the notice)."""
    cov = rep_coverage(ds)
    msg = cov.message()
    if msg is None:
        return True
    blocking = cov.active_reps == 0
    (st.warning if blocking else st.info)(md(msg), icon=":material/group_off:")
    st.page_link("pages/data.py", label="Open the Data page to add reps", icon=":material/database:")
    if stop and blocking:
        st.stop()
    return False
