"""Property test of the solver on small random books (issue 11 item 15): odd capacities (zero, NaN,
inf), odd metric values, locks on inactive reps, teams with nobody active. ``solve`` either returns a
plan that meets every hard band, an infeasible (or no-plan) result that explains itself, or refuses
bad input with a ValueError that says what is wrong; it never crashes with anything else."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings, strategies as st

from territory_core.contract import A, R, S, X
from territory_core.solve.model import solve
from territory_core.solve.settings import Metric, SolverSettings

caps = st.sampled_from([0.0, 0.5, 1.0, 1.0, 2.0, float("nan"), float("inf")])
vals = st.sampled_from([0.0, 1.0, 5.0, 100.0, 1e6, float("nan"), float("inf")])


@st.composite
def books(draw):
    n_reps = draw(st.integers(1, 5))
    n_acc = draw(st.integers(1, 14))
    reps = pd.DataFrame({
        R.rep_id: [f"R{i}" for i in range(n_reps)], R.name: [f"Rep {i}" for i in range(n_reps)],
        R.capacity: [draw(caps) for _ in range(n_reps)],
        R.active: [draw(st.booleans()) or i == 0 for i in range(n_reps)],
        R.region: [draw(st.sampled_from(["East", "West"])) for _ in range(n_reps)],
    })
    owners = [draw(st.sampled_from([f"R{i}" for i in range(n_reps)] + ["GONE", None])) for _ in range(n_acc)]
    acc = pd.DataFrame({
        A.account_id: [f"a{i}" for i in range(n_acc)], A.name: [f"Account {i}" for i in range(n_acc)],
        A.owner_id: owners, A.arr: [draw(vals) for _ in range(n_acc)],
        A.locked: [draw(st.booleans()) for _ in range(n_acc)],
    })
    tol = draw(st.sampled_from([0.0, 0.1, 0.5, 2.0]))
    scope = draw(st.sampled_from(["all", "affected", "region=West"]))
    teams = draw(st.sampled_from([(), ("region",)]))
    return acc, reps, SolverSettings(metrics=(Metric(A.arr, tol), Metric(X.account_count, tol)), keep_families=False,
                                     time_limit=5, scope=scope, balance_within=teams)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(books())
def test_solve_returns_a_plan_in_band_or_an_explained_result(book):
    acc, reps, s = book
    try:
        res = solve(acc, reps, s)
    except ValueError as exc:  # bad input, said in words (which value, which row, what to do)
        assert len(str(exc)) > 20 and "Traceback" not in str(exc)
        return
    if res.ok:
        a = res.assignment
        assert len(a) == len(acc) and set(a[S.account_id]) == set(acc[A.account_id])
        active = set(reps.loc[reps[R.active].astype(bool), R.rep_id])
        assert set(a[S.rep_id]) <= active
        rm = res.rep_metrics
        for r in rm.itertuples():
            assert r.lower - 1e-6 * max(1.0, abs(r.target)) <= r.value <= r.upper + 1e-6 * max(1.0, abs(r.upper)), r
        if res.status == "optimal":
            assert res.gap == 0.0
        assert all(math.isfinite(float(v)) for v in res.max_deviation.values())
    else:
        assert res.status in ("infeasible", "no_solution", "cancelled")
        assert res.status_text
        if res.status == "infeasible":
            assert res.explanations and all(f.get("verified") for f in res.fixes)
