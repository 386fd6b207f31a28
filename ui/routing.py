"""Streamlit side of routing: the plan picker, a cached router, the routing store, and the
Territory Health section (exception rate, disputes, routing accuracy and drift). The core does the
work (territory_core.route, territory_core.store.routing)."""
from __future__ import annotations

import os

import pandas as pd
import streamlit as st

from territory_core.contract import R
from ui import scenario_widgets as W
from ui.format import md, pct
from ui.state import dataset_version, get_dataset

KIND_LABELS = {
    "no_rule": "No rule covers it", "family_conflict": "Different owners", "inactive_owner": "Owner cannot take it",
    "equal_priority": "Equal rules disagree", "no_rep": "No rep in team", "bad_record": "Bad record",
}


@st.cache_resource(show_spinner=False)
def _routing_store_for(url: str | None):
    from territory_core.store.routing import RoutingStore

    return RoutingStore(W.get_store())


def routing_store():
    """The routing tables of this process's scenario store."""
    return _routing_store_for(os.environ.get("TERRITORY_DB_URL") or None)


def plan_picker(key: str, container=None):
    """Pick the plan to route against (a saved scenario version, or today's plan). Returns the
    scenario, or None after saying why it cannot be used."""
    sid, version = W.pick_scenario(key, label="Plan", container=container)
    try:
        scn = W.load_scenario(sid, version)
    except Exception as exc:  # deleted meanwhile, database down
        st.error(f"The plan could not be opened: {md(exc)}. Pick another one.")
        return None
    if scn.assignment is None:
        st.warning(f"{md(scn.label)} has no assignment (it was never solved). Solve it in the Scenario Editor, "
                   "or pick another plan.")
        return None
    return scn


def _rules_key(rs) -> tuple:
    try:
        rules = tuple((r.id, r.field, r.value, r.rep_id, r.priority) for r in rs.rules())
        away = tuple((u.id, u.rep_id, str(u.start), str(u.end)) for u in rs.unavailability())
    except Exception:
        rules, away = (), ()
    return rules, away


def router_for(scn):
    """The router of ``scn`` with the stored decision rules and reps away (cached in the session
    by plan, dataset and rules). Returns (router, error message or None)."""
    from territory_core.route.router import Router, RoutingError

    rs = routing_store()
    key = (W.scenario_token(scn), dataset_version(), id(get_dataset()), _rules_key(rs))
    cache = st.session_state.setdefault("_router_cache", {})
    if key not in cache:
        if len(cache) > 4:
            cache.clear()
        ds = get_dataset()
        try:
            enriched = W.enriched_for(scn.settings or None) if (scn.settings or {}).get("segment_rules") else None
            cache[key] = (Router.from_scenario(ds, scn, enriched=enriched, decision_rules=rs.rules(),
                                               unavailable=rs.unavailability()), None)
        except RoutingError as exc:
            cache[key] = (None, str(exc))
    return cache[key]


def rep_options(ds=None, *, first=()) -> list[str]:
    """Active, non-placeholder rep ids, ``first`` ones first."""
    from territory_core.route.router import PLACEHOLDER_PREFIX

    ds = ds or get_dataset()
    reps = ds.reps
    ok = reps[R.active].astype("boolean").fillna(True) if R.active in reps.columns else pd.Series(True, index=reps.index)
    if R.placeholder in reps.columns:
        ok &= ~reps[R.placeholder].astype("boolean").fillna(False)
    ids = [r for r in reps.loc[ok.to_numpy(dtype=bool), R.rep_id].astype(str) if not r.startswith(PLACEHOLDER_PREFIX)]
    lead = [r for r in first if r in ids]
    return lead + sorted(r for r in ids if r not in lead)


def user() -> str:
    return W.current_user_name()


# ---------------------------------------------------------------------------------------------- health
# Books larger than this check their routing accuracy in the background: the page draws at once and
# the section fills in when the check is done (about 3 s for 50,000 accounts).
BACKGROUND_FROM = 20_000


def _drift_job(ds, scn, enriched, rules, away):
    """What the accuracy check needs, as one function of plain inputs (no Streamlit): ("ok", drift)
    or ("error", why the plan's rules could not be compiled)."""
    from territory_core.route.router import Router, RoutingError
    from territory_core.route.workflow import routing_drift

    def run():
        try:
            router = Router.from_scenario(ds, scn, enriched=enriched, decision_rules=rules, unavailable=away)
        except RoutingError as exc:
            return ("error", str(exc))
        return ("ok", routing_drift(ds, router))
    return run


def _drift(ds, scn):
    """(ready, ("ok", drift) | ("error", message)): the routing drift of ``scn`` on this data, from the
    process-wide cache (every session on the same saved data shares it); large books are checked
    in the background."""
    from ui.cache import background, shared
    from ui.state import data_token

    rs = routing_store()
    rules_key = _rules_key(rs)
    enriched = W.enriched_for(scn.settings or None) if (scn.settings or {}).get("segment_rules") else None
    key = (W.scenario_token(scn), data_token(), repr(rules_key), enriched is not None,
           repr(sorted((scn.settings or {}).items())) if enriched is not None else "")
    job = _drift_job(ds, scn, enriched, rs.rules(), rs.unavailability())
    if len(ds.accounts) >= BACKGROUND_FROM:
        return background("routing_drift", key, job)
    return True, shared("routing_drift", key, job, spinner="Checking the plan's rules against today's owners...")


def _wait_for_drift(ds, scn) -> None:
    """The accuracy check runs in the background: say so, and look again every second (only this
    part of the page reruns) until it is done, then draw the page again with it."""
    st.info(f"Checking {len(ds.accounts):,} accounts against {md(scn.label)}'s rules in the background; the figures "
            "appear here when the check is done.", icon=":material/hourglass_top:")

    @st.fragment(run_every=1.0)
    def poll():
        if _drift(ds, scn)[0]:
            st.rerun()
    poll()


def health_section() -> None:
    """Territory Health's routing section: exception rate, disputes, routing accuracy and the
    drifted accounts, with one click to add them to a recalibration scenario."""
    st.subheader("Routing: exceptions, disputes and drift")
    try:
        rs = routing_store()
        stats = rs.stats(since=pd.Timestamp.now(tz="UTC") - pd.Timedelta(days=30))
        all_stats = rs.stats()
    except Exception as exc:
        st.error(f"The routing figures could not be read from the scenario database ({md(exc)}). Check "
                 "TERRITORY_DB_URL; the rest of the page is unaffected.")
        return
    c = st.columns(4)
    rate = stats["exception_rate"]
    c[0].metric("Exception rate (30 days)", "no runs yet" if rate is None else pct(rate),
                help="Records that went to the exceptions queue, of all records routed in the last 30 days.")
    c[1].metric("Queue: open", f"{all_stats['queue']['open']:,}",
                help=f"{all_stats['queue']['assigned']:,} assigned, {all_stats['queue']['ruled']:,} settled by a rule, "
                     f"{all_stats['queue']['dismissed']:,} dismissed.")
    d = all_stats["disputes"]
    c[2].metric("Disputes open", f"{d['open']:,}", help="Claims waiting for a decision on the Disputes page.")
    c[3].metric("Disputes decided", f"{d['accepted'] + d['rejected']:,}",
                help=f"{d['accepted']:,} accepted, {d['rejected']:,} rejected.")
    if stats["records"]:
        st.caption(f"Last 30 days: {stats['records']:,} records routed in {stats['runs']:,} runs, "
                   f"{stats['exceptions']:,} to the queue.")

    st.markdown("**Routing accuracy**: the share of accounts whose owner today is the one the plan's rules give "
                "(its assignment, then its routing rules for accounts it does not know).")
    scn = plan_picker("health_route_plan")
    if scn is None:
        return
    ds = get_dataset()
    ready, out = _drift(ds, scn)
    if not ready:
        _wait_for_drift(ds, scn)
        return
    if out[0] == "error":
        st.error(f"The plan's rules could not be compiled: {md(out[1])}")
        return
    drift = out[1]
    c = st.columns(3)
    c[0].metric("Routing accuracy", "n/a" if drift.accuracy is None else pct(drift.accuracy),
                help=f"{drift.accurate:,} of {drift.checked:,} accounts the rules decide.")
    c[1].metric("Drifted accounts", f"{len(drift.drifted):,}")
    c[2].metric("Undecided by the rules", f"{drift.undecided:,}", help="Accounts the rules send to the queue.")
    if drift.drifted.empty:
        st.success(f"No drift: every account is owned as {md(scn.label)} says.")
        return
    view = drift.drifted[["account_id", "name", "owner_today_label", "expected", "rule", "arr", "reason"]].rename(
        columns={"owner_today_label": "owner today", "expected": "plan's rules give"})
    st.dataframe(view, hide_index=True, key="health_drift_table", height=min(400, 38 + 35 * len(view)),
                 column_config={"arr": st.column_config.NumberColumn("ARR", format="dollar")})
    if st.button(f"Add {len(drift.drifted):,} drifted accounts to a recalibration scenario", key="health_recal",
                 help="Keeps today's owner of each drifted account (as an override) in a child scenario of the plan; "
                      "re-solve it in the Scenario Editor to rebalance around them."):
        from territory_core.route.workflow import WorkflowError, add_to_recalibration

        try:
            saved, skipped = add_to_recalibration(W.get_store(), ds, scn, drift.drifted["account_id"], user=user())
            rs.log("recalibrate", "scenario", saved.id, f"{len(drift.drifted) - len(skipped):,} drifted accounts of "
                   f"{scn.label} kept with today's owner in {saved.label}.", user=user())
        except (WorkflowError, Exception) as exc:  # noqa: BLE001 - a message, never a traceback
            st.error(f"Not added: {md(exc)}")
        else:
            st.success(f"Saved {md(saved.label)}: {len(drift.drifted) - len(skipped):,} accounts keep today's owner. "
                       "Open it in the Scenario Editor to re-solve.")
            if skipped:
                st.info(f"{len(skipped):,} skipped: " + md("; ".join(f"{a} {w}" for a, w in skipped[:5])))
