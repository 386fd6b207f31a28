"""The router: each rule's precedence, the conflicts that go to the queue, most room with round
robin, geography, decision rules, determinism. A small hand-built plan with known answers."""
from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from territory_core.analyse.segments import SegmentRule, SegmentRules
from territory_core.contract import ACCOUNT_PRODUCTS, ACCOUNTS, OPPORTUNITIES, REPS, A, R, S
from territory_core.dataset import Dataset, coerce_types, empty_frame
from territory_core.plan.scenarios import Scenario
from territory_core.route.router import DecisionRule, Router, RoutingError, Territories, Unavailability

AS_OF = date(2026, 12, 1)


def plan_dataset() -> Dataset:
    reps = pd.DataFrame([
        # rep_id, name, region, segment, capacity, active
        ("W1", "Wendy One", "West", "SMB", 1.0, True),
        ("W2", "Walt Two", "West", "SMB", 1.0, True),
        ("W3", "Wes Gone", "West", "SMB", 1.0, False),
        ("TBH-W4", "West seat to hire", "West", "SMB", 1.0, True),
        ("E1", "Ed East", "East", "SMB", 1.0, True),
        ("WE", "Wanda Enterprise", "West", "Enterprise", 1.0, True),
        ("EE", "Evan Enterprise", "East", "Enterprise", 1.0, True),
    ], columns=[R.rep_id, R.name, R.region, R.segment, R.capacity, R.active])
    acc = pd.DataFrame([
        # id, name, parent, employees, state, county, zip, owner, named, website
        ("P1", "Acme Holdings", None, 5000, "CA", "06075", "94105", "WE", False, "https://www.acme.com"),
        ("P2", "Acme West", "P1", 900, "CA", "06075", "94105", "WE", False, None),
        ("S1", "Sun Shop", None, 10, "CA", "06075", "94105", "W1", False, None),
        ("S2", "Sea Shop", None, 12, "CA", "06075", "94107", "W1", False, None),
        ("S3", "Sky Shop", None, 15, "CA", "06001", "94501", "W2", False, None),
        ("N1", "Nyc Deli", None, 8, "NY", "36061", "10001", "E1", False, None),
        ("N2", "Big Bank", None, 2000, "NY", "36061", "10001", "EE", True, "bigbank.com"),
        ("F1", "Split Co", None, 20, "CA", "06075", "94105", "W1", False, None),
        ("F2", "Split East", "F1", 20, "NY", "36061", "10001", "E1", False, None),
        ("L1", "Gone Corp", None, 20, "CA", "06075", "94105", "W3", False, "gonecorp.com"),
    ], columns=[A.account_id, A.name, A.parent_id, A.employees, A.state, A.county, A.zip, A.owner_id, A.named, A.website])
    return Dataset(coerce_types(acc, ACCOUNTS), coerce_types(reps, REPS), empty_frame(OPPORTUNITIES),
                   empty_frame(ACCOUNT_PRODUCTS), name="routing test plan")


@pytest.fixture(scope="module")
def ds() -> Dataset:
    return plan_dataset()


def router(ds, **kw) -> Router:
    kw.setdefault("as_of", AS_OF)
    return Router.from_scenario(ds, Scenario.today(ds), **kw)


def new(rid, **fields) -> dict:
    rec = {A.account_id: rid, A.name: f"New {rid}", A.employees: 10, A.state: "CA", A.county: "06075"}
    rec.update(fields)
    return rec


def route(r: Router, *records, kind="account"):
    return r.route(pd.DataFrame(list(records)), kind=kind)


def one(r: Router, rec: dict, kind="account"):
    return route(r, rec, kind=kind).decisions[0]


# ----------------------------------------------------------------------------------------- precedence
def test_family_beats_segment(ds):
    d = one(router(ds), new("X1", **{A.parent_id: "P2", A.employees: 10}))  # an SMB-sized subsidiary of Acme
    assert (d.rep_id, d.rule, d.team) == ("WE", "family", "West | Enterprise")
    assert "Acme Holdings (P1)" in d.reason and d.segment == "SMB"


def test_web_domain_joins_the_family(ds):
    r = router(ds)
    d = one(r, new("X2", **{A.website: "http://Sales.ACME.com/contact"}))
    assert (d.rep_id, d.rule) == ("WE", "domain")
    lead = one(r, {"lead_id": "L1", "company": "Whoever", "email": "bob@acme.com", "zip": "94105"}, kind="lead")
    assert (lead.rep_id, lead.rule) == ("WE", "domain")


def test_free_mail_domain_never_matches(ds):
    d = one(router(ds), {"lead_id": "L2", "company": "Brand New Bakery", "email": "bob@gmail.com", "zip": "94105"},
            kind="lead")
    assert d.rule == "segment_county" and d.rep_id == "W2"


def test_named_account_keeps_its_owner_over_segment_and_geography(ds):
    d = one(router(ds), new("X3", **{A.named: True, A.owner_id: "EE", A.employees: 10}))
    assert (d.rep_id, d.rule) == ("EE", "named")
    locked = one(router(ds), new("X4", **{A.locked: True, A.owner_id: "E1"}))
    assert (locked.rep_id, locked.rule) == ("E1", "locked")


def test_an_account_in_the_plan_keeps_its_planned_owner(ds):
    d = one(router(ds), {A.account_id: "S3", A.name: "Sky Shop", A.employees: 15, A.state: "CA", A.county: "06001"})
    assert (d.rep_id, d.rule) == ("W2", "plan")


def test_inactive_rep_and_placeholder_are_skipped_and_room_decides_with_round_robin(ds):
    # West | SMB: W1 holds 3 accounts, W2 1, TBH-W4 0 (placeholder), W3 inactive; targets 1/3 each of the team.
    res = route(router(ds), *[new(f"new-{i}") for i in range(4)])
    assert [d.rep_id for d in res.decisions] == ["W2", "W2", "W1", "W2"]
    assert all(d.rule == "segment_county" for d in res.decisions)
    assert "round robin" in res.decisions[2].reason and "round robin" not in res.decisions[0].reason
    assert "+0.3 accounts" in res.decisions[0].reason  # 4 accounts x 1/3 - 1 held


def test_capacity_weights_the_target(ds):
    reps = ds.reps.copy()
    reps.loc[reps[R.rep_id] == "W1", R.capacity] = 5.0  # W1: 5/7 of the team's 4 accounts = 2.86, holds 3
    d = one(router(ds.with_(reps=reps)), new("C1"))
    assert d.rep_id == "W1" and "-0.1 accounts" in d.reason  # W2: 4/7 - 1 = -0.43


def test_rep_away_on_the_routing_date_is_skipped(ds):
    away = [Unavailability("W2", "2026-11-20", "2026-12-05", "Parental leave")]
    d = one(router(ds, unavailable=away), new("A1"))
    assert d.rep_id == "W1"
    back = one(router(ds, unavailable=away, as_of="2026-12-06"), new("A1"))
    assert back.rep_id == "W2"


def test_no_rule_goes_to_the_queue(ds):
    rules = SegmentRules((SegmentRule("Enterprise", min_employees=600), SegmentRule("SMB", max_employees=100)))
    d = one(router(ds, segment_rules=rules), new("Q1", **{A.employees: 300}))
    assert d.rep_id is None and d.exception == "no_rule" and d.rule == "segment"
    assert "No segment rule matches it" in d.reason and "300 employees" in d.reason


def test_a_segment_no_rep_sells_goes_to_the_queue(ds):
    d = one(router(ds), new("Q2", **{A.employees: 300}))  # default rules: Mid-Market, which nobody sells
    assert d.exception == "no_rule" and "no active rep sells to segment Mid-Market" in d.reason


# ----------------------------------------------------------------------------------------- conflicts
def test_split_family_is_a_conflict(ds):
    d = one(router(ds), new("C2", **{A.parent_id: "F2"}))
    assert d.exception == "family_conflict" and set(d.candidates) == {"W1", "E1"}
    assert "Split Co (F1)" in d.reason


def test_match_to_an_account_of_an_inactive_rep_is_a_conflict(ds):
    d = one(router(ds), {"lead_id": "L3", "company": "Gone Corp.", "zip": "94105"}, kind="lead")
    assert d.exception == "inactive_owner" and d.candidates == ("W3",) and "Wes Gone (W3) is inactive" in d.reason
    dom = one(router(ds), new("C3", **{A.website: "gonecorp.com"}))
    assert dom.exception == "inactive_owner" and dom.rule == "domain"


def test_decision_rules_settle_exceptions_and_equal_priorities_conflict(ds):
    tx = new("T1", **{A.state: "TX", A.county: None})
    assert one(router(ds), tx).exception == "no_rule"
    r = router(ds, decision_rules=[DecisionRule("state", "tx", "E1", 10, "Texas goes East", id=1)])
    d = one(r, tx)
    assert (d.rep_id, d.rule) == ("E1", "decision_rule") and "Texas goes East" in d.reason
    tie = router(ds, decision_rules=[DecisionRule("state", "TX", "E1", 10, id=1), DecisionRule("state", "TX", "W1", 10, id=2)])
    t = one(tie, tx)
    assert t.exception == "equal_priority" and set(t.candidates) == {"E1", "W1"}
    first = router(ds, decision_rules=[DecisionRule("state", "TX", "E1", 10, id=1), DecisionRule("state", "TX", "W1", 5, id=2)])
    assert one(first, tx).rep_id == "W1"
    # a decision rule never overrides what the plan's rules decide
    assert one(r, new("T2")).rule == "segment_county"


def test_decision_rule_checks_its_fields():
    with pytest.raises(RoutingError, match="field must be one of"):
        DecisionRule("colour", "blue", "W1")
    with pytest.raises(RoutingError, match="needs a value"):
        DecisionRule("domain", "gmail.com", "W1")  # free mail normalises to nothing


# ----------------------------------------------------------------------------------------- leads
def test_lead_company_name_exact_and_fuzzy(ds):
    r = router(ds)
    exact = one(r, {"lead_id": "L4", "company": "SUN SHOP, INC.", "zip": "94105"}, kind="lead")
    assert (exact.rep_id, exact.rule) == ("W1", "company_name") and "exactly" in exact.reason
    fuzzy = one(r, {"lead_id": "L5", "company": "Sun Shopp LLC", "zip": "94105"}, kind="lead")
    assert (fuzzy.rep_id, fuzzy.rule) == ("W1", "company_name") and "at 94 of 100" in fuzzy.reason
    other = one(r, {"lead_id": "L6", "company": "Sun Stop", "zip": "94105"}, kind="lead")  # 88 < 90
    assert other.rule == "segment_county"


# ----------------------------------------------------------------------------------------- geography
def test_county_then_state_then_nothing(ds):
    r = router(ds)
    res = route(r, new("G1", **{A.county: "36061", A.state: "NY"}), new("G2", **{A.county: "06999"}),
                new("G3", **{A.state: "TX", A.county: None}), new("G4", **{A.state: None, A.county: None}))
    g1, g2, g3, g4 = res.decisions
    assert (g1.rep_id, g1.rule, g1.team) == ("E1", "segment_county", "East | SMB")
    assert (g2.team, g2.rule) == ("West | SMB", "segment_state") and "state CA" in g2.reason
    assert g3.exception == "no_rule" and "no SMB account near it" in g3.reason
    assert g4.exception == "no_rule" and "no ZIP, county or state" in g4.reason


def test_zip_fills_the_county(ds):
    d = one(router(ds), {A.account_id: "Z1", A.name: "Zed", A.employees: 5, A.zip: "10001-1234"})
    assert (d.team, d.rule) == ("East | SMB", "segment_county") and "county 36061" in d.reason


def test_territory_table_decides_before_the_county_majority(ds):
    terr = Territories(county={"06075": "East", "06001": "W1"})
    r = router(ds, territories=terr)
    d = one(r, new("T3"))
    assert (d.team, d.rule) == ("East | SMB", "segment_territory") and "territory East" in d.reason
    direct = one(r, new("T4", **{A.county: "06001"}))
    assert (direct.rep_id, direct.rule) == ("W1", "territory")
    frame = Territories.from_frame(pd.DataFrame({"unit_id": ["6075"], "territory": ["East"]}), "county")
    assert dict(frame.county) == {"06075": "East"}


# ----------------------------------------------------------------------------------------- events, input
def test_a_rep_who_left_in_the_scenario_is_not_routed_to(ds):
    sc = Scenario.today(ds).with_(events=({"type": "rep_leaves", "rep_id": "W2"},))
    r = Router.from_scenario(ds, sc, as_of=AS_OF)
    assert [d.rep_id for d in route(r, new("E1x"), new("E2x")).decisions] == ["W1", "W1"]
    planned = one(r, {A.account_id: "S3", A.name: "Sky Shop", A.employees: 15, A.state: "CA", A.county: "06001"})
    assert planned.rep_id == "W1" and "planned owner cannot take it" in planned.reason


def test_bad_records_are_reported_not_lost(ds):
    res = route(router(ds), new(None), new("D1"), new("D1"), new(""))
    assert [d.exception for d in res.decisions] == ["bad_record", None, "bad_record", "bad_record"]
    assert "repeats row 2" in res.decisions[2].reason
    assert len(res.routed) + len(res.exceptions) == 4


def test_deterministic_and_route_one_agrees_with_the_batch(ds):
    recs = [new(f"R{i}", **{A.county: c}) for i, c in enumerate(["06075", "36061", "06075", "06001", "06075"])]
    a = route(router(ds), *recs)
    b = route(router(ds), *recs)
    assert a.routed.equals(b.routed) and a.exceptions.equals(b.exceptions)
    r = router(ds)
    singles = [r.route_one(x, kind="account") for x in recs]
    assert [d.rep_id for d in singles] == [d.rep_id for d in a.decisions]
    assert [d.reason for d in singles] == [d.reason for d in a.decisions]


def test_from_plan_file(ds, tmp_path):
    f = tmp_path / "plan.csv"
    pd.DataFrame({"Id": ds.accounts[A.account_id], "OwnerId": ds.accounts[A.owner_id]}).to_csv(f, index=False)
    r = Router.from_plan(ds, f, as_of=AS_OF)
    assert r.label == "plan" and one(r, new("P9", **{A.parent_id: "P1"})).rep_id == "WE"
    bad = tmp_path / "bad.csv"
    pd.DataFrame({"account_id": ["S1", "S1"], "rep_id": ["W1", "W2"]}).to_csv(bad, index=False)
    with pytest.raises(RoutingError, match="appears more than once"):
        Router.from_plan(ds, bad)


def test_unsolved_scenario_is_refused(ds):
    with pytest.raises(RoutingError, match="no assignment"):
        Router.from_scenario(ds, Scenario(name="Draft"))
    assert S.rep_id == "rep_id"
