"""Balanced-books optimizer: assign every account (or whole family) to one rep so that each rep's
metrics sit inside their bands, with minimal disruption (or distance, or imbalance), honestly
reporting how good the answer is.

Public API::

    from territory_core.solve.model import Metric, EligibilityRule, SolverSettings, SolveResult, solve, tradeoff_curve

How it solves (see ``solver_engine``):
1. prepare (``solver_prep``): units (accounts, or families), metric values, targets from
   capacity x ramp, eligibility, pins (locks, named, holdouts, overrides); ``diagnose`` finds
   causes of infeasibility that need no solve (whales, locked load above a band, pools of
   eligible accounts too small or too big, move caps below the forced moves);
2. the LP relaxation with highspy (interior point + crossover); above ``FULL_POOL_PAIRS``
   eligible pairs it starts from candidate pairs and prices every eligible pair until none
   improves it, so its optimum is a true lower bound of the whole problem;
3. fix the units the LP put wholly on one rep and repair the fractional few with a small PuLP
   MIP (HiGHS, or CBC); if that sub-problem is infeasible, free more units (whole reps, a buffer
   of small units), dive in the LP for lumpy units (big families), or narrow the bands in a
   warm LP re-solve so the whole units leave room, and repair again;
4. when the answer is not proven optimal and the model is small (``EXACT_PAIRS``), the full
   PuLP MIP warm-started from it tries to improve and prove it; infeasible models get an
   elastic solve per limit (tolerance per metric, move caps) for the smallest change
   (:mod:`.explain`, with the reason for each move).
The status comes from the solver's own status and bound, never from PuLP's "Optimal" alone;
gap = (objective - best bound) / objective, with the LP bound rounded up when the objective
counts whole moves.
"""
from __future__ import annotations

import json
import math
import threading
import time
from dataclasses import dataclass, field, replace
from typing import Callable, Mapping

import numpy as np
import pandas as pd

from ..contract import A, R, S
from ..text import label
from .engine import Data, build_spec, column_entries, dive, resolve_tightened, solve_lp, solve_mip
from .explain import _reasons, explain_infeasible
from .prep import Prepared, _loads, _unit_word, diagnose, prepare

# Models with at most this many eligible (unit, rep) pairs get the exact PuLP MIP when the
# LP-and-repair answer is not yet proven optimal.
EXACT_PAIRS = 60_000
LOCAL_POLISH_PAIRS = 12_000  # above: a found plan is polished near itself (a full MIP rarely helps in time)
POLISH_NODES = 20  # branch-and-bound nodes for polishing a found plan (work, not time: reproducible)
# Up to this many eligible pairs the LP uses all of them (no pricing needed); above, it starts from
# today's owners (plus a few reps with room for accounts that must move) and prices in the rest.
# Measured on the 50k book's teams (up to 41k pairs each): one IPM over the whole pool took 3.8 s
# for the 12 teams, the priced LP 2.7 s, with the same plan and bound (make_sample.py --accounts 50000).
FULL_POOL_PAIRS = 20_000
USE_ARTIFICIAL = True


from .settings import (BANDS, OBJECTIVES, SCOPES, SOLVERS, EligibilityRule, Metric, SolverSettings,  # noqa: F401
                       default_metrics, default_teams, parse_scope, planning_defaults)

ASSIGNMENT_COLUMNS = [S.account_id, S.rep_id, S.previous_rep_id, S.moved, S.reason]
REP_METRIC_COLUMNS = ["rep_id", "metric", "value", "target", "lower", "upper", "deviation"]


@dataclass(frozen=True)
class SolveResult:
    assignment: pd.DataFrame
    rep_metrics: pd.DataFrame
    status: str
    status_text: str
    objective: float | None
    bound: float | None
    gap: float | None
    solver: str
    build_seconds: float
    solve_seconds: float
    moves: int
    arr_moved: float
    max_deviation: dict
    explanations: list = field(default_factory=list)
    fixes: list = field(default_factory=list)
    notes: list = field(default_factory=list)
    settings: dict = field(default_factory=dict)
    lp_bound: float | None = None             # the LP relaxation's optimum (a lower bound)
    stopped: bool = False                     # cancelled by the caller after a plan was found

    @property
    def ok(self) -> bool:
        return self.status in ("optimal", "feasible")

    def to_report_dict(self) -> dict:
        def num(v):
            if v is None:
                return None
            v = float(v)
            return v if math.isfinite(v) else None
        reps = []
        if len(self.rep_metrics):
            for rid, g in self.rep_metrics.groupby("rep_id", sort=True):
                reps.append({"rep_id": str(rid), "metrics": {
                    str(r.metric): {"value": num(r.value), "target": num(r.target), "lower": num(r.lower),
                                    "upper": num(r.upper), "deviation": num(r.deviation)}
                    for r in g.itertuples()}})
        return {
            "status": self.status, "status_text": self.status_text, "objective": num(self.objective),
            "bound": num(self.bound), "gap": num(self.gap), "solver": self.solver,
            "build_seconds": round(self.build_seconds, 3), "solve_seconds": round(self.solve_seconds, 3),
            "moves": int(self.moves), "arr_moved": num(self.arr_moved),
            "max_deviation": {k: num(v) for k, v in self.max_deviation.items()},
            "reps": reps, "explanation": list(self.explanations), "fixes": list(self.fixes),
            "notes": list(self.notes), "settings": self.settings, "lp_bound": num(self.lp_bound),
            "stopped": bool(self.stopped),
        }


# ------------------------------------------------------------------------------------ solve

def _status_text(status, gap, seconds, solver, mip_gap) -> str:
    if status == "optimal":  # only ever with a bound that meets the objective (_proven_status)
        return f"Optimal: proven best possible ({solver}, {seconds:.1f} s)"
    if status == "feasible":
        if gap is None:
            return f"Feasible, but how far from the best possible is not known ({solver}, {seconds:.1f} s)"
        return f"Feasible, within {gap:.2%} of the best possible ({solver}, {seconds:.1f} s)"
    if status == "cancelled":
        return "Cancelled before a solution was found"
    if status == "infeasible":
        return "Infeasible: no assignment meets every setting"
    return f"No solution found within the time limit ({seconds:.1f} s)"


def _gap(obj, bound):
    if obj is None or bound is None or not math.isfinite(bound):
        return None
    diff = max(0.0, obj - bound)
    if diff <= 1e-7 * max(1.0, abs(obj)):
        return 0.0
    return diff / max(abs(obj), 1e-9)


def _proven_status(p: Prepared, settings, obj, bound) -> tuple[str, float | None]:
    """("optimal", 0.0) only when the bound meets the objective (rounded up first when every plan's
    value is a whole number of moves); else ("feasible", the real gap, or None when no bound)."""
    if obj is not None and bound is not None and _integral_objective(p, settings) \
            and obj - math.ceil(bound - 1e-6) <= 1e-7:
        return "optimal", 0.0
    gap = _gap(obj, bound)
    if gap is not None and gap <= 1e-9:
        return "optimal", 0.0
    return "feasible", gap


def _integral_objective(p: Prepared, settings) -> bool:
    """Every objective value is an integer (moves counted), so ceil(bound) is a bound too."""
    return (settings.objective == "disruption" and not (settings.use_distance and p.dist is not None)
            and np.allclose(p.w_acc, np.round(p.w_acc)) and not (~p.hard).any() and not p.tiebreak)


def _evaluate(spec, data, p, assign: np.ndarray):
    """Objective of a full assignment (units -> rep) and the slack values that go with it."""
    pu = np.arange(p.n_units)
    cost, rows, cols, vals = column_entries(spec, data, pu, assign)
    act = np.bincount(rows, weights=vals, minlength=spec.n_rows)
    s = np.zeros(len(spec.s_cost))
    for j, name in enumerate(spec.s_names):
        sel = spec.s_cols == j
        r = int(spec.s_rows[sel][0])
        kind = name.split("_")[0]
        if kind == "over":
            s[j] = max(0.0, act[r] - spec.row_hi[r])
        elif kind == "under":
            s[j] = max(0.0, spec.row_lo[r] - act[r])
        elif kind == "dplus":
            s[j] = max(0.0, act[r] - spec.row_lo[r])
        elif kind == "dminus":
            s[j] = max(0.0, spec.row_lo[r] - act[r])
    obj = float(cost.sum() + spec.s_cost @ s)
    return obj, s


def _feasible(spec, data, p, assign, tol=1e-6) -> bool:
    pu = np.arange(p.n_units)
    cost, rows, cols, vals = column_entries(spec, data, pu, assign)
    act = np.bincount(rows, weights=vals, minlength=spec.n_rows)
    _, s = _evaluate(spec, data, p, assign)
    act = act + np.bincount(spec.s_rows, weights=spec.s_vals * s[spec.s_cols], minlength=spec.n_rows)
    scale = np.maximum(1.0, np.abs(np.where(np.isfinite(spec.row_hi), spec.row_hi, 0)))
    return bool(np.all(act >= spec.row_lo - tol * scale) and np.all(act <= spec.row_hi + tol * scale)
                and p.elig[pu, assign].all())


def _initial_pairs(p: Prepared, seed: int, k_extra: int = 4):
    """Candidate pairs for big models: each unit's previous owners and pin; units whose owner is
    outside its bands (or has none, or is not eligible) also get a few reps with room (nearest
    when distances exist, else spread deterministically). Pricing adds whatever else helps."""
    U, R = p.elig.shape
    rng = np.random.default_rng(seed)
    keys = [np.zeros(0, dtype=np.int64)]
    ok = p.elig[p.prev_u, p.prev_r]
    keys.append(p.prev_u[ok] * R + p.prev_r[ok])
    # today's loads per rep: who must shed and who has room
    load = np.zeros((R, len(p.metric_names)))
    for m in range(len(p.metric_names)):
        load[:, m] = np.bincount(p.prev[p.prev >= 0], weights=p.M_acc[p.prev >= 0, m], minlength=R)
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.where(p.target > 0, load / p.target - 1, 0.0)
    over = (rel > p.tol[None, :] * 0.5).any(axis=1) | ~p.active
    room = p.active & (rel < 0).any(axis=1)
    if not room.any():
        room = p.active.copy()
    keepable = np.zeros(U, dtype=bool)
    keepable[p.prev_u[ok]] = True
    owner_over = np.zeros(U, dtype=bool)
    owner_over[p.prev_u[over[p.prev_r]]] = True
    need = np.flatnonzero(owner_over | ~keepable)
    if len(need):
        cand = p.elig[need] & room[None, :]
        cand = np.where(cand.any(axis=1)[:, None], cand, p.elig[need])
        score = rng.random((len(need), R)) if p.dist is None else p.dist[need] + 1e-9 * rng.random((len(need), R))
        score = np.where(cand, score, np.inf)
        k = min(k_extra, R)
        best = np.argpartition(score, k - 1, axis=1)[:, :k] if k < R else np.tile(np.arange(R), (len(need), 1))
        uu = np.repeat(need, best.shape[1])
        rr = best.ravel()
        good = p.elig[uu, rr]
        keys.append(uu[good] * R + rr[good])
    arr = np.unique(np.concatenate(keys))
    return arr // R, arr % R


def _repair(spec, data, p, settings, lp, deadline, cancel, max_attempts: int = 5, max_pairs: int = 40_000,
            small_model: bool = True):
    """Fix the units the LP put wholly on one rep; solve the rest as a small PuLP MIP,
    freeing more units around them if that sub-problem is infeasible."""
    U, R = p.elig.shape
    pu, pr, x = lp.pu, lp.pr, lp.x
    best = np.full(U, -1)
    bestv = np.zeros(U)
    order = np.lexsort((pr, -x, pu))
    first = np.r_[True, pu[order][1:] != pu[order][:-1]]
    sel = order[first]
    best[pu[sel]] = pr[sel]
    bestv[pu[sel]] = x[sel]
    frac = bestv < 1 - 1e-6
    free = frac.copy()
    rng = np.random.default_rng(settings.seed)
    extra_keys = np.zeros(0, dtype=np.int64)
    big = len(np.flatnonzero(free)) * R > 30_000
    for attempt in range(max_attempts):
        if not free.any():
            return best, None
        fixed_u = np.flatnonzero(~free)
        cost, rows, cols, vals = column_entries(spec, data, fixed_u, best[fixed_u])
        fixed_load = np.bincount(rows, weights=vals, minlength=spec.n_rows)
        in_sub = free[pu]
        su, sr = pu[in_sub], pr[in_sub]
        # freed units may also go back to a previous owner or anywhere eligible among touched reps
        touched = np.unique(np.concatenate([sr, best[free & (best >= 0)]]))
        fu = np.flatnonzero(free)
        if len(fu) * len(touched) <= 30_000:
            extra_u = np.repeat(fu, len(touched))
            extra_r = np.tile(touched, len(fu))
        else:  # big: the LP's own support and today's owners only
            pos = x[in_sub] > 1e-9
            extra_u, extra_r = su[pos], sr[pos]
            su, sr = su[pos], sr[pos]
            ok_prev = free[p.prev_u] & p.elig[p.prev_u, p.prev_r]
            extra_u = np.concatenate([extra_u, p.prev_u[ok_prev], fu])
            extra_r = np.concatenate([extra_r, p.prev_r[ok_prev], best[fu]])
        ok = p.elig[extra_u, extra_r]
        ek = extra_keys[free[extra_keys // R]] if len(extra_keys) else extra_keys
        keys = np.unique(np.concatenate([su * R + sr, extra_u[ok] * R + extra_r[ok], ek]))
        su, sr = keys // R, keys % R
        rem = deadline - time.monotonic()
        if rem <= 0.2 or (attempt > 0 and len(su) > max_pairs):
            break
        # the repair is a small part of the objective: a 1% gap on it and a share of the time
        res = solve_mip(spec, data, su, sr, time_limit=min(rem, max(2.0, 0.25 * rem)),
                        gap=max(settings.mip_gap, 0.05), solver=settings.solver,
                        seed=settings.seed, cancel=cancel, fixed_load=fixed_load)
        if res.x is not None:
            chosen = res.x > 0.5
            out = best.copy()
            out[su[chosen]] = sr[chosen]
            return out, res
        if res.status in ("cancelled",):
            break
        # free more: first the units the LP moved onto the reps involved, then every unit the
        # LP moved, then a sample of the units staying on those reps
        lp_moved = np.zeros(U, dtype=bool)
        lp_moved[pu[(x > 1e-9)]] = True
        owner_ok = np.zeros(U, dtype=bool)
        owner_ok[p.prev_u[p.prev_r == best[p.prev_u]]] = True
        lp_moved &= ~owner_ok
        if big and attempt == 0:
            # at scale: free a buffer of the smallest whole units on each rep involved, each
            # with a few other reps involved as candidates, to absorb rounding
            with np.errstate(divide="ignore", invalid="ignore"):
                tsum = np.where(p.target > 0, p.target, np.inf).min(axis=0)
                size = (p.M / tsum[None, :]).max(axis=1) if p.M.shape[1] else np.zeros(U)
            per = 12
            buf = []
            for r in touched:
                us = np.flatnonzero((best == r) & ~free & (p.pin < 0))
                if len(us):
                    buf.append(us[np.argsort(size[us], kind="stable")[:per]])
            if buf:
                bu = np.concatenate(buf)
                free[bu] = True
                k = min(4, len(touched))
                rr = np.array([rng.choice(touched, size=k, replace=False) for _ in range(len(bu))]).ravel()
                uu = np.repeat(bu, k)
                okk = p.elig[uu, rr]
                extra_keys = np.unique(np.concatenate([extra_keys, uu[okk] * R + rr[okk]]))
        elif attempt == 0 and not small_model:
            # lumpy units (big families, near-whales) cannot be rounded locally: free every unit
            # on the reps the biggest fractional units touch, each able to go to any of them
            with np.errstate(divide="ignore", invalid="ignore"):
                tsum = np.where(p.target > 0, p.target, np.inf).min(axis=0)
                size = (p.M / tsum[None, :]).max(axis=1) if p.M.shape[1] else np.zeros(U)
            fr_u = np.flatnonzero(frac)
            rep_big = np.zeros(R)
            m_pairs = frac[pu] & (x > 1e-9)
            np.maximum.at(rep_big, pr[m_pairs], size[pu[m_pairs]])
            order_r = [int(r) for r in np.argsort(-rep_big, kind="stable") if rep_big[r] > 0]
            chosen: list[int] = []
            on_rep = np.bincount(best[best >= 0], minlength=R)
            for r in order_r:
                trial = chosen + [r]
                if len(chosen) >= 2 and int(on_rep[trial].sum()) * (len(trial) + 3) > max_pairs // 2:
                    break
                chosen = trial
            if chosen:
                ch = np.array(chosen)
                bu = np.flatnonzero(np.isin(best, ch) & (p.pin < 0))
                free[bu] = True
                allu = np.concatenate([bu, fr_u])
                uu = np.repeat(allu, len(ch))
                rr = np.tile(ch, len(allu))
                # and a few reps outside the set, so the set can shed load
                outside = rng.integers(0, R, size=(len(allu), 3))
                uu = np.concatenate([uu, np.repeat(allu, 3)])
                rr = np.concatenate([rr, outside.ravel()])
                okk = p.elig[uu, rr]
                extra_keys = np.unique(np.concatenate([extra_keys, uu[okk] * R + rr[okk]]))
        elif attempt == 0:
            free |= lp_moved & np.isin(best, touched)
        elif attempt == 1:
            free |= lp_moved
        else:
            cand = np.flatnonzero(np.isin(best, touched) & ~free)
            want = max(50, int(free.sum()))
            if len(cand) > want:
                cand = np.sort(rng.choice(cand, size=want, replace=False))
            free[cand] = True
    return None, None


def solve(accounts: pd.DataFrame, reps: pd.DataFrame, settings: SolverSettings | None = None, *,
          distances: pd.DataFrame | None = None, opportunities: pd.DataFrame | None = None,
          fixed: Mapping[str, str] | None = None, progress: Callable[[str, float], None] | None = None,
          cancel: threading.Event | None = None) -> SolveResult:
    """Assign every account to one active rep. Raises ValueError for bad input (unknown
    columns, ids); infeasible settings come back as ``status="infeasible"`` with explanations and
    only the fixes that a solve within the time limit proved feasible (each with its moves and ARR)."""
    settings = settings or SolverSettings()
    if parse_scope(settings.scope)[0] == "auto":  # without a scenario: narrow only when moves are forced on it
        settings = replace(settings, scope="affected" if fixed else "all")
    t0 = time.monotonic()
    res = _solve(accounts, reps, settings, distances=distances, opportunities=opportunities, fixed=fixed,
                 progress=progress, cancel=cancel)
    if res.status == "infeasible" and settings.verify_fixes:
        res = _verify_fixes(res, accounts, reps, settings, t0, distances=distances, opportunities=opportunities,
                            fixed=fixed, progress=progress, cancel=cancel)
    return res


def _verify_fixes(res: SolveResult, accounts, reps, settings: SolverSettings, t0: float, *, distances,
                  opportunities, fixed, progress, cancel) -> SolveResult:
    """Re-solve with each suggested fix (and, for a narrow scope, with a full rebalance) within what
    is left of the time limit; keep the fixes that came back with a plan, with its cost."""
    base = replace(settings, metrics=tuple(Metric.from_dict(m) for m in res.settings.get("metrics") or ()),
                   verify_fixes=False)
    cands = list(res.fixes)
    if parse_scope(settings.scope)[0] != "all":
        cands.append({"scope": "all", "why": "let every account move (a full rebalance)"})
    seen, todo = set(), []
    for f in cands:
        key = json.dumps({k: v for k, v in f.items() if k != "why"}, sort_keys=True, default=str)
        if key not in seen:
            seen.add(key)
            todo.append(f)
    proven, tried = [], 0
    for i, fix in enumerate(todo):
        left = t0 + float(settings.time_limit) - time.monotonic()
        if left < 0.5 or (cancel is not None and cancel.is_set()):
            break
        try:
            s = base.with_fix(fix)
        except ValueError:
            continue
        tried += 1
        if progress:
            progress(f"checking fix {i + 1} of {len(todo)}", 0.9)
        r = _solve(accounts, reps, replace(s, time_limit=max(0.5, left / max(1, len(todo) - i))),
                   distances=distances, opportunities=opportunities, fixed=fixed, cancel=cancel)
        if r.ok:
            proven.append({**fix, "verified": True, "status": r.status, "moves": int(r.moves),
                           "arr_moved": float(r.arr_moved)})
    expl = [e for e in res.explanations if not e.startswith("Any one of the changes above")]
    if proven:
        expl.append(f"Each change offered below was re-solved and gives a plan on its own (its moves and ARR "
                    f"moved are shown); {len(todo) - len(proven)} other candidate change(s) did not, or not within "
                    "the time limit." if len(todo) > len(proven) else
                    "Each change offered below was re-solved and gives a plan on its own (its moves and ARR moved are shown).")
    elif todo:
        expl.append(f"No single change was proven to give a plan within the time limit ({tried} tried). Widen "
                    "several bands together, narrow the events, or raise the time limit.")
    return replace(res, fixes=proven, explanations=expl)


def _solve(accounts: pd.DataFrame, reps: pd.DataFrame, settings: SolverSettings, *,
           distances=None, opportunities=None, fixed=None, progress=None, cancel=None) -> SolveResult:
    t0 = time.monotonic()
    deadline = t0 + float(settings.time_limit)
    say = progress or (lambda phase, frac: None)
    say("prepare", 0.0)
    metrics = settings.metrics or default_metrics(accounts)
    p = prepare(accounts, reps, settings, metrics, distances=distances, opportunities=opportunities, fixed=fixed)
    sdict = replace(settings, metrics=tuple(metrics)).to_dict()
    expl, fixes = diagnose(p, settings)
    if expl:
        bt = time.monotonic() - t0
        return _result_without(p, "infeasible", expl, fixes, bt, 0.0, settings, sdict)
    if DECOMPOSE_TEAMS and _independent_teams(p, settings):
        res = _solve_by_team(accounts, reps, settings, metrics, p, sdict, t0, distances=distances,
                             opportunities=opportunities, fixed=fixed, say=say, cancel=cancel)
        if res is not None:
            return res
    spec = build_spec(p, settings)
    data = Data(p)
    U, R = p.elig.shape
    n_pairs = int(p.elig.sum())
    if n_pairs <= FULL_POOL_PAIRS:
        pu, pr = np.nonzero(p.elig)
        price_all = False
    else:
        pu, pr = _initial_pairs(p, settings.seed)
        price_all = True
    build = time.monotonic() - t0
    say("lp", 0.1)
    if cancel is not None and cancel.is_set():
        return _result_without(p, "cancelled", [], [], build, 0.0, settings, sdict)
    t1 = time.monotonic()
    solver_name = "HiGHS" if settings.solver == "highs" else "CBC"
    assign = None
    bound = None
    mres = None
    lp = None
    if settings.solver == "highs" or n_pairs > EXACT_PAIRS:
        # LP bound (+ fix and repair). With CBC chosen, the LP still gives the bound.
        spec_lp = build_spec(p, settings, artificial=USE_ARTIFICIAL) if price_all else spec
        lp_deadline = t0 + 0.75 * float(settings.time_limit)  # keep a quarter for rounding and repair
        lp = solve_lp(spec_lp, data, pu.astype(np.int64), pr.astype(np.int64), deadline=lp_deadline, seed=settings.seed,
                      cancel=cancel, price_all=price_all, progress=say)
        if price_all and lp.status == "optimal":
            art = np.array([nm.startswith("art_") for nm in spec_lp.s_names], dtype=bool)
            if len(lp.slack) and float(lp.slack[art].max(initial=0.0)) > 1e-7:
                lp = replace(lp, status="infeasible" if lp.bound is not None else "time_limit", bound=None)
            lp = replace(lp, slack=lp.slack[:len(spec.s_cost)])
        if lp.status == "infeasible":
            expl, fixes = explain_infeasible(p, settings, full_pool_pairs=FULL_POOL_PAIRS, exact_pairs=EXACT_PAIRS,
                                             spec_deadline=_explain_deadline(t0, settings))
            return _result_without(p, "infeasible", expl, fixes, build, time.monotonic() - t1, settings, sdict)
        if lp.status == "cancelled":
            return _result_without(p, "cancelled", [], [], build, time.monotonic() - t1, settings, sdict)
        bound = lp.bound
        if lp.status == "optimal":
            say("repair", 0.6)
            small = n_pairs <= EXACT_PAIRS
            assign, rres = _repair(spec, data, p, settings, lp, deadline, cancel, max_attempts=2, small_model=small)
            # no luck rounding: narrow the bands a little in the LP (warm re-solve) so its whole
            # units leave room for the fractional few, and round again; lumpy units (big
            # families) are first placed one by one by diving in the LP
            if assign is None and deadline - time.monotonic() > 0.5:
                with np.errstate(divide="ignore", invalid="ignore"):
                    tmin = np.where(p.target > 0, p.target, np.inf).min(axis=0)
                    usize = (p.M / tmin[None, :]).max(axis=1) if p.M.shape[1] else np.zeros(U)
                if (usize >= 0.02).any() and not small:  # small models get the exact MIP instead
                    say("dive", 0.62)
                    x3 = dive(lp, p, usize, deadline=t0 + 0.85 * float(settings.time_limit), cancel=cancel)
                    if isinstance(x3, tuple) and not price_all:
                        u = int(x3[1])
                        word = _unit_word(p, u)
                        j = int(np.argmax(np.where(p.elig[u], p.target.sum(axis=1), -1)))
                        parts = ", ".join(f"{p.M[u, m] / p.target[j, m]:.2f}x a {p.metric_names[m]} target"
                                          for m in range(len(p.metric_names)) if p.target[j, m] > 0)
                        expl = [f"{word[0].upper() + word[1:]} cannot be placed whole on any eligible rep: with it, "
                                f"no rep's other accounts can still meet every band (it is {parts} of the "
                                f"biggest rep). Widen the bands, or split it if it is a family."]
                        mbig = int(np.argmax([p.M[u, m] / p.target[j, m] if p.target[j, m] > 0 and p.hard[m] else 0
                                              for m in range(len(p.metric_names))]))
                        fx = [{"metric": p.metric_names[m], "tolerance": round(min(1.0, max(2 * p.tol[m], p.tol[m] + 0.05)), 3),
                               "why": f"try the {label(p.metric_names[m])} band at ±{min(1.0, max(2 * p.tol[m], p.tol[m] + 0.05)):.0%}"}
                              for m in [mbig] if p.hard[m]]
                        if p.unit_size[u] > 1 and settings.keep_families:
                            fx.append({"keep_families": False, "why": "let families be split across reps"})
                        return _result_without(p, "infeasible", expl, fx, build, time.monotonic() - t1, settings, sdict)
                    if isinstance(x3, np.ndarray):
                        assign, rres = _repair(spec, data, p, settings, replace(lp, x=x3), deadline, cancel,
                                               max_attempts=2, small_model=small)
            for factor in (0.7, 0.4):
                if assign is not None or deadline - time.monotonic() < 0.5 or (cancel is not None and cancel.is_set()):
                    break
                x2 = resolve_tightened(lp, spec, p, factor, deadline)
                if x2 is not None:
                    say("repair", 0.65)
                    assign, rres = _repair(spec, data, p, settings, replace(lp, x=x2), deadline, cancel,
                                           max_attempts=2)
            if assign is None and small and deadline - time.monotonic() > 0.5:
                assign, rres = _repair(spec, data, p, settings, lp, deadline, cancel, max_attempts=5)
    obj = None
    if assign is not None and not _feasible(spec, data, p, assign):
        assign = None
    if assign is not None:
        obj, _ = _evaluate(spec, data, p, assign)
    proven = False
    if obj is not None and bound is not None:
        b = math.ceil(bound - 1e-6) if _integral_objective(p, settings) else bound
        proven = obj - b <= max(1e-7 * max(1.0, abs(obj)), settings.mip_gap * abs(obj))
    rem = deadline - time.monotonic()
    # polishing a plan we have on a mid-sized model: a full MIP rarely gets past its root in the
    # short polishing budget, so search near the plan (the LP's support, today's owners and the
    # plan itself); that sub-model's bound is not the problem's, so only its plan is used
    local = assign is not None and lp is not None and n_pairs > LOCAL_POLISH_PAIRS
    if local:
        R_ = p.elig.shape[1]
        on = lp.x > 1e-9
        ok_prev = p.elig[p.prev_u, p.prev_r]
        keys = np.unique(np.concatenate([lp.pu[on] * R_ + lp.pr[on], np.arange(U) * R_ + assign,
                                         p.prev_u[ok_prev] * R_ + p.prev_r[ok_prev]]))
        fu, fr = (keys // R_).astype(np.int64), (keys % R_).astype(np.int64)
    else:
        fu, fr = np.nonzero(p.elig)
        fu, fr = fu.astype(np.int64), fr.astype(np.int64)
    build_est = 1e-4 * len(fu)  # PuLP writes about 10k pairs a second here; HiGHS's clock starts after
    if not proven and n_pairs <= EXACT_PAIRS and rem > 0.3 + 2 * build_est and not (cancel is not None and cancel.is_set()):
        say("mip", 0.7)
        start_x = start_s = None
        if assign is not None:
            start_x = (assign[fu] == fr).astype(float)
            _, start_s = _evaluate(spec, data, p, assign)
        # polishing a plan we have: a limit on branch-and-bound nodes, not on time (a clock made the
        # same scenario come out 518 or 519 moves by how busy the machine was); the time left is the
        # safety net. Tiny models, or no plan yet: until proven or the time is up.
        rem -= build_est
        polish = n_pairs > 5000 and assign is not None
        mres = solve_mip(spec, data, fu, fr, time_limit=rem, gap=settings.mip_gap, solver=settings.solver,
                         seed=settings.seed, start_x=start_x, start_s=start_s, cancel=cancel,
                         max_nodes=POLISH_NODES if polish else None)
        solver_name = mres.solver
        if mres.status == "infeasible" and assign is None:
            expl, fixes = explain_infeasible(p, settings, full_pool_pairs=FULL_POOL_PAIRS, exact_pairs=EXACT_PAIRS,
                                             spec_deadline=_explain_deadline(t0, settings))
            return _result_without(p, "infeasible", expl, fixes, build, time.monotonic() - t1, settings, sdict)
        if mres.x is not None:
            chosen = mres.x > 0.5
            cand = np.full(U, -1)
            cand[fu[chosen]] = fr[chosen]
            if (cand >= 0).all() and _feasible(spec, data, p, cand):
                cobj, _ = _evaluate(spec, data, p, cand)
                if obj is None or cobj < obj - 1e-9:
                    assign, obj = cand, cobj
        if mres.bound is not None and not local:
            bound = mres.bound if bound is None else max(bound, mres.bound)

    solve_s = time.monotonic() - t1
    if assign is None:
        st = "cancelled" if (cancel is not None and cancel.is_set()) else "no_solution"
        expl, fx = [], []
        if st == "no_solution" and lp is not None and lp.status == "optimal":
            with np.errstate(divide="ignore", invalid="ignore"):
                tmed = np.nanmedian(np.where(p.target > 0, p.target, np.nan), axis=0)
                rel = np.nan_to_num(p.M / tmed[None, :])
            u = int(np.argmax(rel.max(axis=1))) if rel.size else 0
            m = int(np.argmax(rel[u])) if rel.size else 0
            took = time.monotonic() - t0
            expl.append(f"The relaxed problem has answers (at least {bound:,.4g} on the objective), but no whole "
                        f"assignment meeting every band was found ({took:.0f} s of search). Big accounts make "
                        f"exact bands hard: the biggest, {_unit_word(p, u)}, is {rel[u, m]:.2f}x a typical rep's "
                        f"{p.metric_names[m]} target. Widen the bands, let families split, or allow more time."
                        if bound is not None else
                        f"No whole assignment meeting every band was found ({took:.0f} s of search); widen the "
                        f"bands, let families split, or allow more time.")
            for mm in range(len(p.metric_names)):
                if p.hard[mm]:
                    t = round(min(1.0, max(2 * p.tol[mm], p.tol[mm] + 0.05)), 3)
                    fx.append({"metric": p.metric_names[mm], "tolerance": t,
                               "why": f"try the {label(p.metric_names[mm])} band at ±{t:.0%}"})
            if settings.keep_families and (p.unit_size > 1).any():
                fx.append({"keep_families": False, "why": "let families be split across reps"})
            fx.append({"time_limit": float(min(3600, settings.time_limit * 3)),
                       "why": f"allow {min(3600, settings.time_limit * 3):g} s"})
        return _result_without(p, st, expl, fx, build, solve_s, settings, sdict, bound=bound)
    notes_extra = []
    if bound is not None and obj is not None and bound > obj:
        if bound - obj <= 1e-6 * max(1.0, abs(obj)):
            bound = obj  # the solvers' feasibility tolerance (1e-7 relative): the plan's value is the bound
        else:  # a bound above a feasible value is no bound: say the gap is unknown rather than guess
            notes_extra.append(f"The solver's bound ({bound:,.6g}) exceeded the plan's value ({obj:,.6g}); the gap "
                               "to the best possible is not known.")
            bound = None
    status, gap = _proven_status(p, settings, obj, bound)
    say("report", 0.95)
    res = _result_from(p, settings, assign, status, obj, bound, gap, solver_name, build, solve_s, sdict)
    res = replace(res, lp_bound=None if lp is None else lp.bound, notes=list(res.notes) + notes_extra)
    res = _mark_if_stopped(res, cancel)
    say("done", 1.0)
    return res


# Balancing within teams where no account is shared between teams (no pool), with a separable
# objective (moves or moved weight) and no overall caps, is one independent problem per team:
# solving them one by one gives the same optimum, far faster than one model over every team.
DECOMPOSE_TEAMS = True
# An executor (concurrent.futures) that solves teams side by side; None: one after the other, in
# this process. territory_core.plan.worker sets one in its solver processes (a pool of processes).
TEAM_POOL = None
TEAM_MIN_SECONDS = 5.0  # a team solved in turn gets at least this much of the time left


def _solve_team(job: tuple) -> "SolveResult":
    """One team's solve (module level: a process pool can run it)."""
    sub_acc, sub_reps, sset, distances, opportunities, sub_fixed = job
    return solve(sub_acc, sub_reps, sset, distances=distances, opportunities=opportunities, fixed=sub_fixed)


def _submit_teams(pool, jobs: dict) -> dict:
    return {g: pool.submit(_solve_team, job) for g, job in jobs.items()}


def _await_team(fut, futures: dict, cancel, say, n: int):
    """The result of one team's future, saying how many teams are solved meanwhile; None when
    cancelled first."""
    while True:
        try:
            return fut.result(timeout=0.1)
        except TimeoutError:
            pass
        if cancel is not None and cancel.is_set():
            for f in futures.values():
                f.cancel()
            return None
        done = sum(f.done() for f in futures.values())
        say(f"{done} of {n} teams solved", 0.05 + 0.9 * done / max(1, n))


def _independent_teams(p: Prepared, settings) -> bool:
    return (p.unit_team is not None and p.n_units > 0 and bool((p.unit_team >= 0).all())
            and len(np.unique(p.unit_team)) >= 2 and not p.problems
            and settings.objective == "disruption" and not settings.use_distance and bool(p.hard.all())
            and settings.max_moves is None and settings.max_arr_moved is None
            and not (p.elig & (p.rep_team[None, :] != p.unit_team[:, None])).any())


def _solve_by_team(accounts, reps, settings, metrics, p: Prepared, sdict, t0, *, distances, opportunities,
                   fixed, say, cancel) -> SolveResult | None:
    """One solve per team (same bands: a team's total is its own book), merged into one result over
    the whole prepared problem. None when the merged plan does not check out (the caller then
    solves the whole model)."""
    build = time.monotonic() - t0
    deadline = t0 + float(settings.time_limit)
    unit_of_acc = pd.Series(p.unit, index=pd.Index(p.acc_ids.astype(str)))
    team_of_acc = pd.Series(p.unit_team[p.unit], index=unit_of_acc.index)
    acc_team = accounts[A.account_id].astype(str).map(team_of_acc).to_numpy()
    rep_team = pd.Series(p.rep_team, index=pd.Index(p.rep_ids.astype(str)))
    reps_team = reps[R.rep_id].astype(str).map(rep_team).to_numpy()
    teams = sorted(int(g) for g in np.unique(p.unit_team))
    pairs = {g: int(p.elig[p.unit_team == g].sum()) for g in teams}
    left = sum(pairs.values())
    # the teams share the whole problem's tie-break weight, so their objectives add up to its own
    sub_settings = replace(settings, metrics=tuple(metrics), balance_within=(), balance_tiebreak=p.tiebreak,
                           verify_fixes=False)
    kind, sfield, svalue = parse_scope(settings.scope)
    fields = [f for f in settings.balance_within if f in reps.columns]

    def label(g):
        row = reps.loc[reps_team == g, fields].iloc[0] if fields and (reps_team == g).any() else None
        return " | ".join("" if pd.isna(v) else str(v) for v in row) if row is not None else f"team {g + 1}"

    assign = np.full(p.n_units, -1)
    rep_pos = pd.Index(p.rep_ids.astype(str))
    subs = []
    done = 0

    def team_inputs(g):
        sub_acc = accounts[acc_team == g]
        sub_reps = reps[reps_team == g]
        sub_fixed = None
        if fixed:
            ids = set(sub_acc[A.account_id].astype(str))
            sub_fixed = {k: v for k, v in fixed.items() if str(k) in ids} or None
        sub_scope, sub_bands = settings.scope, settings.effective_bands
        if kind == "reps":
            chosen = sub_reps[sfield].astype("string").str.strip().str.casefold().eq(svalue.casefold()).fillna(False)
            act = sub_reps[R.active].astype("boolean").fillna(True) if R.active in sub_reps.columns else True
            if not (chosen & act).any():
                # a team without an active chosen rep: only what must move, and nobody ends worse off
                sub_scope, sub_bands = "affected", "no-worse"
        return sub_acc, sub_reps, sub_fixed, sub_scope, sub_bands

    futures = None
    pool = TEAM_POOL
    if pool is not None and len(teams) > 1:
        # side by side, the biggest teams first: each team may use what is left of the time limit
        # after its expected start (the work queued before it, spread over the pool's processes)
        width = max(1, int(getattr(pool, "_max_workers", 2) or 2))
        total = max(1, left)
        rem0 = deadline - time.monotonic()
        jobs, queued = {}, 0
        opp_team = None
        if opportunities is not None and len(opportunities) and A.account_id in opportunities.columns:
            acc_team_of = pd.Series(acc_team, index=pd.Index(accounts[A.account_id].astype(str)))
            acc_team_of = acc_team_of[~acc_team_of.index.duplicated()]
            opp_team = opportunities[A.account_id].astype(str).map(acc_team_of).to_numpy()
        for g in sorted(teams, key=lambda t: -pairs[t]):
            sub_acc, sub_reps, sub_fixed, sub_scope, sub_bands = team_inputs(g)
            tl = max(0.5, rem0 - rem0 * queued / (total * width))
            queued += pairs[g]
            opp = opportunities
            if opp_team is not None:  # only the team's own deals
                opp = opp[opp_team == g]
            jobs[g] = (sub_acc, sub_reps, replace(sub_settings, time_limit=tl, scope=sub_scope, bands=sub_bands),
                       distances, opp, sub_fixed)
        futures = _submit_teams(pool, jobs)  # the biggest first, so the last to finish is a small one
    for i, g in enumerate(teams):
        if cancel is not None and cancel.is_set():
            return _result_without(p, "cancelled", [], [], build, time.monotonic() - t0 - build, settings, sdict)
        rem = deadline - time.monotonic()
        # a share of what is left by its size, and at least a few seconds (when there are): a small team
        # is quick, but on a busy machine a share of half a second stopped its MIP short of a proof
        tl = max(0.5, min(rem, max(TEAM_MIN_SECONDS, rem * pairs[g] / max(1, left))))
        sub_acc, sub_reps, sub_fixed, sub_scope, sub_bands = team_inputs(g)
        base = done / max(1, done + left)
        span = pairs[g] / max(1, done + left)
        sub_say = (lambda ph, f, _i=i, _b=base, _s=span:
                   say(f"team {_i + 1} of {len(teams)}: {ph}", 0.05 + 0.9 * (_b + _s * float(f or 0.0))))
        if futures is not None:
            r = _await_team(futures[g], futures, cancel, say, len(teams))
            if r is None:
                return _result_without(p, "cancelled", [], [], build, time.monotonic() - t0 - build, settings, sdict)
        else:
            r = solve(sub_acc, sub_reps, replace(sub_settings, time_limit=tl, scope=sub_scope,
                                                 bands=sub_bands), distances=distances,
                      opportunities=opportunities, fixed=sub_fixed, progress=sub_say, cancel=cancel)
        teams_after = len(teams) - i - 1
        spare = deadline - time.monotonic() - 0.5 * teams_after
        if r.status == "no_solution" and spare > 1.0 and not (cancel is not None and cancel.is_set()):
            # its share ran out (a busy machine, a hard team): give it what the others can spare
            r = solve(sub_acc, sub_reps, replace(sub_settings, time_limit=spare, scope=sub_scope,
                                                 bands=sub_bands), distances=distances,
                      opportunities=opportunities, fixed=sub_fixed, progress=sub_say, cancel=cancel)
        subs.append((g, r))
        done += pairs[g]
        left -= pairs[g]
        if not r.ok:
            name = label(g)
            expl = [] if r.status == "cancelled" else [f"Team {name}: {e}" for e in (r.explanations or [r.status_text])]
            seen, fx = set(), []
            for f in r.fixes:
                k = json.dumps(f, sort_keys=True, default=str)
                if k not in seen:
                    seen.add(k)
                    fx.append(f)
            st = r.status if r.status in ("infeasible", "no_solution", "cancelled") else "no_solution"
            return _result_without(p, st, expl, fx, build, time.monotonic() - t0 - build, settings, sdict)
        a = r.assignment
        units = a[S.account_id].astype(str).map(unit_of_acc).to_numpy()
        assign[units] = rep_pos.get_indexer(a[S.rep_id].astype(str))
    if (assign < 0).any():
        return None
    spec = build_spec(p, settings)
    data = Data(p)
    if not _feasible(spec, data, p, assign):
        return None
    obj, _ = _evaluate(spec, data, p, assign)
    bounds = []
    for _, r in subs:
        if r.status == "optimal":
            bounds.append(float(r.objective))  # optimal is proven: the bound meets the objective
        else:
            bounds.append(None if r.bound is None else float(min(r.bound, r.objective)))
    # accounts today owned outside the team they are planned in move in every plan: the teams'
    # own objectives leave out that constant, the whole problem's counts it
    offset = float(obj) - float(sum(float(r.objective) for _, r in subs))
    bound = None if any(b is None for b in bounds) else min(float(obj), float(sum(bounds)) + offset)
    status, gap = _proven_status(p, settings, obj, bound)
    say("report", 0.95)
    res = _result_from(p, settings, assign, status, obj, bound, gap, subs[0][1].solver, build,
                       time.monotonic() - t0 - build, sdict)
    lps = [r.lp_bound for _, r in subs]
    res = replace(res, lp_bound=None if any(v is None for v in lps) else float(sum(lps)) + offset,
                  notes=list(res.notes) + [f"Solved as {len(subs)} independent teams (no account can move "
                                           "between teams), one model each."])
    res = _mark_if_stopped(res, cancel)
    say("done", 1.0)
    return res


def _mark_if_stopped(res: SolveResult, cancel) -> SolveResult:
    """A plan found before a cancel is still a valid plan; say the search was cut short."""
    if cancel is None or not cancel.is_set():
        return res
    return replace(res, stopped=True, status_text="Stopped on request: " + res.status_text[0].lower()
                   + res.status_text[1:])


def _explain_deadline(t0: float, settings) -> float:
    """Time for explaining an infeasible result: what is left of the run's time limit (at most 30 s),
    and at least 1.5 s so a late proof still gets a short explanation (the run then ends at most
    about 2 s past its limit)."""
    now = time.monotonic()
    return max(now + 1.5, min(t0 + float(settings.time_limit), now + 30.0))


# ------------------------------------------------------------------------------- results

def _rep_metrics(p: Prepared, loads: np.ndarray) -> pd.DataFrame:
    R, k = loads.shape
    act = np.flatnonzero(p.active)
    rows = []
    for r in act:
        for m in range(k):
            T = p.target[r, m]
            rows.append((str(p.rep_ids[r]), p.metric_names[m], float(loads[r, m]), float(T), float(p.lower[r, m]),
                         float(p.upper[r, m]), float(loads[r, m] / T - 1) if T > 0 else 0.0))
    return pd.DataFrame(rows, columns=REP_METRIC_COLUMNS)


def _result_without(p, status, expl, fixes, build, solve_s, settings, sdict, bound=None) -> SolveResult:
    text = _status_text(status, None, build + solve_s, "HiGHS" if settings.solver == "highs" else "CBC", settings.mip_gap)
    if status == "infeasible" and expl:
        text = "Infeasible: " + expl[0]
    rm = _rep_metrics(p, _loads(p, p.prev))  # today's plan, for context
    return SolveResult(
        assignment=pd.DataFrame({c: pd.Series(dtype="string" if c not in (S.moved,) else "boolean")
                                 for c in ASSIGNMENT_COLUMNS}),
        rep_metrics=rm, status=status, status_text=text, objective=None, bound=bound, gap=None,
        solver="HiGHS" if settings.solver == "highs" else "CBC", build_seconds=build, solve_seconds=solve_s,
        moves=0, arr_moved=0.0, max_deviation={}, explanations=list(expl), fixes=list(fixes), notes=list(p.notes),
        settings=sdict)


def _result_from(p: Prepared, settings, assign_u, status, obj, bound, gap, solver, build, solve_s, sdict) -> SolveResult:
    rep_of = assign_u[p.unit]
    prev = p.prev
    moved = (prev >= 0) & (rep_of != prev)
    loads = _loads(p, rep_of)
    rm = _rep_metrics(p, loads)
    maxdev = {}
    if len(rm):
        for name, g in rm.groupby("metric", sort=False):
            maxdev[str(name)] = float(g["deviation"].abs().max())
    reasons = _reasons(p, settings, rep_of, moved)
    asg = pd.DataFrame({
        S.account_id: pd.array(p.acc_ids.astype(str), dtype="string"),
        S.rep_id: pd.array(p.rep_ids[rep_of].astype(str), dtype="string"),
        S.previous_rep_id: pd.array([str(p.rep_ids[i]) if i >= 0 else None for i in prev], dtype="string"),
        S.moved: pd.array(moved, dtype="boolean"),
        S.reason: pd.array(reasons, dtype="string"),
    })
    text = _status_text(status, gap, build + solve_s, solver, settings.mip_gap)
    return SolveResult(
        assignment=asg, rep_metrics=rm, status=status, status_text=text, objective=obj, bound=bound, gap=gap,
        solver=solver, build_seconds=build, solve_seconds=solve_s, moves=int(moved.sum()),
        arr_moved=float(p.arr_acc[moved].sum()), max_deviation=maxdev, explanations=[], fixes=[],
        notes=list(p.notes), settings=sdict)


# ------------------------------------------------------------------------------ trade-off

from .curve import tradeoff_curve  # noqa: E402,F401 (the curve lives in curve.py; kept importable here)
