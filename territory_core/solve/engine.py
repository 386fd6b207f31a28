"""The optimisation model and its solvers.

One model, two ways to solve it:
- ``solve_lp``: the LP relaxation with highspy directly (interior point, then simplex rounds),
  over a restricted set of candidate (unit, rep) pairs grown by pricing (column generation)
  until no eligible pair has a negative reduced cost, so its optimum is the LP bound of the
  whole problem;
- ``solve_mip``: the integer model written with PuLP (HiGHS through PuLP's API, or CBC), used
  for the exact solve of small and medium problems and for repairing the few fractional units
  an LP solution leaves.

Columns are x[u, r] (unit u goes to rep r), then continuous slack columns. Rows: each unit
once; each rep and metric inside its band (hard, soft with penalised overflow, or elastic when
diagnosing); optional deviation rows (balance objective); move caps overall and per rep.
"""
from __future__ import annotations

import math
import os
import re
import tempfile
import threading
import time
from dataclasses import dataclass, field

import numpy as np
import pulp

try:
    import highspy
except ImportError:  # pragma: no cover - CBC remains
    highspy = None

INF = float("inf")
import os as _os
_DEBUG = bool(_os.environ.get("TM_SOLVER_DEBUG"))


@dataclass
class Spec:
    """Rows and the non-x columns of a model; x columns come from ``column_entries``."""
    n_units: int
    n_reps: int
    k: int
    row_lo: np.ndarray
    row_hi: np.ndarray
    band_row: np.ndarray      # (R, k) row index or -1
    dev_row: np.ndarray       # (R, k) row index or -1 (balance objective)
    elastic_hi: np.ndarray    # (R, k) row index or -1 (elastic copy: upper side)
    elastic_lo: np.ndarray
    moves_row: int
    arr_row: int
    gain_row: np.ndarray      # (R,) or -1
    lost_row: np.ndarray      # (R,) or -1
    cost_disr: float          # objective multipliers
    cost_dist: float
    # slack (continuous) columns: cost, lb, ub and entries (row, col, val) with col local to slacks
    s_cost: np.ndarray
    s_ub: np.ndarray
    s_rows: np.ndarray
    s_cols: np.ndarray
    s_vals: np.ndarray
    s_names: list[str] = field(default_factory=list)

    @property
    def n_rows(self) -> int:
        return len(self.row_lo)


class Data:
    """Per-pair lookups from a ``Prepared`` (keep counts, moved counts, distance)."""

    def __init__(self, p):
        self.p = p
        R = len(p.rep_ids)
        self.R = R
        self.key = p.prev_u * R + p.prev_r
        order = np.argsort(self.key)
        self.key = self.key[order]
        self.kn = p.prev_n[order]
        self.kw = p.prev_w[order]
        self.ka = p.prev_arr[order]
        U = p.n_units
        # owned: what of the unit has an owner today (unowned accounts never count as moves)
        self.Wo = np.bincount(p.prev_u, weights=p.prev_w, minlength=U)
        self.No = np.bincount(p.prev_u, weights=p.prev_n, minlength=U)
        self.ARRo = np.bincount(p.prev_u, weights=p.prev_arr, minlength=U)

    def keep(self, pu, pr):
        key = pu * self.R + pr
        i = np.searchsorted(self.key, key)
        i = np.clip(i, 0, max(len(self.key) - 1, 0))
        hit = (self.key[i] == key) if len(self.key) else np.zeros(len(key), dtype=bool)
        z = np.zeros(len(key))
        return (np.where(hit, self.kn[i], z) if len(self.key) else z,
                np.where(hit, self.kw[i], z) if len(self.key) else z,
                np.where(hit, self.ka[i], z) if len(self.key) else z)


def build_spec(p, settings, *, elastic=(), artificial: bool = False) -> Spec:
    """``elastic``: which limits may stretch, at a cost (for explaining infeasibility):
    "tol:<metric index>", "moves", "arr", "per_rep"."""
    elastic = set(elastic or ())
    U, R = p.elig.shape
    k = len(p.metric_names)
    lo: list[float] = []
    hi: list[float] = []

    def new_rows(n, l, h):
        start = len(lo)
        lo.extend(np.broadcast_to(np.asarray(l, float), (n,)).tolist())
        hi.extend(np.broadcast_to(np.asarray(h, float), (n,)).tolist())
        return start

    new_rows(U, 1.0, 1.0)
    band = np.full((R, k), -1)
    dev = np.full((R, k), -1)
    el_hi = np.full((R, k), -1)
    el_lo = np.full((R, k), -1)
    sc: list[float] = []
    sub: list[float] = []
    srow: list[int] = []
    scol: list[int] = []
    sval: list[float] = []
    names: list[str] = []

    def slack(cost, entries, name, ub=INF):
        j = len(sc)
        sc.append(float(cost))
        sub.append(ub)
        names.append(name)
        for r_, v_ in entries:
            srow.append(int(r_))
            scol.append(j)
            sval.append(float(v_))
        return j

    obj = settings.objective
    n_acc = max(1, len(p.acc_ids))
    totW = float(p.W.sum()) or 1.0
    # natural unit of the objective: what one "typical" move costs
    if obj == "disruption":
        cost_disr, cost_dist = 1.0, (float(settings.distance_weight) if (settings.use_distance and p.dist is not None) else 0.0)
        unit = totW / n_acc
    elif obj == "distance":
        cost_disr, cost_dist = 0.0, 1.0
        unit = float(np.mean(p.dist[p.elig])) if (p.dist is not None and p.elig.any()) else 1.0
    elif obj == "balance":
        cost_disr, cost_dist = 1e-4 / totW, 0.0
        unit = 1e-3
    else:  # mix: fractions of the total
        cost_disr = float(settings.disruption_objective_weight) / totW
        cost_dist = 0.0
        if p.dist is not None:
            dsum = float(np.nanmean(np.where(p.elig, p.dist, np.nan))) * U if p.elig.any() else 1.0
            cost_dist = float(settings.distance_weight) / max(dsum, 1e-9)
        unit = 1.0 / n_acc
    soft_pen = float(settings.soft_penalty) * unit
    active_reps = np.flatnonzero(p.active)
    # elastic: one extra-tolerance column per metric
    el_cols = {}
    for m in range(k):
        total = float(p.M[:, m].sum())
        if total <= 0:
            continue
        for r in active_reps:
            T = p.target[r, m]
            el_m = f"tol:{m}" in elastic
            if p.hard[m] and not el_m:
                band[r, m] = new_rows(1, p.lower[r, m], p.upper[r, m])
            elif p.hard[m] and el_m:
                el_hi[r, m] = new_rows(1, -INF, p.upper[r, m])
                el_lo[r, m] = new_rows(1, p.lower[r, m], INF)
            else:
                band[r, m] = new_rows(1, p.lower[r, m], p.upper[r, m])
                if T > 0:
                    c = soft_pen * p.mweight[m] / T * 100.0
                    slack(c, [(band[r, m], -1.0)], f"over_{r}_{m}")
                    slack(c, [(band[r, m], 1.0)], f"under_{r}_{m}")
                else:
                    band[r, m] = -1
                    lo.pop(); hi.pop()
            tiebreak = float(getattr(p, "tiebreak", 0.0) or 0.0)
            if (obj in ("balance", "mix") or tiebreak > 0) and T > 0:
                dev[r, m] = new_rows(1, T, T)
                if obj == "balance":
                    wgt = p.mweight[m] / T / max(len(active_reps), 1)
                elif obj == "mix":
                    wgt = p.mweight[m] / T / max(len(active_reps), 1) * float(settings.balance_weight)
                else:  # fewest moves first, then the most balanced of those
                    wgt = tiebreak * unit * p.mweight[m] / T
                slack(wgt, [(dev[r, m], -1.0)], f"dplus_{r}_{m}")
                slack(wgt, [(dev[r, m], 1.0)], f"dminus_{r}_{m}")
        if f"tol:{m}" in elastic and p.hard[m]:
            rows_hi = [(el_hi[r, m], -p.target[r, m]) for r in active_reps if el_hi[r, m] >= 0]
            rows_lo = [(el_lo[r, m], p.target[r, m]) for r in active_reps if el_lo[r, m] >= 0]
            el_cols[m] = slack(1.0, rows_hi + rows_lo, f"extra_tol_{m}")
    moves_row = arr_row = -1
    if settings.max_moves is not None:
        moves_row = new_rows(1, -INF, float(settings.max_moves))
        if "moves" in elastic:
            slack(1.0, [(moves_row, -1.0)], "extra_moves")
    if settings.max_arr_moved is not None:
        arr_row = new_rows(1, -INF, float(settings.max_arr_moved))
        if "arr" in elastic:
            slack(1.0, [(arr_row, -1.0)], "extra_arr")
    gain = np.full(R, -1)
    lost = np.full(R, -1)
    if settings.max_moves_per_rep is not None:
        cap = float(settings.max_moves_per_rep)
        owned = np.bincount(p.prev_r, weights=p.prev_n, minlength=R)
        for r in active_reps:
            gain[r] = new_rows(1, -INF, cap)
            if "per_rep" in elastic:
                slack(1.0, [(gain[r], -1.0)], f"extra_gain_{r}")
            if owned[r] > cap:
                lost[r] = new_rows(1, owned[r] - cap, INF)
                if "per_rep" in elastic:
                    slack(1.0, [(lost[r], 1.0)], f"extra_lost_{r}")
    if artificial:
        # restricted LPs (pricing) may be infeasible on their pool: costly artificial columns
        # keep them feasible so pricing can bring in the columns that are needed. They come
        # last, so rows and the other columns are the same as without them.
        big = 1e5 * max(1.0, float(np.max(p.W)) * max(cost_disr, 1e-9),
                        float(np.max(p.dist)) * cost_dist if (p.dist is not None and cost_dist) else 0.0)
        for r in active_reps:
            for m in range(k):
                b = band[r, m]
                T = p.target[r, m]
                if b >= 0 and p.hard[m] and T > 0:
                    slack(big, [(b, -T)], f"art_{r}_{m}")
                    slack(big, [(b, T)], f"art_{r}_{m}")
            if lost[r] >= 0:
                slack(big, [(lost[r], 1.0)], f"art_lost_{r}")
    if elastic:  # only the stretch counts: the smallest change, whatever it costs in moves
        cost_disr = cost_dist = 0.0
        sc = [c if nm.startswith("extra_") else 0.0 for c, nm in zip(sc, names)]
    return Spec(U, R, k, np.array(lo), np.array(hi), band, dev, el_hi, el_lo, moves_row, arr_row, gain, lost,
                cost_disr, cost_dist, np.array(sc), np.array(sub), np.array(srow, dtype=np.int64),
                np.array(scol, dtype=np.int64), np.array(sval), names)


def column_entries(spec: Spec, data: Data, pu: np.ndarray, pr: np.ndarray):
    """Costs and (row, local column, value) entries of the x columns for pairs (pu, pr)."""
    p = data.p
    n = len(pu)
    kn, kw, ka = data.keep(pu, pr)
    size = data.No[pu]
    cost = spec.cost_disr * (data.Wo[pu] - kw)
    if spec.cost_dist and p.dist is not None:
        cost = cost + spec.cost_dist * p.dist[pu, pr]
    cols = np.arange(n)
    rows_l = [pu]
    cols_l = [cols]
    vals_l = [np.ones(n)]
    for m in range(spec.k):
        for table in (spec.band_row, spec.dev_row, spec.elastic_hi, spec.elastic_lo):
            rr = table[pr, m]
            ok = rr >= 0
            v = p.M[pu, m]
            ok &= v != 0
            rows_l.append(rr[ok]); cols_l.append(cols[ok]); vals_l.append(v[ok])
    if spec.moves_row >= 0:
        v = size - kn
        ok = v != 0
        rows_l.append(np.full(int(ok.sum()), spec.moves_row)); cols_l.append(cols[ok]); vals_l.append(v[ok])
    if spec.arr_row >= 0:
        v = data.ARRo[pu] - ka
        ok = v != 0
        rows_l.append(np.full(int(ok.sum()), spec.arr_row)); cols_l.append(cols[ok]); vals_l.append(v[ok])
    g = spec.gain_row[pr]
    ok = (g >= 0) & (size - kn != 0)
    rows_l.append(g[ok]); cols_l.append(cols[ok]); vals_l.append((size - kn)[ok])
    lr = spec.lost_row[pr]
    ok = (lr >= 0) & (kn != 0)
    rows_l.append(lr[ok]); cols_l.append(cols[ok]); vals_l.append(kn[ok])
    return cost, np.concatenate(rows_l).astype(np.int64), np.concatenate(cols_l).astype(np.int64), \
        np.concatenate(vals_l).astype(float)


def reduced_costs(spec, data, pu, pr, y) -> np.ndarray:
    cost, rows, cols, vals = column_entries(spec, data, pu, pr)
    return cost - np.bincount(cols, weights=vals * y[rows], minlength=len(pu))


@dataclass
class LPResult:
    status: str            # "optimal" | "infeasible" | "time_limit" | "cancelled" | "error"
    pu: np.ndarray
    pr: np.ndarray
    x: np.ndarray
    slack: np.ndarray
    objective: float
    bound: float | None    # valid lower bound on the whole problem, or None
    rounds: int = 0
    pairs: int = 0
    h: object = None       # the highspy model, kept for warm re-solves (tightened bands)


def _attach_cancel(h, cancel: threading.Event | None):
    if cancel is None:
        return
    def cb(e):
        if cancel.is_set():
            e.interrupt()
    try:
        h.cbSimplexInterrupt += cb
        h.cbIpmInterrupt += cb
        h.cbMipInterrupt += cb
    except Exception:  # older highspy: no event callbacks
        pass


def solve_lp(spec: Spec, data: Data, pu: np.ndarray, pr: np.ndarray, *, deadline: float, seed: int,
             cancel: threading.Event | None = None, price_all: bool = True,
             progress=None, max_rounds: int = 30) -> LPResult:
    """LP relaxation over candidate pairs, grown by pricing over every eligible pair."""
    p = data.p
    if highspy is None:
        return LPResult("error", pu, pr, np.zeros(len(pu)), np.zeros(len(spec.s_cost)), INF, None)
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("random_seed", int(seed) % 2147483647)
    h.setOptionValue("threads", 1)
    _attach_cancel(h, cancel)
    nS = len(spec.s_cost)
    inf = highspy.kHighsInf
    # rows first (empty), then slack columns, then x columns
    nr = spec.n_rows
    h.addRows(nr, np.where(np.isfinite(spec.row_lo), spec.row_lo, -inf), np.where(np.isfinite(spec.row_hi), spec.row_hi, inf),
              0, np.zeros(nr, dtype=np.int32), np.zeros(0, dtype=np.int32), np.zeros(0))

    def add_cols(cost, rows, cols, vals, n, ub):
        order = np.lexsort((rows, cols))
        rows, cols, vals = rows[order], cols[order], vals[order]
        starts = np.searchsorted(cols, np.arange(n)).astype(np.int32)
        h.addCols(n, cost.astype(float), np.zeros(n), np.where(np.isfinite(ub), ub, inf), len(vals),
                  starts, rows.astype(np.int32), vals.astype(float))

    if nS:
        add_cols(spec.s_cost, spec.s_rows, spec.s_cols, spec.s_vals, nS, spec.s_ub)
    cost, rows, cols, vals = column_entries(spec, data, pu, pr)
    add_cols(cost, rows, cols, vals, len(pu), np.full(len(pu), INF))
    pool = np.unique(pu * data.R + pr)
    h.setOptionValue("solver", "ipm")
    h.setOptionValue("run_crossover", "on")
    rounds = 0
    status = "optimal"
    priced_out = False
    while True:
        rem = deadline - time.monotonic()
        if rem <= 0.05:
            status = "time_limit"
            break
        # HiGHS's clock adds up over runs of one model: the limit is on that total
        h.setOptionValue("time_limit", h.getRunTime() + max(rem, 0.05))
        h.run()
        rounds += 1
        ms = h.getModelStatus()
        if cancel is not None and cancel.is_set():
            status = "cancelled"
            break
        if ms == highspy.HighsModelStatus.kInfeasible:
            status = "infeasible"
            break
        if ms != highspy.HighsModelStatus.kOptimal:
            status = "time_limit" if ms in (highspy.HighsModelStatus.kTimeLimit, highspy.HighsModelStatus.kInterrupt) else "error"
            break
        h.setOptionValue("solver", "simplex")
        if not price_all or rounds >= max_rounds:
            break
        sol = h.getSolution()
        y = np.asarray(sol.row_dual)
        new_u, new_r = _price(spec, data, pool, y)
        if progress:
            progress("lp", min(0.5, 0.1 + 0.05 * rounds))
        if len(new_u) == 0:
            priced_out = True
            break
        cost, rows, cols, vals = column_entries(spec, data, new_u, new_r)
        add_cols(cost, rows, cols, vals, len(new_u), np.full(len(new_u), INF))
        pu = np.concatenate([pu, new_u])
        pr = np.concatenate([pr, new_r])
        pool = np.union1d(pool, new_u * data.R + new_r)
    sol = h.getSolution()
    xv = np.asarray(sol.col_value)
    info = h.getInfo()
    obj = float(info.objective_function_value) if status == "optimal" else INF
    # the LP optimum bounds the whole problem only when no eligible pair outside the pool
    # could improve it (pool = every eligible pair, or pricing found none)
    bound = obj if status == "optimal" and (not price_all or priced_out) else None
    return LPResult(status, pu, pr, xv[nS:] if len(xv) else np.zeros(len(pu)), xv[:nS] if len(xv) else np.zeros(nS),
                    obj, bound, rounds, len(pu), h)


def resolve_tightened(lp: LPResult, spec: Spec, p, factor: float, deadline: float):
    """Re-solve the LP (warm, dual simplex) with every hard band narrowed to ``factor`` of its
    width around the target, so that the integral part of the answer leaves room in the real
    bands for rounding the fractional rest. Returns the new x (same pairs) or None."""
    h = lp.h
    if h is None:
        return None
    R, k = spec.band_row.shape
    changed = []
    for r in range(R):
        for m in range(k):
            b = int(spec.band_row[r, m])
            if b < 0 or not p.hard[m]:
                continue
            T = p.target[r, m]
            lo, hi = spec.row_lo[b], spec.row_hi[b]
            h.changeRowBounds(b, T - (T - lo) * factor, T + (hi - T) * factor)
            changed.append((b, lo, hi))
    rem = deadline - time.monotonic()
    if rem <= 0.1:
        return None
    h.setOptionValue("solver", "simplex")
    h.setOptionValue("time_limit", h.getRunTime() + rem)
    h.run()
    ok = h.getModelStatus() == highspy.HighsModelStatus.kOptimal
    xv = np.asarray(h.getSolution().col_value) if ok else None
    for b, lo, hi in changed:  # restore
        h.changeRowBounds(b, lo, hi)
    if xv is None:
        return None
    nS = h.getNumCol() - len(lp.pu)
    return xv[nS:]


def _price(spec, data, pool: np.ndarray, y: np.ndarray, per_unit: int = 2, max_new: int = 200_000):
    """Eligible pairs outside the pool with a negative reduced cost (the best few per unit)."""
    p = data.p
    U, R = p.elig.shape
    out_u, out_r = [], []
    chunk = max(1, 2_000_000 // max(R, 1))
    for s in range(0, U, chunk):
        e = p.elig[s:s + chunk]
        uu, rr = np.nonzero(e)
        uu = uu + s
        if len(uu) == 0:
            continue
        rc = reduced_costs(spec, data, uu, rr, y)
        neg = rc < -1e-7
        if not neg.any():
            continue
        uu, rr, rc = uu[neg], rr[neg], rc[neg]
        order = np.lexsort((rr, rc, uu))
        uu, rr = uu[order], rr[order]
        first = np.r_[True, uu[1:] != uu[:-1]]
        rank = np.arange(len(uu)) - np.maximum.accumulate(np.where(first, np.arange(len(uu)), 0))
        keep = rank < per_unit
        uu, rr = uu[keep], rr[keep]
        fresh = ~np.isin(uu * R + rr, pool)
        out_u.append(uu[fresh]); out_r.append(rr[fresh])
    if not out_u:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    u = np.concatenate(out_u)[:max_new]
    r = np.concatenate(out_r)[:max_new]
    return u.astype(np.int64), r.astype(np.int64)


# ------------------------------------------------------------------------------ MIP with PuLP

@dataclass
class MIPResult:
    status: str            # "optimal" | "feasible" | "infeasible" | "no_solution" | "cancelled"
    x: np.ndarray | None   # values of x columns
    slack: np.ndarray | None
    objective: float | None
    bound: float | None
    solver: str


if hasattr(pulp, "HiGHS"):
    class _HiGHS(pulp.HiGHS):  # type: ignore[misc]
        """PuLP's HiGHS API plus a warm start and a cancel event."""

        def __init__(self, *a, start=None, cancel=None, seed=0, **kw):
            super().__init__(*a, **kw)
            self._start = start
            self._cancel = cancel
            self._seed = seed

        def findSolutionValues(self, lp):
            try:
                return super().findSolutionValues(lp)
            except KeyError:  # statuses PuLP does not map (e.g. solution limit): values are set already
                return pulp.LpStatusNotSolved, pulp.LpSolutionIntegerFeasible

        def callSolver(self, lp):
            h = lp.solverModel
            h.setOptionValue("random_seed", int(self._seed) % 2147483647)
            _attach_cancel(h, self._cancel)
            if self._start is not None:
                vals = np.zeros(h.getNumCol())
                for var in lp.variables():
                    v = self._start.get(var.name)
                    if v is not None:
                        vals[var.index] = v
                _set_start(h, vals)
            h.run()
else:  # pragma: no cover
    _HiGHS = None


def solve_mip(spec: Spec, data: Data, pu: np.ndarray, pr: np.ndarray, *, time_limit: float, gap: float,
              solver: str = "highs", seed: int = 0, start_x: np.ndarray | None = None,
              start_s: np.ndarray | None = None, cancel: threading.Event | None = None,
              fixed_load: np.ndarray | None = None, heuristic_effort: float = 0.05,
              first_solution: bool = False, max_nodes: int | None = None) -> MIPResult:
    """Integer model over the pairs (pu, pr), written with PuLP. ``fixed_load`` (rows,) is
    the row activity of units fixed outside this model (subtracted from row bounds).
    ``max_nodes``: stop after this many branch-and-bound nodes, a limit on work rather than on
    time, so the same model gives the same answer on a busy machine (``time_limit`` stays as the
    safety net)."""
    if solver != "cbc" and highspy is not None:
        direct = _solve_mip_highs(spec, data, pu, pr, time_limit=time_limit, gap=gap, seed=seed, start_x=start_x,
                                  start_s=start_s, cancel=cancel, fixed_load=fixed_load,
                                  heuristic_effort=heuristic_effort, first_solution=first_solution,
                                  max_nodes=max_nodes)
        if direct is not None:
            return direct  # else HiGHS refused the arrays (it never has): the same model through PuLP
    cost, rows, cols, vals = column_entries(spec, data, pu, pr)
    nS = len(spec.s_cost)
    n = len(pu)
    prob = pulp.LpProblem("territories", pulp.LpMinimize)
    xs = [pulp.LpVariable(f"x{i}", cat=pulp.LpBinary) for i in range(n)]
    ss = [pulp.LpVariable(f"s{j}", lowBound=0, upBound=None if not math.isfinite(spec.s_ub[j]) else spec.s_ub[j])
          for j in range(nS)]
    prob += pulp.LpAffineExpression(list(zip(xs, cost.tolist())) + list(zip(ss, spec.s_cost.tolist())))
    allr = np.concatenate([rows, spec.s_rows])
    allv = np.concatenate([vals, spec.s_vals])
    allvar = xs + ss
    allc = np.concatenate([cols, spec.s_cols + n])
    order = np.argsort(allr, kind="stable")
    allr, allv, allc = allr[order], allv[order], allc[order]
    bounds = np.searchsorted(allr, np.arange(spec.n_rows + 1))
    lo, hi = _row_bounds(spec, fixed_load)
    for i in range(spec.n_rows):
        a, b = bounds[i], bounds[i + 1]
        if a == b:
            if lo[i] > 1e-6 or hi[i] < -1e-6:
                # a row nobody can touch any more is violated: the sub-model is infeasible
                if i < spec.n_units:
                    continue  # unit not in this sub-model
                if _DEBUG: print("empty row infeasible", i, lo[i], hi[i])
                return MIPResult("infeasible", None, None, None, None, solver)
            continue
        expr = pulp.LpAffineExpression([(allvar[c], v) for c, v in zip(allc[a:b].tolist(), allv[a:b].tolist())])
        if lo[i] == hi[i]:
            prob += pulp.LpConstraint(expr, pulp.LpConstraintEQ, f"r{i}", lo[i])
        else:
            if math.isfinite(lo[i]):
                prob += pulp.LpConstraint(expr, pulp.LpConstraintGE, f"r{i}l", lo[i])
            if math.isfinite(hi[i]):
                prob += pulp.LpConstraint(expr, pulp.LpConstraintLE, f"r{i}u", hi[i])
    tl = max(0.5, float(time_limit))
    if solver == "cbc":
        opts = [f"randomSeed {int(seed) % 2147483647 or 1}", f"randomCbcSeed {int(seed) % 2147483647 or 1}"]
        if start_x is not None:
            for v, val in zip(xs, start_x):
                v.setInitialValue(round(float(val)))
        with tempfile.TemporaryDirectory() as tmp:
            log = os.path.join(tmp, "cbc.log")
            s = pulp.PULP_CBC_CMD(msg=False, timeLimit=tl, gapRel=gap, options=opts, warmStart=start_x is not None,
                                  threads=1, logPath=log, maxNodes=max_nodes)
            prob.solve(s)
            proven, cbc_bound = _cbc_proof(log)
        st, sst = prob.status, prob.sol_status
        xv = np.array([v.varValue or 0.0 for v in xs])
        sv = np.array([v.varValue or 0.0 for v in ss])
        if sst in (pulp.LpSolutionOptimal, pulp.LpSolutionIntegerFeasible):
            # PuLP says "Optimal" also when CBC stopped at its gap setting: only CBC's own log tells
            # whether it proved optimality, and what its bound is
            obj = float(pulp.value(prob.objective))
            if proven:
                return MIPResult("optimal", xv, sv, obj, obj, "CBC")
            return MIPResult("feasible", xv, sv, obj, cbc_bound, "CBC")
        if st == pulp.LpStatusInfeasible or sst == pulp.LpSolutionInfeasible:
            return MIPResult("infeasible", None, None, None, None, "CBC")
        return MIPResult("no_solution", None, None, None, None, "CBC")
    start = None
    if start_x is not None:
        start = {f"x{i}": float(round(v)) for i, v in enumerate(start_x)}
        if start_s is not None:
            start.update({f"s{j}": float(v) for j, v in enumerate(start_s)})
    st, has_sol, obj, bound = run_highs(prob, time_limit=tl, gap=gap, seed=seed, start=start, cancel=cancel,
                                        mip_heuristic_effort=heuristic_effort,
                                        **({"mip_max_improving_sols": 1} if first_solution else {}),
                                        **({"mip_max_nodes": int(max_nodes)} if max_nodes else {}))
    xv = np.array([v.varValue or 0.0 for v in xs]) if has_sol else None
    sv = np.array([v.varValue or 0.0 for v in ss]) if has_sol else None
    if has_sol:  # optimal (proven) or feasible
        return MIPResult(st, xv, sv, obj, bound, "HiGHS")
    if st == "infeasible":
        return MIPResult("infeasible", None, None, None, None, "HiGHS")
    if cancel is not None and cancel.is_set():
        return MIPResult("cancelled", None, None, None, bound, "HiGHS")
    return MIPResult("no_solution", None, None, None, bound, "HiGHS")


def _row_bounds(spec: Spec, fixed_load: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Row bounds of a sub-model: the spec's, less the activity of units fixed outside it. The fixed
    part comes from an LP answer that meets rows within the LP's own (absolute, scaled) tolerance:
    that much is allowed here, relative to the row's size."""
    lo = spec.row_lo.copy()
    hi = spec.row_hi.copy()
    if fixed_load is not None:
        lo = lo - fixed_load
        hi = hi - fixed_load
        scale = np.maximum(1.0, np.abs(np.where(np.isfinite(spec.row_hi), spec.row_hi, spec.row_lo)))
        eps = 1e-7 * scale
        eps[: spec.n_units] = 0.0
        lo = lo - eps
        hi = hi + eps
    return lo, hi


def _solve_mip_highs(spec: Spec, data: Data, pu: np.ndarray, pr: np.ndarray, *, time_limit: float, gap: float,
                     seed: int, start_x, start_s, cancel, fixed_load, heuristic_effort: float,
                     first_solution: bool, max_nodes: int | None = None) -> MIPResult | None:
    """:func:`solve_mip` with HiGHS, the model handed over as arrays (binary x columns, then the
    slack columns; one ranged row per constraint row that has entries). The same model as the
    PuLP one, built in a fraction of the time: PuLP spends about as long writing a big model as
    HiGHS spends solving it. None when HiGHS refuses the arrays."""
    cost, rows, cols, vals = column_entries(spec, data, pu, pr)
    nS = len(spec.s_cost)
    n = len(pu)
    lo, hi = _row_bounds(spec, fixed_load)
    allr = np.concatenate([rows, spec.s_rows]).astype(np.int64)
    allv = np.concatenate([vals, spec.s_vals]).astype(float)
    allc = np.concatenate([cols, spec.s_cols + n]).astype(np.int64)
    counts = np.bincount(allr, minlength=spec.n_rows)
    empty = counts == 0
    # a row nobody can touch any more is violated: the sub-model is infeasible (unit rows of units
    # outside this sub-model are empty and fine)
    bad = empty & ((lo > 1e-6) | (hi < -1e-6))
    bad[: spec.n_units] = False
    if bad.any():
        if _DEBUG: print("empty row infeasible", np.flatnonzero(bad)[:5])
        return MIPResult("infeasible", None, None, None, None, "HiGHS")
    keep = np.flatnonzero(~empty)
    new_row = np.full(spec.n_rows, -1, dtype=np.int64)
    new_row[keep] = np.arange(len(keep))
    order = np.lexsort((allc, allr))
    r_sorted, c_sorted, v_sorted = new_row[allr[order]], allc[order], allv[order]
    starts = np.searchsorted(r_sorted, np.arange(len(keep))).astype(np.int32)
    inf = highspy.kHighsInf
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("threads", 1)
    h.setOptionValue("random_seed", int(seed) % 2147483647)
    h.setOptionValue("time_limit", max(0.05, float(max(0.5, float(time_limit)))))
    h.setOptionValue("mip_rel_gap", float(gap))
    h.setOptionValue("mip_heuristic_effort", float(heuristic_effort))
    if first_solution:
        h.setOptionValue("mip_max_improving_sols", 1)
    if max_nodes:
        h.setOptionValue("mip_max_nodes", int(max_nodes))
    s_ub = np.where(np.isfinite(spec.s_ub), spec.s_ub, inf)
    h.addVars(n + nS, np.zeros(n + nS), np.concatenate([np.ones(n), s_ub]).astype(float))
    h.changeColsCost(n + nS, np.arange(n + nS, dtype=np.int32), np.concatenate([cost, spec.s_cost]).astype(float))
    if n:
        h.changeColsIntegrality(n, np.arange(n, dtype=np.int32), np.ones(n, dtype=np.uint8))
    rlo, rhi = lo[keep], hi[keep]
    built = h.addRows(len(keep), np.where(np.isfinite(rlo), rlo, -inf), np.where(np.isfinite(rhi), rhi, inf),
                      len(v_sorted), starts, c_sorted.astype(np.int32), v_sorted)
    if built == highspy.HighsStatus.kError:
        return None
    _attach_cancel(h, cancel)
    if start_x is not None:
        vals0 = np.zeros(n + nS)
        vals0[:n] = np.round(np.asarray(start_x, dtype=float))
        if start_s is not None:
            vals0[n:] = np.asarray(start_s, dtype=float)
        _set_start(h, vals0)
    h.run()
    st, has_sol, obj, bound = _highs_outcome(h)
    if has_sol:
        xv = np.asarray(h.getSolution().col_value)
        return MIPResult(st, xv[:n], xv[n:], obj, bound, "HiGHS")
    if st == "infeasible":
        return MIPResult("infeasible", None, None, None, None, "HiGHS")
    if cancel is not None and cancel.is_set():
        return MIPResult("cancelled", None, None, None, bound, "HiGHS")
    return MIPResult("no_solution", None, None, None, bound, "HiGHS")


def _set_start(h, values: np.ndarray) -> None:
    """A starting solution for HiGHS (every column's value); ignored when HiGHS refuses it."""
    try:
        sol = highspy.HighsSolution()
        sol.col_value = values.tolist()
        sol.value_valid = True
        h.setSolution(sol)
    except Exception:
        pass


def _highs_outcome(h) -> tuple[str, bool, float | None, float | None]:
    """What HiGHS itself proved after a run: (status, has a solution, objective, bound); see
    :func:`run_highs`."""
    ms = h.getModelStatus()
    info = h.getInfo()
    HS = highspy.HighsModelStatus
    has_sol = int(getattr(info, "primal_solution_status", 0)) == 2
    obj = float(info.objective_function_value) if has_sol else None
    bound = float(info.mip_dual_bound) if math.isfinite(float(info.mip_dual_bound)) else None
    if ms in (HS.kInfeasible, HS.kUnboundedOrInfeasible):
        return "infeasible", False, None, None
    if ms == HS.kOptimal and has_sol and bound is not None and obj - bound <= 1e-9 * max(1.0, abs(obj)):
        return "optimal", True, obj, bound
    if has_sol:
        return "feasible", True, obj, bound
    return "no_solution", False, None, bound


def run_highs(prob: "pulp.LpProblem", *, time_limit: float, gap: float, seed: int = 0, start: dict | None = None,
              cancel: threading.Event | None = None, **options) -> tuple[str, bool, float | None, float | None]:
    """Solve a PuLP model with HiGHS (one thread, warm start, cancel) and say what HiGHS itself
    proved: (status, has a solution, objective, bound). "optimal" only when HiGHS stopped optimal
    and its bound meets the objective (it also stops at the relative gap setting: then "feasible");
    "infeasible"; "feasible" with a plan in hand (a limit, a cancel); else "no_solution". The
    objective is HiGHS's own, so a constant term PuLP drops is not in it. ``options``: more HiGHS
    options (mip_heuristic_effort=...)."""
    s = _HiGHS(msg=False, timeLimit=max(0.05, float(time_limit)), gapRel=gap, threads=1, start=start, cancel=cancel,
               seed=seed, **options)
    prob.solve(s)
    return _highs_outcome(prob.solverModel)


def _cbc_proof(log_path: str) -> tuple[bool, float | None]:
    """From CBC's log: (proved optimal with no gap, its best bound on a minimisation or None)."""
    try:
        text = open(log_path, encoding="utf-8", errors="replace").read()
    except OSError:
        return False, None
    proven = bool(re.search(r"^Result - Optimal solution found\s*$", text, re.M))
    m = re.search(r"^Lower bound:\s*(-?[0-9.eE+-]+)", text, re.M)
    bound = None
    if m:
        try:
            bound = float(m.group(1))
        except ValueError:
            bound = None
    return proven, bound


def dive(lp: LPResult, p, size: np.ndarray, deadline: float, threshold: float = 0.02, max_steps: int = 200,
         cancel: threading.Event | None = None, step_limit: float = 10.0):
    """LP diving for lumpy units (big families, near-whales): fix the biggest fractional unit
    to the rep the LP likes best (else its next choice), re-solve warm, repeat until no
    fractional unit is bigger than ``threshold`` of a target. Returns the new x (same pairs)
    or None. Changes the bounds of ``lp.h`` (it is not used for anything else afterwards)."""
    h = lp.h
    if h is None:
        return None
    pu, pr = lp.pu, lp.pr
    nS = h.getNumCol() - len(pu)
    order = np.argsort(pu, kind="stable")
    starts = np.searchsorted(pu[order], np.arange(p.n_units + 1))
    x = lp.x.copy()
    h.setOptionValue("solver", "simplex")
    for _ in range(max_steps):
        if time.monotonic() > deadline or (cancel is not None and cancel.is_set()):
            return None
        xmax = np.zeros(p.n_units)
        np.maximum.at(xmax, pu, x)
        fracu = np.flatnonzero((xmax < 1 - 1e-6) & (size >= threshold))
        if len(fracu) == 0:
            return x
        u = int(fracu[np.argmax(size[fracu])])
        cols = order[starts[u]:starts[u + 1]]
        # every candidate rep, best first: if none works the unit cannot be placed whole at all
        # (each try is a relaxation of "u wholly on that rep"), which proves infeasibility when
        # the pool holds every eligible pair
        for c in cols[np.argsort(-x[cols], kind="stable")][:60]:
            for cc in cols:
                h.changeColBounds(int(nS + cc), 1.0 if cc == c else 0.0, 1.0 if cc == c else 0.0)
            rem = deadline - time.monotonic()
            if rem <= 0.05:
                return None
            h.setOptionValue("time_limit", h.getRunTime() + min(rem, step_limit))
            h.run()
            if _DEBUG:
                print("dive", u, size[u], c, x[c], h.getModelStatus(), len(fracu))
            ms = h.getModelStatus()
            if ms == highspy.HighsModelStatus.kOptimal:
                x = np.asarray(h.getSolution().col_value)[nS:]
                break
            if ms != highspy.HighsModelStatus.kInfeasible:
                return None  # time limit or trouble: no conclusion
        else:
            if len(cols) <= 60:
                return ("infeasible", u)
            return None
    return None
