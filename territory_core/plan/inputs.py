"""One path from a scenario to the solver: :func:`scenario_inputs` turns dataset + scenario into
solver inputs (events, overrides, scoring, distances, scope, effective reps) for every page and the
command line; :func:`solve_scenario` and the trade-off curve go through it."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import pandas as pd

from ..contract import ASSIGNMENT, A, S, X
from ..dataset import Dataset, coerce_types
from ..text import label
from .events import apply_events, apply_overrides
from .scenario_model import Scenario, dataset_fingerprint

# --------------------------------------------------------------------------------------------
# Solve
# --------------------------------------------------------------------------------------------

def solver_settings(scenario: Scenario, accounts: pd.DataFrame | None = None, reps: pd.DataFrame | None = None):
    """The scenario's SolverSettings as saved; with none saved, the planning defaults for these
    accounts and reps (the editor's starting point), else the solver's plain defaults."""
    from ..solve.settings import SolverSettings, planning_defaults

    d = (scenario.settings or {}).get("solver")
    if d:
        return SolverSettings.from_dict(d)
    if accounts is not None and reps is not None:
        return planning_defaults(accounts, reps)
    return SolverSettings()


@dataclass(frozen=True, eq=False)
class Enrichment:
    """Accounts with derived columns (scores, potential, whitespace, segment) for a scenario's
    scoring and segment settings; ``error`` says why they could not be computed (``accounts`` is
    then the plain accounts)."""
    accounts: pd.DataFrame
    error: str | None = None


def enrich_scenario(dataset: Dataset, scenario: Scenario) -> Enrichment:
    """Score and segment the accounts with the scenario's own "scoring" and "segment_rules"
    settings (defaults for a missing one). Never raises: a failure comes back as ``error``."""
    from ..analyse.enrich import enrich_accounts
    from ..analyse.scoring import ScoringConfig
    from ..analyse.segments import SegmentRules

    st = scenario.settings or {}
    try:
        scoring = ScoringConfig.from_dict(st["scoring"]) if st.get("scoring") else None
        rules = SegmentRules.from_dict(st["segment_rules"]) if st.get("segment_rules") else None
        return Enrichment(enrich_accounts(dataset, scoring, rules))
    except Exception as exc:  # bad saved settings or data the scorer cannot use: said, never hidden
        return Enrichment(dataset.accounts, f"{exc}")


def scenario_enriched(dataset: Dataset, scenario: Scenario) -> pd.DataFrame | None:
    """The enriched accounts, or None when scoring fails (see :func:`enrich_scenario` for why)."""
    e = enrich_scenario(dataset, scenario)
    return None if e.error else e.accounts


@dataclass(frozen=True, eq=False)
class SolveInputs:
    """What the optimizer gets for a scenario: the accounts (enriched, after events), the reps as
    the team will be (leavers inactive, hires added), the resolved settings (scope "auto" decided,
    metrics checked), the forced assignments with their reasons, and what the user must be told."""
    accounts: pd.DataFrame
    reps: pd.DataFrame
    settings: Any
    fixed: dict[str, str]
    reasons: dict[str, str]
    notes: list[str]
    warnings: list[str]
    distances: pd.DataFrame | None = None
    opportunities: pd.DataFrame | None = None


def scenario_inputs(dataset: Dataset, scenario: Scenario, enriched: pd.DataFrame | None = None) -> SolveInputs:
    """The one path from a scenario to solver inputs, used by the editor's re-solve, the trade-off
    curve, Territory Health, Compare and the command line. ``enriched``: accounts already enriched
    for the scenario's scoring settings (a page's cache); computed here when None. Raises
    :class:`EventError` when an event or a manual override cannot apply."""
    from dataclasses import replace as _replace

    from ..solve.settings import Metric, parse_scope

    warnings: list[str] = []
    if enriched is None:
        e = enrich_scenario(dataset, scenario)
        enriched = e.accounts
        if e.error:
            warnings.append(f"Scoring failed on this data ({e.error}); potential, whitespace and segments are "
                            "not available for this plan.")
    ev = apply_events(dataset, scenario.events, enriched)
    fixed, reasons = apply_overrides(ev, scenario.overrides)
    settings = solver_settings(scenario, ev.accounts, ev.reps)
    kind, _, _ = parse_scope(settings.scope)
    if kind == "auto":
        settings = _replace(settings, scope="affected" if (scenario.events or scenario.overrides) else "all")
    # a balance metric the accounts do not have (potential when scoring failed): say what is balanced instead
    metrics = []
    for m in settings.metrics:
        if m.column in ev.accounts.columns or m.column == X.account_count:
            metrics.append(m)
            continue
        alt = A.annual_revenue if m.column in (X.potential, X.whitespace) and A.annual_revenue in ev.accounts.columns \
            and pd.to_numeric(ev.accounts[A.annual_revenue], errors="coerce").notna().any() else None
        if alt and not any(x.column == alt for x in settings.metrics):
            metrics.append(Metric(alt, m.tolerance, m.weight, m.hard))
            warnings.append(f"{label(m.column)} is not available, so this plan balances {label(alt).lower()} "
                            "instead.")
        else:
            warnings.append(f"{label(m.column)} is not a column of these accounts, so it is not balanced.")
    if tuple(metrics) != tuple(settings.metrics):
        settings = _replace(settings, metrics=tuple(metrics))
    opp = dataset.opportunities if dataset.opportunities is not None and len(dataset.opportunities) else None
    dist = dataset.distances if dataset.distances is not None and len(dataset.distances) else None
    return SolveInputs(accounts=ev.accounts, reps=ev.reps, settings=settings, fixed=fixed, reasons=reasons,
                       notes=list(ev.notes), warnings=warnings, distances=dist, opportunities=opp)


def solve_scenario(dataset: Dataset, scenario: Scenario, *, enriched: pd.DataFrame | None = None,
                   progress: Callable[[str, float], None] | None = None, cancel=None) -> Scenario:
    """Solve a scenario through :func:`scenario_inputs` and return it with ``assignment``, ``report``
    and ``input_fingerprint`` filled. Raises :class:`EventError` when an event or override cannot
    apply. Same dataset + scenario inputs -> same assignment. When the solver finds no assignment
    (infeasible, cancelled early) the returned scenario has ``assignment=None`` and its ``report``
    (status, explanation, fixes) says why."""
    from ..solve.model import solve

    inp = scenario_inputs(dataset, scenario, enriched)
    res = solve(inp.accounts, inp.reps, inp.settings, distances=inp.distances, opportunities=inp.opportunities,
                fixed=inp.fixed or None, progress=progress, cancel=cancel)
    reasons = inp.reasons
    assignment = res.assignment.copy() if res.assignment is not None else None
    if assignment is not None and len(assignment) and reasons:
        ids = assignment[S.account_id].astype(str)
        why = ids.map(reasons)
        has = why.notna().to_numpy()
        if S.reason not in assignment.columns:
            assignment[S.reason] = pd.Series(pd.NA, index=assignment.index, dtype="string")
        assignment[S.reason] = assignment[S.reason].astype("string")
        assignment.loc[has, S.reason] = why[has].astype("string").to_numpy()
    if assignment is not None and len(assignment) == 0 and len(inp.accounts):
        assignment = None  # infeasible, cancelled before a solution, ...: the report says why
    if assignment is not None:
        assignment = coerce_types(assignment, ASSIGNMENT)
    report = dict(res.to_report_dict())
    report["notes"] = list(inp.warnings) + list(inp.notes) + [n for n in (report.get("notes") or []) if n not in inp.notes]
    report["warnings"] = list(inp.warnings)
    report["fixed"] = len(inp.fixed)
    report["scope"] = inp.settings.scope
    report["bands"] = inp.settings.effective_bands
    return scenario.with_(assignment=assignment, report=report, input_fingerprint=dataset_fingerprint(dataset))


def curve_point_scenario(dataset: Dataset, scenario: Scenario, tolerance: float, time_limit: float,
                         enriched: pd.DataFrame | None = None) -> Scenario:
    """The scenario one point of its trade-off curve solves: every balance metric at +-tolerance and
    the fewest moves (solve it with :func:`solve_scenario` to get that point's plan alone)."""
    from ..solve.curve import point_settings

    inp = scenario_inputs(dataset, scenario, enriched)
    s = point_settings(inp.settings, inp.accounts, tolerance, time_limit)
    return scenario.with_(settings={**(scenario.settings or {}), "solver": s.to_dict()})


def scenario_curve(dataset: Dataset, scenario: Scenario, tolerances, *, time_limit_each: float,
                   enriched: pd.DataFrame | None = None, workers: int | None = None, progress=None,
                   cancel=None) -> pd.DataFrame:
    """The scenario's trade-off curve through the same inputs as its re-solve (events, overrides,
    scope, distances): see :func:`territory_core.solve.curve.tradeoff_curve`."""
    from ..solve.curve import tradeoff_curve

    inp = scenario_inputs(dataset, scenario, enriched)
    return tradeoff_curve(inp.accounts, inp.reps, inp.settings, tolerances, distances=inp.distances,
                          opportunities=inp.opportunities, fixed=inp.fixed or None, time_limit_each=time_limit_each,
                          workers=workers, progress=progress, cancel=cancel)
