"""Balancing within teams (settings.balance_within) and the planner's default settings."""
import pandas as pd

from territory_core.contract import A, R, S, X
from territory_core.solver import Metric, SolverSettings, planning_defaults, solve


def _two_teams():
    # Enterprise: 2 reps, 4 accounts of revenue 100 (all on E1). SMB: 2 reps, 4 accounts of 10 (all on S1).
    rows = [{A.account_id: f"e{i}", A.owner_id: "E1", A.annual_revenue: 100.0} for i in range(4)]
    rows += [{A.account_id: f"s{i}", A.owner_id: "S1", A.annual_revenue: 10.0} for i in range(4)]
    acc = pd.DataFrame(rows).assign(**{A.name: lambda d: d[A.account_id]})
    reps = pd.DataFrame({R.rep_id: ["E1", "E2", "S1", "S2"], R.name: ["E1", "E2", "S1", "S2"],
                         R.segment: ["Enterprise", "Enterprise", "SMB", "SMB"]})
    return acc, reps


def _settings(**kw):
    return SolverSettings(metrics=(Metric(A.annual_revenue, 0.0),), keep_families=False, time_limit=20, **kw)


def test_within_teams_each_rep_gets_half_of_its_teams_book_and_accounts_stay_in_their_team():
    acc, reps = _two_teams()
    res = solve(acc, reps, _settings(balance_within=(R.segment,)))
    assert res.status == "optimal"
    owner = dict(zip(res.assignment[S.account_id], res.assignment[S.rep_id]))
    assert sorted(owner[f"e{i}"] for i in range(4)) == ["E1", "E1", "E2", "E2"]
    assert sorted(owner[f"s{i}"] for i in range(4)) == ["S1", "S1", "S2", "S2"]
    targets = res.rep_metrics.set_index("rep_id")["target"].to_dict()
    assert targets == {"E1": 200.0, "E2": 200.0, "S1": 20.0, "S2": 20.0}
    assert res.moves == 4


def test_across_everyone_the_same_bands_mix_the_teams():
    acc, reps = _two_teams()
    res = solve(acc, reps, _settings())  # global target 110 each: 100 + 10 per rep
    owner = dict(zip(res.assignment[S.account_id], res.assignment[S.rep_id]))
    assert any(owner[f"e{i}"].startswith("S") for i in range(4))  # teams are not respected


def test_a_team_whose_reps_all_left_hands_its_book_to_the_pool():
    acc, reps = _two_teams()
    reps[R.active] = [True, True, False, False]  # the SMB team is gone
    res = solve(acc, reps, _settings(balance_within=(R.segment,)))
    assert res.status == "optimal"
    assert set(res.assignment[S.rep_id]) == {"E1", "E2"}
    targets = res.rep_metrics.set_index("rep_id")["target"].to_dict()
    assert targets["E1"] == targets["E2"] == 220.0


def test_unknown_team_column_is_a_plain_error():
    acc, reps = _two_teams()
    try:
        solve(acc, reps, _settings(balance_within=("territory",)))
    except ValueError as exc:
        assert "territory" in str(exc)
    else:
        raise AssertionError("expected a ValueError")


def test_settings_round_trip_and_planning_defaults():
    acc, reps = _two_teams()
    s = SolverSettings.from_dict(_settings(balance_within=(R.region, R.segment)).to_dict())
    assert s.balance_within == (R.region, R.segment)
    d = planning_defaults(acc, reps)
    assert d.balance_within == (R.segment,)  # no region column here
    assert all(m.tolerance == 0.10 for m in d.metrics)
    assert [m.column for m in d.metrics][0] == A.annual_revenue
    assert planning_defaults(acc, reps.drop(columns=[R.segment])).balance_within == ()
    acc[X.potential] = 1.0
    assert planning_defaults(acc, reps).metrics[0].column == X.potential


def test_the_sample_solves_with_the_planners_defaults():
    """What a leader gets on the first Re-solve in the Scenario Editor: a plan, inside every band."""
    from territory_core.dataset import load_sample
    from territory_core.enrich import enrich_accounts

    ds = load_sample()
    acc = enrich_accounts(ds)
    res = solve(acc, ds.reps, planning_defaults(acc, ds.reps), opportunities=ds.opportunities)
    assert res.status in ("optimal", "feasible"), res.explanations
    assert max(res.max_deviation.values()) <= 0.10 + 1e-6
    # accounts outside families stay inside their region/segment team (a family spread over teams
    # goes to the team most of it is in)
    team = ds.reps.set_index(R.rep_id)[[R.region, R.segment]].astype(str).agg("|".join, axis=1)
    single = acc.loc[acc[X.family_size] == 1, A.account_id]
    a = res.assignment[res.assignment[S.account_id].isin(single)].dropna(subset=[S.previous_rep_id])
    a = a[a[S.previous_rep_id].map(ds.reps.set_index(R.rep_id)[R.active]).fillna(False).astype(bool)]
    assert len(a) > 4000
    assert (a[S.rep_id].map(team) == a[S.previous_rep_id].map(team)).all()


def test_scenario_loads_judge_books_within_the_same_teams():
    from territory_core.dataset import ACCOUNT_PRODUCTS, OPPORTUNITIES, Dataset, empty_frame
    from territory_core.scenarios import Scenario, rep_loads

    acc, reps = _two_teams()
    ds = Dataset(accounts=acc, reps=reps, opportunities=empty_frame(OPPORTUNITIES),
                 account_products=empty_frame(ACCOUNT_PRODUCTS))
    today = Scenario.today(ds)
    loads = rep_loads(ds, today, metrics=[A.annual_revenue]).set_index("rep_id")
    # no solver settings: the default teams (segment here); each team's book split by capacity
    assert loads.loc["E1", "target"] == 200.0 and loads.loc["S1", "target"] == 20.0
    flat = today.with_(settings={"solver": _settings().to_dict()})  # explicitly across everyone
    loads = rep_loads(ds, flat, metrics=[A.annual_revenue]).set_index("rep_id")
    assert loads.loc["E1", "target"] == loads.loc["S1", "target"] == 110.0
