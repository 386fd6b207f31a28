"""Core behaviour for a new user's own data (issue 14 items 3, 8 and 9): datasets without reps or
with owners that match no rep, whitespace per FTE that cannot exceed what exists, and dates from
the future."""
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pytest

from territory_core.analyse.kpis import data_as_of, future_dated
from territory_core.contract import A, R
from territory_core.geo.aggregate import heatmap_data
from territory_core.ingest.importer import load_files
from territory_core.ingest.owners import add_reps_for_owners, rep_coverage
from territory_core.plan.scenarios import Scenario, rep_loads, scenario_kpis, solve_scenario

HS = Path(__file__).parent / "fixtures" / "hubspot"


@pytest.fixture(scope="module")
def hubspot():
    res = load_files(accounts=HS / "companies.csv")
    assert res.report.ok
    return res


def test_import_without_reps_says_the_owners_have_no_reps(hubspot):
    (w,) = [i for i in hubspot.report.warnings if "no reps file was given" in i.message]
    assert w.column == "owner_id" and w.message.startswith("The accounts name 5 owners (e.g. 'Dana Whitfield'")
    assert "Create reps from the owner names" in w.fix


def test_rep_coverage_says_what_is_missing(hubspot):
    cov = rep_coverage(hubspot.dataset)
    assert (cov.reps, cov.active_reps, cov.accounts, cov.owned_accounts, cov.unmatched_accounts) == (0, 0, 15, 15, 15)
    assert cov.unmatched_owners[0] == "Dana Whitfield"  # most accounts first (4)
    msg = cov.message()
    assert msg.startswith("This dataset has no reps: its 15 accounts name 5 owners (e.g. 'Dana Whitfield'")
    assert "upload a reps file (rep_id and name at least), or create 5 reps from the owner names there" in msg
    assert "Error" not in msg


def test_owners_missing_from_the_reps_file_are_named():
    res = load_files(accounts=b"account_id,name,owner_id\nA1,a,R1\nA2,b,R1\n", reps=b"rep_id,name\nR1,Ann\n")
    ds = res.dataset
    ds = ds.with_(accounts=ds.accounts.assign(owner_id=pd.array(["R1", "Gone"], dtype="string")))
    cov = rep_coverage(ds)
    assert not cov.ok and cov.unmatched_owners == ("Gone",)
    assert cov.message().startswith("1 account is owned by 1 owner who is not in the reps file (e.g. 'Gone')")
    new, added = add_reps_for_owners(ds)
    assert added == ["Gone"] and new.reps[R.rep_id].tolist() == ["R1", "Gone"]
    assert new.reps.set_index(R.rep_id).loc["Gone", R.capacity] == 1.0
    assert new.reps.set_index(R.rep_id).loc["R1", R.name] == "Ann"  # existing reps kept as they are
    assert rep_coverage(new).ok and rep_coverage(new).message() is None


def test_reps_created_from_owner_names_make_a_solvable_plan(hubspot):
    ds, added = add_reps_for_owners(hubspot.dataset)
    assert sorted(added) == sorted(set(hubspot.dataset.accounts[A.owner_id]))
    assert ds.reps[R.name].tolist() == ds.reps[R.rep_id].tolist() and ds.reps[R.active].all()
    assert (ds.reps[R.capacity] == 1.0).all() and (ds.reps[R.ramp] == 1.0).all()
    loads = rep_loads(ds, Scenario.today(ds))
    assert set(loads["rep_id"]) == set(added)
    assert loads.loc[loads["metric"] == "account_count", "value"].sum() == 15


@pytest.mark.parametrize("settings", [{}, {"solver": {"balance_within": ["region", "segment"]}}])
def test_no_reps_gives_empty_loads_and_kpis_not_a_type_error(hubspot, settings):
    ds = hubspot.dataset
    scn = Scenario.today(ds).with_(settings=settings)
    loads = rep_loads(ds, scn)  # was: TypeError "factorize requires a Series ... got DataFrame"
    assert loads.empty and list(loads.columns) == ["rep_id", "name", "metric", "value", "target", "deviation"]
    k = scenario_kpis(ds, scn)
    assert k["reps"] == 0 and k["unassigned"] == 15


def test_solving_without_reps_says_what_to_do(hubspot):
    with pytest.raises(ValueError) as e:
        solve_scenario(hubspot.dataset, Scenario.today(hubspot.dataset))
    assert "the dataset has no reps. Upload a reps file on the Data page, or create reps from the accounts' " \
           "owner names there" in str(e.value)


def test_whitespace_per_fte_never_exceeds_what_exists():
    # rep R1 owns 200 accounts, only one of them in Retail x 1-10: 0.005 FTE covers that cell
    n = 201
    acc = pd.DataFrame({
        A.account_id: [f"A{i}" for i in range(n)],
        A.industry: ["Retail"] + ["Tech"] * (n - 1),
        A.employees: [5.0] + [5000.0] * (n - 1),
        A.owner_id: ["R1"] * 200 + ["R2"],
        "potential": [1e8] + [1e5] * (n - 1),
        "whitespace": [9e7] + [5e4] * (n - 1),
    })
    reps = pd.DataFrame({R.rep_id: ["R1", "R2"], R.capacity: [1.0, 1.0], R.ramp: [1.0, 1.0], R.active: [True, True]})
    h = heatmap_data(acc, reps)
    cell = h[(h[A.industry] == "Retail")].iloc[0]
    assert cell["rep_fte"] == pytest.approx(1 / 200)
    assert cell["whitespace_per_rep"] == pytest.approx(9e7)  # counted as 1 FTE, not 9e7 / 0.005 = 1.8e10
    assert (h["whitespace_per_rep"] <= h["whitespace"] + 1e-6).all()
    assert h["whitespace_per_rep"].max() <= acc["whitespace"].sum()
    tech = h[h[A.industry] == "Tech"].iloc[0]
    assert tech["rep_fte"] == pytest.approx(199 / 200 + 1)
    assert tech["whitespace_per_rep"] == pytest.approx(200 * 5e4 / (199 / 200 + 1))


def _opps(close_days, created_days, closed):
    today = pd.Timestamp(date.today())
    return pd.DataFrame({
        "opportunity_id": [f"O{i}" for i in range(len(close_days))],
        "account_id": "A1", "owner_id": "R1", "amount": 100.0,
        "created_date": [today + pd.Timedelta(days=d) for d in created_days],
        "close_date": [today + pd.Timedelta(days=d) for d in close_days],
        "is_closed": closed, "is_won": closed,
    })


def test_as_of_is_never_after_today_and_future_deals_are_counted():
    today = date.today()
    opps = _opps(close_days=[-30, 13, 40], created_days=[-90, -60, -10], closed=[True, True, False])
    assert data_as_of(opps) == today  # a closed deal dated 13 days ahead does not move "as of"
    fut = future_dated(opps)
    assert fut == {"closed": 1, "created": 0, "latest": today + timedelta(days=13)}
    older = _opps(close_days=[-40], created_days=[-50], closed=[True])
    assert data_as_of(older) == today - timedelta(days=40)  # an older export: as of its last deal
    assert future_dated(older) == {"closed": 0, "created": 0, "latest": None}


def test_import_warns_about_closed_deals_dated_in_the_future():
    soon = (date.today() + timedelta(days=12)).isoformat()
    past = (date.today() - timedelta(days=12)).isoformat()
    opps = (f"Id,AccountId,StageName,Amount,CloseDate,CreatedDate\nO1,A1,Closed Won,10,{soon},{past}\n"
            f"O2,A1,Closed Won,10,{past},{past}\nO3,A1,Prospecting,10,{soon},{past}\n")
    res = load_files(accounts=b"account_id,name\nA1,a\n", opportunities=opps.encode())
    fut = [i for i in res.report.warnings if "after today" in i.message]
    assert [(i.table, i.row, i.column) for i in fut] == [("opportunities", 2, "close_date")]
    assert res.report.ok

