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
from ui.state import dataset_version, get_dataset, get_setting

TODAY = "__today__"
TODAY_LABEL = "Today's plan"


# ---------------------------------------------------------------------------- store and identity
@st.cache_resource(show_spinner=False)
def _store_for(url: str | None):
    from territory_core.store.storage import ScenarioStore

    return ScenarioStore(url)


def get_store():
    """The scenario store for this process (TERRITORY_DB_URL, else the SQLite default)."""
    return _store_for(os.environ.get("TERRITORY_DB_URL") or None)


def current_user_name() -> str:
    """Who is saving: the OIDC user when st.login is configured and signed in, else the trusted
    SSO proxy header named by TERRITORY_TRUSTED_USER_HEADER, else the OS user name."""
    from territory_core.store.identity import current_user

    oidc = None
    try:
        if st.user.get("is_logged_in"):
            oidc = st.user.to_dict()
    except Exception:  # no auth section, or an older Streamlit: no OIDC user
        oidc = None
    try:
        headers = dict(st.context.headers)
    except Exception:
        headers = None
    return current_user(headers, oidc, os.environ.get("TERRITORY_TRUSTED_USER_HEADER") or None)


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
        from territory_core.solve.model import planning_defaults

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
@st.cache_data(show_spinner="Scoring accounts...", max_entries=8)
def _enriched(_ds, version: int, name: str, scoring_json: str, rules_json: str) -> pd.DataFrame:
    import json

    from territory_core.analyse.enrich import enrich_accounts

    scoring, rules = scoring_and_rules({"scoring": json.loads(scoring_json) or None,
                                        "segment_rules": json.loads(rules_json) or None})
    return enrich_accounts(_ds, scoring, rules)


def enriched_for(settings: dict | None = None) -> pd.DataFrame | None:
    """Accounts enriched with potential/whitespace/tier/segment for these settings (cached), or
    None when the scoring module is not available or fails on this data."""
    import json

    ds = get_dataset()
    settings = settings if settings is not None else settings_dicts()
    try:
        return _enriched(ds, dataset_version(), ds.name,
                         json.dumps(settings.get("scoring") or {}, sort_keys=True, default=str),
                         json.dumps(settings.get("segment_rules") or {}, sort_keys=True, default=str))
    except Exception:
        return None


def scenario_token(scn) -> str:
    """A cache key for a scenario: its stored id and version, or a hash of its assignment."""
    if scn is None:
        return "none"
    if scn.id is not None and scn.version is not None:
        return f"{scn.id}@{scn.version}"
    if scn.assignment is None:
        return f"unsolved:{scn.name}:{len(scn.events)}:{len(scn.overrides)}"
    h = pd.util.hash_pandas_object(scn.assignment[[S.account_id, S.rep_id]].astype(str), index=False).sum()
    return f"{scn.name}:{int(h)}"


def fingerprint() -> str:
    """dataset_fingerprint of the active dataset (cached per dataset version)."""
    from territory_core.plan.scenarios import dataset_fingerprint

    ds = get_dataset()
    key = (dataset_version(), ds.name, id(ds))
    cache = st.session_state.get("_fp_cache")
    if not cache or cache[0] != key:
        cache = (key, dataset_fingerprint(ds))
        st.session_state["_fp_cache"] = cache
    return cache[1]


def kpis_for(scn, enriched: pd.DataFrame | None) -> dict:
    """scenario_kpis for a scenario, cached in session state by scenario token and dataset version."""
    from territory_core.plan.scenarios import scenario_kpis

    cache = st.session_state.setdefault("_scn_kpi_cache", {})
    key = (scenario_token(scn), dataset_version(), id(enriched))
    if key not in cache:
        if len(cache) > 16:
            cache.clear()
        cache[key] = scenario_kpis(get_dataset(), scn, enriched=enriched)
    return cache[key]


# ---------------------------------------------------------------------------- pickers
def saved_scenarios() -> pd.DataFrame:
    try:
        return get_store().list_scenarios()
    except Exception as exc:  # database unreachable: the pages say so and still show today's plan
        st.error(f"The scenario database could not be read ({type(exc).__name__}: {exc}). "
                 "Check TERRITORY_DB_URL or the file .territory/scenarios.db; today's plan still works.")
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
    return get_store().load(sid, version)


def today_scenario():
    from territory_core.plan.scenarios import Scenario

    cache = st.session_state.setdefault("_today_cache", {})
    v = dataset_version()
    if v not in cache:
        cache.clear()
        cache[v] = Scenario.today(get_dataset())
    return cache[v]


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
