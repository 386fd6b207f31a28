"""Measuring plans: :func:`diff_scenarios` (the accounts that change hands, with reasons in names),
:func:`change_cost` (what a change costs in accounts, ARR and people), per-rep loads against their
bands and :func:`scenario_kpis`."""
from __future__ import annotations

import math
from typing import Any, Mapping

import numpy as np
import pandas as pd

from ..contract import A, R, S, X
from ..dataset import Dataset
from ..analyse.kpis import gini
from ..geo.zips import haversine_km
from ..text import COLUMN_LABELS
from .events import apply_events
from .inputs import solver_settings
from .scenario_model import EventError, Scenario, _json_safe, is_placeholder, ramp_of

# --------------------------------------------------------------------------------------------
# Diff and KPIs
# --------------------------------------------------------------------------------------------

def _need_assignment(sc: Scenario) -> pd.DataFrame:
    if sc.assignment is None:
        status = (sc.report or {}).get("status_text")
        raise ValueError(f"Scenario {sc.name!r} has no assignment yet" + (f" ({status})" if status else "")
                         + ": re-solve it first.")
    return sc.assignment


def scenario_rep_names(dataset: Dataset, *scenarios: Scenario) -> dict[str, str]:
    """rep_id -> name for the dataset's reps and the new hires of ``scenarios``' events."""
    frames = [dataset.reps]
    for sc in scenarios:
        if sc is not None and sc.events:
            try:
                frames.append(apply_events(dataset, sc.events).reps)
            except EventError:
                pass
    out: dict[str, str] = {}
    for reps in frames:
        if reps is None or R.rep_id not in reps.columns:
            continue
        ids = reps[R.rep_id].astype("string").fillna("").astype(str)
        nm = reps[R.name].astype("string") if R.name in reps.columns else ids
        for i, n in zip(ids, nm):
            if i and i not in out:
                out[i] = str(n) if pd.notna(n) and str(n).strip() else i
    return out


def name_reps(text, names: Mapping[str, str]):
    """``text`` with every rep id of ``names`` (as a whole word) replaced by the rep's name, so
    "moved to R012: R003 was +23% against its arr target" reads with names and can be searched
    by name. Missing text is returned as is."""
    if text is None or (not isinstance(text, str) and pd.isna(text)) or not names:
        return text
    return _names_pattern(names).sub(lambda m: names.get(m.group(0), m.group(0)), str(text))


_PATTERN_CACHE: dict[int, tuple[Mapping, Any]] = {}


def _names_pattern(names: Mapping[str, str]):
    import re

    hit = _PATTERN_CACHE.get(id(names))
    if hit is not None and hit[0] is names:
        return hit[1]
    ids = sorted((str(k) for k in names if str(k)), key=len, reverse=True)
    pat = re.compile(r"(?<![\w-])(?:" + "|".join(re.escape(i) for i in ids) + r")(?![\w-])") if ids else re.compile(r"(?!x)x")
    if len(_PATTERN_CACHE) > 32:
        _PATTERN_CACHE.clear()
    _PATTERN_CACHE[id(names)] = (names, pat)
    return pat


def _why(reason) -> str:
    """The cause part of a solver reason ("moved to R1: R3 was +20% ..." -> "R3 was +20% ...")."""
    if reason is None or (not isinstance(reason, str) and pd.isna(reason)):
        return ""
    r = str(reason).strip()
    if r.startswith("moved to ") and ": " in r:
        return r.split(": ", 1)[1]
    return r


def baseline_reasons(base_label: str, today, from_rep, to_rep, reason, names: Mapping[str, str]) -> list[str]:
    """Why each account changes hands between a baseline and a scenario, relative to the
    baseline, with rep names. ``today``: today's owner per account; ``from_rep``: the baseline's
    owner; ``to_rep``: the scenario's; ``reason``: the scenario's own reason (relative to today)."""
    def nm(r):
        if r is None or (not isinstance(r, str) and pd.isna(r)) or str(r) == "":
            return "nobody"
        return names.get(str(r), str(r))

    out = []
    for t, f, to, why in zip(today, from_rep, to_rep, reason):
        t = None if t is None or (not isinstance(t, str) and pd.isna(t)) else str(t)
        f = None if f is None or (not isinstance(f, str) and pd.isna(f)) else str(f)
        to = None if to is None or (not isinstance(to, str) and pd.isna(to)) else str(to)
        w = name_reps(_why(why), names)
        if f == t:  # the baseline keeps today's owner: the scenario's own reason says why it moves
            out.append(name_reps(str(why), names) if isinstance(why, str) and why.strip() else f"moved to {nm(to)}")
        elif to == t:  # the baseline moved it; this plan leaves it where it is today
            extra = f" ({w.removeprefix('kept: ')})" if w.startswith("kept: ") else ""
            out.append(f"kept with {nm(t)}, today's owner{extra}; {base_label} gives it to {nm(f)}")
        else:  # both move it away from today's owner, to different reps: this plan's reason first
            own = f"moved to {nm(to)}" + (f": {w}" if w and not w.startswith("kept") else "")
            out.append(f"{own}; {base_label} gives it to {nm(f)} instead")
    return out


def diff_scenarios(a: Scenario, b: Scenario, accounts: pd.DataFrame, *,
                   names: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Accounts owned by a different rep in ``b`` than in ``a``: columns account_id, name,
    from_rep_id, to_rep_id, arr, reason (``b``'s reason), largest arr first.

    With ``names`` (rep_id -> name, e.g. :func:`scenario_rep_names`), also ``from_name`` and
    ``to_name``, and the reason is relative to ``a`` (the baseline) with rep names instead of ids
    (:func:`baseline_reasons`); ``today_rep_id`` is today's owner."""
    aa = _need_assignment(a)[[S.account_id, S.rep_id]].rename(columns={S.rep_id: "from_rep_id"})
    bb = _need_assignment(b)
    cols = [S.account_id, S.rep_id] + ([S.reason] if S.reason in bb.columns else []) + \
        ([S.previous_rep_id] if S.previous_rep_id in bb.columns else [])
    bb = bb[cols].rename(columns={S.rep_id: "to_rep_id"})
    for d in (aa, bb):
        d[S.account_id] = d[S.account_id].astype("string")
    m = aa.merge(bb, on=S.account_id, how="outer")
    fr = m["from_rep_id"].astype("string").fillna("")
    to = m["to_rep_id"].astype("string").fillna("")
    m = m[fr != to].copy()
    info = accounts[[A.account_id, A.name] + ([A.arr] if A.arr in accounts.columns else [])].copy()
    info[A.account_id] = info[A.account_id].astype("string")
    info = info.drop_duplicates(A.account_id)
    m = m.merge(info, on=S.account_id, how="left")
    if A.arr not in m.columns:
        m[A.arr] = 0.0
    if S.reason not in m.columns:
        m[S.reason] = pd.NA
    out = pd.DataFrame({
        "account_id": m[S.account_id].astype("string"),
        "name": m[A.name].astype("string"),
        "from_rep_id": m["from_rep_id"].astype("string"),
        "to_rep_id": m["to_rep_id"].astype("string"),
        "arr": pd.to_numeric(m[A.arr], errors="coerce").fillna(0.0).astype(float),
        "reason": m[S.reason].astype("string"),
    })
    if names is not None:
        today = m[S.previous_rep_id].astype("string") if S.previous_rep_id in m.columns else \
            pd.Series(pd.NA, index=m.index, dtype="string")
        if A.owner_id in accounts.columns:
            own = accounts[[A.account_id, A.owner_id]].copy()
            own[A.account_id] = own[A.account_id].astype("string")
            own = own.drop_duplicates(A.account_id).set_index(A.account_id)[A.owner_id].astype("string")
            today = today.fillna(pd.Series(m[S.account_id].astype("string").map(own).to_numpy(), index=m.index,
                                           dtype="string"))
        out["today_rep_id"] = today.to_numpy()
        out["from_name"] = [names.get(str(r), str(r)) if pd.notna(r) else "(nobody)" for r in out["from_rep_id"]]
        out["to_name"] = [names.get(str(r), str(r)) if pd.notna(r) else "(nobody)" for r in out["to_rep_id"]]
        out["reason"] = pd.array(baseline_reasons(a.label, out["today_rep_id"], out["from_rep_id"], out["to_rep_id"],
                                                  out["reason"], names), dtype="string")
    return out.sort_values(["arr", "account_id"], ascending=[False, True], kind="mergesort").reset_index(drop=True)


def _team_key(reps: pd.DataFrame, fields) -> pd.Series:
    cols = [f for f in fields if f in reps.columns]
    if not cols or reps.empty:
        return pd.Series("", index=reps.index, dtype="string")
    return reps[cols].astype("string").fillna("").agg(" ".join, axis=1).str.strip()


def change_cost(dataset: Dataset, baseline: Scenario, scenario: Scenario,
                accounts: pd.DataFrame | None = None) -> dict:
    """What a plan costs against a baseline (today's plan or another scenario), in the terms a sales
    leader signs on (JSON-safe dict):

    - ``accounts_moved`` / ``accounts``, ``arr_moved`` / ``arr``, ``arr_kept_share`` (share of ARR
      that keeps its owner), ``pipeline_moved`` (open pipeline changing hands);
    - ``reps_gaining``, ``reps_losing``, ``max_gain`` / ``max_loss`` ({rep_id, name, accounts}: the
      most accounts any one rep gains or loses);
    - ``hires``: per rep active in the plan but not in the baseline ({rep_id, name, placeholder,
      ramp, quota, ramp_gap = quota x (1 - first-year ramp), accounts});
    - ``leavers``: per rep active in the baseline but not in the plan ({rep_id, name, team, capacity
      (FTE x ramp), quota, backfilled by a hire in the same team}); ``capacity_gap`` (FTE) and
      ``quota_gap`` over the leavers without a backfill.
    """
    acc = accounts if accounts is not None else dataset.accounts
    a0 = _need_assignment(baseline)[[S.account_id, S.rep_id]].rename(columns={S.rep_id: "before"})
    a1 = _need_assignment(scenario)[[S.account_id, S.rep_id]].rename(columns={S.rep_id: "after"})
    for d in (a0, a1):
        d[S.account_id] = d[S.account_id].astype("string")
    m = a1.merge(a0, on=S.account_id, how="left")
    info = acc[[A.account_id] + [c for c in (A.arr, A.open_pipeline) if c in acc.columns]].copy()
    info[A.account_id] = info[A.account_id].astype("string")
    m = m.merge(info.drop_duplicates(A.account_id), left_on=S.account_id, right_on=A.account_id, how="left")
    arr = pd.to_numeric(m[A.arr], errors="coerce").fillna(0.0) if A.arr in m.columns else pd.Series(0.0, index=m.index)
    pipe = pd.to_numeric(m[A.open_pipeline], errors="coerce").fillna(0.0) if A.open_pipeline in m.columns \
        else pd.Series(0.0, index=m.index)
    before = m["before"].astype("string").fillna("")
    after = m["after"].astype("string").fillna("")
    moved = (before != after).to_numpy()
    reps1 = scenario_reps(dataset, scenario)
    reps0 = scenario_reps(dataset, baseline)
    names = dict(zip(reps0[R.rep_id].astype(str), reps0[R.name].astype("string").fillna("").astype(str)))
    names.update(zip(reps1[R.rep_id].astype(str), reps1[R.name].astype("string").fillna("").astype(str)))
    gains = after[moved].value_counts()
    losses = before[moved & (before != "").to_numpy()].value_counts()

    def top(counts):
        if not len(counts):
            return None
        counts = counts.sort_index().sort_values(ascending=False, kind="mergesort")
        rid = str(counts.index[0])
        return {"rep_id": rid, "name": names.get(rid) or rid, "accounts": int(counts.iloc[0])}

    def active_ids(reps):
        act = reps[R.active].astype("boolean").fillna(True) if R.active in reps.columns else pd.Series(True, index=reps.index)
        return set(reps.loc[act.to_numpy(dtype=bool), R.rep_id].astype(str))

    on0, on1 = active_ids(reps0), active_ids(reps1)
    teams = _balance_teams(dataset, scenario) or tuple(c for c in (R.region, R.segment) if c in reps1.columns)
    r1 = reps1.assign(_team=_team_key(reps1, teams).to_numpy()).set_index(reps1[R.rep_id].astype(str))
    r0 = reps0.assign(_team=_team_key(reps0, teams).to_numpy()).set_index(reps0[R.rep_id].astype(str))
    hire_ev = {str(e.get("rep_id")): e for e in scenario.events if e.get("type") == "new_hire"}

    def num(df, rid, col, default=0.0):
        try:
            v = float(df.at[rid, col]) if col in df.columns else default
        except (TypeError, ValueError, KeyError):
            return default
        return default if math.isnan(v) else v

    hires = []
    for rid in sorted(on1 - on0):
        quota = num(r1, rid, R.quota)
        ramp = ramp_of(hire_ev[rid]) if rid in hire_ev else num(r1, rid, R.ramp, 1.0)
        hires.append({"rep_id": rid, "name": names.get(rid) or rid, "placeholder": is_placeholder(rid),
                      "team": str(r1.at[rid, "_team"]), "ramp": ramp, "quota": quota,
                      "ramp_gap": quota * (1.0 - ramp), "accounts": int((after == rid).sum())})
    hire_teams = {h["team"] for h in hires}
    leavers = []
    for rid in sorted(on0 - on1):
        cap = num(r0, rid, R.capacity, 1.0) * num(r0, rid, R.ramp, 1.0)
        team = str(r0.at[rid, "_team"]) if rid in r0.index else ""
        leavers.append({"rep_id": rid, "name": names.get(rid) or rid, "team": team, "capacity": cap,
                        "quota": num(r0, rid, R.quota), "backfilled": team in hire_teams,
                        "accounts": int((before == rid).sum())})
    arr_total = float(arr.sum())
    out = {
        "baseline": baseline.label, "accounts": int(len(m)), "accounts_moved": int(moved.sum()),
        "arr": arr_total, "arr_moved": float(arr[moved].sum()),
        "arr_kept_share": float(arr[~moved].sum() / arr_total) if arr_total > 0 else 1.0,
        "pipeline_moved": float(pipe[moved].sum()),
        "reps_gaining": int(len(gains)), "reps_losing": int(len(losses)),
        "max_gain": top(gains), "max_loss": top(losses), "hires": hires, "leavers": leavers,
        "capacity_gap": float(sum(lv["capacity"] for lv in leavers if not lv["backfilled"])),
        "quota_gap": float(sum(lv["quota"] for lv in leavers if not lv["backfilled"])),
    }
    return _json_safe(out)


def cost_rows(cost: Mapping) -> list[tuple[str, str]]:
    """The cost of a change as (label, words) rows for the editor, Compare and the HTML summary."""
    from ..text import money

    rows = [("Against", str(cost.get("baseline") or "today's plan")),
            ("Accounts changing hands", f"{cost.get('accounts_moved', 0):,} of {cost.get('accounts', 0):,}"),
            ("ARR changing hands", f"{money(cost.get('arr_moved', 0))} ({1 - float(cost.get('arr_kept_share', 1)):.1%} "
                                   f"of ARR; {float(cost.get('arr_kept_share', 1)):.1%} keeps its owner)"),
            ("Open pipeline changing hands", money(cost.get("pipeline_moved", 0))),
            ("Reps affected", f"{cost.get('reps_gaining', 0)} gain accounts, {cost.get('reps_losing', 0)} lose accounts")]
    g, lo = cost.get("max_gain"), cost.get("max_loss")
    if g or lo:
        parts = []
        if g:
            parts.append(f"{g['name']} gains {g['accounts']:,}")
        if lo:
            parts.append(f"{lo['name']} loses {lo['accounts']:,}")
        rows.append(("Largest change for one rep", "; ".join(parts)))
    for h in cost.get("hires") or []:
        flag = " (placeholder: map to a CRM user before export)" if h.get("placeholder") else ""
        rows.append((f"New hire {h['name']}{flag}",
                     f"{h['accounts']:,} accounts; ramp {h['ramp']:.0%} in year one; ramp gap {money(h['ramp_gap'])} "
                     f"of {money(h['quota'])} quota"))
    for lv in cost.get("leavers") or []:
        if lv.get("backfilled"):
            rows.append((f"{lv['name']} leaves", f"{lv['accounts']:,} accounts re-homed; backfilled in {lv['team'] or 'the team'}"))
        else:
            rows.append((f"{lv['name']} leaves", f"{lv['accounts']:,} accounts re-homed; no backfill: "
                                                 f"{lv['capacity']:.2g} FTE and {money(lv['quota'])} quota uncovered"))
    return rows


def _metric_columns(accounts: pd.DataFrame, extra=()) -> list[str]:
    cols = []
    for c in (A.arr, X.potential, X.whitespace, A.open_pipeline, X.workload, *extra):
        if c in cols or c == X.account_count:
            continue
        if c in accounts.columns and pd.to_numeric(accounts[c], errors="coerce").fillna(0).abs().sum() > 0:
            cols.append(c)
    cols.append(X.account_count)
    return cols


def balance_metrics(scenario: Scenario, accounts: pd.DataFrame, tolerance: float = 0.10) -> list[tuple[str, float]]:
    """The (column, tolerance) pairs the balance index is judged on: the scenario's solver metrics
    (its settings, else the metrics its last solve used), else the solver's defaults for these
    accounts at ``tolerance``."""
    metrics = ((scenario.settings or {}).get("solver") or {}).get("metrics") or \
        (((scenario.report or {}).get("settings") or {}).get("metrics"))
    out: list[tuple[str, float]] = []
    for m in metrics or ():
        if isinstance(m, Mapping) and m.get("column"):
            try:
                tol = float(m.get("tolerance", 0.05))
            except (TypeError, ValueError):
                tol = 0.05
            out.append((str(m["column"]), tol))
    if not out:
        try:
            from ..solve.settings import default_metrics

            out = [(m.column, float(tolerance)) for m in default_metrics(accounts, tolerance)]
        except Exception:  # solver not importable: ARR and book size
            out = [(A.arr, float(tolerance)), (X.account_count, float(tolerance))]
    return [(c, t) for c, t in out if c == X.account_count or c in accounts.columns]


def rep_loads(dataset: Dataset, scenario: Scenario, enriched: pd.DataFrame | None = None,
              metrics: list[str] | None = None, *, _reps: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per active rep and metric: rep_id, name, metric, value, target, deviation (value/target - 1).
    Targets split each metric's total by capacity x ramp over the scenario's active reps (after
    its events: leavers excluded, new hires included), team by team when it balances within teams
    (default: region + segment when it has no solver settings). ``metrics``: account columns (and
    ``account_count``); default: arr, potential, whitespace, open pipeline, workload when present,
    the scenario's balance metrics, and account count."""
    asg = _need_assignment(scenario)
    reps = _reps if _reps is not None else scenario_reps(dataset, scenario, enriched)
    accounts = enriched if enriched is not None else dataset.accounts
    if metrics is None:
        metrics = _metric_columns(accounts, [c for c, _ in balance_metrics(scenario, accounts)])
    else:
        metrics = [c for c in dict.fromkeys(metrics) if c in accounts.columns]
    acc = accounts[[A.account_id] + [c for c in metrics if c != X.account_count]].copy()
    acc[X.account_count] = 1.0
    acc[A.account_id] = acc[A.account_id].astype("string")
    acc = acc.drop_duplicates(A.account_id)
    a = asg[[S.account_id, S.rep_id]].copy()
    a[S.account_id] = a[S.account_id].astype("string")
    a[S.rep_id] = a[S.rep_id].astype("string")
    m = acc.merge(a, left_on=A.account_id, right_on=S.account_id, how="left", suffixes=("", "_asg"))
    active = reps[reps[R.active].astype("boolean").fillna(True)].copy()
    active[R.rep_id] = active[R.rep_id].astype("string")
    cap = pd.to_numeric(active[R.capacity], errors="coerce").fillna(1.0) * pd.to_numeric(active[R.ramp], errors="coerce").fillna(1.0)
    share = cap / cap.sum() if cap.sum() > 0 else pd.Series(1.0 / max(len(active), 1), index=active.index)
    rids = active[R.rep_id].astype(str).to_numpy()
    names = active[R.name].astype("string").fillna(pd.Series(rids, index=active.index, dtype="string")).astype(str).to_numpy()
    share = share.to_numpy(dtype=float)
    on_active = m[S.rep_id].isin(rids).fillna(False).to_numpy(dtype=bool)
    # Balanced within teams (the scenario's balance_within, or the default region + segment teams
    # when it has no solver settings): a rep's target is its share of its own team's book.
    # no active rep, no team (a row-join over an empty frame gives a frame, not team labels)
    teams = [c for c in _balance_teams(dataset, scenario) if c in active.columns] if len(active) else []
    if teams:
        team = pd.factorize(active[teams].astype("string").fillna("").agg(" | ".join, axis=1))[0]
        cap_np = cap.to_numpy(dtype=float)
        cap_team = np.bincount(team, weights=cap_np)[team]
        share = np.where(cap_team > 0, cap_np / np.where(cap_team > 0, cap_team, 1.0), 0.0)
    frames = []
    for metric in metrics:
        vals = pd.to_numeric(m[metric], errors="coerce").fillna(0.0)
        per = vals.groupby(m[S.rep_id]).sum().reindex(rids).fillna(0.0).to_numpy(dtype=float)
        if teams:
            tgt = np.bincount(team, weights=per)[team] * share
        else:
            tgt = float(vals.to_numpy(dtype=float)[on_active].sum()) * share
        with np.errstate(divide="ignore", invalid="ignore"):
            dev = np.where(tgt > 0, per / np.where(tgt > 0, tgt, 1.0) - 1.0, 0.0)
        frames.append(pd.DataFrame({"rep_id": rids, "name": names, "metric": metric, "value": per, "target": tgt,
                                    "deviation": dev}))
    if not frames:
        return pd.DataFrame(columns=["rep_id", "name", "metric", "value", "target", "deviation"])
    return pd.concat(frames, ignore_index=True)


def _balance_teams(dataset: Dataset, scenario: Scenario) -> tuple[str, ...]:
    from ..solve.settings import default_teams

    if (scenario.settings or {}).get("solver"):
        return tuple(solver_settings(scenario).balance_within)
    return default_teams(dataset.reps)


def scenario_reps(dataset: Dataset, scenario: Scenario, enriched: pd.DataFrame | None = None) -> pd.DataFrame:
    """The reps as the scenario's team will be: after its events (leavers inactive, new hires added
    with their ramp), with active, capacity and ramp filled. The dataset's reps when an event cannot
    apply (:func:`scenario_reps_checked` says why)."""
    return scenario_reps_checked(dataset, scenario, enriched)[0]


def scenario_reps_checked(dataset: Dataset, scenario: Scenario,
                          enriched: pd.DataFrame | None = None) -> tuple[pd.DataFrame, str | None]:
    """(:func:`scenario_reps`, None), or (today's reps, why the scenario's events could not apply)."""
    note = None
    if not scenario.events:
        reps = dataset.reps.copy()
    else:
        try:
            return apply_events(dataset, scenario.events, enriched).reps, None
        except EventError as exc:
            reps = dataset.reps.copy()
            note = f"The scenario's events could not be applied ({exc}); showing today's reps."
    if R.active not in reps.columns:
        reps[R.active] = True
    reps[R.active] = reps[R.active].astype("boolean").fillna(True)
    for col in (R.capacity, R.ramp):
        if col not in reps.columns:
            reps[col] = 1.0
    return reps, note


def scenario_kpis(dataset: Dataset, scenario: Scenario, enriched: pd.DataFrame | None = None, *,
                  tolerance: float = 0.10, loads: pd.DataFrame | None = None) -> dict:
    """Plain-number KPIs of a scenario (JSON-safe dict):

    - ``balance``: per metric ``{"cv", "max_deviation", "mean_abs_deviation", "within_tolerance",
      "tolerance", "gini", "min", "max", "mean"}`` (targets by capacity x ramp; deviation =
      value/target - 1; cv of value/target; within_tolerance = share of reps within +-tolerance of
      target, the metric's solver tolerance for balance metrics, else ``tolerance``);
    - ``balance_index``: 0-100, the share of (rep, metric) books within their band over the
      ``balance_metrics`` (the scenario's solver metrics, else the solver's defaults at
      ``tolerance``): 100 = every book in its band;
    - ``moves``, ``arr_moved``, ``moved_pct``; ``accounts``, ``reps`` (active), ``coverage`` (share of
      accounts owned by an active rep), ``unassigned``;
    - ``accounts_per_rep`` and ``whitespace_per_rep`` ({"mean", "min", "max"}; whitespace when known);
    - ``travel_km_mean``/``travel_km_total``/``travel_known`` when account and rep coordinates are known;
    - ``status``/``status_text``/``gap`` from the solver report when there is one.

    ``loads``: :func:`rep_loads` of the same plan, data and ``enriched`` when the caller has it.
    """
    asg = _need_assignment(scenario)
    accounts = enriched if enriched is not None else dataset.accounts
    reps_after = scenario_reps(dataset, scenario, enriched)
    if loads is None:
        loads = rep_loads(dataset, scenario, enriched, _reps=reps_after)
    bm = dict(balance_metrics(scenario, accounts, tolerance))
    balance = {}
    cvs = []
    for metric, g in loads.groupby("metric", sort=False):
        tol = bm.get(metric, tolerance)
        tgt = g["target"].to_numpy(dtype=float)
        val = g["value"].to_numpy(dtype=float)
        ok = tgt > 0
        norm = val[ok] / tgt[ok] if ok.any() else np.array([1.0])
        cv = float(np.std(norm) / np.mean(norm)) if np.mean(norm) > 0 else 0.0
        dev = g["deviation"].to_numpy(dtype=float)
        within = float((np.abs(dev) <= tol + 1e-9).mean()) if len(dev) else 1.0
        balance[metric] = {"cv": cv, "max_deviation": float(np.max(np.abs(dev))) if len(dev) else 0.0,
                           "within_tolerance": within, "tolerance": float(tol), "gini": gini(np.clip(val, 0, None)),
                           "mean_abs_deviation": float(np.mean(np.abs(dev))) if len(dev) else 0.0,
                           "min": float(val.min()) if len(val) else 0.0, "max": float(val.max()) if len(val) else 0.0,
                           "mean": float(val.mean()) if len(val) else 0.0}
        if metric in bm:
            cvs.append(within)
    bal_idx = 100.0 * float(np.mean(cvs)) if cvs else 100.0

    a = asg.copy()
    a[S.account_id] = a[S.account_id].astype("string")
    rep_now = a[S.rep_id].astype("string")
    acc = accounts.copy()
    acc[A.account_id] = acc[A.account_id].astype("string")
    acc = acc.drop_duplicates(A.account_id).set_index(A.account_id)
    prev = acc[A.owner_id].astype("string").reindex(a[S.account_id]).to_numpy() if A.owner_id in acc.columns else a.get(S.previous_rep_id)
    prev = pd.Series(prev, index=a.index, dtype="string")
    moved = (rep_now.fillna("") != prev.fillna("")).to_numpy()
    arr = pd.to_numeric(acc[A.arr], errors="coerce").fillna(0.0).reindex(a[S.account_id]).fillna(0.0).to_numpy() if A.arr in acc.columns else np.zeros(len(a))
    active_ids = set(loads["rep_id"].astype(str))
    covered = rep_now.fillna("").isin(active_ids).to_numpy()
    counts = loads[loads["metric"] == X.account_count]["value"]
    out: dict[str, Any] = {
        "accounts": int(len(a)),
        "reps": int(len(active_ids)),
        "moves": int(moved.sum()),
        "arr_moved": float(arr[moved].sum()),
        "moved_pct": float(moved.mean()) if len(a) else 0.0,
        "coverage": float(covered.mean()) if len(a) else 1.0,
        "unassigned": int((~covered).sum()),
        "balance": balance,
        "balance_index": bal_idx,
        "balance_metrics": list(bm),
        "tolerance": float(tolerance),
        "accounts_per_rep": {"mean": float(counts.mean()) if len(counts) else 0.0,
                             "min": float(counts.min()) if len(counts) else 0.0,
                             "max": float(counts.max()) if len(counts) else 0.0},
    }
    ws = loads[loads["metric"] == X.whitespace]["value"]
    if len(ws):
        out["whitespace_per_rep"] = {"mean": float(ws.mean()), "min": float(ws.min()), "max": float(ws.max())}
    # Travel: account to its rep's home, great-circle km.
    if {A.lat, A.lon} <= set(acc.columns):
        reps = reps_after
        if {R.home_lat, R.home_lon} <= set(reps.columns):
            home = reps.assign(**{R.rep_id: reps[R.rep_id].astype("string")}).drop_duplicates(R.rep_id).set_index(R.rep_id)
            hl = pd.to_numeric(home[R.home_lat], errors="coerce").reindex(rep_now).to_numpy(dtype=float)
            ho = pd.to_numeric(home[R.home_lon], errors="coerce").reindex(rep_now).to_numpy(dtype=float)
            al = pd.to_numeric(acc[A.lat], errors="coerce").reindex(a[S.account_id]).to_numpy(dtype=float)
            ao = pd.to_numeric(acc[A.lon], errors="coerce").reindex(a[S.account_id]).to_numpy(dtype=float)
            known = ~(np.isnan(hl) | np.isnan(ho) | np.isnan(al) | np.isnan(ao))
            if known.any():
                km = haversine_km(al[known], ao[known], hl[known], ho[known])
                out["travel_km_mean"] = float(km.mean())
                out["travel_km_total"] = float(km.sum())
                out["travel_known"] = float(known.mean())
    rep = scenario.report or {}
    for k in ("status", "status_text", "gap"):
        if k in rep:
            out[k] = rep[k]
    return _json_safe(out)


METRIC_LABELS = COLUMN_LABELS  # the contract's labels (territory_core.text)


def kpi_rows(kpis: Mapping) -> list[tuple[str, str]]:
    """KPIs as (label, formatted value) rows for tables and the HTML summary."""
    on = ", ".join(METRIC_LABELS.get(m, m) for m in kpis.get("balance_metrics") or ())
    rows = [("Balance index", f"{kpis.get('balance_index', 0):.0f} / 100 (share of books in their band"
             + (f" on {on})" if on else ")")),
            ("Moves", f"{kpis.get('moves', 0):,} ({kpis.get('moved_pct', 0):.1%} of accounts)"),
            ("ARR moved", f"${kpis.get('arr_moved', 0):,.0f}"),
            ("Active reps", f"{kpis.get('reps', 0):,}"),
            ("Coverage", f"{kpis.get('coverage', 0):.1%} ({kpis.get('unassigned', 0):,} without an active owner)")]
    apr = kpis.get("accounts_per_rep") or {}
    rows.append(("Accounts per rep", f"{apr.get('mean', 0):,.0f} (min {apr.get('min', 0):,.0f}, max {apr.get('max', 0):,.0f})"))
    if "whitespace_per_rep" in kpis:
        w = kpis["whitespace_per_rep"]
        rows.append(("Whitespace per rep", f"${w['mean']:,.0f} (min ${w['min']:,.0f}, max ${w['max']:,.0f})"))
    for m, b in (kpis.get("balance") or {}).items():
        rows.append((f"{METRIC_LABELS.get(m, m)} balance",
                     f"{b.get('within_tolerance', 0):.0%} of reps within +-{b.get('tolerance', 0.1):.0%}, CV {b['cv']:.1%}, worst {b['max_deviation']:.0%} off"))
    if "travel_km_mean" in kpis:
        rows.append(("Travel to accounts", f"{kpis['travel_km_mean']:,.0f} km on average"))
    if kpis.get("status_text"):
        rows.append(("Solver", str(kpis["status_text"])))
    return rows
