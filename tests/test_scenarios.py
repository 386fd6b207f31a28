"""The scenario model: today's plan, what-if events, overrides, solve, diff and KPIs."""
from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest

from territory_core.contract import ACCOUNT_PRODUCTS, ACCOUNTS, OPPORTUNITIES, REPS, A, R, S, X
from territory_core.dataset import Dataset, coerce_types, empty_frame
from territory_core.plan.scenarios import (EventError, Scenario, apply_events, dataset_fingerprint, describe_event,
                                      diff_scenarios, filter_mask, kpi_rows, rep_loads, scenario_kpis, solve_scenario)

SETTINGS = {"solver": {"metrics": [{"column": "arr", "tolerance": 0.15}, {"column": "account_count", "tolerance": 0.15}],
                       "time_limit": 20}}


def small_dataset(n: int = 80, k: int = 4, seed: int = 7) -> Dataset:
    """n accounts over k reps with a skewed current plan (R0 and R1 own everything)."""
    rng = np.random.default_rng(seed)
    reps = pd.DataFrame({
        R.rep_id: [f"R{i}" for i in range(k)], R.name: [f"Rep {i}" for i in range(k)],
        R.home_lat: [30.0 + i for i in range(k)], R.home_lon: [-97.0 - i for i in range(k)],
        R.segment: ["SMB"] * k, R.region: ["South"] * k, R.quota: [1e6] * k,
    })
    acc = pd.DataFrame({
        A.account_id: [f"A{i:03d}" for i in range(n)], A.name: [f"Account {i}" for i in range(n)],
        A.arr: (rng.integers(1, 20, n) * 1000).astype(float),
        A.industry: rng.choice(["Healthcare", "Retail", "Software"], n),
        A.state: rng.choice(["TX", "CA", "NY"], n),
        A.owner_id: [f"R{i % 2}" for i in range(n)],
        A.lat: 30 + rng.random(n), A.lon: -97 - rng.random(n),
    })
    acc.loc[0, A.locked] = True  # R0's locked account
    return Dataset(coerce_types(acc, ACCOUNTS), coerce_types(reps, REPS), empty_frame(OPPORTUNITIES),
                   empty_frame(ACCOUNT_PRODUCTS), name="small test data")


@pytest.fixture(scope="module")
def ds():
    return small_dataset()


# ------------------------------------------------------------------------------- model

def test_today_is_the_current_plan(ds):
    t = Scenario.today(ds)
    a = t.assignment
    assert list(a.columns) == [S.account_id, S.rep_id, S.previous_rep_id, S.moved, S.reason]
    assert a[S.rep_id].tolist() == ds.accounts[A.owner_id].tolist()
    assert not a[S.moved].any()
    assert t.parent_id is None and t.id is None and t.is_today
    assert t.input_fingerprint == dataset_fingerprint(ds)


def test_fingerprint_changes_with_the_data(ds):
    other = ds.with_(accounts=ds.accounts.assign(**{A.arr: ds.accounts[A.arr] + 1}))
    assert dataset_fingerprint(other) != dataset_fingerprint(ds)
    assert dataset_fingerprint(ds) == dataset_fingerprint(small_dataset())


def test_scenario_is_frozen_plain_data():
    @dataclasses.dataclass(frozen=True)
    class Fake:
        w: float = 0.5

        def to_dict(self):
            return {"w": self.w, "arr": np.float64(2.5), "tags": ("a", "b")}

    sc = Scenario(name="  ", settings={"scoring": Fake()}, events=[{"type": "rep_leaves", "rep_id": np.str_("R1")}])
    assert sc.name == "Untitled scenario"
    assert sc.settings == {"scoring": {"w": 0.5, "arr": 2.5, "tags": ["a", "b"]}}
    assert isinstance(sc.events, tuple) and sc.events[0] == {"type": "rep_leaves", "rep_id": "R1"}
    with pytest.raises(dataclasses.FrozenInstanceError):
        sc.name = "x"
    sc2 = sc.with_(name="Renamed", version=3)
    assert sc.name == "Untitled scenario" and sc2.name == "Renamed" and sc2.label == "Renamed v3"
    # Mutating the caller's dict afterwards does not change the scenario.
    ev = {"type": "rep_leaves", "rep_id": "R1"}
    sc3 = Scenario(name="x", events=(ev,))
    ev["rep_id"] = "R2"
    assert sc3.events[0]["rep_id"] == "R1"


# ------------------------------------------------------------------------------- events

def test_rep_leaves_makes_rep_inactive_and_releases_locks(ds):
    ev = apply_events(ds, [{"type": "rep_leaves", "rep_id": "R0"}])
    active = dict(zip(ev.reps[R.rep_id], ev.reps[R.active]))
    assert active == {"R0": False, "R1": True, "R2": True, "R3": True}
    assert not bool(ev.accounts.loc[ev.accounts[A.account_id] == "A000", A.locked].iloc[0])
    assert "40 accounts to redistribute" in ev.notes[0] and "locked" in ev.notes[0]
    assert ev.fixed == {}
    # The dataset itself is untouched.
    assert bool(ds.reps[R.active].all()) and bool(ds.accounts[A.locked].iloc[0])


def test_new_hire_row_with_zip_coordinates(ds):
    ev = apply_events(ds, [{"type": "new_hire", "rep_id": "N1", "name": "Ana", "region": "West", "segment": "SMB",
                            "capacity": 1, "ramp": 0.5, "quota": 500000, "home_zip": "10001"}])
    row = ev.reps[ev.reps[R.rep_id] == "N1"].iloc[0]
    assert row[R.name] == "Ana" and row[R.ramp] == 0.5 and row[R.quota] == 500000 and bool(row[R.active])
    assert row[R.home_zip] == "10001" and math.isclose(row[R.home_lat], 40.75, abs_tol=0.1)
    assert len(ev.reps) == len(ds.reps) + 1
    with pytest.raises(EventError, match="already exists"):
        apply_events(ds, [{"type": "new_hire", "rep_id": "R1", "name": "dup"}])
    with pytest.raises(EventError, match=r"Event 1 .*ramp must be between 0 and 1"):
        apply_events(ds, [{"type": "new_hire", "rep_id": "N2", "ramp": 1.5}])


def test_capacity_and_quota_changes(ds):
    ev = apply_events(ds, [{"type": "capacity_change", "rep_id": "R2", "capacity": 0.5},
                           {"type": "quota_change", "rep_id": "R3", "quota": 2e6}])
    reps = ev.reps.set_index(R.rep_id)
    assert reps.loc["R2", R.capacity] == 0.5 and reps.loc["R3", R.quota] == 2e6
    with pytest.raises(EventError, match="capacity must be a number"):
        apply_events(ds, [{"type": "capacity_change", "rep_id": "R2", "capacity": "lots"}])


def test_bulk_move_by_filter_case_insensitive(ds):
    ev = apply_events(ds, [{"type": "bulk_move", "filter": {"industry": "healthcare", "state": ["tx", "NY"]},
                            "to_rep_id": "R3"}])
    acc = ds.accounts
    want = acc[(acc[A.industry] == "Healthcare") & acc[A.state].isin(["TX", "NY"])][A.account_id].tolist()
    assert sorted(ev.fixed) == sorted(want) and len(want) > 3
    assert set(ev.fixed.values()) == {"R3"}
    assert all(ev.reasons[a].startswith("Bulk move") for a in want)
    with pytest.raises(EventError, match="'colour' is not an account column"):
        apply_events(ds, [{"type": "bulk_move", "filter": {"colour": "red"}, "to_rep_id": "R3"}])
    assert sorted(acc[filter_mask(acc, {"industry": " HEALTHCARE", "state": ["tx", "NY"]})][A.account_id]) == sorted(want)
    assert filter_mask(acc, {A.arr: [acc[A.arr].iloc[0]]}).iloc[0]
    with pytest.raises(EventError, match="at least one filter"):
        apply_events(ds, [{"type": "bulk_move", "filter": {}, "to_rep_id": "R3"}])


def test_segment_handover_uses_enriched_segments(ds):
    enriched = ds.accounts.assign(**{X.segment: np.where(ds.accounts[A.arr] >= 10000, "Enterprise", "SMB")})
    ev = apply_events(ds, [{"type": "segment_handover", "segment": "Enterprise", "from_rep_id": "R1",
                            "to_rep_id": "R2"}], enriched)
    want = enriched[(enriched[A.owner_id] == "R1") & (enriched[X.segment] == "Enterprise")][A.account_id]
    assert sorted(ev.fixed) == sorted(want) and set(ev.fixed.values()) == {"R2"}
    # Without account segments: the whole book moves when the rep sells that segment.
    ev2 = apply_events(ds, [{"type": "segment_handover", "segment": "smb", "from_rep_id": "R1", "to_rep_id": "R2"}])
    assert len(ev2.fixed) == int((ds.accounts[A.owner_id] == "R1").sum())


def test_bad_events_name_the_event_and_the_fix(ds):
    with pytest.raises(EventError, match=r"Event 2 \(Rep leaves\): rep 'R9' is not in the reps table"):
        apply_events(ds, [{"type": "capacity_change", "rep_id": "R1", "capacity": 1}, {"type": "rep_leaves", "rep_id": "R9"}])
    with pytest.raises(EventError, match="unknown type 'promote'"):
        apply_events(ds, [{"type": "promote"}])
    with pytest.raises(EventError, match="inactive"):
        apply_events(ds, [{"type": "rep_leaves", "rep_id": "R3"},
                          {"type": "bulk_move", "filter": {"state": "TX"}, "to_rep_id": "R3"}])
    # A leaver drops forced moves onto them made by earlier events.
    ev = apply_events(ds, [{"type": "bulk_move", "filter": {"state": "TX"}, "to_rep_id": "R3"},
                           {"type": "rep_leaves", "rep_id": "R3"}])
    assert ev.fixed == {}


def test_describe_event_plain_words():
    names = {"R1": "Bob", "N1": "Ana"}
    assert describe_event({"type": "rep_leaves", "rep_id": "R1"}, names) == "Rep leaves: Bob (R1)"
    assert "Healthcare" in describe_event({"type": "bulk_move", "filter": {"industry": "Healthcare", "state": ["TX", "NM"]},
                                           "to_rep_id": "N1"}, names)
    assert "TX/NM" in describe_event({"type": "bulk_move", "filter": {"state": ["TX", "NM"]}, "to_rep_id": "N1"}, names)


# ------------------------------------------------------------------------------- solve

@pytest.fixture(scope="module")
def solved(ds):
    sc = Scenario(name="Rebalance", settings=SETTINGS, events=(
        {"type": "rep_leaves", "rep_id": "R0"},
        {"type": "new_hire", "rep_id": "N1", "name": "Ana", "capacity": 1, "ramp": 0.5, "home_zip": "78701"},
        {"type": "bulk_move", "filter": {"industry": "Healthcare", "state": "TX"}, "to_rep_id": "R3"},
    ), overrides=({"account_id": "A001", "rep_id": "R2", "lock": True, "reason": "exec sponsor"},))
    return sc, solve_scenario(ds, sc)


def test_solve_scenario_applies_events_and_overrides(ds, solved):
    sc, out = solved
    assert out.report["status"] in ("optimal", "feasible"), out.report
    a = out.assignment.set_index(S.account_id)
    assert len(a) == len(ds.accounts)
    assert "R0" not in set(a[S.rep_id])  # the leaver owns nothing
    counts = a[S.rep_id].value_counts()
    full = counts[["R1", "R2", "R3"]]
    assert 0 < counts["N1"] < full.min()  # a ramping hire gets a smaller book
    ht = ds.accounts[(ds.accounts[A.industry] == "Healthcare") & (ds.accounts[A.state] == "TX")][A.account_id]
    ht = [x for x in ht if x != "A001"]  # the manual override on A001 wins over the bulk move
    assert len(ht) >= 3 and (a.loc[ht, S.rep_id] == "R3").all()
    assert a.loc["A001", S.rep_id] == "R2" and a.loc["A001", S.reason] == "Locked by hand: exec sponsor"
    moved_ht = [x for x in ht if ds.accounts.set_index(A.account_id).loc[x, A.owner_id] != "R3"]
    assert all(str(a.loc[x, S.reason]).startswith("Bulk move") for x in moved_ht)
    assert a.loc["A000", S.rep_id] != "R0"  # R0's locked account was released and moved
    assert any("Rep leaves" in n for n in out.report["notes"])
    # The balance index is judged on the scenario's own solver metrics and tolerances: the solver
    # met its hard 15% bands, so every book is in its band.
    k = scenario_kpis(ds, out)
    assert k["balance_metrics"] == ["arr", "account_count"]
    assert k["balance"]["arr"]["tolerance"] == 0.15
    assert k["balance"]["arr"]["max_deviation"] <= 0.15 + 1e-6
    assert k["balance_index"] == pytest.approx(100.0)
    assert scenario_kpis(ds, Scenario.today(ds).with_(settings=SETTINGS))["balance_index"] < 50
    assert out.input_fingerprint == dataset_fingerprint(ds)
    # Inputs unchanged, metadata kept.
    assert out.events == sc.events and out.name == sc.name


def test_solve_is_deterministic(ds, solved):
    sc, out = solved
    again = solve_scenario(ds, sc)
    pd.testing.assert_frame_equal(again.assignment, out.assignment)


def test_resolving_a_saved_version_gives_the_same_assignment(ds, solved, tmp_path):
    from territory_core.store.storage import ScenarioStore

    _, out = solved
    store = ScenarioStore(f"sqlite:///{tmp_path / 's.db'}")
    try:
        saved = store.save(out, user="alice", expected_version=None)
        store.save(saved.with_(events=()), user="bob", expected_version=1)  # a later version exists
        v1 = store.load(saved.id, 1)
    finally:
        store.close()
    resolved = solve_scenario(ds, v1)
    pd.testing.assert_frame_equal(resolved.assignment.reset_index(drop=True), v1.assignment.reset_index(drop=True),
                                  check_dtype=False)


def test_infeasible_scenario_has_no_assignment_and_says_why(ds):
    sc = Scenario(name="Everything to R2", settings={"solver": {"metrics": [{"column": "arr", "tolerance": 0.05}],
                                                                "time_limit": 10}},
                  events=({"type": "bulk_move", "filter": {"state": ["TX", "CA", "NY"]}, "to_rep_id": "R2"},))
    out = solve_scenario(ds, sc)
    assert out.report["status"] == "infeasible"
    assert out.assignment is None
    assert out.report["explanation"]
    with pytest.raises(ValueError, match="no assignment yet"):
        scenario_kpis(ds, out)


def test_bad_override_is_a_clear_error(ds):
    sc = Scenario(name="x", settings=SETTINGS, overrides=({"account_id": "NOPE", "rep_id": "R1", "lock": True},))
    with pytest.raises(EventError, match="account 'NOPE' is not in the accounts table"):
        solve_scenario(ds, sc)
    sc = Scenario(name="x", settings=SETTINGS, events=({"type": "rep_leaves", "rep_id": "R1"},),
                  overrides=({"account_id": "A002", "rep_id": "R1", "lock": False},))
    with pytest.raises(EventError, match="inactive"):
        solve_scenario(ds, sc)


# ------------------------------------------------------------------------------- diff / KPIs

def _tiny():
    reps = coerce_types(pd.DataFrame({R.rep_id: ["R0", "R1"], R.name: ["Ann", "Ben"], R.capacity: [1.0, 1.0],
                                      R.home_lat: [40.0, 41.0], R.home_lon: [-100.0, -100.0]}), REPS)
    acc = coerce_types(pd.DataFrame({A.account_id: ["a", "b", "c", "d"], A.name: ["Alpha", "Beta", "Gamma", "Delta"],
                                     A.arr: [100.0, 100.0, 100.0, 300.0], A.owner_id: ["R0", "R0", "R1", "R1"],
                                     A.lat: [40.0, 40.0, 41.0, 41.0], A.lon: [-100.0, -100.0, -100.0, -100.0]}),
                       ACCOUNTS)
    return Dataset(acc, reps, empty_frame(OPPORTUNITIES), empty_frame(ACCOUNT_PRODUCTS), name="tiny")


def _moved(ds, moves: dict, reason="test move"):
    t = Scenario.today(ds)
    a = t.assignment.copy()
    for acc, rep in moves.items():
        a.loc[a[S.account_id] == acc, [S.rep_id, S.reason]] = [rep, reason]
    a[S.moved] = a[S.rep_id] != a[S.previous_rep_id]
    return t.with_(name="moved", assignment=a)


def test_kpis_hand_computed():
    ds = _tiny()
    k = scenario_kpis(ds, Scenario.today(ds))
    # arr: R0 200, R1 400 against 300 each -> -33%/+33%; counts 2 and 2 -> on target.
    assert k["balance"]["arr"]["max_deviation"] == pytest.approx(1 / 3)
    assert k["balance"]["arr"]["cv"] == pytest.approx(1 / 3)
    assert k["balance"]["arr"]["within_tolerance"] == 0.0
    assert k["balance"]["account_count"]["max_deviation"] == pytest.approx(0.0)
    assert k["balance_index"] == pytest.approx(50.0)
    assert k["moves"] == 0 and k["arr_moved"] == 0.0 and k["coverage"] == 1.0 and k["reps"] == 2
    assert k["travel_km_mean"] == pytest.approx(0.0, abs=1e-6)

    m = scenario_kpis(ds, _moved(ds, {"c": "R0"}))
    # arr now 300/300; counts 3/1 -> +-50%.
    assert m["balance"]["arr"]["max_deviation"] == pytest.approx(0.0)
    assert m["balance"]["account_count"]["max_deviation"] == pytest.approx(0.5)
    assert m["moves"] == 1 and m["arr_moved"] == 100.0 and m["moved_pct"] == 0.25
    assert m["accounts_per_rep"] == {"mean": 2.0, "min": 1.0, "max": 3.0}
    # Gamma (lat 41) is now served from R0's home at lat 40: about 111 km.
    assert m["travel_km_total"] == pytest.approx(111.19, abs=0.5)
    labels = [r[0] for r in kpi_rows(m)]
    assert labels[:3] == ["Balance index", "Moves", "ARR moved"] and "Travel to accounts" in labels


def test_kpi_targets_follow_capacity_ramp_and_events():
    ds = _tiny()
    ds = ds.with_(reps=ds.reps.assign(**{R.capacity: [1.0, 0.5]}))
    loads = rep_loads(ds, Scenario.today(ds)).set_index(["rep_id", "metric"])
    assert loads.loc[("R0", "arr"), "target"] == pytest.approx(400.0)
    assert loads.loc[("R1", "arr"), "target"] == pytest.approx(200.0)
    sc = _moved(ds, {"a": "N1"}).with_(events=({"type": "new_hire", "rep_id": "N1", "name": "Nia", "ramp": 0.5},))
    k = scenario_kpis(ds, sc)
    assert k["reps"] == 3
    gone = _moved(ds, {"a": "R1", "b": "R1"}).with_(events=({"type": "rep_leaves", "rep_id": "R0"},))
    k2 = scenario_kpis(ds, gone)
    assert k2["reps"] == 1 and k2["coverage"] == 1.0 and k2["balance_index"] == 100.0
    orphaned = Scenario.today(ds).with_(events=({"type": "rep_leaves", "rep_id": "R0"},))
    assert scenario_kpis(ds, orphaned)["coverage"] == 0.5


def test_diff_lists_changed_accounts_largest_first():
    ds = _tiny()
    a = Scenario.today(ds)
    b = _moved(ds, {"a": "R1", "d": "R0"}, reason="balance arr")
    d = diff_scenarios(a, b, ds.accounts)
    assert list(d.columns) == ["account_id", "name", "from_rep_id", "to_rep_id", "arr", "reason"]
    assert d["account_id"].tolist() == ["d", "a"]
    assert d.iloc[0].to_dict() == {"account_id": "d", "name": "Delta", "from_rep_id": "R1", "to_rep_id": "R0",
                                   "arr": 300.0, "reason": "balance arr"}
    assert diff_scenarios(b, b, ds.accounts).empty
    back = diff_scenarios(b, a, ds.accounts)
    assert set(back["to_rep_id"]) == {"R0", "R1"} and len(back) == 2
    with pytest.raises(ValueError, match="no assignment"):
        diff_scenarios(a, Scenario(name="unsolved"), ds.accounts)


def test_saved_scoring_settings_drive_a_self_contained_solve(ds):
    from territory_core.analyse.scoring import ScoringConfig

    sc = Scenario(name="scored", settings={"scoring": ScoringConfig().to_dict(), "solver": {"time_limit": 10}})
    out = solve_scenario(ds, sc)  # no enriched frame given: the scenario's own scoring settings decide
    assert out.report["status"] in ("optimal", "feasible")
    assert "potential" in [m["column"] for m in out.report["settings"]["metrics"]]
    again = solve_scenario(ds, sc)
    pd.testing.assert_frame_equal(again.assignment, out.assignment)
    # no scoring settings: the default scoring (the editor's), so the same path balances potential too
    plain = solve_scenario(ds, sc.with_(settings={"solver": {"time_limit": 10}}))
    assert "potential" in [m["column"] for m in plain.report["settings"]["metrics"]]
    assert plain.report["warnings"] == []
