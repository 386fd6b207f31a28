"""Territory Modeler: Streamlit entry point and navigation."""
import streamlit as st

from ui import access as AC
from ui.format import md
from ui.cache import start_janitor, trim_memory, warm_static
import ui.runlog
from ui.state import get_dataset, sample_dataset

start_janitor()  # once per process: closed sessions' memory goes back to the system
warm_static()  # once per process, in the background: county centres, chart and table modules

ui.runlog.install()  # benchmarks only (TERRITORY_RUN_LOG)
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
    "Operate": [
        st.Page("pages/exceptions.py", title="Exceptions queue", icon=":material/inbox:", url_path="exceptions"),
        st.Page("pages/disputes.py", title="Disputes", icon=":material/gavel:", url_path="disputes"),
        st.Page("pages/engagement.py", title="Rules of engagement", icon=":material/menu_book:", url_path="engagement"),
    ],
}

nav = st.navigation(PAGES, position="hidden" if AC.needs_sign_in() else "sidebar")

access = AC.gate()  # sign-in, roles file and trusted-header checks: stops here with the reason
ds = get_dataset()
with st.sidebar:
    st.caption("Active dataset")
    st.markdown(f"**{md(ds.name)}**" + (f" · version {ds.version}" if ds.version else ""))
    st.caption(f"{len(ds.accounts):,} accounts · {len(ds.reps):,} reps · {len(ds.opportunities):,} opportunities"
               + ("" if ds.dataset_id else " · not saved in the store" if ds.name != sample_dataset().name else ""))
    if st.session_state.get("_dataset_note"):
        st.warning(md(st.session_state["_dataset_note"]), icon=":material/warning:")
    AC.sidebar(access)

try:
    nav.run()
finally:  # also after st.rerun / st.stop: the run's short-lived frames go back to the system (about 1 ms)
    trim_memory()
