"""Helpers shared by the Scenario Editor and Compare pages (Streamlit side only).

The core does the work (territory_core.plan.scenarios / storage / export / identity / enrich); this
module caches it per dataset version and draws the small pickers both pages use.
"""
from __future__ import annotations

import math
import os
from typing import Any

import pandas as pd
import streamlit as st

from territory_core.contract import R, S
from ui.format import money, pct  # noqa: F401 (pages use W.money / W.pct)
from ui.format import md
from ui.state import (dataset_version, get_dataset, get_dataset_store, get_setting, get_store,  # noqa: F401
                      load_stored, sample_dataset, set_dataset)

TODAY = "__today__"
TODAY_LABEL = "Today's plan"


# ---------------------------------------------------------------------------- store and identity


def current_user_name() -> str:
    """Who is saving: the OIDC user when st.login is configured and signed in, else the trusted
    SSO proxy header named by TERRITORY_TRUSTED_USER_HEADER (loopback servers only), else the OS
    user name (ui.access.user_name)."""
    from ui.access import user_name

    return user_name()


# ---------------------------------------------------------------------------- settings
def settings_dicts() -> dict[str, dict]:
    """The active scenario settings (scoring, segment rules, solver) as plain JSON dicts."""
    out: dict[str, dict] = {}
    for key, factory in _settings_factories().items():
        try:
            out[key] = get_setting(key, factory).to_dict()
        except Exception:
            continue
    return out


def _settings_factories() -> dict:
    from territory_core.analyse.kpis import HealthThresholds
    from territory_core.analyse.scoring import ScoringConfig
    from territory_core.analyse.segments import SegmentRules

    def solver_defaults():
        from territory_core.solve.settings import planning_defaults

        ds = get_dataset()
        base = enriched_for({"scoring": get_setting("scoring", ScoringConfig).to_dict(),
                             "segment_rules": get_setting("segment_rules", SegmentRules.default).to_dict()})
        return planning_defaults(base if base is not None else ds.accounts, ds.reps)

    return {"scoring": ScoringConfig, "segment_rules": SegmentRules.default, "solver": solver_defaults,
            "health_thresholds": HealthThresholds}


def scoring_and_rules(settings: dict | None):
    """ScoringConfig and SegmentRules objects from a scenario's settings dicts (defaults when absent)."""
    scoring = rules = None
    settings = settings or {}
    try:
        from territory_core.analyse.scoring import ScoringConfig

        scoring = ScoringConfig.from_dict(settings["scoring"]) if settings.get("scoring") else None
    except Exception:
        scoring = None
    try:
        from territory_core.analyse.segments import SegmentRules

        rules = SegmentRules.from_dict(settings["segment_rules"]) if settings.get("segment_rules") else None
    except Exception:
        rules = None
    return scoring, rules


# ---------------------------------------------------------------------------- cached core calls
def enriched_for(settings: dict | None = None) -> pd.DataFrame | None:
    """Accounts enriched with potential/whitespace/tier/segment for these settings (the process-wide
    scoring cache, ui.cache.enriched_frame), or None when scoring fails on this data."""
    from ui.cache import enriched_frame

    settings = settings if settings is not None else settings_dicts()
    try:
        return enriched_frame(get_dataset(), settings.get("scoring") or None, settings.get("segment_rules") or None)
    except Exception:
        return None


class _FrameNotes:
    """A value noted per DataFrame object (unhashable, so no WeakKeyDictionary), forgotten with it."""

    def __init__(self):
        self._notes: dict[int, tuple] = {}  # id(frame) -> (weak reference to it, value)

    def get(self, frame):
        rec = self._notes.get(id(frame))
        return rec[1] if rec is not None and rec[0]() is frame else None

    def put(self, frame, value) -> None:
        import weakref

        try:
            self._notes[id(frame)] = (weakref.ref(frame, lambda _r, k=id(frame): self._notes.pop(k, None)), value)
        except TypeError:  # not weak-referenceable: not noted
            pass


_STORED = _FrameNotes()  # a stored version's assignment frame -> (id, version, inputs hash)
_HASHES = _FrameNotes()  # an assignment frame -> its hash


def _inputs_hash(scn) -> str:
    """A hash of what shapes a plan's figures besides its assignment: events, overrides, settings, status."""
    import hashlib
    import json

    return hashlib.sha1(json.dumps([list(scn.events), [str(o) for o in scn.overrides], scn.settings or {},
                                    (scn.report or {}).get("status")], sort_keys=True, default=str).encode()
                        ).hexdigest()[:16]


def mark_stored(scn):
    """``scn`` is a stored version as the store holds it (loaded from it, or just saved to it): its
    cache key is then its id and version, shared by every session that opens that version."""
    if scn is not None and scn.assignment is not None and scn.id is not None and scn.version is not None:
        _STORED.put(scn.assignment, (scn.id, scn.version, _inputs_hash(scn)))  # else keyed by its content
    return scn


def is_stored_plan(scn) -> bool:
    """Is ``scn`` the plan its stored version holds? False for an unsaved scenario, and for a saved
    version edited or re-solved since it was opened (it keeps the id and version it would be saved
    over, but the store does not hold this plan)."""
    if scn is None or scn.id is None or scn.version is None or scn.assignment is None:
        return False
    return _STORED.get(scn.assignment) == (scn.id, scn.version, _inputs_hash(scn))


def scenario_token(scn) -> str:
    """A cache key for a scenario: its stored id and version when it holds that version's plan
    (:func:`is_stored_plan`), else a hash of its assignment, events, overrides and settings."""
    if scn is None:
        return "none"
    if is_stored_plan(scn):
        return f"{scn.id}@{scn.version}"
    # an unsaved plan: its events, overrides, settings and report shape its figures too (the caches
    # are shared by every session, so two sessions' plans of one name must not meet)
    extra = _inputs_hash(scn)
    if scn.assignment is None:
        return f"unsolved:{scn.name}:{extra}"
    return f"{scn.name}:{_assignment_hash(scn.assignment)}:{extra}"


def _assignment_hash(asg: pd.DataFrame) -> int:
    """A hash of (account, rep) pairs, once per assignment frame (a page asks for the same plan's
    token many times a run; 50,000 rows take 20 ms each)."""
    h = _HASHES.get(asg)
    if h is None:
        h = int(pd.util.hash_pandas_object(asg[[S.account_id, S.rep_id]].astype(str), index=False).sum())
        _HASHES.put(asg, h)
    return h


def fingerprint() -> str:
    """dataset_fingerprint of the active dataset (computed once per dataset for the process)."""
    from territory_core.plan.scenarios import dataset_fingerprint
    from ui.cache import shared
    from ui.state import data_token

    ds = get_dataset()
    return shared("fingerprint", (data_token(),), lambda: dataset_fingerprint(ds))


# ---------------------------------------------------------------------------- the data of a scenario
def same_data(scn) -> bool:
    """Was ``scn`` solved on the active dataset (same stored version, or same fingerprint)?"""
    from territory_core.store.datasets import same_data as _same

    return scn is None or _same(scn, get_dataset(), fingerprint())


def open_scenario_data(scn) -> tuple[str, str] | None:
    """Make the data ``scn`` was solved on this session's active dataset, when it is not already.
    Returns (level, one-line notice) for the page to show, or None when nothing changed (the data
    is already active, or it was never stored: then the page's "different data" warning speaks)."""
    if scn is None or same_data(scn):
        return None
    from territory_core.store.datasets import data_for_scenario

    try:
        data = data_for_scenario(scn, get_dataset_store(), sample=sample_dataset, load=load_stored)
    except Exception as exc:
        return ("warning", f"The data {scn.label} was solved on could not be opened ({exc}); it is shown on "
                           f"{get_dataset().label}.")
    if data is None:
        return None
    set_dataset(data)
    return ("info", f"Opened the data {scn.label} was solved on: {data.label}.")


def dataset_for_save(scn, user: str):
    """(scenario to save, notice or None): ``scn`` marked with the stored dataset version it was
    solved on. Data that was never stored (uploaded, not saved) is saved now as a new dataset, so
    every user and process can reopen the plan on it; the sample needs no copy."""
    from territory_core.store.datasets import sample_fingerprint, unique_name, with_dataset

    ds = get_dataset()
    if not same_data(scn):
        return scn, None  # solved on other data: it keeps the reference it has
    if ds.dataset_id:
        return with_dataset(scn, ds), None
    if fingerprint() == sample_fingerprint():
        return with_dataset(scn, ds), None
    store = get_dataset_store()
    info = store.create(ds, name=unique_name(store, ds.name or "Uploaded data"), user=user,
                        note=f"Saved with scenario {scn.name}")
    stored = ds.with_(name=info.name, dataset_id=info.id, version=info.version)
    set_dataset(stored, same_data=True)
    return with_dataset(scn, stored), f"The data was saved as dataset {info.label}, so everyone can open this plan on it."


def newer_data(scn):
    """The newest version of the dataset ``scn`` was solved on, when it is newer (a DatasetInfo), else None."""
    if scn is None or not scn.dataset_id:
        return None
    try:
        info = get_dataset_store().info(scn.dataset_id)
    except Exception:
        return None
    return info if info.version > int(scn.dataset_version or 0) else None


def _plan_key(scn, enriched: pd.DataFrame | None, settings: dict | None) -> tuple:
    """A plan's cache key: its token, the data, and the scoring settings ``enriched`` was made with
    (default: the active settings)."""
    from ui.cache import settings_key
    from ui.state import data_token

    s = settings if settings is not None else settings_dicts()
    return (scenario_token(scn), data_token(), enriched is not None,
            settings_key(s.get("scoring")), settings_key(s.get("segment_rules")))


def loads_for(scn, enriched: pd.DataFrame | None, settings: dict | None = None) -> pd.DataFrame:
    """rep_loads of a plan, cached for the process (see :func:`_plan_key`)."""
    from territory_core.plan.scenarios import rep_loads
    from ui.cache import shared

    ds = get_dataset()
    return shared("rep_loads", _plan_key(scn, enriched, settings), lambda: rep_loads(ds, scn, enriched))


def kpis_for(scn, enriched: pd.DataFrame | None, settings: dict | None = None) -> dict:
    """scenario_kpis of a plan, cached for the process (see :func:`_plan_key`); its rep loads are
    the ones :func:`loads_for` keeps, computed once for both."""
    from territory_core.plan.scenarios import scenario_kpis
    from ui.cache import shared

    ds = get_dataset()
    return shared("scenario_kpis", _plan_key(scn, enriched, settings),
                  lambda: scenario_kpis(ds, scn, enriched=enriched, loads=loads_for(scn, enriched, settings)))


def cost_for(baseline, scn, enriched: pd.DataFrame | None) -> dict:
    """change_cost of ``scn`` against ``baseline``, kept in session state by the two plans' tokens."""
    from territory_core.plan.scenarios import change_cost

    cache = st.session_state.setdefault("_scn_cost_cache", {})
    # not the scored frame's id: the shared cache hands out a new copy each run (the card was recomputed
    # on every rerun); the cost reads only ARR and pipeline, which scoring does not change
    key = (scenario_token(baseline), scenario_token(scn), dataset_version(), enriched is not None)
    if key not in cache:
        if len(cache) > 16:
            cache.clear()
        cache[key] = change_cost(get_dataset(), baseline, scn, enriched)
    return cache[key]


# ---------------------------------------------------------------------------- pickers
def saved_scenarios() -> pd.DataFrame:
    try:
        return get_store().list_scenarios()
    except Exception as exc:  # database unreachable or busy: the pages say so and still show today's plan
        from territory_core.store.storage import StorageError

        if isinstance(exc, StorageError):  # its message says what happened and what to do
            where = "" if "TERRITORY_DB_URL" in str(exc) else \
                " Check TERRITORY_DB_URL (unset, the local file .territory/scenarios.db is used)."
            st.error(f"The scenario database could not be read: {md(exc)}{where} Today's plan still works.")
        else:
            st.error(f"The scenario database could not be read ({exc}). Check TERRITORY_DB_URL or the file "
                     ".territory/scenarios.db; today's plan still works.")
        return pd.DataFrame(columns=["id", "name", "latest_version", "saved_by", "saved_at", "parent"])


def _latest_col(df: pd.DataFrame) -> str | None:
    for c in ("latest_version", "version", "latest"):
        if c in df.columns:
            return c
    return None


def scenario_options(df: pd.DataFrame) -> tuple[list[str], dict[str, str]]:
    ids = [TODAY] + [str(i) for i in df["id"]] if len(df) else [TODAY]
    labels = {TODAY: TODAY_LABEL}
    lc = _latest_col(df)
    for _, row in df.iterrows():
        v = f" (v{int(row[lc])})" if lc and pd.notna(row[lc]) else ""
        labels[str(row["id"])] = f"{row['name']}{v}"
    return ids, labels


def scenario_origin(scn) -> str:
    """Where a scenario came from, in words: "today's plan" or "scenario FY27 plan v3" (the
    parent's name from the store; its id only when the parent is gone)."""
    pid = getattr(scn, "parent_id", None)
    if pid is None:
        return "today's plan"
    ver = getattr(scn, "parent_version", None)
    df = saved_scenarios()
    name = None
    if len(df) and "id" in df.columns:
        hit = df[df["id"].astype(str) == str(pid)]
        if len(hit):
            name = str(hit["name"].iloc[0])
    v = f" v{ver}" if ver else ""
    return f"scenario {name}{v}" if name else f"scenario {str(pid)[:8]}{v} (no longer saved)"


def version_options(scenario_id: str) -> list[int]:
    if scenario_id == TODAY:
        return []
    try:
        h = get_store().history(scenario_id)
    except Exception:
        return []
    return sorted((int(v) for v in h["version"]), reverse=True)


def pick_scenario(key: str, *, label: str = "Scenario", default: str = TODAY, container=None):
    """A scenario + version picker. Returns (scenario_id or TODAY, version or None)."""
    c = container or st
    df = saved_scenarios()
    ids, labels = scenario_options(df)
    idx = ids.index(default) if default in ids else 0
    sid = c.selectbox(label, ids, index=idx, format_func=lambda i: labels.get(i, i), key=f"{key}_id")
    version = None
    if sid != TODAY:
        versions = version_options(sid)
        if versions:
            version = c.selectbox("Version", versions, format_func=lambda v: f"v{v}" + (" (latest)" if v == versions[0] else ""),
                                  key=f"{key}_ver_{sid}")
    return sid, version


def load_scenario(sid: str, version: int | None):
    """Today's plan or a stored scenario version."""
    if sid == TODAY:
        return today_scenario()
    from territory_core.store.access import restrict_scenario

    scn = get_store().load(sid, version)
    # a manager's session holds their team only: so does every scenario it opens (a cut of the stored
    # version, keyed by its content: never sharing the whole version's cached figures)
    return restrict_scenario(scn, get_dataset()) if _team_only() else mark_stored(scn)


def _team_only() -> bool:
    from ui.access import current_access

    return current_access().team_only


def today_scenario():
    """Today's plan on the active data (one per dataset, or team view, for the process)."""
    from territory_core.plan.scenarios import Scenario
    from ui.cache import shared
    from ui.state import data_token

    ds = get_dataset()
    return shared("today", (data_token(),), lambda: Scenario.today(ds, fingerprint=fingerprint()))


# ---------------------------------------------------------------------------- formatting
class RepNames(dict):
    """rep_id -> name, with ``details``: rep_id -> "Region, Segment" for the pickers."""

    details: dict[str, str]

    def __init__(self, *args, details: dict[str, str] | None = None, **kw):
        super().__init__(*args, **kw)
        self.details = dict(details or {})


def rep_names(ds=None, scenarios=()) -> RepNames:
    """Names (and region, segment) of the dataset's reps and of the new hires of ``scenarios``."""
    ds = ds or get_dataset()
    frames = [ds.reps]
    for scn in scenarios or ():
        if scn is not None and getattr(scn, "events", None):
            try:
                from territory_core.plan.scenarios import apply_events

                frames.append(apply_events(ds, scn.events).reps)
            except Exception:  # an event that cannot apply: its hire keeps its id as a label
                pass
    names, details = {}, {}
    for reps in frames:
        if reps is None or R.rep_id not in reps.columns:
            continue
        for _, row in reps.iterrows():
            rid = str(row[R.rep_id])
            if rid in names:
                continue
            nm = row.get(R.name)
            names[rid] = str(nm) if nm is not None and not pd.isna(nm) and str(nm).strip() else rid
            parts = [str(row.get(c)) for c in (R.region, R.segment)
                     if c in reps.columns and row.get(c) is not None and not pd.isna(row.get(c)) and str(row.get(c)).strip()]
            if parts:
                details[rid] = ", ".join(parts)
    return RepNames(names, details=details)


def rep_label(rep_id: Any, names: dict[str, str]) -> str:
    """A rep for pickers: "Priya Ramirez · West, Mid-Market (R004)" (name, region, segment, id)."""
    if rep_id is None or (isinstance(rep_id, float) and math.isnan(rep_id)) or rep_id is pd.NA:
        return "(unassigned)"
    rid = str(rep_id)
    if rid not in names:
        return rid
    detail = getattr(names, "details", {}).get(rid)
    return f"{names[rid]} · {detail} ({rid})" if detail else f"{names[rid]} ({rid})"


STATUS_WORDS = {
    "optimal": "Optimal: proven best for these settings",
    "feasible": "Feasible: a good plan, not proven best",
    "infeasible": "Infeasible: these settings cannot all be met",
    "no_solution": "No plan found within the time limit",
    "cancelled": "Cancelled: the last plan is kept",
    "today": "Today's plan (not solved)",
    "current": "Today's plan (not optimised)",
}
