"""Territory design: contiguous, compact, balanced territories from geographic units.

Two models, one class each, with the same API (in the manner of pysal/spopt):

- :class:`CompactTerritories`: p-median style. Every territory has a centre unit; the objective is
  the sum over units of their (optionally weighted) distance to their territory's centre.
- :class:`LeastDisruptionTerritories`: the fewest units (or the least of a measure) moved away
  from today's unit -> territory map.

Both keep each unit in exactly one territory, every balance measure of every territory within
target x (1 +- tolerance) (targets by share: capacity shares when territories are reps, else
equal) and every territory contiguous over the units' adjacency. Centres can be fixed (a rep's
home unit).

Build a model from the shapes data comes in (``from_frames``: a units table and an edges
table; ``from_geodataframe``: units with geometry and their :class:`~territory_core.geo.units.Adjacency`;
``from_cost_matrix``: distances from every unit to fixed centre units), then ``solve()``.
Results are attributes with a trailing underscore: ``labels_`` (unit_id -> territory),
``centres_`` (territory -> centre unit_id), ``status_``, ``objective_``, ``bound_``, ``gap_``,
``report_`` (JSON-safe dict).

Methods: "exact" is a PuLP + HiGHS MIP with contiguity cuts added lazily where a territory comes
out in pieces; "heuristic" is location-allocation (a balanced assignment LP around centres,
contiguity repair, boundary local search, re-centring) with a lower bound (Lagrangian p-median
bound for compactness, the LP relaxation for disruption or fixed centres). "auto" takes the exact
MIP where it fits and the heuristic beyond. Status, bound and gap come from the solver: "optimal"
is said only with a proven bound.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Mapping

import numpy as np
import pandas as pd

from .graph import Distances, Graph, contiguous

OBJECTIVES = ("compactness", "disruption")
METHODS = ("auto", "exact", "heuristic")
STATUS_TEXT = {
    "optimal": "Optimal: proven by the solver's bound",
    "feasible": "Feasible: contiguous and balanced, not proven optimal (see the gap to the bound)",
    "out_of_band": "No plan meets every band: the best plan found leaves some territory outside its band",
    "infeasible": "Infeasible: no plan can meet these bands with contiguous territories",
    "no_solution": "No plan found in the time limit",
}


class DesignError(ValueError):
    """The design problem cannot be set up; the message says what, where and how to fix it."""


@dataclass(frozen=True)
class Problem:
    """A design problem as arrays. Territory t has band [lower[t, m], upper[t, m]] on measure m."""

    ids: np.ndarray            # (n,) unit ids (str)
    measures: np.ndarray       # (n, k)
    measure_names: tuple
    tolerance: np.ndarray      # (k,)
    dist: Distances
    graph: Graph | None
    weight: np.ndarray         # (n,) distance weight (compactness)
    names: tuple               # (p,) territory names
    share: np.ndarray          # (p,) target shares, sum 1
    centres: np.ndarray        # (p,) fixed centre unit index or -1
    current: np.ndarray        # (n,) today's territory index or -1
    moved_weight: np.ndarray   # (n,) what moving a unit costs (disruption)

    @property
    def n(self) -> int:
        return len(self.ids)

    @property
    def p(self) -> int:
        return len(self.names)

    @property
    def target(self) -> np.ndarray:
        return self.share[:, None] * self.measures.sum(axis=0)[None, :]

    @property
    def lower(self) -> np.ndarray:
        return self.target * (1 - self.tolerance)[None, :]

    @property
    def upper(self) -> np.ndarray:
        return self.target * (1 + self.tolerance)[None, :]

    @property
    def equal_shares(self) -> bool:
        return bool(np.allclose(self.share, self.share[0]))

    @property
    def fixed(self) -> bool:
        return bool((self.centres >= 0).all())


# ------------------------------------------------------------------------------ set-up helpers

def _territory_table(territories, current_names=()) -> pd.DataFrame:
    """territory, share, centre (unit id or NA) from an int, a list of names or a frame."""
    if isinstance(territories, (int, np.integer)):
        p = int(territories)
        if p < 1:
            raise DesignError(f"territories must be at least 1 (got {p}).")
        names = [f"T{i + 1}" for i in range(p)]
        return pd.DataFrame({"territory": names, "share": 1.0 / p, "centre": pd.NA})
    if isinstance(territories, pd.DataFrame):
        df = territories.copy()
        if "territory" not in df.columns:
            raise DesignError("the territories table needs a 'territory' column.")
    else:
        df = pd.DataFrame({"territory": list(territories)})
    df["territory"] = df["territory"].astype(str)
    if df["territory"].duplicated().any():
        raise DesignError(f"territory {df.loc[df['territory'].duplicated(), 'territory'].iloc[0]!r} is listed twice.")
    if df.empty:
        raise DesignError("no territories: give a number or a list.")
    if "share" not in df.columns:
        df["share"] = 1.0
    share = pd.to_numeric(df["share"], errors="coerce")
    if share.isna().any() or (share < 0).any() or share.sum() <= 0:
        raise DesignError("territory shares must be numbers >= 0 with a positive total.")
    zero = df.loc[share <= 0, "territory"].tolist()
    if zero:
        raise DesignError(f"territory {zero[0]!r} has a share of 0 (a rep without capacity): leave it out.")
    df["share"] = share / share.sum()
    if "centre" not in df.columns:
        df["centre"] = pd.NA
    return df[["territory", "share", "centre"]].reset_index(drop=True)


def _as_balance(balance) -> dict[str, float]:
    if balance is None:
        return {}
    if isinstance(balance, Mapping):
        items = balance.items()
    else:
        items = balance
    out = {}
    for m, tol in items:
        tol = float(tol)
        if not (0 <= tol < 1):
            raise DesignError(f"the tolerance of {m!r} must be between 0 and 1 (got {tol}); 0.05 means +-5%.")
        out[str(m)] = tol
    return out


def _problem(ids, measures: pd.DataFrame, balance: dict, dist: Distances, edges, territories,
             current=None, weight=None, moved_weight=None) -> Problem:
    ids = np.asarray(ids).astype(str)
    n = len(ids)
    if n == 0:
        raise DesignError("no units to design territories from.")
    if len(set(ids)) != n:
        dup = pd.Series(ids)[pd.Series(ids).duplicated()].iloc[0]
        raise DesignError(f"unit id {dup!r} appears more than once.")
    pos = {u: i for i, u in enumerate(ids)}
    cols = list(balance)
    M = np.zeros((n, len(cols)))
    for k, c in enumerate(cols):
        if c not in measures.columns:
            raise DesignError(f"no measure {c!r} on the units; columns: {', '.join(map(str, measures.columns))}.")
        v = pd.to_numeric(measures[c], errors="coerce")
        if v.isna().any():
            i = int(np.flatnonzero(v.isna().to_numpy())[0])
            raise DesignError(f"measure {c!r} is not a number for unit {ids[i]!r}.")
        if (v < 0).any():
            i = int(np.flatnonzero((v < 0).to_numpy())[0])
            raise DesignError(f"measure {c!r} is negative for unit {ids[i]!r}; measures must be >= 0.")
        if v.sum() <= 0:
            raise DesignError(f"measure {c!r} is 0 for every unit: nothing to balance.")
        M[:, k] = v.to_numpy(dtype=float)
    tt = _territory_table(territories)
    p = len(tt)
    if p > n:
        raise DesignError(f"{p} territories but only {n} units: every territory needs at least one unit.")
    names = tuple(tt["territory"])
    tidx = {t: i for i, t in enumerate(names)}
    centres = np.full(p, -1)
    for t, c in zip(tt["territory"], tt["centre"]):
        if c is None or (not isinstance(c, str) and pd.isna(c)) or str(c) == "":
            continue
        if str(c) not in pos:
            raise DesignError(f"the centre of territory {t!r}, unit {c!r}, is not among the units.")
        centres[tidx[t]] = pos[str(c)]
    if ((centres >= 0).sum() != len(set(centres[centres >= 0]))):
        raise DesignError("two territories have the same centre unit.")
    if 0 < (centres >= 0).sum() < p:
        missing = [names[i] for i in np.flatnonzero(centres < 0)]
        raise DesignError(f"fix a centre for every territory or for none; missing for {', '.join(missing[:5])}.")
    allowed = dist.centres_allowed()
    if allowed is not None:
        if (centres < 0).any():
            raise DesignError("with a distance matrix to given centres, every territory needs its centre fixed.")
    cur = np.full(n, -1)
    if current is not None:
        for u, t in current.items():
            if str(u) not in pos:
                continue
            t = str(t)
            if t not in tidx:
                continue  # a territory that no longer exists: its units count as moved anywhere
            cur[pos[str(u)]] = tidx[t]
    w = np.ones(n) if weight is None else np.asarray(weight, dtype=float)
    mw = np.ones(n) if moved_weight is None else np.asarray(moved_weight, dtype=float)
    graph = None
    if edges is not None:
        a, b = edges
        graph = Graph(n, a, b)
    return Problem(ids=ids, measures=M, measure_names=tuple(cols),
                   tolerance=np.array([balance[c] for c in cols], dtype=float), dist=dist, graph=graph,
                   weight=w, names=names, share=tt["share"].to_numpy(dtype=float), centres=centres,
                   current=cur, moved_weight=mw)


def _edge_indices(edges: pd.DataFrame | None, ids: np.ndarray, a_col="unit_a", b_col="unit_b"):
    if edges is None:
        return None
    for c in (a_col, b_col):
        if c not in edges.columns:
            raise DesignError(f"the adjacency table needs columns {a_col!r} and {b_col!r} (missing {c!r}).")
    pos = pd.Series(np.arange(len(ids)), index=ids)
    ea = edges[a_col].astype(str).map(pos)
    eb = edges[b_col].astype(str).map(pos)
    bad = ea.isna() | eb.isna()
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        u = edges[a_col].astype(str).iloc[i] if ea.isna().iloc[i] else edges[b_col].astype(str).iloc[i]
        raise DesignError(f"adjacency row {i + 2}: unit {u!r} is not among the units; every edge must join two listed units.")
    return ea.to_numpy(dtype=int), eb.to_numpy(dtype=int)


# ------------------------------------------------------------------------------ the models

class _TerritoryModel:
    """What both models share: set-up from data, solve, results and the report."""

    objective = ""

    def __init__(self, problem: Problem, name: str = ""):
        self.problem = problem
        self.name = name or self.objective
        self.labels_ = None
        self.centres_ = None
        self.status_ = None
        self.objective_ = None
        self.bound_ = None
        self.gap_ = None
        self.method_ = None
        self.seconds_ = None
        self.report_ = None
        self.notes_: list[str] = []

    # -- constructors -------------------------------------------------------------------------
    @classmethod
    def from_frames(cls, units: pd.DataFrame, edges: pd.DataFrame | None, *, territories, balance,
                    current: Mapping | pd.DataFrame | None = None, weight: str | None = None,
                    moved_weight: str | None = None, unit_id: str = "unit_id", name: str = ""):
        """``units``: unit_id, either x and y (planar) or lat and lon (great-circle km), and the
        measure columns. ``edges``: unit_a, unit_b (None: contiguity is not enforced).
        ``territories``: a number, a list of names, or a frame with territory and optional share
        and centre (a unit id). ``balance``: {measure: tolerance}. ``current``: unit_id ->
        territory (or a frame with unit_id, territory). ``weight``: a measure weighting each
        unit's distance (compactness); ``moved_weight``: a measure to count moved units by."""
        if unit_id not in units.columns:
            raise DesignError(f"the units table needs a {unit_id!r} column.")
        ids = units[unit_id].astype("string").str.strip()
        if ids.isna().any() or (ids == "").any():
            i = int(np.flatnonzero((ids.isna() | (ids == "")).to_numpy())[0])
            raise DesignError(f"units row {i + 2}: no {unit_id}.")
        ids = ids.astype(str).to_numpy()
        if {"x", "y"} <= set(units.columns):
            cols, kind = ("x", "y"), "planar"
        elif {"lat", "lon"} <= set(units.columns):
            cols, kind = ("lat", "lon"), "great_circle"
        else:
            raise DesignError("the units table needs coordinates: x and y (planar) or lat and lon (degrees).")
        xy = units[list(cols)].apply(pd.to_numeric, errors="coerce")
        if xy.isna().any().any():
            i = int(np.flatnonzero(xy.isna().any(axis=1).to_numpy())[0])
            raise DesignError(f"units row {i + 2} ({ids[i]}): {cols[0]}/{cols[1]} missing or not a number.")
        if kind == "great_circle" and ((xy["lat"].abs() > 90).any() or (xy["lon"].abs() > 180).any()):
            i = int(np.flatnonzero(((xy["lat"].abs() > 90) | (xy["lon"].abs() > 180)).to_numpy())[0])
            raise DesignError(f"units row {i + 2} ({ids[i]}): lat/lon out of range.")
        dist = Distances(kind, xy=xy.to_numpy(dtype=float))
        return cls._from(ids, units, dist, _edge_indices(edges, ids), territories, balance, current,
                         weight, moved_weight, name)

    @classmethod
    def from_geodataframe(cls, units, adjacency=None, *, territories, balance, current=None,
                          weight: str | None = None, moved_weight: str | None = None, name: str = ""):
        """Units from :mod:`territory_core.geo.units` (unit_id, lat, lon, measures, geometry) and
        their :class:`~territory_core.geo.units.Adjacency` (computed when None)."""
        if adjacency is None:
            from .units import adjacency as _adj

            adjacency = _adj(units)
        frame = pd.DataFrame(units.drop(columns=[units.geometry.name]))
        return cls.from_frames(frame, adjacency.edges, territories=territories, balance=balance,
                               current=current, weight=weight, moved_weight=moved_weight, name=name)

    @classmethod
    def from_cost_matrix(cls, units: pd.DataFrame, cost: pd.DataFrame, *, territories: pd.DataFrame,
                         balance, edges: pd.DataFrame | None = None, current=None,
                         weight: str | None = None, moved_weight: str | None = None, name: str = ""):
        """Distances given as a table from every unit to each territory's fixed centre:
        ``cost`` has unit_id, centre (a unit id) and distance; ``territories`` must name every
        territory's centre."""
        ids = units["unit_id"].astype(str).to_numpy()
        tt = _territory_table(territories)
        cents = [str(c) for c in tt["centre"]]
        pos = {u: i for i, u in enumerate(ids)}
        if any(c not in pos for c in cents):
            raise DesignError("every territory needs a centre among the units with a distance matrix.")
        piv = cost.assign(unit_id=cost["unit_id"].astype(str), centre=cost["centre"].astype(str)) \
            .pivot_table(index="unit_id", columns="centre", values="distance", aggfunc="first")
        piv = piv.reindex(index=ids, columns=cents)
        if piv.isna().any().any():
            u = piv.index[piv.isna().any(axis=1)][0]
            raise DesignError(f"no distance from unit {u!r} to every centre.")
        dist = Distances("matrix", matrix=piv.to_numpy(dtype=float), cols=np.array([pos[c] for c in cents]))
        return cls._from(ids, units, dist, _edge_indices(edges, ids), tt, balance, current,
                         weight, moved_weight, name)

    @classmethod
    def _from(cls, ids, units, dist, edges, territories, balance, current, weight, moved_weight, name):
        bal = _as_balance(balance)
        if not bal:
            raise DesignError("choose at least one measure to balance (MEASURE:TOLERANCE).")
        if isinstance(current, pd.DataFrame):
            if not {"unit_id", "territory"} <= set(current.columns):
                raise DesignError("the current map needs columns unit_id and territory.")
            current = dict(zip(current["unit_id"].astype(str), current["territory"].astype(str)))

        def col(c):
            if c is None:
                return None
            if c not in units.columns:
                raise DesignError(f"no column {c!r} on the units to weight by.")
            v = pd.to_numeric(units[c], errors="coerce")
            if v.isna().any() or (v < 0).any():
                raise DesignError(f"weights in {c!r} must be numbers >= 0.")
            return v.to_numpy(dtype=float)

        if isinstance(territories, pd.DataFrame):
            tt = territories
        elif current is not None and isinstance(territories, (int, np.integer)) and cls.objective == "disruption":
            names = sorted(set(current.values()))
            tt = names if len(names) == int(territories) else territories
        else:
            tt = territories
        prob = _problem(ids, units, bal, dist, edges, tt, current=current, weight=col(weight),
                        moved_weight=col(moved_weight))
        model = cls(prob, name)
        model.settings_ = {"balance": bal, "weight": weight, "moved_weight": moved_weight}
        return model

    # -- solving ------------------------------------------------------------------------------
    def solve(self, time_limit: float = 60.0, method: str = "auto", mip_gap: float = 1e-6, seed: int = 0,
              exact_max_units: int | None = None):
        """Solve; returns self. ``method``: "auto", "exact" or "heuristic"."""
        from . import design_solvers as S

        if method not in METHODS:
            raise DesignError(f"method must be one of {', '.join(METHODS)} (got {method!r}).")
        p = self.problem
        if self.objective == "disruption" and not (p.current >= 0).any():
            raise DesignError("minimal disruption needs today's unit -> territory map (current), "
                              "with territory names matching the territories.")
        t0 = time.monotonic()
        deadline = t0 + max(1.0, float(time_limit))
        self.notes_ = []
        whale = too_big_units(p)
        if whale:
            self.notes_.extend(whale)
            self.seconds_ = round(time.monotonic() - t0, 2)
            self._set_result(S.Result("infeasible", None, None, None, "check", []))
            return self
        if p.graph is None:
            self.notes_.append("No adjacency given: contiguity is not enforced or checked.")
        fits = S.exact_fits(p, self.objective, exact_max_units)
        if method == "exact" and not fits:
            self.notes_.append(f"The exact model is large at {p.n:,} units x {p.p} territories; "
                               "it runs anyway, as asked, within the time limit.")
        use_exact = method == "exact" or (method == "auto" and fits)
        if use_exact:
            res = S.solve_exact(p, self.objective, deadline, mip_gap=mip_gap, seed=seed)
            if res.status == "no_solution" and method == "auto":
                self.notes_.append("The exact model found no plan in time; falling back to the heuristic.")
                res2 = S.solve_heuristic(p, self.objective, deadline + 0.25 * max(1.0, float(time_limit)), seed=seed)
                if res.bound is not None and (res2.bound is None or res.bound > res2.bound):
                    res2 = res2._replace(bound=res.bound)
                res = res2
        else:
            if method == "auto":
                self.notes_.append(f"{p.n:,} units x {p.p} territories is beyond the exact model here: "
                                   "heuristic with a lower bound.")
            res = S.solve_heuristic(p, self.objective, deadline, seed=seed)
        self.notes_.extend(res.notes)
        self.seconds_ = round(time.monotonic() - t0, 2)
        self._set_result(res)
        return self

    def _set_result(self, res):
        p = self.problem
        self.method_ = res.method
        self.status_ = res.status
        if res.labels is None:
            self.labels_ = None
            self.centres_ = None
            self.objective_ = None
            self.bound_ = res.bound
            self.gap_ = None
            self.report_ = self._report()
            return
        labels = np.asarray(res.labels, dtype=int)
        self._labels_idx = labels
        self._centres_idx = np.asarray(res.centres, dtype=int)
        self.labels_ = pd.Series(np.asarray(p.names, dtype=object)[labels], index=pd.Index(p.ids, name="unit_id"),
                                 name="territory")
        self.centres_ = {p.names[t]: p.ids[c] for t, c in enumerate(self._centres_idx)}
        self.objective_ = float(objective_value(p, self.objective, labels, self._centres_idx))
        self.bound_ = None if res.bound is None else float(min(res.bound, self.objective_))
        self.gap_ = gap(self.objective_, self.bound_)
        ok_bands = within_bands(p, labels)
        pieces = contiguous(p.graph, labels, range(p.p))
        ok_contig = all(v == 1 for v in pieces.values())
        if self.status_ in ("optimal", "feasible") and not (ok_bands and ok_contig):
            self.status_ = "out_of_band" if ok_contig else "no_solution"
        if self.status_ == "out_of_band" and ok_bands and ok_contig:
            self.status_ = "feasible"
        if self.status_ == "optimal" and (self.gap_ is None or self.gap_ > max(1e-4, 0)):
            self.status_ = "feasible"
        self.report_ = self._report()

    def _report(self) -> dict:
        p = self.problem
        rep = {
            "model": type(self).__name__, "objective_kind": self.objective, "status": self.status_,
            "status_text": STATUS_TEXT.get(self.status_, self.status_), "method": self.method_,
            "objective": _r(self.objective_), "bound": _r(self.bound_), "gap": _r(self.gap_, 6),
            "seconds": self.seconds_, "units": int(p.n), "territories": int(p.p),
            "measures": {m: float(t) for m, t in zip(p.measure_names, p.tolerance)},
            "notes": list(self.notes_),
        }
        if self.labels_ is None:
            rep.update(contiguous=None, worst_deviation=None, per_territory=[])
            return rep
        labels = self._labels_idx
        table = territory_table(p, labels, self._centres_idx)
        rep["per_territory"] = table.to_dict(orient="records")
        rep["contiguous"] = bool(table["contiguous"].all()) if p.graph is not None else None
        rep["worst_deviation"] = _r(float(table[[f"{m}_deviation" for m in p.measure_names]].abs().to_numpy().max()), 6)
        rep["within_bands"] = bool(within_bands(p, labels))
        if (p.current >= 0).any():
            moved = (p.current >= 0) & (labels != p.current)
            rep["units_moved"] = int(moved.sum())
            rep["moved_weight"] = _r(float(p.moved_weight[moved].sum()))
        return rep

    def plan(self) -> pd.DataFrame:
        """unit_id, territory, centre (the territory's centre unit id)."""
        if self.labels_ is None:
            return pd.DataFrame(columns=["unit_id", "territory", "centre"])
        return pd.DataFrame({"unit_id": self.labels_.index.astype(str), "territory": self.labels_.to_numpy(),
                             "centre": [self.centres_[t] for t in self.labels_.to_numpy()]})


class CompactTerritories(_TerritoryModel):
    """Balanced, contiguous territories with the least sum of (weighted) distances from each unit
    to its territory's centre unit (a balanced, contiguous p-median)."""

    objective = "compactness"


class LeastDisruptionTerritories(_TerritoryModel):
    """Balanced, contiguous territories that move the fewest units (or the least of a measure)
    away from today's unit -> territory map. Centres, for the report and the map, are each
    territory's medoid unless fixed."""

    objective = "disruption"


MODELS = {"compactness": CompactTerritories, "disruption": LeastDisruptionTerritories}


# ------------------------------------------------------------------------------ measuring a plan

def _r(v, nd=4):
    if v is None:
        return None
    v = float(v)
    if not math.isfinite(v):
        return None
    return round(v, nd)


def gap(obj: float | None, bound: float | None) -> float | None:
    if obj is None or bound is None:
        return None
    if abs(obj) < 1e-9:
        return 0.0 if bound >= -1e-9 else None
    return max(0.0, (obj - bound) / abs(obj))


def objective_value(p: Problem, objective: str, labels: np.ndarray, centres: np.ndarray) -> float:
    if objective == "disruption":
        moved = (p.current >= 0) & (labels != p.current)
        return float(p.moved_weight[moved].sum())
    return float((p.weight * p.dist.pairwise(np.arange(p.n), centres[labels])).sum())


def too_big_units(p: Problem) -> list[str]:
    """Units bigger than every territory's upper band on some measure: no plan can hold them."""
    out = []
    for m, name in enumerate(p.measure_names):
        cap = float(p.upper[:, m].max())
        big = np.flatnonzero(p.measures[:, m] > cap * (1 + 1e-9))
        if len(big):
            i = int(big[np.argmax(p.measures[big, m])])
            out.append(f"Unit {p.ids[i]} alone has {p.measures[i, m]:,.4g} of {name!r}, above the largest "
                       f"territory's upper band ({cap:,.4g}); {len(big)} unit(s) are that big. Use a finer "
                       "level (ZIP areas), fewer territories or a wider tolerance.")
    return out


def loads(p: Problem, labels: np.ndarray) -> np.ndarray:
    S = np.zeros((p.p, p.measures.shape[1]))
    np.add.at(S, labels, p.measures)
    return S


def within_bands(p: Problem, labels: np.ndarray, eps: float = 1e-7) -> bool:
    S = loads(p, labels)
    scale = np.maximum(1.0, np.abs(p.target)) * eps
    return bool(((S >= p.lower - scale) & (S <= p.upper + scale)).all())


def territory_table(p: Problem, labels: np.ndarray, centres: np.ndarray) -> pd.DataFrame:
    """One row per territory: territory, centre, units, each measure with its target and
    deviation (value / target - 1), within_band, pieces, contiguous, and the objective part."""
    S = loads(p, labels)
    T = p.target
    pieces = contiguous(p.graph, labels, range(p.p))
    d = p.dist.pairwise(np.arange(p.n), centres[labels])
    rows = []
    for t in range(p.p):
        r = {"territory": p.names[t], "centre": p.ids[centres[t]], "units": int((labels == t).sum())}
        ok = True
        for m, name in enumerate(p.measure_names):
            r[name] = _r(S[t, m])
            r[f"{name}_target"] = _r(T[t, m])
            dev = S[t, m] / T[t, m] - 1 if T[t, m] > 0 else 0.0
            r[f"{name}_deviation"] = _r(dev, 6)
            ok &= bool(p.lower[t, m] - 1e-7 * max(1, T[t, m]) <= S[t, m] <= p.upper[t, m] + 1e-7 * max(1, T[t, m]))
        r["within_band"] = ok
        r["pieces"] = int(pieces[t])
        r["contiguous"] = bool(pieces[t] == 1) if p.graph is not None else None
        r["distance"] = _r(float((p.weight * d)[labels == t].sum()))
        if (p.current >= 0).any():
            r["moved_in"] = int(((labels == t) & (p.current != t)).sum())
        rows.append(r)
    return pd.DataFrame(rows)
