"""Solvers behind :mod:`territory_core.geo.design`: the exact MIP (PuLP + HiGHS, contiguity cuts
added lazily), the location-allocation heuristic and the lower bounds that make its gap honest.

Notation: n units, p territories, k measures. ``labels[i]`` is unit i's territory index,
``centres[t]`` the centre unit of territory t.
"""
from __future__ import annotations

import math
import time
from typing import NamedTuple

import numpy as np
import pulp

try:
    import highspy
except ImportError:  # pragma: no cover
    highspy = None

from ..solve.engine import run_highs
from .design import Problem, loads, objective_value, within_bands
from .graph import contiguous

INF = float("inf")


class Result(NamedTuple):
    status: str
    labels: np.ndarray | None
    centres: np.ndarray | None
    bound: float | None
    method: str
    notes: list


def exact_fits(p: Problem, objective: str, max_units: int | None = None) -> bool:
    """Whether the exact MIP is the right tool at this size (measured on 2 cores: 100 units and
    free centres solve in seconds; the centre-indexed model grows with n squared)."""
    if objective == "compactness" and not p.fixed:
        return p.n <= (max_units or 150)
    return p.n * p.p <= (max_units * p.p if max_units else 20_000)


# =============================================================================== costs

def unit_costs(p: Problem, objective: str, rows: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """len(rows) x p: what putting unit i in territory t costs (distance to t's centre, or the
    moved weight when t is not the unit's current territory)."""
    if objective == "disruption":
        cur = p.current[rows]
        c = np.repeat(p.moved_weight[rows][:, None], p.p, axis=1)
        c[(cur >= 0)[:, None] & (np.arange(p.p)[None, :] == cur[:, None])] = 0.0
        c[cur < 0, :] = 0.0
        return c
    return p.weight[rows][:, None] * p.dist.between(rows, centres)


def medoids(p: Problem, labels: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """Each territory's unit with the least weighted distance to its members."""
    out = centres.copy()
    if p.dist.kind == "matrix":
        return out
    for t in range(p.p):
        mem = np.flatnonzero(labels == t)
        if len(mem) == 0:
            continue
        if len(mem) > 3000:  # sample candidates near the weighted mean
            cand = mem[np.argsort(p.dist.between(mem, [centres[t]])[:, 0])[:3000]]
        else:
            cand = mem
        d = p.dist.between(mem, cand)
        s = (p.weight[mem][:, None] * d).sum(axis=0)
        out[t] = cand[int(np.argmin(s))]
    return out


# =============================================================================== LP (highspy)

def _band_lp(p: Problem, cost_rows, pu: np.ndarray, pt: np.ndarray, *, elastic: float | None,
             time_limit: float, fixed_pairs=None):
    """LP: assign each unit once over the pairs (pu, pt) with every band [lower, upper]
    (elastic: violations allowed at ``elastic`` per unit of relative violation). Returns
    (status, x, row duals (assignment, bands as (p, k)), objective)."""
    n, P, k = p.n, p.p, p.measures.shape[1]
    c = cost_rows
    m = len(pu)
    # column-wise: each x column has 1 + k entries
    rows = np.empty((m, 1 + k), dtype=np.int32)
    vals = np.empty((m, 1 + k))
    rows[:, 0] = pu
    vals[:, 0] = 1.0
    for j in range(k):
        rows[:, 1 + j] = n + pt * k + j
        vals[:, 1 + j] = p.measures[pu, j]
    starts = np.arange(0, m * (1 + k) + 1, 1 + k)
    idx = rows.ravel()
    val = vals.ravel()
    col_cost = list(c)
    T = p.target
    nb = P * k
    lo = np.concatenate([np.ones(n), p.lower.ravel()])
    hi = np.concatenate([np.ones(n), p.upper.ravel()])
    s_idx, s_val, s_cost = [], [], []
    if elastic is not None:
        scale = 1.0 / np.maximum(T.ravel(), 1e-12)
        for r in range(nb):
            for sgn in (-1.0, 1.0):
                s_idx.append(n + r)
                s_val.append(sgn)
                s_cost.append(elastic * scale[r])
    n_s = len(s_idx)
    all_starts = np.concatenate([starts, starts[-1] + np.arange(1, n_s + 1)]).astype(np.int32)
    all_idx = np.concatenate([idx, np.asarray(s_idx, dtype=np.int32)]).astype(np.int32)
    all_val = np.concatenate([val, np.asarray(s_val, dtype=float)])
    col_lo = np.zeros(m + n_s)
    col_hi = np.full(m + n_s, INF)
    if fixed_pairs is not None:
        col_lo[fixed_pairs] = 1.0
    lp = highspy.HighsLp()
    lp.num_col_ = m + n_s
    lp.num_row_ = n + nb
    lp.col_cost_ = np.concatenate([np.asarray(col_cost, float), np.asarray(s_cost, float)])
    lp.col_lower_ = col_lo
    lp.col_upper_ = col_hi
    lp.row_lower_ = lo
    lp.row_upper_ = hi
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = all_starts
    lp.a_matrix_.index_ = all_idx
    lp.a_matrix_.value_ = all_val
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("threads", 1)
    h.setOptionValue("time_limit", max(0.5, float(time_limit)))
    h.passModel(lp)
    h.run()
    ms = h.getModelStatus()
    if ms == highspy.HighsModelStatus.kOptimal:
        sol = h.getSolution()
        x = np.asarray(sol.col_value)[:m]
        dual = np.asarray(sol.row_dual)
        return "optimal", x, dual[:n], dual[n:].reshape(P, k), float(h.getInfo().objective_function_value)
    if ms in (highspy.HighsModelStatus.kInfeasible,):
        return "infeasible", None, None, None, None
    return "no_solution", None, None, None, None


def lagrangian_band_bound(p: Problem, objective: str, centres: np.ndarray, y: np.ndarray,
                          fixed_pairs=None, chunk: int = 20000) -> float:
    """A valid lower bound for any band multipliers y (p, k): relax the bands into the
    objective, keep 'each unit once', and take each unit's cheapest territory. With the LP's own
    duals it equals the LP relaxation's value when the LP priced every pair."""
    total = 0.0
    fixed_unit = np.full(p.n, -1)
    if fixed_pairs is not None:
        for u, t in fixed_pairs:
            fixed_unit[u] = t
    for s in range(0, p.n, chunk):
        rows = np.arange(s, min(p.n, s + chunk))
        c = unit_costs(p, objective, rows, centres) - p.measures[rows] @ y.T
        f = fixed_unit[rows]
        best = c.min(axis=1)
        hit = f >= 0
        best[hit] = c[hit, f[hit]]
        total += float(best.sum())
    total += float((np.maximum(y, 0) * p.lower).sum() + (np.minimum(y, 0) * p.upper).sum())
    return total


def band_lp(p: Problem, objective: str, centres: np.ndarray, deadline: float, *, elastic=None,
            candidates: int | None = None, full: bool = True):
    """The LP relaxation of the balanced assignment (territory-indexed), over every pair when
    it is small, else over each unit's nearest / neighbouring territories grown by pricing.
    Returns (status, labels from the LP (argmax), bound or None, x fractional count)."""
    n, P = p.n, p.p
    fixed = [(int(centres[t]), t) for t in range(P) if centres[t] >= 0] if objective == "compactness" or p.fixed else []
    fixed_unit = {u: t for u, t in fixed}
    if full and n * P <= 400_000:
        pu = np.repeat(np.arange(n), P)
        pt = np.tile(np.arange(P), n)
    else:
        K = candidates or min(P, 8)
        if objective == "compactness":
            cand = np.argsort(p.dist.between(np.arange(n), centres), axis=1)[:, :K]
        else:
            cand = _neighbour_territories(p, K)
        pu = np.repeat(np.arange(n), cand.shape[1])
        pt = cand.ravel()
        keep = pt >= 0
        pu, pt = pu[keep], pt[keep]
    # a fixed centre sits in its own territory only
    if fixed_unit:
        fu = np.array(list(fixed_unit))
        ft = np.array([fixed_unit[u] for u in fu])
        drop = np.isin(pu, fu)
        pu = np.concatenate([pu[~drop], fu])
        pt = np.concatenate([pt[~drop], ft])
    key = np.unique(pu * P + pt)
    pu, pt = key // P, key % P
    bound = None
    status = "no_solution"
    x = None
    y = None
    for _round in range(12):
        rem = deadline - time.monotonic()
        if rem <= 0.2:
            break
        c = _pair_costs(p, objective, centres, pu, pt)
        status, x, pi, y, val = _band_lp(p, c, pu, pt, elastic=elastic, time_limit=rem)
        if status != "optimal":
            if status == "infeasible" and n * P > len(pu):
                status = "no_solution"  # a restricted LP being infeasible proves nothing
            break
        if elastic is not None:
            break
        # price every pair, chunk by chunk
        add = []
        for s in range(0, n, 20000):
            rows = np.arange(s, min(n, s + 20000))
            rc = unit_costs(p, objective, rows, centres) - pi[rows][:, None] - p.measures[rows] @ y.T
            ii, tt = np.nonzero(rc < -1e-7 * (1 + np.abs(pi[rows]))[:, None])
            ii = rows[ii]
            ok = np.array([fixed_unit.get(int(u), -1) in (-1,) for u in ii], dtype=bool) if fixed_unit else np.ones(len(ii), bool)
            add.append(ii[ok] * P + tt[ok])
        add = np.setdiff1d(np.concatenate(add) if add else np.zeros(0, int), key)
        if len(add) == 0:
            break
        key = np.union1d(key, add)
        pu, pt = key // P, key % P
    if status == "optimal" and elastic is None:
        bound = lagrangian_band_bound(p, objective, centres, y, fixed_pairs=fixed)
    labels = None
    nfrac = 0
    if x is not None:
        best = np.full(n, -1.0)
        labels = np.full(n, -1)
        order = np.argsort(x, kind="stable")
        labels[pu[order]] = pt[order]  # the largest x of each unit wins (written last)
        best[pu[order]] = x[order]
        nfrac = int((best < 1 - 1e-6).sum())
        for u, t in fixed:
            labels[u] = t
    return status, labels, bound, nfrac


def _pair_costs(p, objective, centres, pu, pt):
    if objective == "disruption":
        cur = p.current[pu]
        return np.where((cur >= 0) & (cur != pt), p.moved_weight[pu], 0.0)
    return p.weight[pu] * p.dist.pairwise(pu, centres[pt])


def _neighbour_territories(p: Problem, K: int) -> np.ndarray:
    """For disruption: each unit's current territory and those of units within two steps."""
    cur = p.current.copy()
    out = np.full((p.n, K), -1)
    if p.graph is None:
        return np.tile(np.arange(min(K, p.p)), (p.n, 1))
    g = p.graph
    for i in range(p.n):
        seen = [cur[i]] if cur[i] >= 0 else []
        ring = g.neighbours(i)
        for j in list(ring) + [v for r in ring for v in g.neighbours(r)]:
            t = cur[j]
            if t >= 0 and t not in seen:
                seen.append(t)
            if len(seen) >= K:
                break
        out[i, :len(seen)] = seen[:K]
    return out


# =============================================================================== heuristic parts

def init_centres(p: Problem, seed: int) -> np.ndarray:
    """p spread-out centres: weighted k-means++ seeding and a few Lloyd steps, snapped to units."""
    if p.fixed:
        return p.centres.copy()
    rng = np.random.default_rng(seed)
    pts = p.dist.points()
    w = p.measures.sum(axis=1) / max(p.measures.sum(), 1e-12) + 1.0 / p.n
    first = rng.choice(p.n, p=w / w.sum())
    chosen = [int(first)]
    d2 = ((pts - pts[first]) ** 2).sum(axis=1)
    for _ in range(1, p.p):
        pr = w * d2
        pr = pr / pr.sum() if pr.sum() > 0 else np.full(p.n, 1.0 / p.n)
        j = int(rng.choice(p.n, p=pr))
        chosen.append(j)
        d2 = np.minimum(d2, ((pts - pts[j]) ** 2).sum(axis=1))
    C = pts[chosen].astype(float)
    for _ in range(8):
        lab = _nearest(pts, C)
        for t in range(p.p):
            m = lab == t
            if m.any():
                C[t] = (pts[m] * w[m, None]).sum(axis=0) / w[m].sum()
    from scipy.spatial import cKDTree

    tree = cKDTree(pts)
    out = []
    used = set()
    for c in C:
        _, cand = tree.query(c, k=min(p.n, p.p + 1))
        for j in np.atleast_1d(cand):
            if int(j) not in used:
                used.add(int(j))
                out.append(int(j))
                break
    return np.array(out, dtype=int)


def _nearest(pts, C):
    from scipy.spatial import cKDTree

    return cKDTree(C).query(pts)[1]


def fill_unassigned(p: Problem, labels: np.ndarray) -> np.ndarray:
    """Units without a territory take the territory of a labelled neighbour (breadth first)."""
    labels = labels.copy()
    if (labels >= 0).all():
        return labels
    if p.graph is None:
        miss = np.flatnonzero(labels < 0)
        labels[miss] = 0
        return labels
    frontier = list(np.flatnonzero(labels >= 0))
    while frontier:
        nxt = []
        for u in frontier:
            for v in p.graph.neighbours(u):
                if labels[v] < 0:
                    labels[v] = labels[u]
                    nxt.append(v)
        frontier = nxt
    labels[labels < 0] = 0
    return labels


def repair_contiguity(p: Problem, labels: np.ndarray, centres: np.ndarray | None,
                      move_centres: bool = False) -> tuple[np.ndarray, int]:
    """Each territory keeps the piece holding its centre (else its largest or most 'home'
    piece); every other piece joins the neighbouring territory it touches most. Returns
    (labels, units moved)."""
    if p.graph is None:
        return labels, 0
    labels = labels.copy()
    g = p.graph
    moved = 0
    for _ in range(4 * p.p + 10):
        changed = False
        for t in range(p.p):
            parts = g.pieces(labels, t)
            if len(parts) <= 1:
                continue
            if centres is not None and centres[t] >= 0 and (p.fixed or not move_centres):
                keep = next(i for i, c in enumerate(parts) if centres[t] in set(c.tolist()))
            elif centres is not None and move_centres:
                # free centres: keep the piece with most of the load; the centre moves into it
                rel = (p.measures / np.maximum(p.target[t], 1e-12)).sum(axis=1)
                keep = int(np.argmax([rel[c].sum() + 1e-9 * len(c) for c in parts]))
                if centres[t] not in set(parts[keep].tolist()):
                    centres[t] = parts[keep][0]
            elif (p.current >= 0).any():
                keep = int(np.argmax([p.moved_weight[c][p.current[c] == t].sum() + 1e-9 * len(c) for c in parts]))
            else:
                keep = 0
            for i, part in enumerate(parts):
                if i == keep:
                    continue
                nb = g.boundary(part)
                nb_t = labels[nb]
                nb_t = nb_t[nb_t != t]
                if len(nb_t) == 0:
                    continue
                vals, cnt = np.unique(nb_t, return_counts=True)
                best = vals[cnt == cnt.max()]
                if len(best) > 1 and centres is not None and (centres[best] >= 0).all() and p.dist.kind != "matrix":
                    dd = p.dist.between(part[:1], centres[best])[0]
                    best = best[np.argsort(dd)]
                labels[part] = best[0]
                moved += len(part)
                changed = True
        if not changed:
            break
    return labels, moved


def ensure_nonempty(p: Problem, labels: np.ndarray, centres: np.ndarray) -> np.ndarray:
    labels = labels.copy()
    for t in range(p.p):
        if (labels == t).any():
            continue
        if centres[t] >= 0 and p.centres[t] >= 0:
            labels[centres[t]] = t
            continue
        S = loads(p, labels)
        src = int(np.argmax((S / np.maximum(p.target, 1e-12)).sum(axis=1)))
        for u in np.flatnonzero(labels == src):
            if u in set(centres.tolist()):
                continue
            if p.graph is None or p.graph.stays_connected_without(labels, u):
                labels[u] = t
                centres[t] = u
                break
    return labels


def local_search(p: Problem, objective: str, labels: np.ndarray, centres: np.ndarray, deadline: float,
                 max_rounds: int = 200) -> np.ndarray:
    """Boundary moves that keep every territory in one piece: first those that reduce the
    band violation at the least cost per unit of violation, then those that lower the
    objective without breaking a band."""
    labels = labels.copy()
    n, P, k = p.n, p.p, p.measures.shape[1]
    g = p.graph
    T = np.maximum(p.target, 1e-12)
    L, U = p.lower, p.upper
    M = p.measures
    S = loads(p, labels)
    is_centre = np.zeros(n, dtype=bool)
    is_centre[centres[centres >= 0]] = True
    if objective == "disruption" and not p.fixed:
        is_centre[:] = False

    def cost_of(units, terr):
        if objective == "disruption":
            cur = p.current[units]
            return np.where((cur >= 0) & (cur != terr), p.moved_weight[units], 0.0)
        return p.weight[units] * p.dist.pairwise(units, centres[terr])

    def band_viol(Srows, terr):
        return ((np.maximum(Srows - U[terr], 0) + np.maximum(L[terr] - Srows, 0)) / T[terr]).sum(axis=-1)

    def quad(Srows, terr):
        return (((Srows - T[terr]) / T[terr]) ** 2).sum(axis=-1)

    viol = band_viol

    if g is None:
        ea = np.zeros(0, int)
        eb = np.zeros(0, int)
    else:
        ea, eb = g.a, g.b
    for _ in range(max_rounds):
        if time.monotonic() > deadline:
            break
        # out of band: spread the excess (squared deviation from target, so an overloaded
        # territory hands units to a neighbour at target, which hands on to the next); in band:
        # improve the objective with moves that keep every band
        out = bool((band_viol(S, np.arange(P)) > 1e-12).any())
        viol = quad if out else band_viol
        if g is not None:
            diff = labels[ea] != labels[eb]
            ci = np.concatenate([ea[diff], eb[diff]])
            ct = np.concatenate([labels[eb[diff]], labels[ea[diff]]])
        else:  # without adjacency every territory is a candidate
            ci = np.repeat(np.arange(n), P)
            ct = np.tile(np.arange(P), n)
            keep = labels[ci] != ct
            ci, ct = ci[keep], ct[keep]
        keep = ~is_centre[ci]
        ci, ct = ci[keep], ct[keep]
        if len(ci) == 0:
            break
        key = np.unique(ci * P + ct)
        ci, ct = key // P, key % P
        ca = labels[ci]
        dv = (viol(S[ca] - M[ci], ca) + viol(S[ct] + M[ci], ct)) - (viol(S[ca], ca) + viol(S[ct], ct))
        if out:
            # pressure: units (even empty ones) flow from fuller to emptier territories, so a
            # boundary can advance across empty land towards where the load is
            rel = (S / T).mean(axis=1)
            dv = dv - 1e-6 * (rel[ca] - rel[ct])
        dc = cost_of(ci, ct) - cost_of(ci, ca)
        eps = 1e-12
        cls = np.full(len(ci), 9)
        cls[(dv < -eps) & (dc <= 0)] = 0
        cls[(dv < -eps) & (dc > 0)] = 1
        cls[(np.abs(dv) <= eps) & (dc < -1e-12)] = 2
        sel = cls < 9
        if not sel.any():
            break
        ci, ct, ca, dv, dc, cls = ci[sel], ct[sel], ca[sel], dv[sel], dc[sel], cls[sel]
        prio = np.where(cls == 0, dv, np.where(cls == 1, dc / np.maximum(-dv, eps), dc))
        order = np.lexsort((prio, cls))
        applied = 0
        touched = np.zeros(P, dtype=bool)
        for o in order:
            i, b, a = int(ci[o]), int(ct[o]), int(ca[o])
            if labels[i] != a:
                continue
            if touched[a] or touched[b]:
                # recompute with today's sums
                pass
            sa, sb = S[a], S[b]
            d_v = (viol(sa - M[i], a) + viol(sb + M[i], b)) - (viol(sa, a) + viol(sb, b))
            if out:
                d_v -= 1e-6 * float((sa / T[a]).mean() - (sb / T[b]).mean())
            d_c = float(cost_of(np.array([i]), np.array([b]))[0] - cost_of(np.array([i]), np.array([a]))[0])
            if not (d_v < -eps or (abs(d_v) <= eps and d_c < -1e-12)):
                continue
            if g is not None and not g.stays_connected_without(labels, i):
                continue
            if g is not None and not (labels[g.neighbours(i)] == b).any():
                continue
            if (labels == a).sum() <= 1:
                continue
            labels[i] = b
            S[a] -= M[i]
            S[b] += M[i]
            touched[a] = touched[b] = True
            applied += 1
            if time.monotonic() > deadline:
                break
        if applied == 0:
            break
    return labels


def _score(p, objective, labels, centres):
    S = loads(p, labels)
    T = np.maximum(p.target, 1e-12)
    v = float(((np.maximum(S - p.upper, 0) + np.maximum(p.lower - S, 0)) / T).sum())
    pieces = contiguous(p.graph, labels, range(p.p))
    broken = sum(max(0, c - 1) + (1 if c == 0 else 0) for c in pieces.values())
    return (broken, round(v, 12), objective_value(p, objective, labels, centres))


def heuristic_plan(p: Problem, objective: str, deadline: float, seed: int = 0, start=None):
    """Location-allocation with contiguity repair and local search. Returns (labels, centres)."""
    rng_seed = seed
    best = None
    t_start = time.monotonic()
    budget = max(0.5, deadline - t_start)
    if objective == "disruption":
        centres = p.centres.copy() if p.fixed else np.full(p.p, -1)
        starts = []
        cur = fill_unassigned(p, p.current.copy())
        if p.fixed:
            cur[p.centres] = np.arange(p.p)
        starts.append(cur)
        if start is not None:
            starts.append(np.asarray(start))
        for lab in starts:
            lab = ensure_nonempty(p, lab, centres.copy() if p.fixed else _medoid_or_any(p, lab))
            lab, _ = repair_contiguity(p, lab, centres if p.fixed else None)
            lab = local_search(p, objective, lab, centres if p.fixed else np.full(p.p, -1),
                               t_start + 0.9 * budget)
            sc = _score(p, objective, lab, centres)
            if best is None or sc < best[0]:
                best = (sc, lab)
        lab = best[1]
        cen = centres if p.fixed else medoids(p, lab, _medoid_or_any(p, lab))
        return lab, cen
    centres = init_centres(p, rng_seed)
    seen = set()
    it = 0
    while time.monotonic() < deadline and it < 30:
        it += 1
        key = tuple(sorted(centres.tolist()))
        if key in seen and not p.fixed:
            break
        seen.add(key)
        rem = deadline - time.monotonic()
        if start is not None and it == 1:
            lab = np.asarray(start).copy()
        else:
            st, lab, _, _ = band_lp(p, objective, centres, time.monotonic() + 0.4 * rem,
                                    elastic=1e3 * _cost_scale(p, centres), candidates=min(p.p, 8), full=False)
            if lab is None:
                lab = _nearest_centre(p, centres)
        lab = fill_unassigned(p, lab)
        lab[centres] = np.arange(p.p)
        centres = centres.copy()
        lab, _ = repair_contiguity(p, lab, centres, move_centres=not p.fixed)
        if not p.fixed:
            centres = medoids(p, lab, centres)
            lab[centres] = np.arange(p.p)
            lab, _ = repair_contiguity(p, lab, centres)
        lab = local_search(p, objective, lab, centres, time.monotonic() + 0.5 * (deadline - time.monotonic()))
        sc = _score(p, objective, lab, centres)
        if best is None or sc < best[0]:
            best = (sc, lab.copy(), centres.copy())
        if p.fixed:
            break
        new = medoids(p, lab, centres)
        if np.array_equal(new, centres):
            break
        centres = new
    return best[1], best[2]


def _medoid_or_any(p, lab):
    cen = np.full(p.p, -1)
    for t in range(p.p):
        m = np.flatnonzero(lab == t)
        if len(m):
            cen[t] = m[0]
    if p.dist.kind != "matrix" and (cen >= 0).all():
        cen = medoids(p, lab, cen)
    return cen


def _cost_scale(p, centres):
    if p.dist.kind == "matrix":
        return float(np.mean(p.dist.matrix)) * float(np.mean(p.weight)) + 1e-9
    s = np.random.default_rng(0).choice(p.n, size=min(p.n, 200), replace=False)
    return float(np.mean(p.dist.between(s, centres[: min(len(centres), 20)]))) * float(np.mean(p.weight)) + 1e-9


def _nearest_centre(p, centres):
    return np.argmin(p.dist.between(np.arange(p.n), centres), axis=1)


# =============================================================================== bounds

def pmedian_lagrangian_bound(p: Problem, ub: float, deadline: float, lam0: np.ndarray | None = None,
                             iters: int = 400) -> float | None:
    """Lagrangian bound of the p-median (assignment rows relaxed; balance and contiguity
    dropped, so it is a lower bound of the design problem). Pairs further than a unit's radius
    are never needed because each multiplier is capped at its weight times that radius."""
    if p.dist.kind == "matrix" or p.p >= p.n:
        return 0.0 if p.p >= p.n else None
    from scipy.spatial import cKDTree

    n, P = p.n, p.p
    pts = p.dist.points()
    tree = cKDTree(pts)
    K = int(min(n, max(12, math.ceil(2.5 * n / P) + 5), 400))
    dk, nk = tree.query(pts, k=K)
    if p.dist.kind == "great_circle":
        # chord -> great-circle distance
        dk = 2 * 6371.0088 * np.arcsin(np.clip(dk / 2, 0, 1))
    radius = dk[:, -1]                       # every unit within radius[i] of i is in its list
    pi = np.repeat(np.arange(n), K)
    pj = nk.ravel()
    pc = (p.weight[pi] * dk.ravel())
    off = pi != pj
    pi, pj, pc = pi[off], pj[off], pc[off]
    cap = p.weight * radius                  # lambda_i <= cap_i keeps the pair list exact
    lam = np.minimum(cap, lam0) if lam0 is not None else 0.5 * cap
    best = -INF
    theta = 2.0
    stall = 0
    for _ in range(iters):
        if time.monotonic() > deadline:
            break
        v = np.minimum(0.0, pc - lam[pi])
        rho = -lam + np.bincount(pj, weights=v, minlength=n)
        sel = np.argpartition(rho, P - 1)[:P]
        L = float(lam.sum() + rho[sel].sum())
        if best == -INF or L > best + 1e-9 * max(1.0, abs(best)):
            best = L
            stall = 0
        else:
            stall += 1
            if stall >= 15:
                theta /= 2
                stall = 0
                if theta < 1e-4:
                    break
        inP = np.zeros(n, dtype=bool)
        inP[sel] = True
        used = inP[pj] & (pc < lam[pi])
        gsub = 1.0 - inP - np.bincount(pi, weights=used.astype(float), minlength=n)
        nrm = float((gsub ** 2).sum())
        if nrm == 0:
            break  # the relaxation's answer is a plan: the bound is the optimum of the relaxation
        step = theta * max(ub - L, 1e-9 * max(1.0, abs(ub))) / nrm
        lam = np.clip(lam + step * gsub, 0.0, cap)
    return best if best > -INF else None


# =============================================================================== public entry points

def solve_heuristic(p: Problem, objective: str, deadline: float, seed: int = 0) -> Result:
    notes = []
    t0 = time.monotonic()
    budget = max(1.0, deadline - t0)
    bound = None
    lp_labels = None
    lp_status = None
    centres0 = p.centres.copy()
    if objective == "disruption" or p.fixed:
        if objective == "compactness":
            centres0 = p.centres.copy()
        lp_status, lp_labels, bound, nfrac = band_lp(p, objective, centres0 if p.fixed else np.zeros(p.p, int),
                                                     t0 + 0.35 * budget)
        if lp_status == "infeasible":
            return Result("infeasible", None, None, None, "heuristic",
                          ["The LP relaxation (bands without contiguity) is infeasible: no plan can meet "
                           "these bands. Widen the tolerances or change the territories."])
    labels, centres = heuristic_plan(p, objective, t0 + 0.8 * budget, seed=seed,
                                     start=lp_labels if objective == "disruption" else None)
    if objective == "compactness" and not p.fixed:
        ub = objective_value(p, objective, labels, centres)
        lam0 = p.weight * p.dist.pairwise(np.arange(p.n), centres[labels])
        lb = pmedian_lagrangian_bound(p, ub, max(deadline, time.monotonic() + 0.1 * budget), lam0=lam0 * 1.2)
        bound = lb
        notes.append("Lower bound: Lagrangian relaxation of the p-median (balance and contiguity relaxed).")
    elif bound is not None:
        notes.append("Lower bound: LP relaxation of the balanced assignment (contiguity relaxed).")
    ok = within_bands(p, labels)
    pieces = contiguous(p.graph, labels, range(p.p))
    status = "feasible" if ok and all(v == 1 for v in pieces.values()) else "out_of_band"
    return Result(status, labels, centres, bound, "heuristic", notes)


def _run(prob: pulp.LpProblem, time_limit: float, mip_gap: float, seed: int, start: dict | None):
    """(status, has a solution, bound) of one HiGHS solve, warm-started from ``start`` (the
    balancing solver's own HiGHS call: "optimal" only with the bound)."""
    st, has_sol, _obj, bound = run_highs(prob, time_limit=max(0.5, time_limit), gap=mip_gap, seed=seed, start=start,
                                         mip_heuristic_effort=0.02 if start else 0.05)
    return st, has_sol, bound


def solve_exact(p: Problem, objective: str, deadline: float, mip_gap: float = 1e-6, seed: int = 0) -> Result:
    """The MIP with PuLP + HiGHS. Contiguity: solve, find territories in pieces, add a cut for
    each detached piece C (all of C in the territory implies one of C's neighbours is too),
    and solve again, warm-started from the best contiguous plan so far. Every cut is valid for
    contiguous plans, so the last solve's bound is a bound of the real problem."""
    t0 = time.monotonic()
    notes = []
    # a quick heuristic plan: a warm start and a fallback
    h_lab, h_cen = heuristic_plan(p, objective, t0 + min(5.0, 0.15 * max(1.0, deadline - t0)), seed=seed)
    inc = None
    if within_bands(p, h_lab) and all(v == 1 for v in contiguous(p.graph, h_lab, range(p.p)).values()):
        inc = (objective_value(p, objective, h_lab, h_cen), h_lab, h_cen)
    builder = _CentreModel(p) if objective == "compactness" else _TerritoryIndexModel(p)
    bound = None
    rounds = 0
    n_cuts = 0
    status = "no_solution"
    while True:
        rem = deadline - time.monotonic()
        if rem <= 0.3:
            break
        rounds += 1
        start = builder.start(inc[1], inc[2]) if inc is not None else None
        st, has_sol, b = _run(builder.prob, rem, mip_gap, seed, start)
        if st == "infeasible":
            if inc is not None:  # cannot be: the incumbent is feasible; trust the plan, say so
                notes.append("HiGHS reported infeasible with a feasible plan in hand; kept the plan.")
                status = "feasible"
                break
            return Result("infeasible", None, None, None, "exact",
                          [f"HiGHS proved that no plan meets the bands{' with contiguous territories' if rounds > 1 else ''}."])
        if b is not None:
            bound = b if bound is None else max(bound, b) if rounds == 1 else b
        if not has_sol:
            status = "no_solution"
            break
        lab, cen = builder.read()
        pieces = {t: p.graph.pieces(lab, t) for t in range(p.p)} if p.graph is not None else {}
        broken = {t: parts for t, parts in pieces.items() if len(parts) > 1}
        obj = objective_value(p, objective, lab, cen)
        if not broken:
            if inc is None or obj <= inc[0] + 1e-9:
                inc = (obj, lab, cen)
            status = st
            break
        # add cuts; try to repair this plan into a contiguous one as an incumbent
        for t, parts in broken.items():
            root = cen[t] if cen is not None and cen[t] >= 0 else None
            for part in parts:
                if root is not None and root in set(part.tolist()):
                    continue
                builder.cut(t, part, p.graph.boundary(part), lab)
                n_cuts += 1
        r_lab, _ = repair_contiguity(p, lab, cen if objective == "compactness" or p.fixed else None)
        r_cen = cen if objective == "compactness" else _medoid_or_any(p, r_lab)
        r_lab = local_search(p, objective, r_lab, r_cen if objective == "compactness" or p.fixed else np.full(p.p, -1),
                             time.monotonic() + 1.0)
        if within_bands(p, r_lab) and all(v == 1 for v in contiguous(p.graph, r_lab, range(p.p)).values()):
            ro = objective_value(p, objective, r_lab, r_cen)
            if inc is None or ro < inc[0]:
                inc = (ro, r_lab, r_cen)
        status = "feasible"
    if n_cuts:
        notes.append(f"Contiguity: {n_cuts} cut(s) added lazily over {rounds} solve(s).")
    if inc is None:
        return Result("no_solution", None, None, bound, "exact", notes)
    obj, lab, cen = inc
    if objective == "disruption" and not p.fixed:
        cen = medoids(p, lab, _medoid_or_any(p, lab))
    if status == "optimal" and bound is not None and obj > bound + max(1e-6, mip_gap) * max(1.0, abs(obj)) + 1e-9:
        status = "feasible"
    if status == "no_solution":
        status = "feasible"
    return Result(status, lab, cen, bound, "exact", notes)


class _CentreModel:
    """x[i, j]: unit i is served by centre unit j (p-median). Unequal shares without fixed
    centres add a[j, t]: centre j is territory t's centre."""

    def __init__(self, p: Problem):
        self.p = p
        n, P = p.n, p.p
        self.fixed = p.fixed
        J = p.centres.copy() if p.fixed else (p.dist.centres_allowed() if p.dist.centres_allowed() is not None else np.arange(n))
        self.J = np.asarray(J, dtype=int)
        D = p.weight[:, None] * p.dist.between(np.arange(n), self.J)
        prob = pulp.LpProblem("compact_territories", pulp.LpMinimize)
        x = {}
        for jj, j in enumerate(self.J):
            for i in range(n):
                x[i, jj] = pulp.LpVariable(f"x_{i}_{jj}", cat=pulp.LpBinary)
        self.x = x
        prob += pulp.LpAffineExpression([(x[i, jj], float(D[i, jj])) for (i, jj) in x])
        for i in range(n):
            prob += pulp.LpAffineExpression([(x[i, jj], 1.0) for jj in range(len(self.J))]) == 1, f"once_{i}"
        k = p.measures.shape[1]
        self.a = None
        if self.fixed:
            for t, j in enumerate(self.J):
                x[j, t].lowBound = 1
                for m in range(k):
                    e = pulp.LpAffineExpression([(x[i, t], float(p.measures[i, m])) for i in range(n) if p.measures[i, m]])
                    prob += e >= float(p.lower[t, m]), f"lo_{t}_{m}"
                    prob += e <= float(p.upper[t, m]), f"hi_{t}_{m}"
        else:
            pos = {int(j): jj for jj, j in enumerate(self.J)}
            for jj, j in enumerate(self.J):
                if int(j) in pos:
                    for i in range(n):
                        if i != j:
                            prob += pulp.LpAffineExpression([(x[i, jj], 1.0), (x[int(j), jj], -1.0)]) <= 0, f"open_{i}_{jj}"
            prob += pulp.LpAffineExpression([(x[int(j), jj], 1.0) for jj, j in enumerate(self.J)]) == P, "p"
            if p.equal_shares:
                for jj, j in enumerate(self.J):
                    j = int(j)
                    for m in range(k):
                        # the centre's own x[j, j] carries its measure and the band (one coefficient)
                        terms = [(x[i, jj], float(p.measures[i, m])) for i in range(n) if p.measures[i, m] and i != j]
                        aj = float(p.measures[j, m])
                        prob += pulp.LpAffineExpression(terms + [(x[j, jj], aj - float(p.lower[0, m]))]) >= 0, f"lo_{jj}_{m}"
                        prob += pulp.LpAffineExpression(terms + [(x[j, jj], aj - float(p.upper[0, m]))]) <= 0, f"hi_{jj}_{m}"
            else:
                a = {(jj, t): pulp.LpVariable(f"a_{jj}_{t}", cat=pulp.LpBinary) for jj in range(len(self.J)) for t in range(P)}
                self.a = a
                for t in range(P):
                    prob += pulp.LpAffineExpression([(a[jj, t], 1.0) for jj in range(len(self.J))]) == 1, f"one_{t}"
                for jj, j in enumerate(self.J):
                    prob += pulp.LpAffineExpression([(a[jj, t], 1.0) for t in range(P)] + [(x[int(j), jj], -1.0)]) == 0, f"lab_{jj}"
                    for m in range(k):
                        terms = [(x[i, jj], float(p.measures[i, m])) for i in range(n) if p.measures[i, m]]
                        prob += pulp.LpAffineExpression(terms + [(a[jj, t], -float(p.lower[t, m])) for t in range(P)]) >= 0, f"lo_{jj}_{m}"
                        prob += pulp.LpAffineExpression(terms + [(a[jj, t], -float(p.upper[t, m])) for t in range(P)]) <= 0, f"hi_{jj}_{m}"
        self.prob = prob
        self._jpos = {int(j): jj for jj, j in enumerate(self.J)}
        self._order = None

    def read(self):
        p = self.p
        n = p.n
        nJ = len(self.J)
        X = np.zeros((n, nJ))
        for (i, jj), v in self.x.items():
            X[i, jj] = v.varValue or 0.0
        serve = X.argmax(axis=1)
        if self.fixed:
            return serve.astype(int), self.J.copy()
        open_ = [jj for jj in range(nJ) if X[int(self.J[jj]), jj] > 0.5]
        if self.a is not None:
            terr_of = {}
            for (jj, t), v in self.a.items():
                if (v.varValue or 0) > 0.5:
                    terr_of[jj] = t
        else:
            # territories in a stable order: by the centre's position (north to south, west to east)
            xy = p.dist.xy
            open_sorted = sorted(open_, key=lambda jj: (-xy[self.J[jj], 1], xy[self.J[jj], 0]) if p.dist.kind == "planar"
                                 else (-xy[self.J[jj], 0], xy[self.J[jj], 1]))
            terr_of = {jj: t for t, jj in enumerate(open_sorted)}
        labels = np.array([terr_of.get(int(s), 0) for s in serve], dtype=int)
        centres = np.zeros(p.p, dtype=int)
        for jj, t in terr_of.items():
            centres[t] = self.J[jj]
        return labels, centres

    def start(self, labels, centres):
        st = {}
        for t, c in enumerate(centres):
            jj = t if self.fixed else self._jpos.get(int(c))
            if jj is None:
                return None
            for i in np.flatnonzero(labels == t):
                st[self.x[int(i), jj].name] = 1.0
            if self.a is not None:
                st[self.a[jj, t].name] = 1.0
        return st

    def cut(self, t, part, nbrs, labels):
        """Territory t came out in pieces and ``part`` is away from its centre."""
        # which centre column serves territory t in the last solution
        p = self.p
        # valid for every centre outside the piece: add it for all of them, so no other centre
        # can take the same detached piece in the next solve
        part_set = set(int(i) for i in part)
        cols = [t] if self.fixed else [jj for jj, j in enumerate(self.J) if int(j) not in part_set]
        for c in cols:
            terms = [(self.x[int(i), c], 1.0) for i in part] + [(self.x[int(l), c], -1.0) for l in nbrs]
            self.prob += pulp.LpAffineExpression(terms) <= len(part) - 1, f"conn_{c}_{len(self.prob.constraints)}"


class _TerritoryIndexModel:
    """x[i, t]: unit i is in territory t; r[i, t]: unit i is t's root (unless centres are fixed).
    Objective: the moved weight of units leaving their current territory."""

    def __init__(self, p: Problem):
        self.p = p
        n, P, k = p.n, p.p, p.measures.shape[1]
        prob = pulp.LpProblem("least_disruption", pulp.LpMinimize)
        x = {(i, t): pulp.LpVariable(f"x_{i}_{t}", cat=pulp.LpBinary) for i in range(n) for t in range(P)}
        self.x = x
        cost = []
        for i in range(n):
            c = p.current[i]
            if c >= 0 and p.moved_weight[i] > 0:
                cost.extend((x[i, t], float(p.moved_weight[i])) for t in range(P) if t != c)
        prob += pulp.LpAffineExpression(cost)
        for i in range(n):
            prob += pulp.LpAffineExpression([(x[i, t], 1.0) for t in range(P)]) == 1, f"once_{i}"
        for t in range(P):
            for m in range(k):
                e = pulp.LpAffineExpression([(x[i, t], float(p.measures[i, m])) for i in range(n) if p.measures[i, m]])
                prob += e >= float(p.lower[t, m]), f"lo_{t}_{m}"
                prob += e <= float(p.upper[t, m]), f"hi_{t}_{m}"
        self.r = None
        if p.fixed:
            for t, c in enumerate(p.centres):
                x[int(c), t].lowBound = 1
        elif p.graph is not None:
            r = {(i, t): pulp.LpVariable(f"r_{i}_{t}", cat=pulp.LpBinary) for i in range(n) for t in range(P)}
            self.r = r
            for t in range(P):
                prob += pulp.LpAffineExpression([(r[i, t], 1.0) for i in range(n)]) == 1, f"root_{t}"
                for i in range(n):
                    prob += pulp.LpAffineExpression([(r[i, t], 1.0), (x[i, t], -1.0)]) <= 0, f"rootin_{i}_{t}"
        self.prob = prob

    def read(self):
        p = self.p
        X = np.zeros((p.n, p.p))
        for (i, t), v in self.x.items():
            X[i, t] = v.varValue or 0.0
        labels = X.argmax(axis=1).astype(int)
        if p.fixed:
            return labels, p.centres.copy()
        cen = np.full(p.p, -1)
        if self.r is not None:
            for (i, t), v in self.r.items():
                if (v.varValue or 0) > 0.5:
                    cen[t] = i
        return labels, cen

    def start(self, labels, centres):
        st = {self.x[int(i), int(t)].name: 1.0 for i, t in enumerate(labels)}
        if self.r is not None:
            for t in range(self.p.p):
                mem = np.flatnonzero(labels == t)
                if len(mem) == 0:
                    return None
                root = int(centres[t]) if centres is not None and centres[t] >= 0 and labels[int(centres[t])] == t else int(mem[0])
                st[self.r[root, t].name] = 1.0
        return st

    def cut(self, t, part, nbrs, labels):
        terms = [(self.x[int(i), t], 1.0) for i in part] + [(self.x[int(l), t], -1.0) for l in nbrs]
        if self.r is not None:
            terms += [(self.r[int(i), t], -1.0) for i in part]
        self.prob += pulp.LpAffineExpression(terms) <= len(part) - 1, f"conn_{t}_{len(self.prob.constraints)}"
