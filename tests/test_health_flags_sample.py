"""Health flags calibrated against peers, on the sample (issue 10, item 7): red means act now."""
from __future__ import annotations

import pytest

from territory_core.analyse.enrich import enrich_accounts
from territory_core.analyse.kpis import (K, HealthThresholds, Period, data_as_of, health_flags, peer_groups,
                                         rep_flag_rank, rep_kpis)
from territory_core.dataset import load_sample


@pytest.fixture(scope="module")
def sample_kpis():
    ds = load_sample()
    enr = enrich_accounts(ds)
    period = Period("quarter", data_as_of(ds.opportunities))
    return rep_kpis(ds.accounts, ds.reps, ds.opportunities, period, enriched=enr, pace_to_date=True)


def test_at_most_a_quarter_of_active_reps_get_a_high_flag(sample_kpis):
    f = health_flags(sample_kpis)
    active = set(sample_kpis.loc[sample_kpis[K.active], K.rep_id])
    fa = f[f[K.rep_id].isin(active)]
    high = sorted(fa.loc[fa["severity"] == "high", K.rep_id].unique())
    assert len(active) == 40
    assert len(high) == 9 and len(high) <= len(active) / 4
    assert high == ["R002", "R010", "R012", "R016", "R018", "R019", "R020", "R026", "R035"]
    assert fa[K.rep_id].nunique() == 30 and len(fa) == 62
    # Betty Anderson's team (R006-R010): not everyone red any more
    betty = fa[fa[K.rep_id].isin(["R006", "R007", "R008", "R009", "R010"])]
    assert sorted(betty.loc[betty["severity"] == "high", K.rep_id].unique()) == ["R010"]
    # the departed rep still owning accounts is flagged, high
    former = f[f[K.rep_id] == "R041"]
    assert list(former["severity"]) == ["high"] and "no capacity (0 FTE)" in former["reason"].iloc[0]


def test_flags_are_ranked_worst_first_with_reasons_in_words(sample_kpis):
    f = health_flags(sample_kpis)
    assert list(f["score"]) == sorted(f["score"], reverse=True)
    assert (f["severity"].iloc[: (f["severity"] == "high").sum()] == "high").all(), "every high flag before any medium"
    r016 = f[(f[K.rep_id] == "R016") & (f["flag"] == "overloaded")].iloc[0]
    assert r016["reason"] == ("Carries 298% of a fair workload for a 0.75 FTE rep (420 vs 141 workload points, "
                              "fair share among the SMB reps).")
    r026 = f[(f[K.rep_id] == "R026") & (f["flag"] == "overloaded")].iloc[0]
    assert "for a 1.0 FTE rep at 60% ramp" in r026["reason"]
    cov = f[(f[K.rep_id] == "R018") & (f["flag"] == "low coverage")].iloc[0]
    assert cov["reason"].startswith("Open pipeline covers 0.2x the quota still to close ($21.6k of pipeline for")
    assert "load_index" not in " ".join(f["reason"]) and "x ramp" not in " ".join(f["reason"])
    rank = rep_flag_rank(f)
    assert rank.idxmax() == f[K.rep_id].iloc[0]


def test_workload_is_judged_against_segment_peers(sample_kpis):
    g = peer_groups(sample_kpis)
    assert set(g) == {"Enterprise", "Mid-Market", "SMB"}
    ent = sample_kpis[g == "Enterprise"]
    # the fair shares of a peer group add up to the group's workload
    assert ent[K.fair_workload].sum() == pytest.approx(ent[K.workload].sum())
    # Carlos Lee (Enterprise, 76 accounts) is overloaded among Enterprise reps, not starved against SMB books
    f = health_flags(sample_kpis)
    assert set(f.loc[f[K.rep_id] == "R001", "flag"]) >= {"overloaded"}
    assert "starved" not in set(f.loc[f[K.rep_id] == "R001", "flag"])


def test_thresholds_high_never_looser_than_medium():
    t = HealthThresholds(overloaded_above=1.3, overloaded_high=1.1, starved_high=0.9)
    assert t.overloaded_high == 1.3 and t.starved_high == t.starved_below
    assert HealthThresholds.from_dict(t.to_dict()) == t


def test_attainment_paced_to_date_in_a_running_quarter():
    ds = load_sample()
    as_of = data_as_of(ds.opportunities)  # 15 Nov 2026: 46 of Q4's 92 days
    q4 = Period("quarter", as_of)
    assert q4.in_progress(as_of) and q4.elapsed_fraction(as_of) == pytest.approx(46 / 92)
    full = rep_kpis(ds.accounts, ds.reps, ds.opportunities, q4)
    paced = rep_kpis(ds.accounts, ds.reps, ds.opportunities, q4, pace_to_date=True)
    assert paced[K.quota_to_date].sum() == pytest.approx(full[K.quota].sum() * 0.5)
    assert paced[K.attainment].iloc[0] == pytest.approx(full[K.attainment].iloc[0] * 2)
    # coverage still measures the whole quarter's quota left to close
    assert paced[K.coverage].equals(full[K.coverage])
    q3 = Period("quarter", "2026-08-01")
    assert not q3.in_progress(as_of) and q3.elapsed_fraction(as_of) == 1.0
