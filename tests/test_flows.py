"""Compare at scale (issue 16): plans by area and moves as rep-to-rep flows, exact on small books."""
from __future__ import annotations

import pandas as pd
import pytest

from territory_core.contract import A, S
from territory_core.plan.flows import AREA_COLUMNS, FLOW_COLUMNS, area_centroids, plan_areas, rep_flows


def _accounts():
    return pd.DataFrame({A.account_id: ["a1", "a2", "a3", "a4", "a5", "a6"],
                         A.state: ["CA", "CA", "CA", "NY", "NY", ""],
                         A.county: ["06001", "06001", "06075", "36061", "36061", None],
                         A.arr: [100.0, 50.0, 10.0, 30.0, 30.0, 999.0]})


def _plan(owners):
    return pd.DataFrame({S.account_id: ["a1", "a2", "a3", "a4", "a5", "a6"], S.rep_id: owners})


def test_areas_of_one_plan_name_the_lead_and_its_share():
    out = plan_areas(_accounts(), _plan(["r1", "r2", "r2", "r3", "r4", "r1"]), "state")
    assert list(out.columns) == AREA_COLUMNS
    ca, ny = out.set_index("area").loc["CA"], out.set_index("area").loc["NY"]
    # CA: r1 holds 100 ARR with one account, r2 60 with two: the lead is by ARR
    assert (ca["accounts"], ca["arr"], ca["lead_rep_id"], ca["lead_accounts"], ca["reps"]) == (3, 160.0, "r1", 1, 2)
    assert ca["lead_share"] == pytest.approx(1 / 3)
    # NY: a tie in ARR and accounts goes to the smaller rep id
    assert (ny["lead_rep_id"], ny["lead_arr"]) == ("r3", 30.0)
    # the account without a state is left out; no baseline: nothing moved
    assert set(out["area"]) == {"CA", "NY"} and out["moved"].sum() == 0 and out["top_receiver"].isna().all()


def test_areas_against_a_baseline_count_the_moves_and_the_top_receiver():
    base = _plan(["r1", "r1", "r1", "r3", "r3", "r1"])
    plan = _plan(["r1", "r2", "r2", "r3", "r4", "r2"])
    out = plan_areas(_accounts(), plan, "county", baseline=base).set_index("area")
    assert out.loc["06001", "moved"] == 1 and out.loc["06001", "moved_arr"] == 50.0
    assert out.loc["06075", "top_receiver"] == "r2" and out.loc["06075", "top_receiver_arr"] == 10.0
    assert (out.loc["36061", "moved"], out.loc["36061", "top_receiver"]) == (1, "r4")
    assert out["moved"].sum() == 3  # a6 moved too, but has no county: not on the map


def test_areas_refuse_an_unknown_level_or_a_missing_column():
    with pytest.raises(ValueError, match="level must be one of"):
        plan_areas(_accounts(), _plan(["r1"] * 6), "zip")
    with pytest.raises(ValueError, match="no county column"):
        plan_areas(_accounts().drop(columns=[A.county]), _plan(["r1"] * 6), "county")


def test_moves_summed_per_pair_of_reps_largest_arr_first():
    moves = pd.DataFrame({"from_rep_id": ["r1", "r1", "r2", None], "to_rep_id": ["r2", "r2", "r1", "r1"],
                          "from_name": ["Ann", "Ann", "Bo", None], "to_name": ["Bo", "Bo", "Ann", "Ann"],
                          "arr": [10.0, 5.0, 40.0, 1.0]})
    out = rep_flows(moves)
    assert list(out.columns) == FLOW_COLUMNS
    assert out[["from_name", "to_name", "accounts", "arr"]].values.tolist() == [
        ["Bo", "Ann", 1, 40.0], ["Ann", "Bo", 2, 15.0], ["(no owner)", "Ann", 1, 1.0]]
    assert pd.isna(out.loc[2, "from_rep_id"])
    assert rep_flows(moves.iloc[:0]).empty


def test_area_centroids_cover_the_states_and_counties():
    st = area_centroids("state").set_index("area")
    assert {"CA", "NY", "TX"} <= set(st.index)
    assert 32 < st.loc["CA", "lat"] < 42 and -125 < st.loc["CA", "lon"] < -114
    co = area_centroids("county")
    states = co[~co["area"].str[:2].isin(["60", "66", "69"])]  # American Samoa, Guam, Mariana Islands apart
    assert len(co) == 3233 and states["lat"].between(17, 72).all()
    assert co.set_index("area").loc["06075", "lat"] == pytest.approx(37.76, abs=0.1)  # San Francisco


def _areas_by_hand(accounts, plan, base):
    """plan_areas written the long way: one dict per area, accounts in order."""
    text = lambda v: v if isinstance(v, str) else None  # noqa: E731 (missing cells read as NaN)
    own = {a: text(r) for a, r in zip(plan[S.account_id], plan[S.rep_id])}
    was = {a: text(r) for a, r in zip(base[S.account_id], base[S.rep_id])}
    rows = {}
    for acc, area, arr in zip(accounts[A.account_id], accounts[A.county], accounts[A.arr]):
        rep = own.get(acc)
        if not isinstance(area, str) or not area.strip() or rep is None:
            continue
        r = rows.setdefault(area.strip(), {"n": 0, "arr": 0.0, "per": {}, "moved": {}})
        r["n"] += 1
        r["arr"] += arr
        p = r["per"].setdefault(rep, [0, 0.0])
        p[0] += 1
        p[1] += arr
        if (rep or "") != (was.get(acc) or ""):
            m = r["moved"].setdefault(rep, [0, 0.0])
            m[0] += 1
            m[1] += arr
    out = {}
    for area, r in rows.items():
        lead = min(r["per"], key=lambda k: (-r["per"][k][1], -r["per"][k][0], k))
        top = min(r["moved"], key=lambda k: (-r["moved"][k][1], -r["moved"][k][0], k)) if r["moved"] else None
        out[area] = (r["n"], r["arr"], lead, r["per"][lead][0], len(r["per"]), sum(v[0] for v in r["moved"].values()),
                     top)
    return out


def test_areas_match_a_plain_count_on_a_random_book_with_ties_gaps_and_blank_owners():
    import numpy as np

    rng = np.random.default_rng(7)
    n = 400
    accounts = pd.DataFrame({A.account_id: [f"a{i}" for i in range(n)],
                             A.county: rng.choice(["01001", "01003 ", "02010", "", None], n).tolist(),
                             A.arr: rng.choice([0.0, 10.0, 20.0], n)})  # few values: many ties
    reps = ["r1", "r10", "r2", "R3", "", None]
    plan = pd.DataFrame({S.account_id: accounts[A.account_id], S.rep_id: rng.choice(reps, n).tolist()})
    base = pd.DataFrame({S.account_id: accounts[A.account_id], S.rep_id: rng.choice(reps, n).tolist()}).iloc[:350]
    out = plan_areas(accounts, plan, "county", baseline=base)
    got = {r.area: (r.accounts, r.arr, r.lead_rep_id, r.lead_accounts, r.reps, r.moved,
                    None if pd.isna(r.top_receiver) else r.top_receiver) for r in out.itertuples()}
    assert got == _areas_by_hand(accounts, plan, base)
    assert list(out["area"]) == ["01001", "01003", "02010"]
