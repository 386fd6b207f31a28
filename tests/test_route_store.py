"""The routing store (queue, decision rules, disputes, reps away, audit log) on SQLite and
PostgreSQL, and the workflow on top of it: disputes become overrides of the next plan version,
drift and recalibration, the rules-of-engagement document."""
from __future__ import annotations

from datetime import date

import pandas as pd
import pytest
import sqlalchemy as sa

from conftest_pg import pg_server, pg_url  # noqa: F401
from territory_core.contract import A, S
from territory_core.plan.scenarios import Scenario
from territory_core.route.engagement import engagement_document
from territory_core.route.router import DecisionRule, Router
from territory_core.route.workflow import (WorkflowError, add_to_recalibration, file_claim, pending_disputes,
                                           routing_drift, save_disputes_version)
from territory_core.store.routing import RoutingConflict, RoutingStore
from territory_core.store.storage import ScenarioStore, current_revision, head_revision

from test_route_router import AS_OF, new, plan_dataset


@pytest.fixture
def rs(tmp_path):
    store = ScenarioStore(f"sqlite:///{tmp_path / 'routing.db'}")
    yield RoutingStore(store)
    store.close()


def _run(rs, router, *records, source="test.csv", plan=None):
    df = pd.DataFrame(list(records))
    res = router.route(df, kind="account")
    from territory_core.route.records import prepare_records

    return res, rs.log_run(res, prepare_records(df, "account"), user="ana", source=source, plan=plan)


def test_schema_is_at_the_routing_revision(rs):
    assert head_revision() == "0004" and current_revision(rs.engine) == "0004"
    names = set(sa.inspect(rs.engine).get_table_names())
    assert {"routing_run", "routing_exception", "routing_rule", "routing_dispute", "rep_unavailability",
            "routing_audit"} <= names


def test_queue_keeps_one_open_exception_per_record_and_counts_runs(rs):
    ds = plan_dataset()
    r = Router.from_scenario(ds, Scenario.today(ds), as_of=AS_OF)
    tx = new("T1", **{A.state: "TX", A.county: None})
    res, run1 = _run(rs, r, tx, new("OK1"))
    q = rs.queue()
    assert len(q) == 1 and q.loc[0, "record_id"] == "T1" and q.loc[0, "kind"] == "no_rule" and q.loc[0, "run_id"] == run1
    rec = rs.exception(int(q.loc[0, "id"]))["record"]
    assert rec["state"] == "TX" and rec["record_id"] == "T1"  # the input row is kept with its exception
    _run(rs, r, tx)  # routed again while still open: updated, not repeated
    assert len(rs.queue()) == 1
    st = rs.stats()
    assert (st["runs"], st["records"], st["routed"], st["exceptions"]) == (2, 3, 1, 2)
    assert st["exception_rate"] == pytest.approx(2 / 3) and st["queue"]["open"] == 1


def test_assign_make_rule_dismiss_and_their_audit_trail(rs):
    ds = plan_dataset()
    r = Router.from_scenario(ds, Scenario.today(ds), as_of=AS_OF)
    _run(rs, r, new("T1", **{A.state: "TX", A.county: None}), new("T2", **{A.state: "NV", A.county: None}),
         new("T3", **{A.state: None, A.county: None}))
    ids = dict(zip(rs.queue()["record_id"], rs.queue()["id"].astype(int)))
    rs.assign(ids["T1"], "E1", user="bob", note="Texas pilot")
    with pytest.raises(RoutingConflict, match="already assigned by bob"):
        rs.assign(ids["T1"], "W1", user="carl")
    rid = rs.make_rule(ids["T2"], DecisionRule("state", "nv", "W1", 20, "Nevada is West"), user="bob")
    with pytest.raises(ValueError, match="Say why"):
        rs.dismiss(ids["T3"], user="bob", note="  ")
    rs.dismiss(ids["T3"], user="bob", note="test record")
    assert rs.queue().empty
    done = rs.queue(None).set_index("record_id")
    assert done.loc["T1", "status"] == "assigned" and done.loc["T1", "rep_id"] == "E1"
    assert done.loc["T2", "status"] == "ruled" and done.loc["T2", "rule_id"] == rid
    assert [(x.field, x.value, x.rep_id) for x in rs.rules()] == [("state", "NV", "W1")]
    audit = rs.audit()
    assert list(audit["action"][:4]) == ["dismiss", "make_rule", "assign", "route"]
    assert audit.loc[2, "who"] == "bob" and audit.loc[2, "why"] == "Texas pilot"
    # the stored rule now settles the next Nevada record
    r2 = Router.from_scenario(ds, Scenario.today(ds), as_of=AS_OF, decision_rules=rs.rules())
    d = r2.route_one(new("T4", **{A.state: "NV", A.county: None}), kind="account")
    assert (d.rep_id, d.rule) == ("W1", "decision_rule")
    rs.deactivate_rule(rid, user="bob")
    assert rs.rules() == []


def test_reps_away_are_stored_and_checked(rs):
    uid = rs.add_unavailability("W2", "2026-11-20", "2026-12-05", user="ana", reason="Leave")
    (u,) = rs.unavailability()
    assert (u.id, u.rep_id, u.start, u.end, u.reason) == (uid, "W2", date(2026, 11, 20), date(2026, 12, 5), "Leave")
    with pytest.raises(ValueError, match="before the start"):
        rs.add_unavailability("W2", "2026-12-05", "2026-11-20", user="ana")
    rs.remove_unavailability(uid, user="ana")
    assert rs.unavailability() == []


def test_disputes_accepted_become_overrides_of_the_next_version(rs):
    ds = plan_dataset()
    store = rs.store
    plan = store.save(Scenario.today(ds).with_(name="FY27 plan"), user="ana")
    with pytest.raises(WorkflowError, match="already owns"):
        file_claim(rs, ds, plan, "S3", "W2", "mine", user="w2")
    with pytest.raises(WorkflowError, match="inactive"):
        file_claim(rs, ds, plan, "S3", "W3", "mine", user="w3")
    with pytest.raises(WorkflowError, match="placeholder"):
        file_claim(rs, ds, plan, "S3", "TBH-W4", "mine", user="x")
    with pytest.raises(WorkflowError, match="not in the data"):
        file_claim(rs, ds, plan, "NOPE", "W1", "mine", user="x")
    d1 = file_claim(rs, ds, plan, "S3", "W1", "I sourced the deal", user="wendy")
    d2 = file_claim(rs, ds, plan, "S1", "W2", "Buyer moved", user="walt")
    with pytest.raises(RoutingConflict, match="already has an open claim"):
        file_claim(rs, ds, plan, "S3", "W1", "again", user="wendy")
    with pytest.raises(ValueError, match="Add a note"):
        rs.decide(d1, True, user="revops", note="")
    rs.decide(d1, True, user="revops", note="Sourced by Wendy")
    rs.decide(d2, False, user="revops", note="Owner stays")
    with pytest.raises(RoutingConflict, match="already accepted"):
        rs.decide(d1, False, user="someone", note="late")
    assert pending_disputes(rs, plan)["id"].tolist() == [d1]
    saved = save_disputes_version(store, rs, ds, plan, user="revops")
    assert (saved.id, saved.version) == (plan.id, 2)
    back = store.load(plan.id)
    assert back.overrides == ({"account_id": "S3", "rep_id": "W1", "lock": True,
                               "reason": f"Dispute #{d1} accepted: Sourced by Wendy"},)
    a = back.assignment.set_index(S.account_id)
    assert a.loc["S3", S.rep_id] == "W1" and a.loc["S1", S.rep_id] == "W1"  # the rejected claim changed nothing
    assert back.report["status"] == "edited" and "not re-solved" in back.report["status_text"]
    dis = rs.disputes().set_index("id")
    assert dis.loc[d1, "applied_version"] == 2 and pd.isna(dis.loc[d2, "applied_version"])
    assert pending_disputes(rs, back).empty


def test_drift_and_recalibration(rs):
    ds = plan_dataset()
    store = rs.store
    # a plan made earlier: S1 was to go to W2, N1 to EE (an Enterprise rep: a team-level check would still be exact)
    asg = Scenario.today(ds).assignment.copy()
    asg.loc[asg[S.account_id] == "S1", S.rep_id] = "W2"
    plan = store.save(Scenario(name="Q1 plan", assignment=asg), user="ana")
    drift = routing_drift(ds, Router.from_scenario(ds, plan, as_of=AS_OF))
    # L1's owner W3 left: the rules give team West | SMB, which W3 is not in; S1: today W1, plan W2
    assert set(drift.drifted["account_id"]) == {"S1", "L1"}
    assert drift.checked == 10 - drift.undecided and drift.accurate == drift.checked - 2
    s1 = drift.drifted.set_index("account_id").loc["S1"]
    assert (s1["owner_today"], s1["expected_rep_id"], s1["rule"]) == ("W1", "W2", "plan")
    saved, skipped = add_to_recalibration(store, ds, plan, drift.drifted["account_id"], user="revops")
    assert saved.name == "Q1 plan recalibration" and saved.parent_id == plan.id and saved.version == 1
    assert [o["account_id"] for o in saved.overrides] == ["S1"] and saved.overrides[0]["rep_id"] == "W1"
    assert [a for a, _ in skipped] == ["L1"]  # its owner today left: nobody to keep it
    again, _ = add_to_recalibration(store, ds, plan, ["S1"], user="revops")
    assert (again.id, again.version) == (saved.id, 2)
    today = Router.from_scenario(ds, Scenario.today(ds), as_of=AS_OF)
    assert set(routing_drift(ds, today).drifted["account_id"]) == {"L1"}


def test_rules_of_engagement_escape_data():
    ds = plan_dataset()
    reps = ds.reps.copy()
    reps.loc[reps["rep_id"] == "W1", "name"] = "<script>alert(1)</script> [x](http://evil.example) *bold*"
    r = Router.from_scenario(ds.with_(reps=reps), Scenario.today(ds).with_(name="FY27 <b>plan</b>"), as_of=AS_OF)
    doc = engagement_document(r)
    html_doc, md_doc = doc.html(), doc.markdown()
    assert "<script>" not in html_doc and "&lt;script&gt;alert(1)&lt;/script&gt;" in html_doc
    assert "<b>plan</b>" not in html_doc and "FY27 &lt;b&gt;plan&lt;/b&gt;" in html_doc
    assert "\\[x\\](http:\u200b//evil.example) \\*bold\\*" in md_doc and "\\<script\\>" in md_doc
    for needle in ("How a new account or lead gets its owner", "Families", "Disputes", "Named and locked accounts",
                   "accepts or rejects each claim with a note"):
        assert needle in html_doc
    assert "| 1 | Strategic | named | dedicated |" in md_doc
    assert "1 of them are split between owners" in md_doc  # F1/F2


@pytest.mark.postgres
def test_queue_and_disputes_on_postgres(pg_url):  # noqa: F811
    store = ScenarioStore(pg_url)
    try:
        rs = RoutingStore(store)
        ds = plan_dataset()
        r = Router.from_scenario(ds, Scenario.today(ds), as_of=AS_OF)
        _run(rs, r, new("T1", **{A.state: "TX", A.county: None}))
        (eid,) = rs.queue()["id"].astype(int)
        rs.assign(eid, "E1", user="bob")
        with pytest.raises(RoutingConflict):
            rs.assign(eid, "W1", user="carl")
        plan = store.save(Scenario.today(ds).with_(name="PG plan"), user="ana")
        did = file_claim(rs, ds, plan, "S3", "W1", "reason", user="w1")
        rs.decide(did, True, user="revops", note="ok")
        assert save_disputes_version(store, rs, ds, plan, user="revops").version == 2
        assert rs.stats()["disputes"]["accepted"] == 1
    finally:
        store.close()
