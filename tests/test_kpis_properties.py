"""Property tests of the KPI core: invariants that must hold for any data."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import example, given, settings, strategies as st

from territory_core.contract import A, O, R
from territory_core.analyse.kpis import (
    ADDITIVE, K, Period, balance_indices, gini, rep_kpis, rollup_kpis, suggest_quotas, team_summary,
)

values = st.lists(st.floats(min_value=0, max_value=1e6, allow_nan=False, allow_subnormal=False), min_size=1, max_size=30)


@given(values, st.floats(min_value=0.01, max_value=1000))
@example(v=[0.0, 2.4025775663466858e-160], scale=0.5)  # squares of tiny values underflowed: cv 0.99985 vs 1.00002
def test_indices_are_scale_invariant_and_bounded(v, scale):
    a = balance_indices(v)
    b = balance_indices([x * scale for x in v])
    for key in ("cv", "gini", "within_tolerance"):
        if np.isnan(a[key]):
            assert np.isnan(b[key])
        else:
            assert b[key] == pytest.approx(a[key], rel=1e-6, abs=1e-9)
    if not np.isnan(a["gini"]):
        assert 0 <= a["gini"] <= 1 - 1 / len(v) + 1e-9
    if not np.isnan(a["within_tolerance"]):
        assert 0 <= a["within_tolerance"] <= 1


@given(st.floats(min_value=0.1, max_value=1e6), st.integers(min_value=1, max_value=20))
def test_equal_values_are_perfectly_balanced(x, n):
    b = balance_indices([x] * n)
    assert b["cv"] == pytest.approx(0, abs=1e-9)
    assert b["gini"] == pytest.approx(0, abs=1e-9)
    assert b["max_min"] == pytest.approx(1)
    assert b["within_tolerance"] == 1


def _world(seed: int, n_reps: int, n_acc: int, n_opp: int):
    rng = np.random.default_rng(seed)
    reps = pd.DataFrame({
        R.rep_id: [f"r{i}" for i in range(n_reps)], R.name: [f"Rep {i}" for i in range(n_reps)],
        R.manager: rng.choice(["M1", "M2", "M3"], n_reps), R.segment: rng.choice(["SMB", "ENT"], n_reps),
        R.region: rng.choice(["East", "West"], n_reps), R.capacity: rng.choice([0.5, 1.0], n_reps),
        R.ramp: rng.choice([0.5, 1.0], n_reps), R.quota: rng.integers(1, 10, n_reps) * 100_000.0,
    })
    acc = pd.DataFrame({
        A.account_id: [f"a{i}" for i in range(n_acc)], A.name: [f"Acc {i}" for i in range(n_acc)],
        A.owner_id: rng.choice(reps[R.rep_id], n_acc), A.arr: rng.choice([0.0, 1000.0, 50_000.0], n_acc),
    })
    created = pd.Timestamp("2025-01-01") + pd.to_timedelta(rng.integers(0, 600, n_opp), unit="D")
    closed = rng.random(n_opp) < 0.7
    opp = pd.DataFrame({
        O.opportunity_id: [f"o{i}" for i in range(n_opp)], O.account_id: rng.choice(acc[A.account_id], n_opp),
        O.owner_id: rng.choice(reps[R.rep_id], n_opp), O.amount: rng.integers(1, 100, n_opp) * 1000.0,
        O.created_date: created, O.close_date: created + pd.to_timedelta(rng.integers(1, 200, n_opp), unit="D"),
        O.is_closed: closed, O.is_won: closed & (rng.random(n_opp) < 0.4),
    })
    return acc, reps, opp


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 8), st.integers(1, 60), st.integers(0, 200),
       st.sampled_from(["quarter", "half", "year", "t12m"]))
def test_rollups_add_up_and_ratios_come_from_sums(seed, n_reps, n_acc, n_opp, kind):
    acc, reps, opp = _world(seed, n_reps, n_acc, n_opp)
    k = rep_kpis(acc, reps, opp, Period(kind, "2026-03-31"))
    # every account is on exactly one book; every closed deal in the period is counted once
    assert k[K.accounts].sum() == n_acc
    assert k[K.arr].sum() == pytest.approx(acc[A.arr].sum())
    assert k[K.open_pipeline].sum() == pytest.approx(opp.loc[~opp[O.is_closed], O.amount].sum())
    assert (k[K.won_count] <= k[K.closed_count]).all()
    assert k[K.load_index].dropna().ge(0).all()
    assert (k[K.fair_workload] * 1).sum() == pytest.approx(k[K.workload].sum())
    for by in ("manager", "segment", "region"):
        r = rollup_kpis(k, reps, by=by)
        for c in ADDITIVE:
            if k[c].notna().any():
                assert r[c].sum() == pytest.approx(k[c].sum()), (by, c)
        exp = r[K.won_count] / r[K.closed_count].where(r[K.closed_count] > 0)
        np.testing.assert_allclose(r[K.win_rate].astype(float), exp.astype(float))
    t = team_summary(k)
    assert t[K.accounts] == n_acc
    sq = suggest_quotas(reps, k, 1_000_000)
    assert sq["suggested_quota"].sum() == pytest.approx(1_000_000)
    assert (sq["suggested_quota"] >= 0).all()


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 10_000))
def test_scenario_owner_keeps_sales_results(seed):
    acc, reps, opp = _world(seed, 5, 40, 120)
    p = Period("year", "2025-12-31")
    today = rep_kpis(acc, reps, opp, p).set_index(K.rep_id)
    shuffled = pd.Series(np.random.default_rng(seed).permutation(acc[A.owner_id].to_numpy()), index=acc[A.account_id])
    scn = rep_kpis(acc, reps, opp, p, owner=shuffled).set_index(K.rep_id)
    for c in (K.won_revenue, K.won_count, K.closed_count, K.avg_cycle_days):
        np.testing.assert_allclose(scn[c].astype(float), today[c].astype(float))
    assert scn[K.accounts].sum() == today[K.accounts].sum()
    assert scn[K.open_pipeline].sum() == pytest.approx(today[K.open_pipeline].sum())


def test_gini_matches_mean_absolute_difference_definition():
    rng = np.random.default_rng(1)
    v = rng.random(50) * 100
    mad = np.abs(v[:, None] - v[None, :]).mean()
    assert gini(v) == pytest.approx(mad / (2 * v.mean()))
