"""Unit tests of territory_core.analyse.segments: rule matching, first match wins, checks, summary."""
import json

import numpy as np
import pandas as pd
import pytest

from territory_core.contract import A, P, X
from territory_core.analyse.segments import (UNSEGMENTED, SegmentRule, SegmentRules, apply_segments, check_rules,
                                     default_rules, segment_summary)


@pytest.fixture
def accts():
    return pd.DataFrame({
        A.account_id: ["a", "b", "c", "d", "e", "f"],
        A.name: list("ABCDEF"),
        A.state: ["CA", "NY", "TX", "WA", "ma", None],
        A.industry: ["Software", "Retail", "Software", "Banking", "retail", None],
        A.employees: [5000.0, 20.0, 300.0, np.nan, 100.0, 10.0],
        A.annual_revenue: [1e9, 1e6, 5e7, 2e8, 1e7, np.nan],
        A.named: [False, False, True, False, False, False],
        A.owner_id: ["r1", "r1", "r2", "r2", "r3", None],
        X.tier: ["A", "D", "B", "C", "C", "D"],
        X.potential: [100.0, 1.0, 10.0, 20.0, 5.0, 1.0],
        A.arr: [10.0, 0.0, 1.0, 0.0, 0.0, 0.0],
    })


PRODUCTS = pd.DataFrame({P.account_id: ["b", "c", "d"], P.product: ["Analytics", "Analytics", "Core"],
                         P.arr: [10.0, 0.0, 5.0]})


def seg(accts, *rules, ap=None):
    return apply_segments(accts, SegmentRules(tuple(rules)), ap)


def test_each_condition(accts):
    assert list(seg(accts, SegmentRule("x", states=("CA", "MA")))["rule_index"]) == [0, -1, -1, -1, 0, -1]
    assert list(seg(accts, SegmentRule("x", regions=("West",)))["rule_index"]) == [0, -1, -1, 0, -1, -1]
    assert list(seg(accts, SegmentRule("x", regions=("West",), states=("CA", "NY")))["rule_index"]) == [0, -1, -1, -1, -1, -1]
    assert list(seg(accts, SegmentRule("x", industries=("Retail",)))["rule_index"]) == [-1, 0, -1, -1, 0, -1]
    # employees: min inclusive, max exclusive; missing never matches a band
    assert list(seg(accts, SegmentRule("x", min_employees=100, max_employees=5000))["rule_index"]) == [-1, -1, 0, -1, 0, -1]
    assert list(seg(accts, SegmentRule("x", min_revenue=1e8))["rule_index"]) == [0, -1, -1, 0, -1, -1]
    assert list(seg(accts, SegmentRule("x", tiers=("C", "D")))["rule_index"]) == [-1, 0, -1, 0, 0, 0]
    assert list(seg(accts, SegmentRule("x", named=True))["rule_index"]) == [-1, -1, 0, -1, -1, -1]
    assert list(seg(accts, SegmentRule("x", named=False))["rule_index"]) == [0, 0, -1, 0, 0, 0]
    # product held (with arr > 0): c holds Analytics at 0 arr, so it does not count
    assert list(seg(accts, SegmentRule("x", products=("Analytics", "Core")), ap=PRODUCTS)["rule_index"]) == [-1, 0, -1, 0, -1, -1]
    # conditions combine with AND
    assert list(seg(accts, SegmentRule("x", industries=("Software",), min_employees=1000))["rule_index"]) == [0, -1, -1, -1, -1, -1]


def test_first_match_wins_and_unsegmented(accts):
    rules = SegmentRules((
        SegmentRule("Named", named=True, coverage_model="dedicated", accounts_per_rep=10),
        SegmentRule("Big", min_employees=200, coverage_model="dedicated", accounts_per_rep=50),
        SegmentRule("Retail", industries=("Retail",)),
    ))
    s = apply_segments(accts, rules)
    assert list(s[X.segment]) == ["Big", "Retail", "Named", UNSEGMENTED, "Retail", UNSEGMENTED]
    assert list(s[X.coverage_model].fillna("-")) == ["dedicated", "pooled", "dedicated", "-", "pooled", "-"]
    assert s.loc[0, "accounts_per_rep"] == 50
    # reorder: Big before Named takes c (300 employees)
    s2 = apply_segments(accts, SegmentRules((rules.rules[1], rules.rules[0], rules.rules[2])))
    assert s2.loc[2, X.segment] == "Big"


def test_check_rules_flags_never_shadowed_overlap_unsegmented(accts):
    rules = SegmentRules((
        SegmentRule("Big", min_employees=200),
        SegmentRule("Huge", min_employees=1000),  # shadowed by Big
        SegmentRule("Empty", min_employees=500, max_employees=100),  # can never match
        SegmentRule("Nowhere", states=("AK",)),  # no account in this data
        SegmentRule("Software", industries=("Software",)),  # overlaps Big on a and c, wins nothing new? no: none
        SegmentRule("Retail", industries=("Retail",)),
    ))
    w = check_rules(accts, rules)
    kinds = {(x.kind, x.rule_index) for x in w}
    assert ("shadowed", 1) in kinds
    assert ("never_matches", 2) in kinds
    assert ("no_accounts", 3) in kinds
    assert ("shadowed", 4) in kinds  # both Software accounts are Big
    assert any(x.kind == "unsegmented" and "2 of 6" in x.message for x in w)  # d and f
    assert not any(x.kind in ("shadowed", "never_matches", "no_accounts") and x.rule_index == 5 for x in w)
    # a partial overlap is reported as info
    rules2 = SegmentRules((SegmentRule("Retail", industries=("Retail",)), SegmentRule("Small", max_employees=50),
                           SegmentRule("Rest")))
    w2 = check_rules(accts, rules2)
    assert [x.kind for x in w2] == ["overlap"]
    assert "overlap on 1 account;" in w2[0].message
    # static problems
    assert any("not a tier" in x.message for x in check_rules(accts, SegmentRules((SegmentRule("t", tiers=("Z",)),))))
    assert any(x.kind == "invalid" for x in check_rules(accts, SegmentRules((SegmentRule(""),))))


def test_default_rules_cover_the_sample():
    from territory_core.dataset import load_sample
    from territory_core.analyse.enrich import enrich_accounts

    ds = load_sample()
    if ds.accounts.empty:
        pytest.skip("no sample data")
    e = enrich_accounts(ds)
    counts = e[X.segment].value_counts()
    assert set(counts.index) == {"Strategic", "Enterprise", "Mid-Market", "SMB"}
    w = check_rules(e, default_rules(), ds.account_products)
    assert not [x for x in w if x.level != "info"], [str(x) for x in w]
    summ = segment_summary(e, rules=default_rules())
    assert summ["accounts"].sum() == len(e)
    assert summ.loc[summ["segment"] == "Strategic", "accounts"].iloc[0] == int(e[A.named].sum())


def test_roundtrip_dict_and_frame():
    rules = SegmentRules((
        SegmentRule("N", named=True, states=("CA",), regions=("West",), tiers=("A", "B"), products=("Core",),
                    coverage_model="dedicated", accounts_per_rep=7),
        SegmentRule("M", min_employees=10, max_employees=20, min_revenue=1.0, max_revenue=5.0, industries=("X", "Y")),
        SegmentRule("Rest"),
    ))
    assert SegmentRules.from_dict(json.loads(json.dumps(rules.to_dict()))) == rules
    f = rules.to_frame()
    assert list(f["priority"]) == [1, 2, 3]
    assert SegmentRules.from_frame(f) == rules
    # reorder by priority, drop nameless rows, "any" named
    f.loc[2, "priority"] = 0
    f.loc[1, "name"] = ""
    r2 = SegmentRules.from_frame(f)
    assert [r.name for r in r2] == ["Rest", "N"]
    assert r2.rules[1].named is True and r2.rules[0].named is None
    assert r2.rules[1].states == ("CA",)


def test_summary_counts(accts):
    rules = SegmentRules((SegmentRule("Big", min_employees=200, coverage_model="dedicated", accounts_per_rep=1),
                          SegmentRule("Retail", industries=("Retail",))))
    s = segment_summary(accts, apply_segments(accts, rules), rules).set_index("segment")
    assert s.loc["Big", "accounts"] == 2 and s.loc["Big", "potential"] == 110.0 and s.loc["Big", "arr"] == 11.0
    assert s.loc["Big", "current_reps"] == 2 and s.loc["Big", "reps_needed"] == 2
    assert s.loc[UNSEGMENTED, "accounts"] == 2
    assert list(s.index) == ["Big", "Retail", UNSEGMENTED]


def test_sales_regions_from_the_data_and_census_fallback(accts):
    from territory_core.contract import R
    from territory_core.analyse.segments import sales_regions

    reps = pd.DataFrame({R.rep_id: ["r1", "r2", "r3"], R.name: ["1", "2", "3"], R.region: ["Pacific", "Coast", "Coast"]})
    sr = sales_regions(accts, reps)
    # CA (r1) -> Pacific; NY (r1) -> Pacific; TX, WA (r2) -> Coast; MA (r3, "ma") -> Coast
    assert sr == {"Pacific": ("CA", "NY"), "Coast": ("MA", "TX", "WA")}
    s = apply_segments(accts, SegmentRules((SegmentRule("x", regions=("coast",)),)), regions=sr)
    assert list(s["rule_index"]) == [-1, -1, 0, 0, 0, -1]
    # names the data does not use fall back to the US Census regions
    s = apply_segments(accts, SegmentRules((SegmentRule("x", regions=("Northeast",)),)), regions=sr)
    assert list(s["rule_index"]) == [-1, 0, -1, -1, 0, -1]
    w = check_rules(accts, SegmentRules((SegmentRule("x", regions=("Atlantis",)),)), regions=sr)
    msg = next(x.message for x in w if x.kind == "never_matches")
    assert "Atlantis" in msg and "Pacific" in msg and "Northeast" in msg
    assert sales_regions(accts, None) == {}


def test_sample_sales_regions():
    from territory_core.dataset import load_sample
    from territory_core.analyse.segments import sales_regions

    ds = load_sample()
    if ds.accounts.empty:
        pytest.skip("no sample data")
    sr = sales_regions(ds.accounts, ds.reps)
    assert set(sr) == set(ds.reps["region"].dropna())
    assert "IL" in sr["Central"] and "CA" in sr["West"]
    s = apply_segments(ds.accounts, SegmentRules((SegmentRule("Central", regions=("Central",)),)), regions=sr)
    assert ((s["rule_index"] == 0) == ds.accounts[A.state].isin(sr["Central"]).to_numpy()).all()
