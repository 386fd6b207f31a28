"""Unit tests of territory_core.analyse.scoring: components, tiers, whitespace, explanation, settings."""
import json

import numpy as np
import pandas as pd
import pytest

from territory_core.contract import A, O, P, X
from territory_core.analyse.scoring import (ProductModel, ScoringConfig, explain_account, potential_and_whitespace,
                                    score_accounts, size_band, whitespace_by_product)


def accounts(**over):
    df = pd.DataFrame({
        A.account_id: ["a", "b", "c", "d"],
        A.name: ["Alpha", "Beta", "Gamma", "Delta"],
        A.parent_id: [None, "a", None, None],
        A.industry: ["Software", "Retail", None, "Software"],
        A.employees: [1000.0, 20.0, np.nan, 1000.0],
        A.annual_revenue: [1e8, 2e6, 4e7, 1e8],
        A.arr: [100_000.0, 0.0, 0.0, 0.0],
        A.open_pipeline: [0.0, 0.0, 0.0, 200_000.0],
        A.intent: [80.0, 10.0, np.nan, 80.0],
        A.named: [True, False, False, False],
    })
    for k, v in over.items():
        df[k] = v
    return df


PRODUCTS = pd.DataFrame({P.account_id: ["a", "a"], P.product: ["Core Platform", "Legacy"], P.arr: [80_000.0, 20_000.0]})
CFG = ScoringConfig(products=(ProductModel("Core Platform", 500.0, 0.5), ProductModel("Analytics", 100.0, 1.0)))


def test_scores_are_0_100_and_same_index():
    df = accounts()
    df.index = [10, 11, 12, 13]
    s = score_accounts(df, None, PRODUCTS, CFG)
    assert list(s.index) == [10, 11, 12, 13]
    for c in (X.fit_score, X.propensity_score, X.strategic_score, X.potential_score):
        assert s[c].between(0, 100).all(), c
    assert set(s[X.tier]) <= {"A", "B", "C", "D"}


def test_fit_prefers_icp_industry_and_size():
    s = score_accounts(accounts(), config=CFG)
    # a: Software, 1000 employees, $100M inside the ideal ranges -> full fit
    assert s.loc[0, X.fit_score] == pytest.approx(100.0)
    # b: small retail company -> much lower
    assert s.loc[1, X.fit_score] < 50
    # changing the ICP changes the score: Retail weighted 1 and small companies ideal
    cfg = CFG.with_(industry_weights=(("Retail", 1.0),), ideal_employees=(5, 50), ideal_revenue=(1e6, 5e6))
    s2 = score_accounts(accounts(), config=cfg)
    assert s2.loc[1, X.fit_score] == pytest.approx(100.0)
    assert s2.loc[0, X.fit_score] < s.loc[0, X.fit_score]


def test_propensity_uses_intent_engagement_and_similar_wins():
    opp = pd.DataFrame({O.opportunity_id: ["1", "2", "3", "4"], O.account_id: ["a", "a", "b", "b"],
                        O.is_closed: [True, True, True, True], O.is_won: [True, True, False, False]})
    s = score_accounts(accounts(), opp, config=CFG)
    # d has the same intent and industry/size as a but open pipeline: higher propensity
    assert s.loc[3, X.propensity_score] > s.loc[0, X.propensity_score]
    # the win history of the Software/1k-4.9k group (a: 2 of 2 won) lifts d over an identical
    # account scored without history
    s0 = score_accounts(accounts(), None, config=CFG)
    assert s.loc[3, X.propensity_score] > s0.loc[3, X.propensity_score]
    # b's group lost everything -> lower than without history
    assert s.loc[1, X.propensity_score] < s0.loc[1, X.propensity_score]


def test_strategic_named_and_family():
    s = score_accounts(accounts(), config=CFG)
    # a is named and heads a family of 2; d is identical in size but neither
    assert s.loc[0, X.strategic_score] > s.loc[3, X.strategic_score]


def test_tiers_follow_thresholds():
    s = score_accounts(accounts(), config=CFG.with_(tier_thresholds=(0.0, 0.0, 0.0)))
    assert (s[X.tier] == "A").all()
    s = score_accounts(accounts(), config=CFG.with_(tier_thresholds=(101.0, 101.0, 101.0)))
    assert (s[X.tier] == "D").all()
    s = score_accounts(accounts(), config=CFG)
    a, b, c = CFG.tier_thresholds
    exp = np.where(s[X.potential_score] >= a, "A", np.where(s[X.potential_score] >= b, "B",
                   np.where(s[X.potential_score] >= c, "C", "D")))
    assert list(s[X.tier]) == list(exp)


def test_whitespace_per_product_subtracts_holdings():
    w = whitespace_by_product(accounts(), PRODUCTS, CFG)
    assert len(w) == 4 * 2
    a = w[w[A.account_id] == "a"].set_index(P.product)
    # Core: 1000 seats x 0.5 x 500 = 250k potential, 80k held
    assert a.loc["Core Platform", X.potential] == pytest.approx(250_000)
    assert a.loc["Core Platform", P.arr] == pytest.approx(80_000)
    assert a.loc["Core Platform", X.whitespace] == pytest.approx(170_000)
    assert a.loc["Analytics", X.whitespace] == pytest.approx(100_000)
    assert (w[X.whitespace] >= 0).all()
    # c has no employees: seats from revenue / revenue per employee (4e7 / 250k = 160)
    c = w[w[A.account_id] == "c"].set_index(P.product)
    assert c.loc["Core Platform", X.potential] == pytest.approx(160 * 0.5 * 500)


def test_account_whitespace_is_potential_minus_arr():
    s = score_accounts(accounts(), None, PRODUCTS, CFG)
    # a: 250k + 100k modelled + 20k Legacy (outside the model) = 370k potential, 100k arr
    assert s.loc[0, X.potential] == pytest.approx(370_000)
    assert s.loc[0, X.whitespace] == pytest.approx(270_000)
    assert np.allclose(s[X.whitespace], s[X.potential] - s["total_arr"])
    # holding more than the model says: potential is at least what is bought, whitespace 0
    big = PRODUCTS.assign(**{P.arr: [5e6, 0.0]})
    s2 = score_accounts(accounts(), None, big, CFG)
    assert s2.loc[0, X.whitespace] == pytest.approx(100_000)  # only Analytics left
    # ARR not broken down by product reduces whitespace too
    s3 = score_accounts(accounts(**{A.arr: [0, 0, 0, 500_000.0]}), None, None, CFG)
    assert s3.loc[3, X.potential] == pytest.approx(500_000)  # 350k modelled < 500k already paid
    assert s3.loc[3, X.whitespace] == 0


def test_per_segment_product_models():
    cfg = CFG.with_(products=CFG.products + (ProductModel("Core Platform", 1000.0, 1.0, segment="Enterprise"),))
    seg = pd.Series(["Enterprise", "SMB", "SMB", "SMB"])
    p = potential_and_whitespace(accounts(), None, cfg, seg)
    base = potential_and_whitespace(accounts(), None, cfg, None)
    assert p.loc[0, X.potential] == pytest.approx(1000 * 1.0 * 1000 + 100_000)
    assert base.loc[0, X.potential] == pytest.approx(250_000 + 100_000)
    assert p.loc[3, X.potential] == pytest.approx(base.loc[3, X.potential])


def test_explain_account_adds_up():
    opp = pd.DataFrame({O.opportunity_id: ["1"], O.account_id: ["a"], O.is_closed: [True], O.is_won: [True]})
    e = explain_account(accounts(), "a", opp, PRODUCTS, CFG)
    comp = e["components"]
    assert set(comp["component"]) == {"fit", "propensity", "strategic"}
    assert comp["points"].sum() == pytest.approx(e["account"][X.potential_score])
    assert "Software" in comp.loc[comp["input"] == "industry", "value"].iloc[0]
    assert e["account"][X.whitespace] == pytest.approx(e["account"][X.potential] - e["account"]["arr"])
    assert set(e["products"][P.product]) == {"Core Platform", "Analytics"}
    with pytest.raises(KeyError):
        explain_account(accounts(), "nope", config=CFG)
    # precomputed details give the same breakdown
    det = score_accounts(accounts(), opp, PRODUCTS, CFG, details=True)
    e2 = explain_account(accounts(), "a", opp, PRODUCTS, CFG, details=det)
    pd.testing.assert_frame_equal(e2["components"], comp)


def test_config_roundtrip_json_and_validate():
    cfg = CFG.with_(tier_thresholds=(80.0, 60.0, 40.0), industry_weights=(("Media", 0.7),))
    d = json.loads(json.dumps(cfg.to_dict()))
    assert ScoringConfig.from_dict(d) == cfg
    assert ScoringConfig.from_dict(None) == ScoringConfig()
    assert ScoringConfig().validate() == []
    bad = ScoringConfig(tier_thresholds=(10.0, 50.0, 30.0), ideal_employees=(500.0, 100.0))
    msgs = " ".join(bad.validate())
    assert "Tier thresholds" in msgs and "Ideal employees" in msgs


def test_size_band_and_missing_columns():
    b = size_band(pd.Series([1, 49, 50, 999, 1000, 5000, np.nan]))
    assert list(b) == ["1-49", "1-49", "50-249", "250-999", "1k-4.9k", "5k+", "unknown"]
    bare = pd.DataFrame({A.account_id: ["x", "y"], A.name: ["X", "Y"]})
    s = score_accounts(bare)
    assert s[X.potential_score].notna().all() and (s[X.potential] == 0).all()


@pytest.fixture(scope="module")
def sample():
    from territory_core.dataset import load_sample

    ds = load_sample()
    if ds.accounts.empty:
        pytest.skip("no sample data")
    return ds


def test_sample_scores_spread_over_tiers(sample):
    s = score_accounts(sample.accounts, sample.opportunities, sample.account_products)
    counts = s[X.tier].value_counts()
    assert set(counts.index) == {"A", "B", "C", "D"}
    assert counts.min() > 0.03 * len(s)
    # account whitespace = product whitespace minus ARR not broken down by product (>= 0)
    w = whitespace_by_product(sample.accounts, sample.account_products)
    ids = sample.accounts[A.account_id].astype("string")
    per_acc = w.groupby(A.account_id)[X.whitespace].sum().reindex(ids).to_numpy()
    held = sample.account_products.groupby(P.account_id)[P.arr].sum().reindex(ids).fillna(0).to_numpy()
    unalloc = np.clip(sample.accounts[A.arr].to_numpy(dtype=float) - held, 0, None)
    assert np.allclose(np.clip(per_acc - unalloc, 0, None), s[X.whitespace].to_numpy(), atol=1.0)
    assert s[X.whitespace].sum() > 0
