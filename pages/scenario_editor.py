"""Rebalancing Scenario Editor: what-if events, manual moves and locks, balance settings, the
trade-off curve, re-solve with progress and cancel, undo, save with versions and conflicts."""
from __future__ import annotations

import json
import os
import threading
import time

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from territory_core.contract import A, R, S, X
from territory_core.plan.scenarios import (EventError, Scenario, cost_rows,
                                           describe_event, filter_mask, next_placeholder,
                                           scenario_curve, scenario_reps)
from territory_core.solve.settings import SolverSettings, parse_scope
from territory_core.plan.worker import warm as warm_solver
from territory_core.store.datasets import with_dataset
from territory_core.store.storage import ConflictError, StorageError
from territory_core.text import label as col_label, quantity
from ui import scenario_widgets as W
from ui.access import current_access, refusal
from ui.format import md
from ui.notices import reps_notice
from ui.state import dataset_version, get_dataset, load_stored, set_active_scenario, set_dataset

ds = get_dataset()
NAMES = W.rep_names(ds)
UNDO_DEPTH = 30
SCOPE_WORDS = {
    "auto": "Automatic: with events or manual moves, only what they require; else a full rebalance",
    "affected": "Only what must change hands (leavers' books, unowned accounts, events, manual moves)",
    "all": "Full rebalance: any account may move",
    "reps": "One team: only the accounts of reps with a given region, segment or manager",
}
BANDS_WORDS = {
    None: "Automatic: do-no-harm for a narrow scope, strict bands for a full rebalance",
    "no-worse": "Do no harm: a rep inside its band stays inside, one outside ends no farther from target",
    "absolute": "Strict: every rep ends within target x (1 ± tolerance)",
}

EVENT_LABELS = {
    "rep_leaves": "A rep leaves",
    "new_hire": "A new hire joins",
    "capacity_change": "Capacity change",
    "quota_change": "Quota change",
    "segment_handover": "A segment changes hands",
    "bulk_move": "Bulk move by filter",
}


# ============================================================================ state helpers
def _new_scenario(base=None, name: str = "New scenario") -> Scenario:
    base = base or W.today_scenario()
    return base.with_(name=name, settings=W.settings_dicts(), id=None, version=None, saved_by=None,
                      saved_at=None, parent_id=None, parent_version=None)


def _data_key() -> tuple:
    cur = get_dataset()
    return (dataset_version(), cur.name)


def _open_data(scn: Scenario) -> None:
    """Open the data ``scn`` was solved on (when it is not the active data), with a notice; the
    scenario being edited moves along with it."""
    note = W.open_scenario_data(scn)
    if note:
        st.session_state["se_dsv"] = _data_key()
        st.session_state.setdefault("se_flash", []).append(note)


def _scn() -> Scenario:
    dsv = _data_key()
    cur = st.session_state.get("se_scn")
    if cur is not None and st.session_state.get("se_dsv") != dsv and (cur.input_fingerprint or cur.dataset_id) \
            and W.same_data(cur):
        st.session_state["se_dsv"] = dsv  # the data it was solved on was opened (e.g. from Compare): keep it
    if "se_scn" in st.session_state and st.session_state.get("se_dsv") != dsv:
        # new data loaded: the plan being edited belongs to the old accounts
        _cancel_job()
        st.session_state.pop("se_undo", None)
        st.session_state.pop("se_scn", None)
        st.session_state.pop("se_conflict", None)
        st.session_state.pop("se_partial", None)
        st.session_state.pop("se_failed", None)
        st.session_state.setdefault("se_flash", []).append(
            ("info", f"New data was loaded ({ds.name}): started a new scenario from today's plan. Saved "
                     "scenarios stay available under Start from."))
    st.session_state["se_dsv"] = dsv
    if "se_scn" not in st.session_state:
        st.session_state["se_scn"] = _new_scenario()
        st.session_state["se_dirty"] = False
    return st.session_state["se_scn"]


def _edit(new: Scenario, what: str, *, resolve: bool = True, switch: bool = False) -> None:
    """Replace the edited scenario, keeping the previous state on the undo stack. ``switch``: the
    edit opens another scenario or version (undo then goes back to the previous one as it was)."""
    st.session_state.pop("se_partial", None)  # a plan found for the inputs before this edit
    st.session_state.pop("se_failed", None)   # a failed solve of the inputs before this edit
    _push_undo(what, switch)
    st.session_state["se_scn"] = new
    st.session_state["se_edits"] = st.session_state.get("se_edits", 0) + 1
    if resolve:
        st.session_state["se_dirty"] = True
        if st.session_state.get("se_auto", True):
            _start_solve(new)
    st.session_state.setdefault("se_flash", []).append(("success", what))


def _push_undo(what: str, switch: bool = False) -> None:
    """Remember the scenario as it is now, so Undo can go back to it."""
    stack = st.session_state.setdefault("se_undo", [])
    stack.append((st.session_state["se_scn"], st.session_state.get("se_dirty", False), what, switch))
    del stack[:-UNDO_DEPTH]


def _saved(scn: Scenario, message: str) -> None:
    """A save went through: edit the stored version from now on, and say so."""
    st.session_state["se_scn"] = W.mark_stored(scn)
    st.session_state.pop("se_conflict", None)
    st.session_state.setdefault("se_flash", []).append(("success", message))
    st.rerun()


def _undo() -> None:
    stack = st.session_state.get("se_undo") or []
    if not stack:
        return
    scn, dirty, what, switch = stack.pop()
    _cancel_job()
    st.session_state.pop("se_partial", None)
    st.session_state.pop("se_failed", None)
    if switch:
        _open_data(scn)  # going back to a scenario opened on other data: its data comes back too
    cur = st.session_state["se_scn"]
    if not switch and cur.id is not None and scn.id in (None, cur.id):
        # saving is not an edit: undoing an edit keeps the scenario's place in the store, so the
        # next save is its next version (not a new scenario, not a false conflict)
        scn = scn.with_(id=cur.id, version=cur.version, saved_by=cur.saved_by, saved_at=cur.saved_at,
                        parent_id=cur.parent_id, parent_version=cur.parent_version)
    st.session_state["se_scn"] = scn
    st.session_state["se_edits"] = st.session_state.get("se_edits", 0) + 1
    st.session_state["se_dirty"] = dirty
    st.session_state.setdefault("se_flash", []).append(("info", f"Undid: {what}"))


def _flash() -> None:
    for kind, msg in st.session_state.pop("se_flash", []):
        getattr(st, kind)(md(msg))  # messages name scenarios, reps and accounts: user text


# ============================================================================ solving (in a thread)
def _job():
    return st.session_state.get("se_job")


def _cancel_job() -> None:
    job = _job()
    if job and not job["done"]:
        job["cancel"].set()
        job["discard"] = True


def _solver_keys(scn: Scenario, enriched) -> tuple[str, str]:
    """The names the solver process knows this session's book and its scoring by (the same for
    every session on the same data and scoring settings)."""
    from ui.cache import settings_key
    from ui.state import data_token

    data_key = data_token()
    return data_key, (f"{data_key}|{settings_key((scn.settings or {}).get('scoring'))}|"
                      f"{settings_key((scn.settings or {}).get('segment_rules'))}|{enriched is not None}")


def _send_ahead(scn: Scenario) -> None:
    """While the user reads the page, the book goes to the solver process (once per data and
    scoring; in the background), so the first Re-solve sends only the scenario."""
    job = st.session_state.get("se_job")
    if job is not None and not job.get("done"):
        return
    from territory_core.plan.worker import hold_in_worker
    from ui.cache import trim_memory

    enriched = W.enriched_for(scn.settings)
    data_key, enriched_key = _solver_keys(scn, enriched)
    hold_in_worker(get_dataset(), enriched=enriched, data_key=data_key, enriched_key=enriched_key,
                   done=trim_memory)


def _start_solve(scn: Scenario, save_note: str | None = None) -> None:
    """Solve ``scn`` on the active data in a thread. ``save_note``: save the result as the
    scenario's next version when the solve finds a plan (Re-solve on the newest data)."""
    _cancel_job()
    st.session_state.pop("se_partial", None)
    enriched = W.enriched_for(scn.settings)
    data = get_dataset()
    job = {"cancel": threading.Event(), "phase": "Preparing", "frac": 0.0, "result": None, "error": None,
           "done": False, "discard": False, "t0": time.time(), "source": scn, "save_note": save_note,
           "finished": threading.Event()}

    def progress(phase, frac=None):
        job["phase"] = str(phase)
        try:
            job["frac"] = max(0.0, min(1.0, float(frac))) if frac is not None else job["frac"]
        except (TypeError, ValueError):
            pass

    from territory_core.plan.worker import solve_in_worker
    from ui.cache import trim_memory

    data_key, enriched_key = _solver_keys(scn, enriched)

    def run():
        try:
            # in the solver process, at a lower priority: the other users' pages stay quick meanwhile
            res = solve_in_worker(data, scn, enriched=enriched, progress=progress, cancel=job["cancel"],
                                  data_key=data_key, enriched_key=enriched_key)
            if res is None:  # cancelled before the solver started
                res = scn.with_(assignment=None, report={"status": "cancelled",
                                                         "status_text": "Cancelled: the last plan is kept."})
            job["result"] = with_dataset(res, data)  # the plan belongs to the data it was solved on
        except Exception as exc:  # shown on the page as a message, never a traceback
            job["error"] = exc
        finally:
            job["done"] = True
            job["finished"].set()
            trim_memory()  # the pickled book and plan that went through the pipe

    th = threading.Thread(target=run, name="scenario-solve", daemon=True)
    job["thread"] = th
    st.session_state["se_job"] = job
    th.start()


def _collect_job() -> None:
    """Take a finished solve's result into the editor (runs at the top of each script run)."""
    job = _job()
    if not job or not job["done"] or job.get("collected"):
        return
    job["collected"] = True
    if job["discard"]:
        return
    if job["error"] is not None:
        exc = job["error"]
        st.session_state["se_solve_error"] = (  # a data problem (ValueError) says itself; no exception names
            f"The solve could not run: {exc} Check the balance settings and the events, then re-solve."
            if isinstance(exc, ValueError) else
            f"The solve failed unexpectedly ({exc}). Check the balance settings and the events, then re-solve.")
        return
    res: Scenario = job["result"]
    st.session_state.pop("se_solve_error", None)
    if job.get("user_cancel") and res.assignment is not None:
        # Cancel means "stop, keep what I had": the plan found before the stop is offered, not applied
        st.session_state["se_partial"] = res
        res = res.with_(assignment=None, report={
            "status": "cancelled",
            "status_text": "Cancelled: the last plan is kept. The solver had found a plan before it stopped; "
                           "it is offered below."})
    _take_result(res)
    if job.get("save_note") and not job.get("user_cancel"):
        if res.assignment is not None:
            _autosave(job["save_note"])
        else:
            st.session_state.setdefault("se_flash", []).append(
                ("warning", "No plan was found on the newest data, so no new version was saved. The header says why."))


def _autosave(note: str) -> None:
    """Save the scenario being edited as its next version (after Re-solve on the newest data)."""
    cur = st.session_state["se_scn"]
    user = W.current_user_name()
    to_save = cur
    try:
        to_save, data_note = W.dataset_for_save(cur, user)
        saved = W.get_store().save(to_save, user=user, expected_version=cur.version, note=note)
    except ConflictError as exc:
        st.session_state["se_conflict"] = (str(exc), to_save)
        return
    except StorageError as exc:
        st.session_state.setdefault("se_flash", []).append(
            ("error", f"Re-solved, but not saved: {exc} Save it under Save & history."))
        return
    st.session_state["se_scn"] = W.mark_stored(saved)
    st.session_state.setdefault("se_flash", []).append(
        ("success", f"{note}: saved {saved.name} as version {saved.version}."))


def _take_result(res: Scenario) -> None:
    status = (res.report or {}).get("status")
    if res.assignment is None:
        # one plan on the page: the last feasible one stays, with its own report; the failed solve's
        # report (why, and the fixes proven to work) is kept apart for the notice above it
        st.session_state["se_failed"] = dict(res.report or {})
        # infeasible / no plan in time: the edits were solved, there is just no plan to show;
        # cancelled: whatever was unsolved before the solve still is
        if status != "cancelled":
            st.session_state["se_dirty"] = False
        return
    st.session_state.pop("se_partial", None)
    st.session_state.pop("se_failed", None)
    cur = st.session_state["se_scn"]
    # keep the storage identity and name of what is being edited now
    st.session_state["se_scn"] = res.with_(id=cur.id, version=cur.version, name=cur.name,
                                           description=cur.description)
    st.session_state["se_dirty"] = False


def _poll_job(box) -> None:
    """While a solve runs: show its progress and wait for it (the Cancel button stays live)."""
    job = _job()
    if not job or job.get("collected"):
        return
    if not job["done"]:
        with box:
            bar = st.progress(job["frac"], text="Solving...")
            while not job["done"]:
                secs = time.time() - job["t0"]
                bar.progress(job["frac"], text=f"Solving: {job['phase']} ({secs:.0f} s)"
                             + (" - cancelling..." if job["cancel"].is_set() else ""))
                fin = job.get("finished")
                fin.wait(0.25) if fin is not None else time.sleep(0.25)  # back at once when the plan is in
    # done, and maybe only since the header was drawn (a cancel ends a solve quickly): the next
    # run takes the result, so the page never stays on a finished solve that shows as running
    st.rerun()


def _start_curve(scn: Scenario, enriched, tols: list[float], key: str) -> None:
    """The trade-off curve in the background: points in parallel worker processes, with progress."""
    old = st.session_state.get("se_curve_job")
    if old and not old["done"]:
        old["cancel"].set()
    st.session_state.pop("se_curve_error", None)
    sset = SolverSettings.from_dict(_solver_dict(scn))
    workers = max(1, min(len(tols), os.cpu_count() or 1))
    each = max(3.0, sset.time_limit * workers / len(tols))
    job = {"cancel": threading.Event(), "phase": "starting", "frac": 0.0, "done": False, "result": None,
           "error": None, "t0": time.time(), "key": key}

    def progress(phase, frac=None):
        job["phase"] = str(phase)
        job["frac"] = float(frac or 0.0)

    def run():
        try:
            job["result"] = scenario_curve(ds, scn.with_(settings={**scn.settings, "solver": _solver_dict(scn)}),
                                           tols, time_limit_each=each, enriched=enriched, workers=workers,
                                           progress=progress, cancel=job["cancel"])
        except Exception as exc:  # shown as a message on the page
            job["error"] = exc
        finally:
            job["done"] = True

    th = threading.Thread(target=run, name="tradeoff-curve", daemon=True)
    st.session_state["se_curve_job"] = job
    th.start()


def _collect_curve() -> None:
    job = st.session_state.get("se_curve_job")
    if not job or not job["done"] or job.get("collected"):
        return
    job["collected"] = True
    if job["error"] is not None:
        st.session_state["se_curve_error"] = f"The trade-off curve could not be computed: {job['error']}"
    elif job["result"] is not None:
        st.session_state["se_curve"] = (job["key"], job["result"])
        if job["cancel"].is_set():
            st.session_state["se_curve_error"] = "Cancelled: the points solved before the cancel are shown."


def _poll_curve(box) -> None:
    job = st.session_state.get("se_curve_job")
    if not job or job.get("collected"):
        return
    if not job["done"]:
        with box:
            bar = st.progress(job["frac"], text="Computing the curve...")
            while not job["done"]:
                bar.progress(min(1.0, job["frac"]), text=f"Trade-off curve: {job['phase']} solved "
                             f"({time.time() - job['t0']:.0f} s)" + (" - cancelling..." if job["cancel"].is_set() else ""))
                time.sleep(0.25)
    st.rerun()


def _solver_dict(scn: Scenario) -> dict:
    """The scenario's solver settings as a dict, with the default metrics written out when the
    settings leave them to the solver (so the panel and the curve can edit them)."""
    from territory_core.solve.settings import default_metrics, planning_defaults

    d = dict(scn.settings.get("solver") or {})
    if not d:
        base = W.enriched_for(scn.settings)
        d = planning_defaults(base if base is not None else ds.accounts, ds.reps).to_dict()
    if not d.get("metrics"):
        base = W.enriched_for(scn.settings)
        base = base if base is not None else ds.accounts
        d["metrics"] = [{"column": m.column, "tolerance": m.tolerance, "weight": m.weight, "hard": m.hard}
                        for m in default_metrics(base)]
    return d


# ============================================================================ derived views
def _effective_reps(scn: Scenario) -> list[str]:
    """Reps that can own accounts after the scenario's events (active reps + hires - leavers)."""
    reps = scenario_reps(ds, scn)
    for rid, name in zip(reps[R.rep_id].astype(str), reps[R.name].astype("string").fillna("")):
        NAMES.setdefault(rid, str(name) or rid)
    return [str(r) for r, a in zip(reps[R.rep_id], reps[R.active]) if bool(a)]


def _take_request() -> None:
    """Territory Health's "Rebalance this team" asks for a scenario scoped to one team: only that
    team's accounts move, among its reps, to strict bands; everyone else is held to do-no-harm."""
    req = st.session_state.pop("se_open_request", None)
    if not req:
        return
    scope = str(req.get("scope") or "all")
    try:
        kind, fld, val = parse_scope(scope)
    except ValueError as exc:
        st.session_state.setdefault("se_flash", []).append(("error", f"Could not open that rebalance: {exc}"))
        return
    fresh = _new_scenario(name=str(req.get("name") or "Team rebalance"))
    solver = _solver_dict(fresh)
    solver.update(scope=scope, bands="absolute" if kind == "reps" else None)
    fresh = fresh.with_(settings={**fresh.settings, "solver": solver})
    _cancel_job()
    who = f"reps with {col_label(fld).lower()} {val}" if kind == "reps" else "every rep"
    _edit(fresh, f"Started {fresh.name}: only the accounts of {who} may move, among them; press Re-solve.",
          resolve=False, switch=True)
    st.session_state["se_dirty"] = True
    st.session_state["se_highlight"] = [str(r) for r in req.get("highlight") or []]


def _open_version(loaded: Scenario, verb: str) -> None:
    """Make a stored version the scenario being edited (an undo step; not re-solved), on the data it
    was solved on, and rerun."""
    _cancel_job()
    _open_data(loaded)
    _edit(loaded, f"{verb} {loaded.name} v{loaded.version}", resolve=False, switch=True)
    st.session_state["se_dirty"] = False
    st.rerun()


def _preview_count(accounts: pd.DataFrame, flt: dict) -> int:
    """Accounts a bulk move would take: the exact rule apply_events uses (0 for a bad field)."""
    try:
        return int(filter_mask(accounts, flt).sum()) if flt else 0
    except EventError:
        return 0


def _balance_index(kpis: dict, report: dict | None) -> float | None:
    """0-100: the share of (rep, metric) books within their tolerance band (the scenario KPIs'
    balance index; from the solver's report when the KPIs could not be computed)."""
    if kpis.get("balance_index") is not None:
        return float(kpis["balance_index"])
    inside = total = 0
    for r in (report or {}).get("reps") or []:
        for v in (r.get("metrics") or {}).values():
            if isinstance(v, dict) and v.get("value") is not None and v.get("lower") is not None \
                    and v.get("upper") is not None:
                total += 1
                inside += v["lower"] - 1e-9 <= v["value"] <= v["upper"] + 1e-9
    return 100.0 * inside / total if total else None


# ============================================================================ page
_collect_job()
_collect_curve()
warm_solver()  # the solver process starts now, so Re-solve does not wait for it
scn = _scn()
_take_request()
scn = st.session_state["se_scn"]
set_active_scenario(scn)
_send_ahead(scn)

st.title("Scenario Editor")
st.caption("Start from today's plan or a saved scenario, add what-if events and manual moves, tune the "
           "balance settings, re-solve, and save a version.")
reps_notice(ds)  # no reps, or owners that are not reps: what is missing and how to add it

# ---------------------------------------------------------------- start from
with st.expander("Start from today's plan or a saved scenario", expanded=scn.id is None and not scn.events
                 and not scn.overrides):
    c1, c2 = st.columns([3, 2])
    with c1:
        sid, ver = W.pick_scenario("se_start", label="Start from")
    with c2:
        new_name = st.text_input("Name for a new scenario", value="New scenario", key="se_start_name")
    b1, b2, _ = st.columns([1, 1, 3])
    if b1.button("Open for editing", key="se_open", disabled=sid == W.TODAY,
                 help="Continue editing this saved scenario: saving makes its next version."):
        try:
            _open_version(W.load_scenario(sid, ver), "Opened")
        except Exception as exc:
            st.error(f"Could not open that scenario: {md(exc)}. Pick another version or refresh the list.")
    if b2.button("New scenario from it", key="se_fork", type="primary"):
        try:
            base = W.load_scenario(sid, ver)
            if sid != W.TODAY:
                _open_data(base)
            fresh = _new_scenario(base, new_name.strip() or "New scenario")
            if sid != W.TODAY:
                fresh = base.with_(name=new_name.strip() or f"{base.name} (copy)", id=None, version=None,
                                   saved_by=None, saved_at=None, parent_id=base.id, parent_version=base.version)
            _cancel_job()
            _edit(fresh, f"Started {fresh.name} from {W.TODAY_LABEL if sid == W.TODAY else base.name}", resolve=False, switch=True)
            st.session_state["se_dirty"] = bool(fresh.events or fresh.overrides) and fresh.report is None
            st.rerun()
        except Exception as exc:
            st.error(f"Could not start from that scenario: {md(exc)}.")

# ---------------------------------------------------------------- header
scn = st.session_state["se_scn"]
enriched = W.enriched_for(scn.settings)
report = scn.report or {}
failed = st.session_state.get("se_failed")  # the last solve found no plan: why, and proven fixes
try:
    kpis = W.kpis_for(scn, enriched, scn.settings)
except Exception as exc:
    kpis = {}
    st.warning(f"KPIs could not be computed for this plan: {md(exc)}")


saved = f"saved v{scn.version} by {scn.saved_by}" if scn.version else "not saved yet"
st.subheader(md(scn.name), anchor=False)
n_ev, n_ov = len(scn.events), len(scn.overrides)
on_data = W.same_data(scn)
st.caption(f"From {md(W.scenario_origin(scn))} · {md(saved)} · {n_ev} event{'' if n_ev == 1 else 's'} · "
           f"{n_ov} manual move{'' if n_ov == 1 else 's'} or lock{'' if n_ov == 1 else 's'}"
           + (f" · on dataset {md(get_dataset().label)}" if on_data else ""))

if not on_data:
    st.warning("This plan was solved on different data than the active dataset (accounts or reps changed "
               "since). Press Re-solve to plan on the data loaded now.")
newer = W.newer_data(scn) if on_data else None
if newer is not None:
    nb1, nb2 = st.columns([4, 1.3], vertical_alignment="center")
    nb1.info(f"A newer version of this plan's data exists: {md(newer.label)}, saved by {md(newer.saved_by)} on "
             f"{newer.saved_at:%d %b %Y %H:%M} UTC.", icon=":material/update:")
    if nb2.button("Re-solve on the newest data", key="se_newest",
                  disabled=bool(_job() and not _job()["done"]),
                  help="Opens the newest version of the data, re-solves this scenario on it and, for a saved "
                       "scenario, saves the result as its next version. The version you have stays as it is."):
        try:
            data = load_stored(newer.id, newer.version)
        except Exception as exc:
            st.error(f"The newest data could not be opened: {md(exc)}")
        else:
            set_dataset(data)
            st.session_state["se_dsv"] = _data_key()
            _start_solve(scn, save_note=f"Re-solved on {data.label}" if scn.id else None)
            st.session_state["se_dirty"] = True
            st.session_state.setdefault("se_flash", []).append(
                ("info", f"Re-solving on {data.label}"
                         + ("; the plan is saved as the next version when the solve finishes." if scn.id else ".")))
            st.rerun()
status = report.get("status") or ("today" if scn.assignment is not None else "no_solution")
gap = report.get("gap")
bi = _balance_index(kpis, report)
kept = failed is not None and failed.get("status") in ("infeasible", "no_solution", "cancelled")
if kept:
    st.markdown("**Last feasible plan**, kept from before this solve: " + (
        "the solve was cancelled." if failed.get("status") == "cancelled" else "the latest solve found no plan (see below)."))
m1, m2, m3, m4 = st.columns(4)
m1.metric("Balance index", f"{bi:.0f} / 100" if bi is not None else "-",
          help="Share of rep books inside their tolerance band, over every balanced metric: 100 = "
               "every rep is within its band on every metric.")
m2.metric("Moves", f"{int(kpis.get('moves', report.get('moves', 0)) or 0):,}",
          help="Accounts that change owner against today's plan.")
m3.metric("ARR moved", W.money(kpis.get("arr_moved", report.get("arr_moved", 0))),
          help="Recurring revenue of the accounts that change owner.")
m4.metric("Solver", "Today's plan" if status in ("today", "current") else status.replace("_", " ").capitalize())
words = W.STATUS_WORDS.get(status, str(status))
st.caption(md(report.get("status_text") or words))
scope_now = (scn.settings.get("solver") or {}).get("scope") or "auto"
if report.get("scope"):
    kind_ = parse_scope(report["scope"])[0]
    bands_ = report.get("bands")
    st.caption(md(f"Scope: {SCOPE_WORDS.get(kind_, report['scope'])}"
                  + (f" ({report['scope']})" if kind_ == "reps" else "")
                  + f". Bands: {BANDS_WORDS.get(bands_, bands_)}."))
for w in report.get("warnings") or []:
    st.warning(md(w))

# the cost of this change, against today's plan: what a sales leader signs
if scn.assignment is not None and not scn.is_today:
    try:
        cost = W.cost_for(W.today_scenario(), scn, enriched)
    except Exception as exc:
        cost = None
        st.caption(f"The cost of this change could not be computed: {md(exc)}")
    if cost and (cost["accounts_moved"] or cost["hires"] or cost["leavers"]):  # nothing changes: nothing to sign
        with st.container(border=True):
            st.markdown("**Cost of this change** against today's plan")
            rows = cost_rows(cost)[1:]
            c_a, c_b = st.columns(2)
            for i, (k, v) in enumerate(rows):
                (c_a if i % 2 == 0 else c_b).markdown(f"**{md(k)}:** {md(v)}")
            for h in cost.get("hires") or []:
                if h.get("placeholder"):
                    st.info(md(f"{h['name']} ({h['rep_id']}) is a placeholder for a hire not yet in the CRM: "
                               "map it to a real user id before exporting owners (Compare, tab Export)."))
    if report.get("objective") is not None:
        with st.expander("Solver details"):
            st.caption(md(" · ".join(x for x in (
                f"objective {report['objective']:,.4g}",
                f"best bound {report['bound']:,.4g}" if report.get("bound") is not None else "best bound unknown",
                f"gap {report['gap']:.3%}" if report.get("gap") is not None else "gap unknown",
                f"build {report.get('build_seconds', 0):.1f} s", f"solve {report.get('solve_seconds', 0):.1f} s",
                f"solver {report.get('solver', '')}") if x)))

job = _job()
running = bool(job and not job["done"])
tb1, tb2, tb3, tb4 = st.columns([1.2, 1, 1, 2.5])
if tb1.button("Re-solve", type="primary", key="se_resolve", disabled=running, icon=":material/play_arrow:"):
    _start_solve(scn)
    running = True
if tb2.button("Cancel", key="se_cancel", disabled=not running, icon=":material/stop:"):
    if job and not job["done"]:
        job["user_cancel"] = True
        job["cancel"].set()
if tb3.button(f"Undo ({len(st.session_state.get('se_undo', []))})", key="se_undo_btn",
              disabled=not st.session_state.get("se_undo"), icon=":material/undo:"):
    _undo()
    st.rerun()
tb4.toggle("Re-solve after each edit", value=True, key="se_auto")
progress_box = st.container()
notices = st.container()  # always there, so the tabs below keep their place between runs
with notices:
    _flash()
    if st.session_state.get("se_solve_error"):
        st.error(md(st.session_state["se_solve_error"]))
    partial = st.session_state.get("se_partial")
    fstatus = (failed or {}).get("status")
    if partial is not None and fstatus == "cancelled" and not running:
        pr = partial.report or {}
        with st.container(border=True):
            st.markdown(f"**Plan found before the cancel:** {int(pr.get('moves') or 0):,} moves, "
                        f"{W.money(pr.get('arr_moved') or 0)} ARR moved. {md(pr.get('status_text', ''))}")
            if st.button("Use this plan", key="se_use_partial", icon=":material/check:"):
                _push_undo("Used the plan found before the cancel")  # undo goes back to the kept plan
                _take_result(partial)
                st.session_state.setdefault("se_flash", []).append(
                    ("success", "Using the plan the solver found before the cancel."))
                st.rerun()
    elif fstatus == "cancelled" and not running:
        st.info("Cancelled: the plan above is kept.")
    if st.session_state.get("se_dirty") and not running:
        st.info("Edited since the last solve: the figures above are for the last solved plan. Press Re-solve.")

    # infeasible: why, and only the fixes a re-solve proved, each with its cost
    if fstatus in ("infeasible", "no_solution"):
        expl = failed.get("explanation") or failed.get("explanations") or []
        if isinstance(expl, str):
            expl = [expl]
        st.error("The latest settings cannot all be met: no plan was found." if fstatus == "infeasible" else
                 "The latest solve found no plan within the time limit.")
        for line in expl[:3]:
            st.markdown(f"- {md(line)}")
        if len(expl) > 3:
            with st.expander(f"{len(expl) - 3} more reasons"):
                for line in expl[3:]:
                    st.markdown(f"- {md(line)}")
        fixes = [f for f in failed.get("fixes") or [] if f.get("verified") or fstatus == "no_solution"]
        if fixes:
            st.markdown("**Changes that give a plan** (each was re-solved; one click applies it and re-solves when "
                        "'Re-solve after each edit' is on):")
        for i, fix in enumerate(fixes):
            label = str(fix.get("why") or "apply this change")
            cost_txt = (f": {int(fix['moves']):,} moves, {W.money(fix.get('arr_moved') or 0)} ARR moved"
                        if fix.get("moves") is not None else "")
            if st.button(f"{label[:1].upper() + label[1:]}{cost_txt}", key=f"se_fix_{i}"):
                try:
                    solver = SolverSettings.from_dict(_solver_dict(scn)).with_fix(fix).to_dict()
                except ValueError as exc:
                    st.error(f"That change cannot be applied to these settings: {md(exc)}")
                else:
                    _edit(scn.with_(settings={**scn.settings, "solver": solver}), f"Applied: {label}")
                    st.rerun()

# ---------------------------------------------------------------- tabs
t_events, t_over, t_bal, t_curve, t_res, t_save = st.tabs(
    ["What-if events", "Manual moves & locks", "Balance settings", "Trade-off curve", "Result", "Save & history"],
    key="se_tabs", on_change="rerun")

reps_now = _effective_reps(scn)
all_rep_ids = sorted(set(reps_now) | set(NAMES))
curve_box = None  # the curve's progress: in its tab when open, else at the top
fmt = lambda r: W.rep_label(r, NAMES)  # noqa: E731 - a rep in the pickers

if t_events.open:  # only the open tab is drawn (the others on a click)
    with t_events:
        if scn.events:
            st.markdown("**Events in this scenario**")
            for i, ev in enumerate(scn.events):
                c1, c2 = st.columns([6, 1])
                c1.markdown(f"{i + 1}. {md(describe_event(ev, NAMES))}")
                if c2.button("Remove", key=f"se_ev_rm_{i}"):
                    evs = list(scn.events)
                    evs.pop(i)
                    _edit(scn.with_(events=tuple(evs)), f"Removed event: {describe_event(ev, NAMES)}")
                    st.rerun()
        else:
            st.caption("No events yet: add one below.")
        kind = st.selectbox("Add an event", list(EVENT_LABELS), format_func=EVENT_LABELS.get, key="se_ev_kind")
        ev = None
        if kind == "rep_leaves":
            with st.form("se_f_leave"):
                rep = st.selectbox("Rep who leaves", reps_now, format_func=fmt, key="se_leave_rep")
                if st.form_submit_button("Add event"):
                    ev = {"type": "rep_leaves", "rep_id": rep}
        elif kind == "new_hire":
            regions = sorted(ds.reps[R.region].dropna().astype(str).unique()) if R.region in ds.reps else []
            segs = sorted(ds.reps[R.segment].dropna().astype(str).unique()) if R.segment in ds.reps else []
            tbh = next_placeholder(all_rep_ids)
            ramps = {"25/50/75/100% by quarter": [0.25, 0.5, 0.75, 1.0], "50/75/100% by quarter": [0.5, 0.75, 1.0],
                     "Fully productive from day one": [1.0]}
            with st.form("se_f_hire"):
                c1, c2 = st.columns(2)
                rid = c1.text_input("Rep id", value=tbh, key="se_hire_id",
                                    help=f"Keep the placeholder ({tbh}) until the hire has a CRM user id; the owner "
                                         "export asks you to map it before it writes a Salesforce file.")
                name = c2.text_input("Name", value=f"New hire {tbh.split('-')[-1]}", key="se_hire_name")
                region = c1.selectbox("Region", regions or ["(any)"], key="se_hire_region")
                segment = c2.selectbox("Segment", segs or ["(any)"], key="se_hire_segment")
                start = c1.date_input("Start date", value=pd.Timestamp.today().normalize() + pd.offsets.MonthBegin(1),
                                      key="se_hire_start")
                ramp_name = c2.selectbox("Ramp", list(ramps), key="se_hire_ramp",
                                         help="Productivity by quarter from the start date; the book is sized by the "
                                              "first year's average (25/50/75/100% gives 62.5%).")
                capacity = c1.number_input("Capacity (FTE)", 0.1, 2.0, 1.0, 0.1, key="se_hire_cap")
                quota = c2.number_input("Quota (USD)", 0.0, 1e9, 500_000.0, 50_000.0, key="se_hire_quota")
                hz = c1.text_input("Home ZIP", value="", key="se_hire_zip")
                if st.form_submit_button("Add event"):
                    rid = rid.strip()
                    if not rid:
                        st.error("Rep id is empty: give the new hire an id (their CRM user id, or a placeholder like TBH-1).")
                    elif rid in all_rep_ids:
                        st.error(md(f"Rep id {rid} is already taken by {NAMES.get(rid, 'another new hire')}: pick a new id."))
                    elif hz and not (hz.strip().isdigit() and len(hz.strip()) == 5):
                        st.error(md(f"Home ZIP {hz!r} is not a 5-digit US ZIP: fix it or leave it empty."))
                    else:
                        ev = {"type": "new_hire", "rep_id": rid, "name": name.strip() or rid,
                              "region": None if region == "(any)" else region,
                              "segment": None if segment == "(any)" else segment, "capacity": float(capacity),
                              "ramp_schedule": ramps[ramp_name], "start_date": str(start), "quota": float(quota),
                              "home_zip": hz.strip() or None}
        elif kind in ("capacity_change", "quota_change"):
            with st.form("se_f_cap"):
                rep = st.selectbox("Rep", reps_now, format_func=fmt, key="se_cap_rep")
                if kind == "capacity_change":
                    val = st.number_input("New capacity (FTE)", 0.0, 2.0, 0.5, 0.1, key="se_cap_val")
                else:
                    val = st.number_input("New quota (USD)", 0.0, 1e10, 1_000_000.0, 50_000.0, key="se_quota_val")
                if st.form_submit_button("Add event"):
                    key = "capacity" if kind == "capacity_change" else "quota"
                    ev = {"type": kind, "rep_id": rep, key: float(val)}
        elif kind == "segment_handover":
            if enriched is not None and X.segment in enriched.columns:
                segs = sorted(enriched[X.segment].dropna().astype(str).unique())
            else:
                segs = sorted(ds.reps[R.segment].dropna().astype(str).unique())
            with st.form("se_f_handover"):
                seg = st.selectbox("Segment", segs, key="se_ho_seg")
                c1, c2 = st.columns(2)
                frm = c1.selectbox("From rep", all_rep_ids, format_func=fmt, key="se_ho_from")
                to = c2.selectbox("To rep", reps_now, format_func=fmt, key="se_ho_to")
                if st.form_submit_button("Add event"):
                    if frm == to:
                        st.error("From and to are the same rep: pick two different reps.")
                    else:
                        ev = {"type": "segment_handover", "segment": seg, "from_rep_id": frm, "to_rep_id": to}
        elif kind == "bulk_move":
            base = enriched if enriched is not None else ds.accounts
            fields = [f for f in (A.industry, A.state, X.segment, X.tier, A.owner_id) if f in base.columns]
            flt = {}
            cols = st.columns(len(fields) or 1)
            for c, f in zip(cols, fields):
                opts = sorted(base[f].dropna().astype(str).unique())
                chosen = c.multiselect(f.replace("_", " ").title(), opts, key=f"se_bulk_{f}",
                                       format_func=fmt if f == A.owner_id else str)
                if chosen:
                    flt[f] = chosen
            n_match = _preview_count(base, flt)
            to = st.selectbox("Move them to", reps_now, format_func=fmt, key="se_bulk_to")
            st.caption(f"{n_match:,} accounts match this filter." if flt else "Pick at least one filter value.")
            if st.button("Add bulk move", key="se_bulk_add", disabled=not flt):
                if n_match == 0:
                    st.error("No account matches this filter: widen it (e.g. fewer states or industries).")
                else:
                    ev = {"type": "bulk_move", "filter": flt, "to_rep_id": to}
        if ev is not None:
            _edit(scn.with_(events=scn.events + (ev,)), f"Added event: {describe_event(ev, NAMES)}")
            st.rerun()

if t_over.open:  # only the open tab is drawn (the others on a click)
    with t_over:
        st.caption("Force an account to a rep (a manual move) or keep it where it is (a lock). Rows apply "
                   "on top of the events; the optimizer balances the rest around them.")
        acc = ds.accounts
        owner = dict(zip(acc[A.account_id].astype(str), acc[A.owner_id].astype("string").fillna("")))
        acc_names = dict(zip(acc[A.account_id].astype(str), acc[A.name].astype(str)))
        q = st.text_input("Find an account (name or id)", key="se_ov_find", placeholder="e.g. Acme")
        if q.strip():
            hit = acc[acc[A.name].astype(str).str.contains(q.strip(), case=False, regex=False)
                      | acc[A.account_id].astype(str).str.contains(q.strip(), case=False, regex=False)]
            st.dataframe(hit[[A.account_id, A.name, A.owner_id, A.state, A.arr]].head(20), hide_index=True)
        ov = pd.DataFrame(list(scn.overrides), columns=["account_id", "rep_id", "lock", "reason"])
        ov["lock"] = ov["lock"].fillna(False).astype(bool)
        ov = ov.astype({"account_id": "string", "rep_id": "string", "reason": "string"})
        # a fresh editor after each applied edit or undo, so the table shows the scenario's overrides
        st.session_state["se_ov_editor_key"] = f"se_ov_editor_{st.session_state.get('se_edits', 0)}"
        edited = st.data_editor(
            ov, key=st.session_state["se_ov_editor_key"], num_rows="dynamic", hide_index=True,
            column_config={
                "account_id": st.column_config.TextColumn("Account id", required=True),
                "rep_id": st.column_config.SelectboxColumn("Rep", options=all_rep_ids, format_func=fmt,
                                                           help="Leave empty with Lock ticked to keep today's owner."),
                "lock": st.column_config.CheckboxColumn("Lock", default=False),
                "reason": st.column_config.TextColumn("Reason"),
            }, width="stretch")
        if st.button("Apply manual moves and locks", key="se_ov_apply"):
            rows, errors = [], []
            for i, r in edited.reset_index(drop=True).iterrows():
                aid = str(r["account_id"]).strip() if pd.notna(r["account_id"]) else ""
                rep = str(r["rep_id"]).strip() if pd.notna(r["rep_id"]) else ""
                lock = bool(r["lock"]) if pd.notna(r["lock"]) else False
                if not aid:
                    errors.append(f"Row {i + 1}: account id is empty. Type an id (use Find above) or delete the row.")
                    continue
                if aid not in owner:
                    errors.append(f"Row {i + 1}: account id {aid!r} is not in the data. Use Find above to look it up.")
                    continue
                if not rep:
                    if lock and owner.get(aid):
                        rep = owner[aid]
                    else:
                        errors.append(f"Row {i + 1} ({acc_names.get(aid)}): choose a rep, or tick Lock to keep today's owner.")
                        continue
                rows.append({"account_id": aid, "rep_id": rep, "lock": lock,
                             "reason": (str(r["reason"]) if pd.notna(r["reason"]) else "") or
                             ("Locked in the scenario editor" if lock else "Manual move in the scenario editor")})
            dup = pd.Series([r["account_id"] for r in rows]).duplicated()
            if dup.any():
                errors.append("Each account may appear once: remove the duplicate rows for "
                              + ", ".join(sorted({rows[i]['account_id'] for i in dup[dup].index})) + ".")
            if errors:
                for e in errors:
                    st.error(md(e))
            else:
                _edit(scn.with_(overrides=tuple(rows)), f"Applied {len(rows)} manual moves and locks")
                st.rerun()

if t_bal.open:  # only the open tab is drawn (the others on a click)
    with t_bal:
        solver_d = _solver_dict(scn)
        tok = abs(hash(json.dumps(solver_d, sort_keys=True, default=str))) % 10**8
        num_cols = sorted(c for c in (enriched if enriched is not None else ds.accounts).columns
                          if pd.api.types.is_numeric_dtype((enriched if enriched is not None else ds.accounts)[c])
                          and c not in (A.lat, A.lon, X.depth, X.family_size, "rule_index"))
        metric_opts = sorted(set(num_cols) | {X.account_count} | {str(m.get("column")) for m in solver_d.get("metrics") or []
                                                                 if m.get("column")})
        with st.form(f"se_bal_{tok}"):
            st.markdown("**What may move**")
            s1, s2 = st.columns(2)
            kind0, fld0, val0 = parse_scope(solver_d.get("scope") or "auto")
            scope_kind = s1.selectbox("Scope of the rebalance", list(SCOPE_WORDS), index=list(SCOPE_WORDS).index(kind0),
                                      format_func=SCOPE_WORDS.get, key=f"se_bal_scope_{tok}")
            team_fields = [c for c in (R.manager, R.region, R.segment) if c in ds.reps.columns]
            scope_field = scope_value = None
            if team_fields:
                sf1, sf2 = s1.columns(2)
                scope_field = sf1.selectbox("Team: reps whose", team_fields, format_func=lambda c: col_label(c).lower()
                                            if c != R.manager else "manager",
                                            index=team_fields.index(fld0) if fld0 in team_fields else 0,
                                            key=f"se_bal_scope_field_{tok}",
                                            help="Used when the scope is One team.")
                vals = sorted(ds.reps[scope_field].dropna().astype(str).unique())
                scope_value = sf2.selectbox("is", vals or ["(none)"], index=vals.index(val0) if val0 in vals else 0,
                                            key=f"se_bal_scope_value_{tok}")
            bands_opts = [None, "no-worse", "absolute"]
            bands = s2.selectbox("Bands", bands_opts, index=bands_opts.index(solver_d.get("bands"))
                                 if solver_d.get("bands") in bands_opts else 0, format_func=BANDS_WORDS.get,
                                 key=f"se_bal_bands_{tok}",
                                 help="Do no harm protects every rep the rebalance does not target. With One team, "
                                      "strict bands bring that team's reps into their bands with the fewest moves.")
            st.markdown("**Balanced metrics** (each rep within target x (1 ± tolerance))")
            mdf = pd.DataFrame([dict(m) for m in solver_d.get("metrics") or []],
                               columns=["column", "tolerance", "weight", "hard"])
            mdf = mdf.astype({"column": "string", "tolerance": "float64", "weight": "float64"})
            mdf["hard"] = mdf["hard"].fillna(True).astype(bool)
            m_ed = st.data_editor(mdf[["column", "tolerance", "weight"]], num_rows="dynamic", hide_index=True,
                                  key=f"se_bal_metrics_{tok}",
                                  column_config={
                                      "column": st.column_config.SelectboxColumn("Metric", options=metric_opts, required=True,
                                                                                 format_func=col_label),
                                      "tolerance": st.column_config.NumberColumn("Tolerance (± share of target)",
                                                                                 min_value=0.0, max_value=5.0, step=0.01,
                                                                                 format="%.2f", default=0.1),
                                      "weight": st.column_config.NumberColumn("Weight", min_value=0.0, default=1.0)})
            soft_now = [str(m["column"]) for m in solver_d.get("metrics") or [] if not m.get("hard", True)]
            all_tol = st.number_input("Set every metric's tolerance to ± this % (0 = keep the values in the table)",
                                      min_value=0.0, max_value=500.0, value=0.0, step=1.0, key=f"se_bal_alltol_{tok}")
            c1, c2, c3 = st.columns(3)
            new = {}
            objs = ["disruption", "distance", "balance", "mix"]
            if "objective" in solver_d:
                new["objective"] = c1.selectbox("Objective", objs, index=objs.index(solver_d["objective"])
                                                if solver_d["objective"] in objs else 0, key=f"se_bal_obj_{tok}",
                                                help="What to minimise once every hard band holds.")
            if "disruption_weight_column" in solver_d:
                dw_opts = ["(count of moves)"] + num_cols
                cur = solver_d.get("disruption_weight_column") or "(count of moves)"
                v = c2.selectbox("Weigh moves by", dw_opts, index=dw_opts.index(cur) if cur in dw_opts else 0,
                                 key=f"se_bal_dw_{tok}")
                new["disruption_weight_column"] = None if v == "(count of moves)" else v
            for key, label, col in (("max_moves", "At most N moves (0 = no cap)", c3),
                                    ("max_moves_per_rep", "At most N moves per rep (0 = no cap)", c1),
                                    ("max_arr_moved", "At most this ARR moved (0 = no cap)", c2)):
                if key in solver_d:
                    if key == "max_arr_moved":
                        v = col.number_input(label, min_value=0.0, value=float(solver_d.get(key) or 0), step=100_000.0,
                                             format="%.0f", key=f"se_bal_{key}_{tok}")
                    else:
                        v = col.number_input(label, min_value=0, value=int(solver_d.get(key) or 0), step=1,
                                             key=f"se_bal_{key}_{tok}")
                    new[key] = (None if v <= 0 else (int(v) if key != "max_arr_moved" else float(v)))
            for key, label, col in (("keep_families", "Keep families together", c3),
                                    ("respect_locks", "Respect locked and named accounts", c1)):
                if key in solver_d:
                    new[key] = col.checkbox(label, value=bool(solver_d.get(key)), key=f"se_bal_{key}_{tok}")
            if "holdout_stages" in solver_d:
                stages = sorted(ds.opportunities["stage"].dropna().astype(str).unique()) if len(ds.opportunities) else []
                cur = [str(s_) for s_ in (solver_d.get("holdout_stages") or [])]
                new["holdout_stages"] = c2.multiselect("Holdouts: open opportunities in these stages keep their owner",
                                                       sorted(set(stages) | set(cur)), default=cur,
                                                       key=f"se_bal_hold_{tok}")
            if "balance_within" in solver_d:
                team_opts = [c for c in (R.region, R.segment, R.manager, R.role) if c in ds.reps.columns]
                cur = [c for c in (solver_d.get("balance_within") or []) if c in team_opts]
                new["balance_within"] = c3.multiselect(
                    "Balance within teams of reps sharing", team_opts, default=cur, key=f"se_bal_within_{tok}",
                    format_func=col_label,
                    help="Each rep's target is a share of their own team's book (e.g. West Enterprise), and "
                         "accounts stay inside their team. Empty: balance across all reps.")
            if "eligibility" in solver_d:
                st.markdown("**Eligibility rules** (a rep may own an account only when every rule holds)")
                edf = pd.DataFrame([dict(e) for e in solver_d.get("eligibility") or []],
                                   columns=["account_field", "rep_field", "mode"]).astype("string")
                acc_fields = sorted(set((enriched if enriched is not None else ds.accounts).columns))
                e_ed = st.data_editor(edf, num_rows="dynamic", hide_index=True, key=f"se_bal_elig_{tok}",
                                      column_config={
                                          "account_field": st.column_config.SelectboxColumn("Account field", options=acc_fields, required=True),
                                          "rep_field": st.column_config.SelectboxColumn("Rep field", options=list(ds.reps.columns), required=True),
                                          "mode": st.column_config.SelectboxColumn("Rule", options=["equal", "contains"], default="equal", required=True)})
            st.markdown("**Distance (field teams) and run limits**")
            d1, d2, d3, d4 = st.columns(4)
            dist = solver_d.get("distance") if isinstance(solver_d.get("distance"), dict) else None
            dsrc = dist if dist is not None else solver_d
            dnew = {}
            if "use_distance" in dsrc:
                dnew["use_distance"] = d1.checkbox("Use distance", value=bool(dsrc.get("use_distance")), key=f"se_bal_ud_{tok}")
            for key, label, col in (("distance_weight", "Distance weight", d2), ("weight", "Distance weight", d2),
                                    ("max_radius_km", "Max radius km (0 = none)", d3)):
                if key in dsrc and (key != "weight" or dist is not None):
                    v = col.number_input(label, min_value=0.0, value=float(dsrc.get(key) or 0), key=f"se_bal_d_{key}_{tok}")
                    dnew[key] = (None if key == "max_radius_km" and v <= 0 else float(v))
            if dist is not None:
                new["distance"] = {**dist, **dnew}
            else:
                new.update(dnew)
            if "time_limit" in solver_d:
                new["time_limit"] = float(d4.number_input("Time limit (s)", min_value=1.0, max_value=3600.0,
                                                          value=float(solver_d.get("time_limit") or 60), key=f"se_bal_tl_{tok}"))
            with st.expander("Solver details"):
                e1, e2, e3 = st.columns(3)
                soft = e3.multiselect("Soft bands (penalised by their weight instead of required)",
                                      [str(c) for c in mdf["column"].dropna()], default=soft_now,
                                      format_func=col_label, key=f"se_bal_soft_{tok}")
                if "mip_gap" in solver_d:
                    new["mip_gap"] = float(e1.number_input("Stop within this gap", 0.0, 1.0,
                                                           float(solver_d.get("mip_gap") or 0.0), 0.005, format="%.3f",
                                                           key=f"se_bal_gap_{tok}",
                                                           help="A plan within this share of the best bound is accepted; "
                                                                "it is called optimal only when the bound proves it."))
                if "solver" in solver_d:
                    sv = ["highs", "cbc"]
                    new["solver"] = e2.selectbox("Solver", sv, index=sv.index(solver_d["solver"])
                                                 if solver_d["solver"] in sv else 0,
                                                 format_func={"highs": "HiGHS", "cbc": "CBC"}.get, key=f"se_bal_solver_{tok}")
            apply_bal = st.form_submit_button("Apply balance settings", type="primary")
        if apply_bal:
            errs = []
            metrics = []
            for i, r in m_ed.reset_index(drop=True).iterrows():
                if pd.isna(r["column"]) or not str(r["column"]).strip():
                    errs.append(f"Metric row {i + 1}: pick a metric column or delete the row.")
                    continue
                tol = float(r["tolerance"]) if pd.notna(r["tolerance"]) else 0.1
                if all_tol > 0:
                    tol = all_tol / 100.0
                w = float(r["weight"]) if pd.notna(r["weight"]) else 1.0
                metrics.append({"column": str(r["column"]), "tolerance": tol, "weight": w,
                                "hard": str(r["column"]) not in soft})
            if not metrics:
                errs.append("Balance on at least one metric (e.g. ARR with tolerance 0.10).")
            if scope_kind == "reps":
                if not scope_field or not scope_value or scope_value == "(none)":
                    errs.append("One team: choose the rep field and its value (e.g. manager is Betty Anderson).")
                scope_txt = f"{scope_field}={scope_value}"
            else:
                scope_txt = scope_kind
            new.update(scope=scope_txt, bands=bands)
            d = {**solver_d, **new, "metrics": metrics}
            if "eligibility" in solver_d:
                d["eligibility"] = [{"account_field": str(r["account_field"]), "rep_field": str(r["rep_field"]),
                                     "mode": str(r["mode"]) if pd.notna(r["mode"]) else "equal"}
                                    for _, r in e_ed.iterrows() if pd.notna(r["account_field"]) and pd.notna(r["rep_field"])]
            if not errs:
                try:
                    from territory_core.solve.settings import SolverSettings

                    d = SolverSettings.from_dict(d).to_dict()
                except Exception as exc:
                    errs.append(f"These settings are not valid: {exc}. Fix the value named and apply again.")
            if errs:
                for e in errs:
                    st.error(md(e))
            elif d == solver_d:
                st.info("No change to the balance settings.")
            else:
                _edit(scn.with_(settings={**scn.settings, "solver": d}), "Changed the balance settings")
                st.rerun()

if t_curve.open:  # only the open tab is drawn (the others on a click)
    with t_curve:
        st.caption("Balance against disruption: for each tolerance (every balanced metric within ± that share of "
                   "its target), the fewest moves that achieve it, through the same events, manual moves and scope as "
                   "Re-solve. Points are solved side by side on the machine's cores; the time limit is shared between "
                   "them. Pick a point to use its tolerance.")
        tol_text = st.text_input("Tolerances to try", value="0.03, 0.05, 0.08, 0.10, 0.15, 0.20, 0.30", key="se_curve_tols")
        curve_key = json.dumps([scn.settings.get("solver"), list(scn.events), list(scn.overrides), tol_text],
                               sort_keys=True, default=str)
        cj = st.session_state.get("se_curve_job")
        curve_running = bool(cj and not cj["done"])
        g1, g2, _ = st.columns([1.6, 1, 2])
        if g1.button("Compute the trade-off curve", key="se_curve_go", disabled=curve_running):
            try:
                tols = sorted({float(t) for t in tol_text.replace(";", ",").split(",") if t.strip()})
                if not tols or any(t <= 0 or t > 5 for t in tols):
                    raise ValueError("tolerances must be numbers between 0 and 5, e.g. 0.05 for ±5%")
            except ValueError as exc:
                st.error(f"Tolerances to try: {md(exc)}. Write them separated by commas, e.g. 0.05, 0.1, 0.2.")
                tols = []
            if tols:
                _start_curve(scn, enriched, tols, curve_key)
                curve_running = True
        if g2.button("Cancel the curve", key="se_curve_cancel", disabled=not curve_running, icon=":material/stop:"):
            if cj and not cj["done"]:
                cj["cancel"].set()
        curve_box = st.container()
        if st.session_state.get("se_curve_error"):
            st.error(md(st.session_state["se_curve_error"]))
        cur_curve = st.session_state.get("se_curve")
        if cur_curve is not None:
            ckey, curve = cur_curve
            if ckey != curve_key:
                st.info("The settings changed since this curve was computed: compute it again to be current.")
            curve = pd.DataFrame(curve)
            tcol = next((c for c in ("tolerance", "tol", "epsilon") if c in curve.columns), curve.columns[0])
            mcol = next((c for c in ("moves", "min_moves", "objective") if c in curve.columns), curve.columns[1])
            ok = curve[mcol].notna()
            fig = go.Figure(go.Scatter(x=curve.loc[ok, tcol] * 100, y=curve.loc[ok, mcol], mode="lines+markers",
                                       marker=dict(size=12, color="#2563eb"),
                                       customdata=curve.loc[ok, tcol],
                                       hovertemplate="±%{x:.0f}% tolerance<br>%{y:,.0f} moves<extra></extra>"))
            fig.update_layout(xaxis_title="Balance tolerance (± % of target)", yaxis_title="Fewest moves",
                              height=360, margin=dict(l=10, r=10, t=30, b=10))
            sel = st.plotly_chart(fig, key="se_curve_chart", on_select="rerun", selection_mode="points")
            picked = None
            try:
                pts = (sel or {}).get("selection", {}).get("points", [])
                if pts:
                    picked = float(pts[0].get("customdata", [pts[0]["x"] / 100])[0]
                                   if isinstance(pts[0].get("customdata"), list) else pts[0]["x"] / 100)
            except Exception:
                picked = None
            st.dataframe(curve, hide_index=True, column_config={
                "tolerance": st.column_config.NumberColumn("tolerance", format="percent"),
                "gap": st.column_config.NumberColumn("gap", format="percent"),
                "max_deviation": st.column_config.NumberColumn("worst deviation", format="percent"),
                "arr_moved": st.column_config.NumberColumn("ARR moved", format="$%,.0f"),
                "objective": st.column_config.NumberColumn("objective", format="%.1f"),
                "bound": st.column_config.NumberColumn("bound", format="%.1f")})
            opts = [float(t) for t in curve.loc[ok, tcol]]
            if picked in opts and picked != st.session_state.get("se_curve_last_pick"):
                st.session_state["se_curve_pick"] = picked  # a point clicked on the chart picks it below
            st.session_state["se_curve_last_pick"] = picked
            if opts and st.session_state.get("se_curve_pick") not in opts:
                st.session_state.pop("se_curve_pick", None)
            c1, c2 = st.columns([2, 1], vertical_alignment="bottom")
            choice = c1.selectbox("Use the tolerance of this point", opts, format_func=lambda t: f"±{t * 100:.0f}%",
                                  key="se_curve_pick") if opts else None
            if not opts:
                st.warning("No point of the curve was solved: widen the tolerances or raise the time limit.")
            if c2.button("Use this point", key="se_curve_use", disabled=choice is None):
                solver = _solver_dict(scn)
                solver["metrics"] = [{**dict(m), "tolerance": choice} for m in solver.get("metrics") or []]
                _edit(scn.with_(settings={**scn.settings, "solver": solver}),
                      f"Set every metric's tolerance to ±{choice * 100:.0f}% from the trade-off curve")
                st.rerun()

def _labels(rep_ids: pd.Series):
    """rep_label of each rep id (a label per distinct rep, not per row: thousands of moves)."""
    codes, uniq = pd.factorize(rep_ids)  # a missing id is -1: the last label
    return pd.Series([W.rep_label(r, NAMES) for r in uniq] + [W.rep_label(None, NAMES)],
                     dtype=object).to_numpy()[codes]


if t_res.open:  # only the open tab is drawn (the others on a click)
    with t_res:
        asg = scn.assignment
        if asg is None:
            st.info("No plan yet: press Re-solve.")
        else:
            if kept:
                st.caption("The last feasible plan (the latest solve found no plan).")
            acc = ds.accounts.set_index(A.account_id)
            moved = asg[asg[S.moved].fillna(False).astype(bool)] if S.moved in asg.columns else asg.iloc[0:0]
            st.markdown(f"**{len(moved):,} accounts move** "
                        f"({W.money(acc[A.arr].reindex(moved[S.account_id]).fillna(0).sum())} ARR)")
            if len(moved):
                mv = pd.DataFrame({
                    "account": acc[A.name].reindex(moved[S.account_id]).astype(str).to_numpy(),
                    "from": _labels(moved[S.previous_rep_id]),
                    "to": _labels(moved[S.rep_id]),
                    "arr": acc[A.arr].reindex(moved[S.account_id]).to_numpy(),
                    "reason": moved[S.reason].to_numpy() if S.reason in moved.columns else "",
                    "account_id": moved[S.account_id].to_numpy(),
                }).sort_values("arr", ascending=False)
                st.dataframe(mv, hide_index=True, height=300, column_config={
                    "account": st.column_config.TextColumn("Account"), "from": "From", "to": "To",
                    "arr": st.column_config.NumberColumn("ARR", format="$%,.0f"),
                    "reason": st.column_config.TextColumn("Why", width="large"),
                    "account_id": st.column_config.TextColumn("Account id")})
                from territory_core.plan.export import to_csv_bytes

                no_export = refusal("export")  # a list of owner changes is an owner file
                # the bytes now, not a callable run on click: in one CI run a click here downloaded
                # nothing (a rerun can drop Streamlit's deferred callable); bytes cannot be dropped
                st.download_button("Download these moves (CSV)", to_csv_bytes(mv.rename(columns={
                    "account": "Account", "from": "From", "to": "To", "arr": "ARR", "reason": "Why",
                    "account_id": "Account id"})), file_name=f"{scn.name}_moves.csv", mime="text/csv",
                    key="se_moves_csv", icon=":material/download:", disabled=bool(no_export), help=md(no_export) or None,
                    on_click="ignore")
            reps_rows = report.get("reps") or []
            if reps_rows:
                hl = set(st.session_state.get("se_highlight") or [])
                st.markdown("**Per rep: each balanced metric against its target band**"
                            + (" (reps flagged on Territory Health are marked)" if hl else ""))
                table = []
                for r in reps_rows:
                    rid = str(r.get("rep_id"))
                    row = {"rep": W.rep_label(rid, NAMES)}
                    if hl:
                        row["flagged"] = rid in hl
                    inband = True
                    for m, v in (r.get("metrics") or {}).items():
                        lo = max(0.0, float(v.get("lower") or 0.0))
                        hi = v.get("upper")
                        val = v.get("value")
                        row[col_label(m)] = quantity(m, val)
                        row[f"{col_label(m)} band"] = f"{quantity(m, lo)} to {quantity(m, hi)}" if hi is not None else "-"
                        row[f"{col_label(m)} vs target"] = v.get("deviation")
                        if val is not None and hi is not None:
                            inband &= lo - 1e-6 <= float(val) <= float(hi) + 1e-6
                    row["in band"] = inband
                    table.append(row)
                tdf = pd.DataFrame(table)
                st.dataframe(tdf, hide_index=True, height=320, column_config={
                    **{c: st.column_config.NumberColumn(c, format="percent") for c in tdf.columns if c.endswith("vs target")},
                    "rep": st.column_config.TextColumn("Rep", pinned=True), "in band": "In band",
                    "flagged": st.column_config.CheckboxColumn("Flagged on Health")})
            for note in report.get("notes") or []:
                st.caption(md(note))

if t_save.open:  # only the open tab is drawn (the others on a click)
    with t_save:
        store_ok = True
        try:
            store = W.get_store()
        except Exception as exc:
            store_ok = False
            st.error(f"The scenario database could not be opened: {md(exc)}. Set TERRITORY_DB_URL to a reachable "
                     "database, or unset it to use the local SQLite file.")
        if store_ok:
            user = W.current_user_name()
            c1, c2 = st.columns([3, 2])
            scenario_tok = f"{W.scenario_token(scn)}_{st.session_state.get('se_edits', 0)}"
            name = c1.text_input("Scenario name", value=scn.name, key=f"se_name_{scenario_tok}", max_chars=300)
            desc = c1.text_area("Note for this version (optional)", value="", key=f"se_desc_{scenario_tok}",
                                height=80, placeholder="e.g. Ana takes over Healthcare in TX")
            c2.caption(f"Saving as **{md(user)}**")
            running_now = bool(_job() and not _job()["done"])
            no_save = refusal("save")  # viewers: disabled with the reason (and the store refuses them)
            if no_save:
                c2.caption(md(no_save))
            if c2.button("Save", type="primary", key="se_save", disabled=running_now or scn.assignment is None
                         or bool(no_save), help=md(no_save) or None, icon=":material/save:"):
                if not name.strip():
                    st.error("The scenario needs a name: type one above, then Save.")
                else:
                    to_save = scn.with_(name=name.strip())
                    if st.session_state.get("se_dirty"):
                        st.warning("Saved with the last solved plan; the latest edits were not solved yet.")
                    try:
                        to_save, data_note = W.dataset_for_save(to_save, user)
                        if data_note:
                            st.session_state["se_dsv"] = _data_key()
                            st.session_state.setdefault("se_flash", []).append(("info", data_note))
                        saved_scn = store.save(to_save, user=user, expected_version=to_save.version, note=desc.strip(),
                                               access=current_access())
                        _saved(saved_scn, f"Saved {saved_scn.name} as version {saved_scn.version} by {saved_scn.saved_by}.")
                    except ConflictError as exc:
                        st.session_state["se_conflict"] = (str(exc), to_save)
                    except StorageError as exc:
                        st.error(f"Not saved: {md(exc)}")
                    except Exception as exc:
                        st.error(f"Saving failed and nothing was written ({md(exc)}). Try again; "
                                 "if the database is unreachable check TERRITORY_DB_URL.")
            conflict = st.session_state.get("se_conflict")
            if conflict:
                msg, pending = conflict
                st.error(f"Not saved: {md(msg)}")
                r1, r2, _ = st.columns([1, 1, 3])
                if r1.button("Reload the latest version", key="se_conflict_reload"):
                    try:
                        latest = W.load_scenario(pending.id, None)
                        _open_data(latest)
                        _edit(latest, f"Reloaded {latest.name} v{latest.version} (your edits are one Undo away)",
                              resolve=False, switch=True)
                        st.session_state["se_dirty"] = False
                        st.session_state.pop("se_conflict", None)
                        st.rerun()
                    except Exception as exc:
                        st.error(f"Could not reload: {md(exc)}.")
                if r2.button("Save as a copy", key="se_conflict_copy", disabled=bool(no_save), help=md(no_save) or None):
                    try:
                        copied = store.save_as_copy(pending, user=user, access=current_access())
                        _saved(copied, f"Saved as a new scenario {copied.name} (version {copied.version}).")
                    except Exception as exc:
                        st.error(f"Could not save a copy: {md(exc)}.")
            if scn.id is not None:
                st.markdown("**Version history**")
                try:
                    hist = store.history(scn.id)
                    st.dataframe(hist, hide_index=True, column_config={
                        "arr_moved": st.column_config.NumberColumn("ARR moved", format="dollar"),
                        "moves": st.column_config.NumberColumn("moves", format="localized"),
                        "saved_at": st.column_config.DatetimeColumn("saved at", format="YYYY-MM-DD HH:mm")})
                    vers = sorted((int(v) for v in hist["version"]), reverse=True)
                    h1, h2 = st.columns([2, 1], vertical_alignment="bottom")
                    v_pick = h1.selectbox("Version", vers, format_func=lambda v: f"v{v}", key=f"se_hist_v_{scn.id}")
                    if h2.button("Reopen this version", key="se_hist_open"):
                        _open_version(W.load_scenario(scn.id, v_pick), "Reopened")
                except Exception as exc:
                    st.error(f"The history could not be read: {md(exc)}.")

_poll_job(progress_box)
_poll_curve(curve_box if curve_box is not None else progress_box)
