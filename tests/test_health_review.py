"""Territory Health for decisions (issue 10, items 7-12): calibrated, ranked flags on the page,
load and flags up front, attainment paced to date, labelled drill-down, like-for-like deltas and a
path from a flagged team to a plan."""
from __future__ import annotations

import pandas as pd
import pytest

from test_health_page import assert_ok, flag_table, metrics, open_page, open_tab, rep_table
from territory_core.contract import A, S
from territory_core.dataset import load_sample


@pytest.fixture(scope="module")
def ds():
    return load_sample()


def test_red_means_act_now_and_flags_come_worst_first(ds):
    at = open_page()
    m = metrics(at)
    assert m["Reps to act on"] == "10 of 41"  # 9 of the 40 active reps, and the departed owner of 25 accounts
    f = flag_table(at)
    assert list(f["Severity"].iloc[:10]) == ["high: act now"] * 10 and (f["Severity"].iloc[-1] == "medium: watch")
    assert f["Why"].str.contains("workload points|of pipeline for|of closed deals|per dollar of potential|accounts",
                                 regex=True).all()
    tab = rep_table(at)
    # the reps needing action come first; the first rep's flags include a high one
    first = tab.iloc[0]
    assert first["Rep"] in set(f.index[f["Severity"] == "high: act now"])


def test_load_and_flags_come_right_after_the_rep(ds):
    at = open_page()
    tab = rep_table(at).reset_index()
    cols = list(tab.columns)
    assert cols.index("Flags") == cols.index("Rep") + 1 and cols.index("Load vs fair") == cols.index("Rep") + 2


def test_running_quarter_is_measured_against_quota_due_to_date(ds):
    at = open_page()
    caps = " ".join(c.value for c in at.caption)
    assert "Q4 2026 is 50% through on 15 Nov 2026" in caps
    assert "won / quota due by 15 Nov (50% of Q4 2026)" in caps
    # a past quarter: the whole quarter's quota
    opts = at.selectbox(key="health_period_quarter").options
    at.selectbox(key="health_period_quarter").select_index(opts.index("Q3 2026")).run()
    assert_ok(at)
    assert "won / Q3 2026 quota" in " ".join(c.value for c in at.caption)


def test_drill_down_uses_labels_and_names(ds):
    at = open_tab(open_page(), "Rep drill-down")
    at.selectbox(key="health_drill_rep").set_value("R006").run()
    assert_ok(at)
    # AppTest keeps the raw frame; the labels are in the column config the page sends
    import json

    book = next(d for d in at.dataframe if list(d.value.columns)[:2] == ["account_id", "name"])
    pipe_el = next(d for d in at.dataframe if list(d.value.columns)[:1] == ["opportunity_id"])
    for df, want in ((book, {"name": "Account", "arr": "ARR ($)", "open_pipeline": "Open pipeline ($)",
                             "account_id": "Account id"}),
                     (pipe_el, {"owner_id": "Deal owner", "amount": "Amount ($)", "account_name": "Account"})):
        cfg = json.loads(df.proto.columns)
        for col, label in want.items():
            assert cfg[col]["label"] == label, (col, cfg.get(col))
    pipe = pipe_el.value
    names = set(ds.reps["name"].astype(str))
    assert len(pipe) and pipe["owner_id"].isin(names | {""}).all(), pipe["owner_id"].head()


def test_scenario_totals_compare_like_with_like(ds):
    from territory_core.plan.scenarios import Scenario

    acc = ds.accounts
    # the departed rep's 25 accounts go to R040: company totals do not change
    owner = acc[A.owner_id].astype("string").where(acc[A.owner_id] != "R041", "R040")
    scn = Scenario(name="Hand over R041", events=({"type": "rep_leaves", "rep_id": "R041"},),
                   assignment=pd.DataFrame({S.account_id: acc[A.account_id].astype("string"),
                                            S.rep_id: owner.astype("string")}))
    at = open_page(active_scenario=scn)
    at.selectbox(key="health_plan").set_value("Scenario: Hand over R041").run()
    assert_ok(at)
    cards = {}
    for m in at.metric:
        cards.setdefault(m.label, m)  # the summary cards come first
    assert cards["Accounts"].delta == "no change vs today"
    assert cards["ARR"].delta == "no change vs today"


def test_rebalance_this_team_opens_the_editor_scoped_to_it(ds):
    at = open_page()
    assert not [b for b in at.button if b.label == "Rebalance this team"]  # no team filter: no button
    at.multiselect(key="health_f_manager").set_value(["Betty Anderson"]).run()
    assert_ok(at)
    team = rep_table(at)
    flagged = flag_table(at)
    btn = [b for b in at.button if b.label == "Rebalance this team"]
    assert len(btn) == 1
    btn[0].click().run()
    # the editor took the request: a new scenario scoped to the team, the flagged reps highlighted
    assert "se_open_request" not in at.session_state
    scn = at.session_state["se_scn"]
    assert scn.settings["solver"]["scope"] == "manager=Betty Anderson"
    assert scn.name == "Rebalance Betty Anderson's team"
    by_name = dict(zip(team["Rep"], team.index))
    hl = at.session_state["se_highlight"]
    assert hl == list(dict.fromkeys(by_name[n] for n in flagged.index))
    assert set(hl) <= set(team.index) and hl
