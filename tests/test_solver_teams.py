"""Balancing within teams (settings.balance_within) and the planner's default settings."""
import pandas as pd

from territory_core.contract import A, R, S, X
from territory_core.solve.model import Metric, SolverSettings, planning_defaults, solve


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
    from territory_core.analyse.enrich import enrich_accounts

    ds = load_sample()
    acc = enrich_accounts(ds)
    res = solve(acc, ds.reps, planning_defaults(acc, ds.reps), opportunities=ds.opportunities)
    assert res.status == "optimal" and res.gap == 0.0, res.explanations  # proven, not merely feasible
    assert res.moves == 1585
    assert max(res.max_deviation.values()) <= 0.10 + 1e-6
    # accounts outside families stay inside their region/segment team (a family spread over teams
    # goes to the team most of it is in)
    team = ds.reps.set_index(R.rep_id)[[R.region, R.segment]].astype(str).agg("|".join, axis=1)
    single = acc.loc[acc[X.family_size] == 1, A.account_id]
    a = res.assignment[res.assignment[S.account_id].isin(single)].dropna(subset=[S.previous_rep_id])
    a = a[a[S.previous_rep_id].map(ds.reps.set_index(R.rep_id)[R.active]).fillna(False).astype(bool)]
    assert len(a) == 5027
    assert (a[S.rep_id].map(team) == a[S.previous_rep_id].map(team)).all()


def test_scenario_loads_judge_books_within_the_same_teams():
    from territory_core.dataset import ACCOUNT_PRODUCTS, OPPORTUNITIES, Dataset, empty_frame
    from territory_core.plan.scenarios import Scenario, rep_loads

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


def _regional_book(seed: int = 3, n: int = 360):
    """Three region teams of 3-4 reps, skewed books, some families, a few accounts today owned by a
    rep of another team (a family mostly in one team) and a locked account."""
    import numpy as np

    rng = np.random.default_rng(seed)
    regions = {"East": ["E1", "E2", "E3"], "West": ["W1", "W2", "W3", "W4"], "South": ["S1", "S2", "S3"]}
    rows = []
    for i in range(n):
        reg = list(regions)[i % 3]
        owner = regions[reg][0] if rng.random() < 0.6 else str(rng.choice(regions[reg]))
        rows.append({A.account_id: f"a{i:03d}", A.name: f"Acct {i}", A.owner_id: owner,
                     A.annual_revenue: float(round(rng.lognormal(11, 0.8))),
                     A.arr: float(round(rng.lognormal(9, 0.7))) if rng.random() < 0.6 else 0.0})
    acc = pd.DataFrame(rows)
    # families: every 9th account is a child of the account before it (same region by construction
    # for most; a few cross regions, so they follow their majority or their lock)
    kids = acc.index[(acc.index % 9 == 1)]
    acc[A.parent_id] = pd.NA
    acc.loc[kids, A.parent_id] = acc.loc[kids - 1, A.account_id].to_numpy()
    acc[A.locked] = False
    acc.loc[10, A.locked] = True
    reps = pd.DataFrame([{R.rep_id: r, R.name: r, R.region: reg} for reg, rs in regions.items() for r in rs])
    return acc, reps


def _team_settings(**kw):
    base = dict(metrics=(Metric(A.annual_revenue, 0.08), Metric(A.arr, 0.08), Metric(X.account_count, 0.08)),
                keep_families=True, balance_within=(R.region,), time_limit=60)
    base.update(kw)
    return SolverSettings(**base)


def test_independent_teams_are_solved_one_by_one_to_the_same_optimum(monkeypatch):
    from territory_core.solve import model as solver_mod

    acc, reps = _regional_book()
    split = solve(acc, reps, _team_settings())
    assert any("independent teams" in n for n in split.notes), split.notes
    monkeypatch.setattr(solver_mod, "DECOMPOSE_TEAMS", False)
    whole = solve(acc, reps, _team_settings())
    assert not any("independent teams" in n for n in whole.notes)
    assert split.status == whole.status == "optimal"
    assert split.objective == whole.objective and split.moves == whole.moves
    assert split.bound is not None and split.gap == 0.0
    # the merged plan is judged on the whole problem: same targets, every rep in band
    pd.testing.assert_frame_equal(split.rep_metrics[["rep_id", "metric", "target"]],
                                  whole.rep_metrics[["rep_id", "metric", "target"]])
    assert max(split.max_deviation.values()) <= 0.08 + 1e-6
    owner = dict(zip(split.assignment[S.account_id], split.assignment[S.rep_id]))
    assert owner["a010"] == acc.loc[10, A.owner_id]  # the lock held
    team = reps.set_index(R.rep_id)[R.region]
    fam = acc.dropna(subset=[A.parent_id])
    assert all(owner[c] == owner[p] for c, p in zip(fam[A.account_id], fam[A.parent_id]))
    singles = acc[~acc[A.account_id].isin(set(fam[A.account_id]) | set(fam[A.parent_id]))]
    assert all(team[owner[a]] == team[o] for a, o in zip(singles[A.account_id], singles[A.owner_id]))


def test_teams_are_solved_together_when_something_links_them():
    acc, reps = _regional_book()
    for kw in ({"max_moves": 400}, {"objective": "balance"},
               {"metrics": (Metric(A.annual_revenue, 0.08, 1.0, False),)}):
        res = solve(acc, reps, _team_settings(time_limit=4, **kw))
        assert res.ok, (kw, res.status_text)
        assert not any("independent teams" in n for n in res.notes), kw
    gone = reps.copy()
    gone[R.active] = gone[R.region] != "South"  # South's book is a pool every team shares
    res = solve(acc, gone, _team_settings(metrics=(Metric(X.account_count, 0.2),)))
    assert res.ok and not any("independent teams" in n for n in res.notes)


def test_a_team_that_cannot_meet_its_bands_is_named():
    acc, reps = _regional_book()
    west = acc.index[acc[A.owner_id].isin(["W1", "W2", "W3", "W4"])]
    acc = acc.drop(index=west[:1])  # West keeps 119 accounts for 4 reps: no exact split exists
    res = solve(acc, reps, _team_settings(metrics=(Metric(X.account_count, 0.0),), keep_families=False,
                                          time_limit=6))
    assert res.status == "infeasible"
    assert any("West" in e for e in res.explanations), res.explanations
