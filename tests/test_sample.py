"""The committed sample dataset: realistic shape, consistent tables, deterministic generator."""
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from territory_core.contract import A, O, P, R
from territory_core.dataset import ROOT, SAMPLE_DIR, load_sample
from territory_core.analyse.hierarchy import resolve_hierarchy
from territory_core.ingest.importer import load_files


@pytest.fixture(scope="module")
def ds():
    return load_sample()


def test_sample_files_exist_and_are_small():
    total = sum((SAMPLE_DIR / f).stat().st_size for f in
                ("accounts.csv", "reps.csv", "opportunities.csv", "account_products.csv"))
    assert total < 5_000_000


def test_accounts_shape(ds):
    acc = ds.accounts
    assert 5500 <= len(acc) <= 6500
    assert acc[A.account_id].is_unique
    assert acc[A.zip].str.fullmatch(r"\d{5}").all()
    assert acc[A.county].str.fullmatch(r"\d{5}").all()
    assert acc[A.state].str.fullmatch(r"[A-Z]{2}").all()
    assert acc[[A.lat, A.lon]].notna().all().all()
    assert acc[A.industry].nunique() >= 12
    cust = (acc[A.arr] > 0).mean()
    assert 0.25 <= cust <= 0.35
    # employees and revenue are lognormal-ish and agree with each other
    assert np.corrcoef(np.log(acc[A.employees]), np.log(acc[A.annual_revenue]))[0, 1] > 0.8
    assert acc[A.employees].max() / acc[A.employees].median() > 50
    assert acc[A.intent].between(0, 100).all()
    assert acc[A.locked].sum() > 0 and acc[A.named].sum() > 0
    assert "support_tickets" in acc.columns
    # business centres: the biggest metros are over-represented
    assert acc[A.state].value_counts().index[0] in {"CA", "NY", "TX"}


def test_sample_geography_matches_the_shipped_boundaries(ds):
    from territory_core.geo import zips as geo

    county_ids = {f["id"] for f in geo.counties_geojson()["features"]}
    state_ids = {f["id"] for f in geo.states_geojson()["features"]}
    assert ds.accounts[A.county].isin(county_ids).all()
    assert ds.accounts[A.state].isin(state_ids).all()
    # each account's county lies in its state (FIPS state prefix agrees with the state code)
    fips_state = {f["properties"]["fips"]: f["id"] for f in geo.states_geojson()["features"]}
    assert (ds.accounts[A.county].str[:2].map(fips_state) == ds.accounts[A.state]).mean() > 0.99


def test_families(ds):
    h = resolve_hierarchy(ds.accounts)
    in_fam = (h["family_size"] > 1).mean()
    assert 0.10 <= in_fam <= 0.20
    assert h["depth"].max() == 2  # 3 levels
    assert not h["in_cycle"].any() and not h["orphan"].any()


def test_products_sum_to_arr(ds):
    p = ds.account_products
    assert set(p[P.product]) == {"Core Platform", "Analytics", "Integrations"}
    sums = p.groupby(P.account_id)[P.arr].sum()
    arr = ds.accounts.set_index(A.account_id)[A.arr]
    assert np.allclose(sums.to_numpy(), arr.reindex(sums.index).to_numpy(), atol=0.01)
    assert set(arr[arr > 0].index) == set(sums.index)


def test_opportunities(ds):
    o = ds.opportunities
    assert o[O.created_date].min() >= pd.Timestamp("2024-11-15")
    assert o[O.created_date].max() <= pd.Timestamp("2026-11-15")
    closed = o[o[O.is_closed]]
    assert 0.20 <= closed[O.is_won].mean() <= 0.30
    open_ = o[~o[O.is_closed]]
    assert len(open_) > 200 and open_[O.stage].isin(["Proposal", "Negotiation"]).sum() > 50
    assert (o[O.close_date] >= o[O.created_date]).all()
    assert o[O.account_id].isin(ds.accounts[A.account_id]).all()
    pipe = open_.groupby(O.account_id)[O.amount].sum()
    acc = ds.accounts.set_index(A.account_id)[A.open_pipeline]
    assert np.allclose(acc.reindex(pipe.index).to_numpy(), pipe.to_numpy())


def test_reps_and_unbalanced_ownership(ds):
    r = ds.reps
    assert 38 <= len(r) <= 42 and r[R.rep_id].is_unique
    assert set(r[R.region]) == {"West", "Central", "East", "South"}
    assert set(r[R.segment]) == {"Enterprise", "Mid-Market", "SMB"}
    assert (r[R.ramp] < 1).sum() >= 3 and r[R.capacity].between(0.5, 1.0).sum() >= len(r) - 1
    assert r[[R.home_lat, R.home_lon]].notna().all().all()
    assert (~r[R.active]).sum() >= 1
    inactive = set(r.loc[~r[R.active], R.rep_id])
    acc = ds.accounts
    assert acc[A.owner_id].isin(inactive).sum() >= 5  # orphaned accounts
    assert acc[A.owner_id].isin(r[R.rep_id]).all()
    # unbalanced: within a region x segment some reps hold 3x the accounts of others
    books = acc.groupby(A.owner_id).size()
    ratios = []
    for _, g in r[r[R.active]].groupby([R.region, R.segment]):
        b = books.reindex(g[R.rep_id]).fillna(0)
        if len(b) > 2 and b.min() > 0:
            ratios.append(b.max() / b.min())
    assert max(ratios) >= 3


def test_sample_passes_the_importer_without_errors():
    d = SAMPLE_DIR
    res = load_files(accounts=d / "accounts.csv", reps=d / "reps.csv", opportunities=d / "opportunities.csv",
                     account_products=d / "account_products.csv")
    assert res.report.ok, res.report.to_text(10)
    assert res.dataset is not None and len(res.dataset.accounts) == len(load_sample().accounts)


def test_generator_is_deterministic(tmp_path):
    out = tmp_path / "s"
    subprocess.run([sys.executable, str(ROOT / "scripts" / "make_sample.py"), "--out", str(out)],
                   check=True, capture_output=True, timeout=120)
    for f in ("accounts.csv", "reps.csv", "opportunities.csv", "account_products.csv"):
        assert (out / f).read_bytes() == (SAMPLE_DIR / f).read_bytes(), f

