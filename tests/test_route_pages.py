"""AppTest tests of the Operate pages (exceptions queue, disputes, rules of engagement) and of the
routing section of Territory Health, each on a throwaway SQLite store."""
from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from conftest import ROOT

TIMEOUT = 120


@pytest.fixture
def store(tmp_path, monkeypatch):
    from territory_core.store.storage import ScenarioStore

    url = f"sqlite:///{tmp_path / 'scenarios.db'}"
    monkeypatch.setenv("TERRITORY_DB_URL", url)
    st_ = ScenarioStore(url)
    yield st_
    st_.close()


def _page(path: str) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT).run()
    at.switch_page(path).run()
    assert not at.exception, at.exception[0].value
    return at


def test_exceptions_queue_routes_assigns_and_makes_a_rule(store):
    from territory_core.store.routing import RoutingStore

    at = _page("pages/exceptions.py")
    assert "The queue is empty" in at.info[0].value
    at.button(key="exq_route").click().run()
    assert not at.exception
    assert "Run \\#1\\: 1\\,915 of 2\\,000 records routed" in at.success[0].value
    rs = RoutingStore(store)
    q = rs.queue()
    assert len(q) == 85 and rs.stats()["exception_rate"] == pytest.approx(85 / 2000)
    # work the first exception of the list: assign it with a note
    eid = at.selectbox(key="exq_pick").value
    at.selectbox(key=f"exq_assign_rep_{eid}").set_value("R030")
    at.text_input(key=f"exq_assign_note_{eid}").input("Known buyer")
    at.button(key=f"FormSubmitter:exq_assign_form_{eid}-Assign").click().run()
    assert not at.exception and "assigned to Jessica White · East, SMB (R030)" in at.success[0].value.replace("\\", "")
    done = rs.exception(eid)
    assert (done["status"], done["rep_id"], done["note"]) == ("assigned", "R030", "Known buyer")
    # the next one becomes a rule on its state
    eid2 = at.selectbox(key="exq_pick").value
    rec = rs.exception(eid2)
    at.selectbox(key=f"exq_rule_field_{eid2}").set_value("record_id")
    at.selectbox(key=f"exq_rule_rep_{eid2}").set_value("R031")
    at.button(key=f"FormSubmitter:exq_rule_form_{eid2}-Make rule and assign").click().run()
    assert not at.exception
    assert [(r.field, r.value, r.rep_id) for r in rs.rules()] == [("record_id", rec["record_id"], "R031")]
    assert rs.exception(eid2)["status"] == "ruled"
    assert list(rs.audit()["action"][:3]) == ["make_rule", "assign", "route"]


def test_disputes_claim_accept_and_next_version(store):
    from territory_core.dataset import load_sample
    from territory_core.plan.scenarios import Scenario
    from territory_core.store.routing import RoutingStore

    plan = store.save(Scenario.today(load_sample()).with_(name="FY27 plan"), user="ana")
    at = _page("pages/disputes.py")
    at.selectbox(key="dsp_plan_id").set_value(plan.id).run()
    at.text_input(key="dsp_find").input("A00004").run()
    at.selectbox(key="dsp_claimant").set_value("R035")
    at.text_area(key="dsp_reason").input("I sourced the renewal")
    at.button(key="FormSubmitter:dsp_claim_form-File the claim").click().run()
    assert not at.exception and "Claim \\#1 filed" in at.success[0].value
    at.text_area(key="dsp_note").input("Sourced by Wei")
    at.button(key="FormSubmitter:dsp_decide_form-Accept").click().run()
    assert not at.exception and "accepted" in at.success[0].value
    at.button(key="dsp_apply").click().run()
    assert not at.exception and "Saved FY27 plan v2" in at.success[0].value.replace("\\", "")
    v2 = store.load(plan.id)
    assert v2.overrides[0]["account_id"] == "A00004" and v2.overrides[0]["rep_id"] == "R035"
    assert RoutingStore(store).disputes().loc[0, "applied_version"] == 2


def test_rules_of_engagement_page(store):
    at = _page("pages/engagement.py")
    frames = [e for e in at.main if getattr(e, "type", "") == "iframe" or "iframe" in str(type(e)).lower()]
    html = frames[0].proto.srcdoc if frames else ""
    assert "Rules of engagement: Today&#x27;s plan" in html or "Rules of engagement: Today's plan" in html
    assert "How a new account or lead gets its owner" in html and "Disputes" in html


def test_health_routing_section(store):
    from territory_core.dataset import load_sample
    from territory_core.plan.scenarios import Scenario

    ds = load_sample()
    asg = Scenario.today(ds).assignment.copy()
    asg.loc[asg["account_id"] == "A00001", "rep_id"] = "R038"  # the plan moved it; the CRM still says R039
    plan = store.save(Scenario(name="Q1 plan", assignment=asg), user="ana")
    at = _page("pages/health.py")
    assert not any(m.label == "Drifted accounts" for m in at.metric)  # its own tab, drawn when opened
    at.session_state["health_tab"] = "Routing"
    at.run()
    labels = {m.label: m.value for m in at.metric}
    assert labels["Exception rate (30 days)"] == "no runs yet" and labels["Disputes open"] == "0"
    assert labels["Drifted accounts"] == "21"  # today's plan: the former rep's 25 accounts, less 4 the rules send to the queue
    at.selectbox(key="health_route_plan_id").set_value(plan.id).run()
    labels = {m.label: m.value for m in at.metric}
    assert labels["Drifted accounts"] == "22"
    at.button(key="health_recal").click().run()
    assert not at.exception
    assert "Saved Q1 plan recalibration v1" in at.success[-1].value.replace("\\", "")
    rec = store.load(store.resolve("Q1 plan recalibration"))
    assert {o["account_id"] for o in rec.overrides} == {"A00001"}
