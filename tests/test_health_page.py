"""AppTest tests of the Territory Health page: the page's numbers equal the core's."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from conftest import APP_PATH, shown
from territory_core.contract import A, O, R, S
from territory_core.dataset import load_sample
from territory_core.analyse.kpis import (
    K, Period, data_as_of, kpi_balance, rep_accounts, rep_kpis, rep_pipeline,
    suggest_quotas, team_summary,
)

PAGE = "pages/health.py"


@pytest.fixture(scope="module")
def ds():
    return load_sample()


def open_page(ds=None, **state):
    at = AppTest.from_file(APP_PATH, default_timeout=60)
    if ds is not None:
        at.session_state["dataset"] = ds
    for k, v in state.items():
        at.session_state[k] = v
    at.run()
    at.switch_page(PAGE).run()
    assert_ok(at)
    return at


def open_tab(at, name: str):
    """Open a tab of the page (only the open tab is drawn)."""
    at.session_state["health_tab"] = name
    at.run()
    assert_ok(at)
    return at


def assert_ok(at):
    """No traceback, and no part of the page that failed into its guard message."""
    assert not at.exception, [e.value for e in at.exception]
    broken = [e.value for e in at.error if "could not be shown" in e.value]
    assert not broken, broken


def money(x):
    a = abs(x)
    for div, unit in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if a >= div:
            v = x / div
            return f"${v:,.0f}{unit}" if abs(v) >= 100 else (f"${v:.1f}{unit}" if abs(v) >= 10 else f"${v:.2f}{unit}")
    return f"${x:,.0f}"


def metrics(at) -> dict:
    out = {}
    for m in at.metric:
        out.setdefault(m.label, m.value)  # first occurrence: the summary cards
    return out


def core_kpis(ds, period=None, **kw):
    period = period or Period("quarter", data_as_of(ds.opportunities))
    kw.setdefault("pace_to_date", True)  # the page measures a running period against the quota due to date
    return rep_kpis(ds.accounts, ds.reps, ds.opportunities, period, **kw)


def flag_table(at) -> pd.DataFrame:
    """The "Flags, worst first" table (st.table, so long reasons wrap), index Rep (name), as the
    reader sees it (the table's cells are Markdown, user text escaped in them)."""
    for t in at.table:
        if "Why" in t.value.columns:
            v = t.value.map(lambda x: shown(x) if isinstance(x, str) else x)
            v.index = [shown(str(i)) for i in v.index]
            v.index.name = "Rep"
            return v
    raise AssertionError("no flags table")


def frame(at, column: str) -> pd.DataFrame:
    """The first st.dataframe on the page that has ``column`` (AppTest keys only widgets)."""
    for d in at.dataframe:
        if column in d.value.columns:
            return d.value
    raise AssertionError(f"no table with column {column!r}")


def rep_table(at) -> pd.DataFrame:
    return frame(at, "Rep ID").set_index("Rep ID")


def test_summary_cards_and_rep_table_equal_the_core(ds):
    at = open_page()
    k = core_kpis(ds)
    active = k[k[K.active] | (k[K.accounts] > 0)]
    t = team_summary(active)
    m = metrics(at)
    assert m["Closed-won"] == money(t[K.won_revenue])
    assert m["Attainment"] == f"{t[K.attainment]:.0%}"
    assert m["Coverage"] == f"{t[K.coverage]:.1f}x"
    assert m["Potential"] != "n/a"  # scoring ran
    assert m["Win rate"] == f"{t[K.win_rate]:.0%}"
    assert m["Avg sales cycle"] == f"{t[K.avg_cycle_days]:,.0f} d"
    assert m["Accounts"] == f"{t[K.accounts]:,.0f}"
    assert m["ARR"] == money(t[K.arr])
    assert m["Open pipeline"] == money(t[K.open_pipeline])

    tab = rep_table(at)
    kk = active.set_index(K.rep_id)
    assert sorted(tab.index) == sorted(kk.index)
    kk = kk.reindex(tab.index)  # the table lists the reps needing action first
    met = kk[K.coverage].isna() & (kk[K.quota_to_close] == 0) & (kk[K.quota] > 0)
    assert (tab.loc[met[met].index, "Coverage"] == math.inf).all() and met.any()
    np.testing.assert_allclose(tab.loc[~met, "Coverage"].astype(float), kk.loc[~met, K.coverage].astype(float))
    for page_col, core_col in (("Closed-won", K.won_revenue), ("Attainment", K.attainment),
                               ("Win rate", K.win_rate), ("Cycle (d)", K.avg_cycle_days), ("Accounts", K.accounts),
                               ("ARR", K.arr), ("Untouched", K.untouched_share), ("Open pipeline", K.open_pipeline)):
        np.testing.assert_allclose(tab[page_col].astype(float), kk[core_col].astype(float), rtol=1e-9, err_msg=page_col)
    # potential comes from scoring: the card is the table's sum
    assert m["Potential"] == money(tab["Potential"].sum())
    # flags column lists the flags the table's reps have; at least one rep is flagged on the sample
    assert (tab["Flags"] != "").any()
    f = flag_table(at)
    counts = f.index.value_counts()
    assert (tab["Flag count"] == tab["Rep"].map(counts).fillna(0)).all()
    open_tab(at, "Rep drill-down")
    assert at.selectbox(key="health_drill_rep").value == tab.index[0]


def test_filter_by_manager_and_drill_into_rep(ds):
    at = open_page()
    mgr = sorted(ds.reps[R.manager].dropna().unique())[0]
    at.multiselect(key="health_f_manager").set_value([mgr]).run()
    assert_ok(at)
    tab = rep_table(at)
    k = core_kpis(ds)
    mine = k[(k[K.manager] == mgr) & (k[K.active] | (k[K.accounts] > 0))]
    assert sorted(tab.index) == sorted(mine[K.rep_id])
    t = team_summary(mine)
    m = metrics(at)
    assert m["Closed-won"] == money(t[K.won_revenue])
    assert m["Win rate"] == f"{t[K.win_rate]:.0%}"
    assert at.subheader[0].value.startswith(f"Filtered team: {len(mine)} reps")

    rid = mine[K.rep_id].iloc[1]
    open_tab(at, "Rep drill-down")
    at.selectbox(key="health_drill_rep").set_value(rid).run()
    assert_ok(at)
    period = Period("quarter", data_as_of(ds.opportunities))
    book = rep_accounts(ds.accounts, rid, ds.opportunities, period=period)
    pipe = rep_pipeline(ds.opportunities, ds.accounts, rid)
    page_book = frame(at, "last_opportunity")
    page_pipe = frame(at, "account_name")
    assert sorted(page_book[A.account_id]) == sorted(book[A.account_id])
    assert page_pipe[O.amount].sum() == pytest.approx(pipe[O.amount].sum())
    assert set(page_pipe[O.opportunity_id]) == set(pipe[O.opportunity_id])
    # the drill-down's cards are this rep's core numbers
    row = mine.set_index(K.rep_id).loc[rid]
    drill = [mm for mm in at.metric if mm.label == "Closed-won"][1]
    assert drill.value == money(row[K.won_revenue])

    # selecting a row of the rep table opens the drill-down on that rep, from any tab
    open_tab(at, "Charts")
    at.session_state["health_rep_table"] = {"selection": {"rows": [0], "columns": [], "cells": []}}
    at.run()
    assert at.session_state["health_tab"] == "Rep drill-down"
    assert at.selectbox(key="health_drill_rep").value == rep_table(at).index[0]
    # the quota suggestion starts from the filtered reps' own quotas
    open_tab(at, "Quota suggestion")
    top = [n for n in at.number_input if n.label.startswith("Top-down")][0]
    assert top.value == pytest.approx(mine[K.quota_annual].sum())


def test_period_year_and_balance_and_quota(ds):
    at = open_page()
    at.selectbox(key="health_period_kind").set_value("year").run()
    assert_ok(at)
    year = at.selectbox(key="health_period_year").value
    assert year.kind == "year" and year.label == f"Year {data_as_of(ds.opportunities).year}"
    k = core_kpis(ds, Period("year", data_as_of(ds.opportunities)))
    active = k[k[K.active] | (k[K.accounts] > 0)].reset_index(drop=True)
    tab = rep_table(at)
    np.testing.assert_allclose(tab["Attainment"].astype(float),
                               active.set_index(K.rep_id).reindex(tab.index)[K.attainment].astype(float))
    assert "Year" in at.subheader[0].value

    open_tab(at, "Balance")
    at.selectbox(key="health_balance_metric").set_value(K.arr).run()
    b = kpi_balance(active, K.arr)
    m = {mm.label: mm.value for mm in at.metric}
    assert m["Coefficient of variation"] == f"{b['cv']:.2f}"
    assert m["Gini"] == f"{b['gini']:.2f}"
    assert m["Within +-10% of target"] == f"{b['within_tolerance']:.0%}"

    open_tab(at, "Quota suggestion")
    [n for n in at.number_input if n.label.startswith("Top-down")][0].set_value(10_000_000.0).run()
    at.selectbox(key="health_quota_basis").set_value("capacity").run()
    assert_ok(at)
    sq = frame(at, "suggested_quota")
    assert sq["suggested_quota"].sum() == pytest.approx(10_000_000)
    core = suggest_quotas(ds.reps, active, 10_000_000, by="capacity").set_index(K.rep_id)
    np.testing.assert_allclose(sq["suggested_quota"], core.reindex(sq[K.rep_id])["suggested_quota"])


def test_threshold_editor_changes_flags(ds):
    at = open_tab(open_page(), "Thresholds")
    flags = flag_table(at)
    assert (flags["Flag"] == "low coverage").any()
    # set the minimum coverage to 0 and apply: no rep can be under it
    form_inputs = [n for n in at.number_input if n.label.startswith("Minimum pipeline coverage")]
    form_inputs[0].set_value(0.0)
    [b for b in at.button if b.label == "Apply"][0].click()
    at.run()
    assert_ok(at)
    assert at.session_state["settings"]["health_thresholds"].min_coverage == 0.0
    flags = flag_table(at)
    assert not (flags["Flag"] == "low coverage").any()
    # an inconsistent pair is refused with a message, not a traceback
    [n for n in at.number_input if n.label.startswith("Starved below")][0].set_value(5.0)
    [b for b in at.button if b.label == "Apply"][0].click()
    at.run()
    assert_ok(at)
    assert any("starved_below" in shown(e.value) for e in at.error)


def test_scenario_plan_moves_the_book(ds):
    from territory_core.plan.scenarios import Scenario

    acc = ds.accounts
    src, dst = "R003", "R014"  # different managers
    new_owner = acc[A.owner_id].astype("string").where(acc[A.owner_id] != src, dst)
    scn = Scenario(name="Move R003", assignment=pd.DataFrame({
        S.account_id: acc[A.account_id].astype("string"), S.rep_id: new_owner.astype("string")}))
    at = open_page(active_scenario=scn)
    plans = at.selectbox(key="health_plan").options
    assert plans == ["Today's plan", "Scenario: Move R003"]
    before = rep_table(at)
    at.selectbox(key="health_plan").set_value("Scenario: Move R003").run()
    assert_ok(at)
    after = rep_table(at)
    assert after.loc[src, "Accounts"] == 0
    assert after.loc[dst, "Accounts"] == before.loc[dst, "Accounts"] + before.loc[src, "Accounts"]
    assert after.loc[src, "Closed-won"] == before.loc[src, "Closed-won"]  # history stays with the seller
    k = core_kpis(ds, owner=scn.assignment).set_index(K.rep_id)
    assert after.loc[dst, "Open pipeline"] == pytest.approx(k.loc[dst, K.open_pipeline])
    assert after.loc[src, "Accounts vs today"] == -before.loc[src, "Accounts"]
    assert after.loc[dst, "Accounts vs today"] == before.loc[src, "Accounts"]
    # filtered to the source rep's manager, the cards say how much of the book left the team
    mgr = ds.reps.set_index(R.rep_id).loc[src, R.manager]
    at.multiselect(key="health_f_manager").set_value([mgr]).run()
    acc_card = next(m for m in at.metric if m.label == "Accounts")
    same_mgr = ds.reps.set_index(R.rep_id).loc[dst, R.manager] == mgr
    moved = 0 if same_mgr else int(before.loc[src, "Accounts"])
    assert acc_card.delta == (f"-{moved:,} vs today" if moved else "+0 vs today")


def test_bad_and_thin_data_show_messages_not_tracebacks(ds):
    at = open_page(ds.with_(reps=ds.reps.iloc[0:0], name="no reps"))
    assert any("This dataset has no reps" in w.value.replace("\\", "") for w in at.warning)
    thin = ds.with_(opportunities=ds.opportunities.iloc[0:0], name="no opps")
    at = open_page(thin)
    assert any("No opportunities loaded" in i.value for i in at.info)
    assert metrics(at)["Closed-won"] == "$0"


def test_page_shows_hand_computed_numbers_on_a_tiny_dataset():
    """The tiny world of test_kpis (Q2 2026): the page's table holds the hand-computed KPIs."""
    from territory_core.contract import ACCOUNTS, OPPORTUNITIES, REPS
    from territory_core.dataset import Dataset, coerce_types, empty_frame
    from territory_core.contract import ACCOUNT_PRODUCTS
    from test_kpis import accounts, opps, reps

    tiny = Dataset(accounts=coerce_types(accounts(), ACCOUNTS), reps=coerce_types(reps(), REPS),
                   opportunities=coerce_types(opps(), OPPORTUNITIES), account_products=empty_frame(ACCOUNT_PRODUCTS),
                   name="tiny")
    odd = tiny.accounts.copy()
    odd.loc[odd[A.account_id] == "a5", A.owner_id] = "gone"
    at = open_page(tiny.with_(accounts=odd))
    assert any("1 account ($0 ARR) has no owner" in e.label for e in at.expander)
    at = open_page(tiny)
    assert not any("no owner" in e.label for e in at.expander)
    assert "Q2 2026" in at.subheader[0].value
    tab = rep_table(at).loc[["r1", "r2", "r3"]]
    assert list(tab["Closed-won"]) == [110_000, 200_000, 0]
    assert list(tab["Win rate"].iloc[:2]) == [0.75, 0.5]
    assert math.isnan(tab.loc["r3", "Win rate"])
    assert tab.loc["r1", "Cycle (d)"] == pytest.approx((90 + 90 + 338) / 3)
    assert tab.loc["r3", "Coverage"] == pytest.approx(1.8)
    assert tab.loc["r1", "Coverage"] == math.inf  # quota met
    assert list(tab["Accounts"]) == [2, 3, 1]
    m = metrics(at)
    assert m["Closed-won"] == "$310K"
    assert m["Win rate"] == "67%"  # 4 of 6, not the mean of the reps' rates
    assert "low coverage" in tab.loc["r3", "Flags"]


def test_scenario_with_events_uses_the_scenario_reps(ds):
    """A new hire in the scenario appears as a rep with the accounts the scenario gives them; a
    leaver keeps their sales history but no book."""
    from territory_core.plan.scenarios import Scenario

    acc = ds.accounts
    leaver = "R005"
    new_owner = acc[A.owner_id].astype("string").where(acc[A.owner_id] != leaver, "R99")
    scn = Scenario(
        name="Hire R99",
        events=({"type": "new_hire", "rep_id": "R99", "name": "Ana New", "region": "West", "segment": "Mid-Market",
                 "manager": "Jennifer Gonzalez", "capacity": 1.0, "quota": 900000},
                {"type": "rep_leaves", "rep_id": leaver}),
        assignment=pd.DataFrame({S.account_id: acc[A.account_id].astype("string"), S.rep_id: new_owner}))
    at = open_page(active_scenario=scn)
    at.selectbox(key="health_plan").set_value("Scenario: Hire R99").run()
    assert_ok(at)
    at.toggle(key="health_f_active").set_value(False).run()
    tab = rep_table(at)
    n_moved = int((acc[A.owner_id] == leaver).sum())
    assert tab.loc["R99", "Rep"] == "Ana New"
    assert tab.loc["R99", "Accounts"] == n_moved
    assert tab.loc[leaver, "Accounts"] == 0
    before = core_kpis(ds).set_index(K.rep_id)
    assert tab.loc[leaver, "Closed-won"] == before.loc[leaver, K.won_revenue]


def test_without_scoring_the_page_still_works(ds, monkeypatch):
    import ui.scenario_widgets

    def boom(*a, **k):
        raise RuntimeError("scoring unavailable")

    monkeypatch.setattr(ui.scenario_widgets, "enriched_for", boom)
    at = open_page()
    assert any("Scoring is not available" in i.value for i in at.info)
    tab = rep_table(at)
    assert tab["Potential"].isna().all()
    assert not tab["Flags"].str.contains("quota vs potential").any()
    k = core_kpis(ds)
    active = k[k[K.active] | (k[K.accounts] > 0)].set_index(K.rep_id).reindex(tab.index)
    np.testing.assert_allclose(tab["Workload"], active[K.workload])  # customers 1.5, prospects 1
