"""Session state the pages share: the active dataset and the active scenario's settings.

Keys in ``st.session_state``:
- ``dataset``: the active :class:`territory_core.dataset.Dataset`. A new session starts on the
  dataset version the store marks active for everyone (territory_core.store.datasets), else the
  sample. Stored datasets carry their ``dataset_id`` and ``version``.
- ``settings``: a dict of the active scenario's settings objects, by name:
  ``"scoring"`` (ScoringConfig), ``"segment_rules"`` (SegmentRules), ``"solver"`` (SolverSettings).
  Each object is a frozen dataclass with ``to_dict()``/``from_dict()``; scenarios save them.
"""
from __future__ import annotations

import itertools
import os
import threading
from typing import Callable, TypeVar

import streamlit as st

from territory_core.dataset import Dataset, load_sample

T = TypeVar("T")


@st.cache_resource(show_spinner="Loading the sample data...")
def _sample() -> Dataset:
    """The sample, or the canonical CSVs in $TERRITORY_SAMPLE_DIR when set (benchmarks serve a
    50,000-account book this way: scripts/bench_browser_controls.py)."""
    from ui.cache import register

    alt = os.environ.get("TERRITORY_SAMPLE_DIR")
    if alt:
        from territory_core.dataset import load_dir

        ds = load_dir(alt, name=f"Data from {alt}")
    else:
        ds = load_sample()
    register(ds, f"sample:{alt or 'built-in'}")
    return ds


def sample_dataset() -> Dataset:
    """The shipped sample (one copy per process)."""
    return _sample()


# ---------------------------------------------------------------------------- the store
@st.cache_resource(show_spinner=False)
def _store_for(url: str | None):
    from territory_core.store.storage import ScenarioStore

    return ScenarioStore(url)


def get_store():
    """The scenario store for this process (TERRITORY_DB_URL, else the SQLite default)."""
    return _store_for(os.environ.get("TERRITORY_DB_URL") or None)


def get_dataset_store():
    """Datasets, mapping memory and settings in the same database as the scenarios."""
    from territory_core.store.datasets import DatasetStore

    return DatasetStore(get_store())


def _stored_token(dataset_id: str, version: int) -> str:
    return f"stored:{os.environ.get('TERRITORY_DB_URL') or ''}:{dataset_id}@{int(version)}"


def load_stored(dataset_id: str, version: int | None = None) -> Dataset:
    """A stored dataset version (the latest when ``version`` is None), read once per process:
    versions never change, so every session shares the copy (ui.cache.DATASETS keeps the last few)."""
    from ui.cache import DATASETS, _spinner, register

    if version is None:
        version = get_dataset_store().latest_version(dataset_id)
    token = _stored_token(dataset_id, int(version))

    def load():
        ds = get_dataset_store().load(dataset_id, int(version))
        register(ds, token)
        return ds

    return DATASETS.get_or_compute((token,), load, on_miss=_spinner("Loading the saved dataset..."))


def share_stored(ds: Dataset) -> Dataset:
    """``ds`` (just saved as its ``dataset_id``/``version``) becomes the process's copy of that
    version, so the sessions that open it next share it instead of reading it again."""
    from ui.cache import DATASETS, register

    if not (ds.dataset_id and ds.version):
        return ds
    token = _stored_token(ds.dataset_id, int(ds.version))
    have = DATASETS.get((token,))
    if have is not None:
        return have
    register(ds, token)
    DATASETS.put((token,), ds)
    return ds


# Cache keys of datasets (dataset_version()): unique in this process, the same for every session on
# one stored version (so they share cached results), 0 for the sample.
_KEYS: dict[tuple[str, int], int] = {}
_KEY_LOCK = threading.Lock()
_COUNTER = itertools.count(1_000_001)


def _key(ds: Dataset) -> int:
    with _KEY_LOCK:
        if ds.dataset_id and ds.version:
            return _KEYS.setdefault((ds.dataset_id, int(ds.version)), next(_COUNTER))
        return next(_COUNTER)


def _team_default() -> Dataset:
    """The dataset the store marks active for new sessions, else the sample. A store that cannot
    be read gives the sample and a note for the sidebar."""
    try:
        ref = get_dataset_store().active()
        if ref is not None:
            return load_stored(*ref)
    except Exception as exc:  # shown in the sidebar; the sample still works
        st.session_state["_dataset_note"] = (f"The saved datasets could not be read ({exc}); showing the sample data.")
    return _sample()


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
    """The active dataset as this session's user may see it: all of it, or for the manager role
    only their team's reps and accounts (territory_core.store.access.filter_dataset), so every
    page and export shows the same subset."""
    _ensure_app_shell()
    ds = st.session_state.get("dataset")
    if ds is None:
        ds = _team_default()
        st.session_state["dataset"] = ds
        if ds.dataset_id:
            st.session_state["dataset_version"] = _key(ds)
    from territory_core.store.access import RolesError, filter_dataset
    from ui.access import current_access

    try:
        access = current_access()
    except RolesError:  # app.py's gate stops every run with the reason before a page gets here
        st.stop()
    if not access.team_only:
        return ds
    from ui.cache import data_token, register, shared

    base = data_token(ds)

    def view():
        v = filter_dataset(ds, access)
        register(v, f"view:{base}:{access.manager}")
        return v

    # one view per dataset and manager for the whole process (every session of that manager)
    return shared("team_view", (base, str(access.manager)), view)


def data_token() -> str:
    """The cache name of the data this session sees (ui.cache.data_token): the same for every session
    on one saved dataset version (or the sample), so they share every cached result."""
    from ui.cache import data_token as token

    return token(get_dataset())


def set_dataset(ds: Dataset, *, same_data: bool = False) -> None:
    """Make ``ds`` the active dataset (clears what was derived from the previous one).
    ``same_data``: ``ds`` holds the same tables as the active dataset (e.g. the active data, now
    saved in the store): nothing derived is cleared."""
    st.session_state["dataset"] = ds
    st.session_state.pop("_dataset_note", None)  # the note was about the sample shown instead
    if not same_data:
        st.session_state["dataset_version"] = _key(ds)


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
