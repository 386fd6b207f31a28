"""Scenarios: a rebalancing plan as plain data that can be saved, reloaded, diffed and re-solved.

A :class:`Scenario` holds its inputs (settings as JSON dicts, what-if events, manual overrides),
its result (the assignment and the solver's report) and, once saved, its storage metadata.

What-if events are plain dicts with a ``type`` key::

    {"type": "rep_leaves", "rep_id": "R07"}
    {"type": "new_hire", "rep_id": "R99", "name": "Ana", "region": "West", "segment": "Mid-Market",
     "capacity": 1.0, "ramp": 0.5, "quota": 800000, "home_zip": "94107"}
    {"type": "capacity_change", "rep_id": "R03", "capacity": 0.6}
    {"type": "quota_change", "rep_id": "R03", "quota": 1200000}
    {"type": "segment_handover", "segment": "Enterprise", "from_rep_id": "R01", "to_rep_id": "R02"}
    {"type": "bulk_move", "filter": {"industry": "Healthcare", "state": ["TX"]}, "to_rep_id": "R99"}

:func:`apply_events` turns them into solver inputs, :func:`solve_scenario` runs the optimizer,
:func:`diff_scenarios` lists the accounts that change hands between two scenarios and
:func:`scenario_kpis` measures a scenario (balance per metric, moves, coverage, travel).

The code lives by job in :mod:`.scenario_model` (the Scenario), :mod:`.events` (what-if events and
overrides), :mod:`.inputs` (one path to the solver) and :mod:`.measure` (diffs, cost, loads, KPIs);
this module gathers them under one name.
"""
from __future__ import annotations

from .scenario_model import (  # noqa: F401
    EVENT_TYPES, SETTING_KEYS, TODAY_NAME, EVENT_LABELS, PLACEHOLDER_PREFIX, is_placeholder, next_placeholder,
    DEFAULT_RAMP_SCHEDULE, ramp_of, EventError, _json_safe, Scenario, dataset_fingerprint,
)
from .events import (  # noqa: F401
    EventResult, describe_event, filter_mask, apply_events, apply_overrides,
)
from .inputs import (  # noqa: F401
    solver_settings, Enrichment, enrich_scenario, scenario_enriched, SolveInputs, scenario_inputs,
    solve_scenario, curve_point_scenario, scenario_curve,
)
from .measure import (  # noqa: F401
    scenario_rep_names, name_reps, baseline_reasons, diff_scenarios, change_cost, cost_rows, balance_metrics,
    rep_loads, scenario_reps, scenario_reps_checked, scenario_kpis, METRIC_LABELS, kpi_rows,
)
