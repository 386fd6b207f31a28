"""Unit tests of territory_core.geo.aggregate: area metrics, coverage, under/over-served, heatmap."""
import numpy as np
import pandas as pd
import pytest

from territory_core.contract import A, R, X
from territory_core.geo.aggregate import area_metrics, heatmap_data, rep_capacity, service_table


@pytest.fixture
def enriched():
    return pd.DataFrame({
        A.account_id: list("abcdefg"),
        A.state: ["CA", "CA", "NY", "NY", "TX", "TX", "WA"],
        A.county: ["6037", "06037", "36061", "36061", "48201", "48201", "53033"],
        A.industry: ["Software", "Software", "Retail", "Retail", "Software", "Retail", "Software"],
        A.employees: [10.0, 100.0, 10.0, 2000.0, 10.0, 10.0, 10.0],
        A.owner_id: ["r1", "r1", "r1", "r2", "r2", "r2", None],
        X.potential: [100.0, 100.0, 50.0, 50.0, 10.0, 10.0, 500.0],
        X.whitespace: [80.0, 100.0, 50.0, 40.0, 10.0, 10.0, 500.0],
        "total_arr": [20.0, 0.0, 0.0, 10.0, 0.0, 0.0, 0.0],
        X.segment: ["Ent", "Ent", "SMB", "Ent", "SMB", "SMB", "SMB"],
    })


REPS = pd.DataFrame({R.rep_id: ["r1", "r2"], R.name: ["One", "Two"], R.capacity: [1.0, 0.5], R.ramp: [1.0, 1.0],
                     R.active: [True, True]})


def test_area_metrics_state(enriched):
    m = area_metrics(enriched, "state", REPS).set_index("area")
    assert m.loc["CA", "accounts"] == 2 and m.loc["CA", "potential"] == 200 and m.loc["CA", "arr"] == 20
    assert m.loc["CA", "penetration"] == pytest.approx(0.1)
    # r1 has 3 accounts: 2 in CA, 1 in NY -> 2/3 FTE in CA; r2 (0.5 FTE) has 3: 1 NY, 2 TX
    assert m.loc["CA", "rep_fte"] == pytest.approx(2 / 3)
    assert m.loc["NY", "rep_fte"] == pytest.approx(1 / 3 + 0.5 / 3)
    assert m.loc["NY", "covering_reps"] == 2
    assert m.loc["CA", "coverage"] == pytest.approx(200 / (2 / 3))
    # WA has no owner: no coverage figure
    assert m.loc["WA", "rep_fte"] == 0 and np.isnan(m.loc["WA", "coverage"])
    assert m["rep_fte"].sum() == pytest.approx(1.5)


def test_area_metrics_county_normalises_fips(enriched):
    m = area_metrics(enriched, "county", REPS).set_index("area")
    assert m.loc["06037", "accounts"] == 2
    assert set(m.index) == {"06037", "36061", "48201", "53033"}
    with pytest.raises(ValueError):
        area_metrics(enriched, "zip")


def test_filter_keeps_whole_book_for_fte(enriched):
    sub = enriched[enriched[A.state] == "CA"]
    m = area_metrics(sub, "state", REPS, book=enriched).set_index("area")
    assert m.loc["CA", "rep_fte"] == pytest.approx(2 / 3)
    m2 = area_metrics(sub, "state", REPS).set_index("area")  # without the book r1 counts fully
    assert m2.loc["CA", "rep_fte"] == pytest.approx(1.0)


def test_service_table_status(enriched):
    t = service_table(enriched, "state", REPS).set_index("group")
    cov = {"CA": 200 / (2 / 3), "NY": 100 / (0.5), "TX": 20 / (1 / 3)}
    med = np.median(list(cov.values()))
    for s, c in cov.items():
        assert t.loc[s, "vs_median"] == pytest.approx(c / med)
    assert t.loc["WA", "status"] == "under-served (no rep)"
    assert t.loc["CA", "status"] == "under-served"  # 300 vs median 200
    assert t.loc["TX", "status"] == "over-served"  # 60 vs 200
    assert t.loc["NY", "status"] == "balanced"
    assert t.index[0] == "WA"  # most under-served first
    seg = service_table(enriched, "segment", REPS)
    assert set(seg["group"]) == {"Ent", "SMB"}


def test_heatmap(enriched):
    h = heatmap_data(enriched, REPS)
    sw = h[(h["industry"] == "Software") & (h["size_band"] == "1-49")].iloc[0]
    assert sw["accounts"] == 3 and sw["whitespace"] == 590
    assert list(h[h["industry"] == "Retail"]["size_band"]) == ["1-49", "1k-4.9k"]
    assert h["whitespace"].sum() == enriched[X.whitespace].sum()


def test_rep_capacity_inactive_and_ramp():
    reps = pd.DataFrame({R.rep_id: ["a", "b", "c"], R.capacity: [1.0, np.nan, 1.0], R.ramp: [0.5, 1.0, 1.0],
                         R.active: [True, True, False]})
    cap = rep_capacity(reps)
    assert cap["a"] == 0.5 and cap["b"] == 1.0 and cap["c"] == 0.0


def test_sample_state_map_covers_all_accounts():
    from territory_core.dataset import load_sample
    from territory_core.analyse.enrich import enrich_accounts

    ds = load_sample()
    if ds.accounts.empty:
        pytest.skip("no sample data")
    e = enrich_accounts(ds)
    m = area_metrics(e, "state", ds.reps, book=e)
    assert m["accounts"].sum() == len(e)
    assert m["potential"].sum() == pytest.approx(e[X.potential].sum())
    assert (m["penetration"].dropna() <= 1).all()
