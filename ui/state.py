"""Session state the pages share: the active dataset and the active scenario's settings.

Keys in ``st.session_state``:
- ``dataset``: the active :class:`territory_core.dataset.Dataset` (the sample when unset).
- ``settings``: a dict of the active scenario's settings objects, by name:
  ``"scoring"`` (ScoringConfig), ``"segment_rules"`` (SegmentRules), ``"solver"`` (SolverSettings).
  Each object is a frozen dataclass with ``to_dict()``/``from_dict()``; scenarios save them.
"""
from __future__ import annotations

from typing import Callable, TypeVar

import streamlit as st

from territory_core.dataset import Dataset, load_sample

T = TypeVar("T")


@st.cache_resource(show_spinner="Loading the sample data...")
def _sample() -> Dataset:
    """The sample, or the canonical CSVs in $TERRITORY_SAMPLE_DIR when set (benchmarks serve a
    50,000-account book this way: scripts/bench_browser_controls.py)."""
    import os

    alt = os.environ.get("TERRITORY_SAMPLE_DIR")
    if alt:
        from territory_core.dataset import load_dir

        return load_dir(alt, name=f"Data from {alt}")
    return load_sample()


def _ensure_app_shell() -> None:
    """Streamlit runs the very first session after a server start in its old pages/-folder mode
    (the folder exists), so a deep link such as /health would run pages/health.py alone: no app.py,
    no navigation, no sidebar. Switch the process to st.navigation mode and rerun through app.py."""
    import sys

    from streamlit.runtime.pages_manager import PagesManager

    # AppTest resets this flag before every run and runs switched-to pages directly; a rerun there
    # would drop the run's widget triggers, so the switch is for a real server only.
    if "streamlit.testing.v1.app_test" in sys.modules:
        return
    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()


def get_dataset() -> Dataset:
    _ensure_app_shell()
    ds = st.session_state.get("dataset")
    if ds is None:
        ds = _sample()
        st.session_state["dataset"] = ds
    return ds


def set_dataset(ds: Dataset) -> None:
    """Make ``ds`` the active dataset (clears what was derived from the previous one)."""
    st.session_state["dataset"] = ds
    st.session_state["dataset_version"] = st.session_state.get("dataset_version", 0) + 1


def dataset_version() -> int:
    """Bumps each time the dataset changes: use it as a cache key next to the settings."""
    return st.session_state.get("dataset_version", 0)


def get_setting(key: str, default: Callable[[], T]) -> T:
    settings = st.session_state.setdefault("settings", {})
    if key not in settings:
        settings[key] = default()
    return settings[key]


def set_setting(key: str, value) -> None:
    st.session_state.setdefault("settings", {})[key] = value


def get_active_scenario():
    """The scenario being edited in the Scenario Editor (a territory_core.plan.scenarios.Scenario), or
    None for today's plan. Other pages (Health, Whitespace) may show their figures for it."""
    return st.session_state.get("active_scenario")


def set_active_scenario(scenario) -> None:
    st.session_state["active_scenario"] = scenario
