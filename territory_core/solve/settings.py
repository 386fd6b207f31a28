"""Solver settings: what to balance (metrics and bands), what may move (scope), the objective and
the limits, as a frozen dataclass that round-trips through plain dicts (scenarios save it)."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Mapping

import pandas as pd

from ..contract import A, R, X

OBJECTIVES = ("disruption", "distance", "balance", "mix")
SOLVERS = ("highs", "cbc")
# Scope of a rebalance: which accounts may change hands.
#   all        every account may move (a full rebalance);
#   affected   only accounts that must: owner inactive (left), unknown or empty, not eligible, or
#              moved by an event or a manual override; a rep with an empty book (a new hire) gets a
#              book carved from its own team;
#   auto       the scenario decides: affected when it has events or manual moves, else all;
#   FIELD=VALUE  only accounts owned by reps whose FIELD equals VALUE (e.g. region=West), and only
#              among those reps; accounts that must change hands move too.
SCOPES = ("all", "affected", "auto")
# Bands: absolute (every rep within target x (1 +- tolerance)) or no-worse (a rep inside its band
# stays inside; a rep outside may not end farther from its target than it is today). Reps that a
# FIELD=VALUE scope leaves out are always held to no-worse; with bands=absolute the chosen reps must
# end inside their bands (a team rebalance); new hires (empty books) always must.
BANDS = ("absolute", "no-worse")


def parse_scope(scope) -> tuple[str, str | None, str | None]:
    """("all"|"affected"|"auto", None, None) or ("reps", field, value) for "FIELD=VALUE"."""
    s = str(scope or "").strip()
    if s in SCOPES:
        return s, None, None
    if "=" in s:
        fld, _, val = s.partition("=")
        fld, val = fld.strip(), val.strip()
        if fld and val:
            return "reps", fld, val
    raise ValueError(f"scope must be all, affected, auto or FIELD=VALUE (for example region=West or "
                     f"manager=Betty Anderson), not {scope!r}.")

@dataclass(frozen=True)
class Metric:
    """A balance metric: every rep's total of ``column`` within target x (1 +- tolerance)."""
    column: str
    tolerance: float = 0.05
    weight: float = 1.0
    hard: bool = True

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping) -> "Metric":
        return cls(column=str(d["column"]), tolerance=float(d.get("tolerance", 0.05)),
                   weight=float(d.get("weight", 1.0)), hard=bool(d.get("hard", True)))


@dataclass(frozen=True)
class EligibilityRule:
    """Rep may own the account when ``account[account_field]`` equals ``rep[rep_field]``
    (mode "equal") or is one of the rep's semicolon-separated values (mode "contains").
    A missing value on either side does not restrict."""
    account_field: str
    rep_field: str
    mode: str = "equal"

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping) -> "EligibilityRule":
        mode = str(d.get("mode", "equal"))
        if mode not in ("equal", "contains"):
            raise ValueError(f"Eligibility mode must be 'equal' or 'contains', not {mode!r}.")
        return cls(str(d["account_field"]), str(d["rep_field"]), mode)


@dataclass(frozen=True)
class SolverSettings:
    metrics: tuple[Metric, ...] = ()          # empty: default_metrics(accounts)
    objective: str = "disruption"             # disruption | distance | balance | mix
    disruption_weight_column: str | None = None  # None: each moved account counts 1
    max_moves: int | None = None
    max_moves_per_rep: int | None = None      # accounts gained, and accounts lost, per rep
    max_arr_moved: float | None = None
    keep_families: bool = True
    respect_locks: bool = True                # locked, named and holdout accounts keep their owner
    holdout_stages: tuple[str, ...] = ()      # open opps in these stages lock the account
    eligibility: tuple[EligibilityRule, ...] = ()
    balance_within: tuple[str, ...] = ()      # rep columns (e.g. region, segment): balance inside each team
    use_distance: bool = False                # add distance to the objective (disruption/mix)
    distance_weight: float = 1.0
    max_radius_km: float | None = None
    time_limit: float = 60.0
    mip_gap: float = 1e-4
    solver: str = "highs"                     # highs | cbc
    seed: int = 0
    soft_penalty: float = 100.0               # soft bands: 1% overflow costs soft_penalty/100 typical moves
    balance_weight: float = 1.0               # mix objective weights
    disruption_objective_weight: float = 1.0
    # Stability: which accounts may move, and how far books may drift (see SCOPES / BANDS).
    scope: str = "all"                        # all | affected | auto | FIELD=VALUE (e.g. manager=Betty Anderson)
    bands: str | None = None                  # absolute | no-worse; None: absolute for scope all, else no-worse
    balance_tiebreak: float | None = None     # weight of the balance tie-break (None: automatic)
    verify_fixes: bool = True                 # infeasible: offer only fixes a solve proved feasible

    def __post_init__(self):
        if self.objective not in OBJECTIVES:
            raise ValueError(f"objective must be one of {', '.join(OBJECTIVES)}, not {self.objective!r}.")
        if self.solver not in SOLVERS:
            raise ValueError(f"solver must be 'highs' or 'cbc', not {self.solver!r}.")
        if not (self.time_limit > 0):
            raise ValueError("time_limit must be a positive number of seconds.")
        for m in self.metrics:
            if not isinstance(m, Metric):
                raise ValueError("metrics must be Metric objects.")
            if m.tolerance < 0:
                raise ValueError(f"Tolerance of {m.column!r} must be 0 or more.")
        parse_scope(self.scope)
        if self.bands not in (None,) + BANDS:
            raise ValueError(f"bands must be one of {', '.join(BANDS)}, not {self.bands!r}.")
        if self.balance_tiebreak is not None and not (self.balance_tiebreak >= 0):
            raise ValueError("balance_tiebreak must be 0 or more.")
        # tuples, so the settings stay hashable and comparable
        object.__setattr__(self, "metrics", tuple(self.metrics))
        object.__setattr__(self, "eligibility", tuple(self.eligibility))
        object.__setattr__(self, "holdout_stages", tuple(self.holdout_stages))
        object.__setattr__(self, "balance_within", tuple(str(c) for c in (self.balance_within or ())))

    @property
    def effective_bands(self) -> str:
        """The band rule in force: the explicit one, else absolute for a full rebalance and
        no-worse for any narrower scope."""
        if self.bands:
            return self.bands
        return "absolute" if self.scope == "all" else "no-worse"

    def to_dict(self) -> dict:
        d = asdict(self)
        d["metrics"] = [m.to_dict() for m in self.metrics]
        d["eligibility"] = [r.to_dict() for r in self.eligibility]
        d["holdout_stages"] = list(self.holdout_stages)
        d["balance_within"] = list(self.balance_within)
        return d

    def with_fix(self, fix: Mapping) -> "SolverSettings":
        """These settings with a suggested fix applied: ``{"metric": col, "tolerance": t}`` widens one
        band (the default metrics are written out first), any other key sets that setting. The
        fix's own words and proof (why, moves, arr_moved, status, verified) are ignored."""
        d = self.to_dict()
        info = {"why", "moves", "arr_moved", "status", "verified", "gap"}
        if "metric" in fix:
            mets = [dict(m) for m in d.get("metrics") or []]
            if not any(m.get("column") == fix["metric"] for m in mets):
                raise ValueError(f"The fix names metric {fix['metric']!r}, which these settings do not balance.")
            for m in mets:
                if m.get("column") == fix["metric"]:
                    m.update({k: v for k, v in fix.items() if k not in info | {"metric"}})
            d["metrics"] = mets
        else:
            d.update({k: v for k, v in fix.items() if k not in info})
        return SolverSettings.from_dict(d)

    @classmethod
    def from_dict(cls, d: Mapping | None) -> "SolverSettings":
        d = dict(d or {})
        dist = d.pop("distance", None)  # also accepted nested: {"use_distance", "weight", "max_radius_km"}
        if isinstance(dist, Mapping):
            for k, v in dist.items():
                d.setdefault({"weight": "distance_weight"}.get(k, k), v)
        known = {f for f in cls.__dataclass_fields__}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"Unknown solver setting(s): {', '.join(sorted(unknown))}.")
        if "metrics" in d:
            d["metrics"] = tuple(m if isinstance(m, Metric) else Metric.from_dict(m) for m in d["metrics"] or ())
        if "eligibility" in d:
            d["eligibility"] = tuple(r if isinstance(r, EligibilityRule) else EligibilityRule.from_dict(r)
                                     for r in d["eligibility"] or ())
        if "holdout_stages" in d:
            d["holdout_stages"] = tuple(str(s) for s in d["holdout_stages"] or ())
        return cls(**d)


def default_metrics(accounts: pd.DataFrame, tolerance: float = 0.05) -> tuple[Metric, ...]:
    """potential (else annual_revenue), arr, and workload (else account count)."""
    out = []
    if X.potential in accounts.columns and pd.to_numeric(accounts[X.potential], errors="coerce").notna().any():
        out.append(Metric(X.potential, tolerance))
    elif A.annual_revenue in accounts.columns and pd.to_numeric(accounts[A.annual_revenue], errors="coerce").notna().any():
        out.append(Metric(A.annual_revenue, tolerance))
    if A.arr in accounts.columns:
        out.append(Metric(A.arr, tolerance))
    if X.workload in accounts.columns and pd.to_numeric(accounts[X.workload], errors="coerce").notna().any():
        out.append(Metric(X.workload, tolerance))
    else:
        out.append(Metric(X.account_count, tolerance))
    return tuple(out)


def planning_defaults(accounts: pd.DataFrame, reps: pd.DataFrame) -> "SolverSettings":
    """The settings a planner starts a scenario from: the default metrics at +-10%, balanced within
    teams of reps who share a region and a segment (when the reps table has them), so an Enterprise
    book is compared with other Enterprise books and accounts stay with their team; scope "auto" (a
    scenario with events or manual moves moves only what they require, with no-worse bands)."""
    return SolverSettings(metrics=default_metrics(accounts, 0.10), balance_within=default_teams(reps), scope="auto")


def default_teams(reps: pd.DataFrame | None) -> tuple[str, ...]:
    """The rep columns that define teams by default: region and segment, those the reps table has."""
    return tuple(c for c in (R.region, R.segment)
                 if reps is not None and c in reps.columns and reps[c].notna().any())
