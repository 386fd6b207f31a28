"""Territory Modeler: Streamlit entry point and navigation."""
import streamlit as st

from ui.state import get_dataset

st.set_page_config(page_title="Territory Modeler", page_icon="static/icon.png", layout="wide")

PAGES = {
    "Data": [
        st.Page("pages/data.py", title="Data", icon=":material/database:", default=True),
    ],
    "Analyse": [
        st.Page("pages/health.py", title="Territory Health", icon=":material/monitor_heart:", url_path="health"),
        st.Page("pages/whitespace_map.py", title="Whitespace Map", icon=":material/map:", url_path="whitespace_map"),
        st.Page("pages/segments.py", title="Segment Builder", icon=":material/category:", url_path="segments"),
    ],
    "Plan": [
        st.Page("pages/scenario_editor.py", title="Scenario Editor", icon=":material/tune:", url_path="scenario_editor"),
        st.Page("pages/compare.py", title="Compare", icon=":material/compare_arrows:", url_path="compare"),
        st.Page("pages/territory_map.py", title="Territory Map", icon=":material/polyline:", url_path="territory_map"),
    ],
}

nav = st.navigation(PAGES, position="sidebar")

ds = get_dataset()
with st.sidebar:
    st.caption("Active dataset")
    st.markdown(f"**{ds.name}**")
    st.caption(f"{len(ds.accounts):,} accounts · {len(ds.reps):,} reps · {len(ds.opportunities):,} opportunities")

nav.run()
