"""Territory design core: the models (exact and heuristic), contiguity, balance, bounds, the
Pfizer case with fixed centres, and the generated Rios-Mercado-style instances."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from territory_core.geo.design import (CompactTerritories, DesignError, LeastDisruptionTerritories,
                                       within_bands)
from territory_core.geo.graph import Distances, Graph, contiguous
from territory_core.geo.instances import MEASURES, delaunay_edges, rios_mercado_instance

BENCH = Path(__file__).resolve().parent.parent.parent / "shared" / "benchmarks"


def trap():
    """Six units on a path 0-1-2-3-4-5; unit 2 lies next to B's centre (unit 5) on the plane but
    is joined to the rest only through units 1 and 3. Three units each (tolerance 0)."""
    units = pd.DataFrame({"unit_id": list("abcdef"), "x": [0, 1, 10, 2, 9, 10], "y": [0, 0, 0.5, 0, 0, 0],
                          "n": 1.0})
    edges = pd.DataFrame({"unit_a": list("abcde"), "unit_b": list("bcdef")})
    terr = pd.DataFrame({"territory": ["A", "B"], "centre": ["a", "f"]})
    return units, edges, terr


def test_contiguity_is_enforced_where_the_cheapest_plan_is_in_pieces():
    units, edges, terr = trap()
    loose = CompactTerritories.from_frames(units, None, territories=terr, balance={"n": 0.0}).solve(method="exact")
    # without adjacency the optimum puts c with B and d with A: A = {a, b, d} is in two pieces
    assert loose.status_ == "optimal"
    assert loose.labels_.to_dict() == {"a": "A", "b": "A", "c": "B", "d": "A", "e": "B", "f": "B"}
    g = Graph(6, [0, 1, 2, 3, 4], [1, 2, 3, 4, 5])
    assert contiguous(g, loose._labels_idx, [0, 1]) == {0: 2, 1: 2}
    for method in ("exact", "heuristic"):
        m = CompactTerritories.from_frames(units, edges, territories=terr, balance={"n": 0.0}).solve(method=method)
        assert m.labels_.to_dict() == {"a": "A", "b": "A", "c": "A", "d": "B", "e": "B", "f": "B"}, method
        assert m.report_["contiguous"] is True
        assert m.objective_ == pytest.approx(1 + np.hypot(10, 0.5) + 8 + 1)
    exact = CompactTerritories.from_frames(units, edges, territories=terr, balance={"n": 0.0}).solve(method="exact")
    assert exact.status_ == "optimal" and exact.gap_ == 0.0
    assert exact.objective_ > loose.objective_


def test_contiguity_cut_on_free_centres_generated_instance():
    inst = rios_mercado_instance(24, 2, 1)
    m = CompactTerritories.from_frames(inst.units, inst.edges, territories=2,
                                       balance={k: 0.05 for k in MEASURES}).solve(time_limit=60, method="exact")
    assert m.status_ == "optimal"
    assert m.objective_ == pytest.approx(3070.8635, abs=1e-3)
    assert m.report_["contiguous"] is True and m.report_["worst_deviation"] <= 0.05 + 1e-9
    assert within_bands(m.problem, m._labels_idx)
    # the plan has one centre per territory, inside it
    for t, c in m.centres_.items():
        assert m.labels_[c] == t


def test_heuristic_is_contiguous_balanced_and_its_bound_is_below_the_optimum():
    inst = rios_mercado_instance(24, 2, 1)
    h = CompactTerritories.from_frames(inst.units, inst.edges, territories=2,
                                       balance={k: 0.05 for k in MEASURES}).solve(time_limit=20, method="heuristic")
    assert h.method_ == "heuristic"
    assert h.report_["contiguous"] is True
    if h.status_ == "feasible":
        assert h.objective_ >= 3070.8634 - 1e-3
    assert h.bound_ is not None and h.bound_ <= 3070.8635
    assert any("Lagrangian" in n for n in h.notes_)


def test_least_disruption_keeps_today_when_today_is_balanced_and_moves_the_fewest_otherwise():
    units, edges, terr = trap()
    cur = {"a": "A", "b": "A", "c": "A", "d": "B", "e": "B", "f": "B"}
    m = LeastDisruptionTerritories.from_frames(units, edges, territories=["A", "B"], balance={"n": 0.0},
                                               current=cur).solve(method="exact")
    assert m.status_ == "optimal" and m.objective_ == 0.0 and m.report_["units_moved"] == 0
    cur2 = dict(cur, d="A")  # A has 4 units, B 2: exactly one unit must move, and it must be d
    m2 = LeastDisruptionTerritories.from_frames(units, edges, territories=["A", "B"], balance={"n": 0.0},
                                                current=cur2).solve(method="exact")
    assert m2.status_ == "optimal" and m2.objective_ == 1.0
    assert m2.labels_.to_dict() == cur


def test_infeasible_bands_and_whales_are_said_plainly():
    units, edges, terr = trap()
    big = units.assign(n=[1, 1, 1, 1, 1, 20])
    m = CompactTerritories.from_frames(big, edges, territories=2, balance={"n": 0.1}).solve(method="exact")
    assert m.status_ == "infeasible" and m.labels_ is None
    assert any("Unit f alone has 20" in n for n in m.notes_)
    # three units per territory cannot give 2 territories +-0 with 5 units of 1
    five = units.iloc[:5]
    m = CompactTerritories.from_frames(five, edges.iloc[:4], territories=2, balance={"n": 0.0}).solve(method="exact")
    assert m.status_ == "infeasible"


@pytest.mark.parametrize("bad, msg", [
    (dict(balance={}), "at least one measure"),
    (dict(balance={"zz": 0.1}), "no measure 'zz'"),
    (dict(balance={"n": 1.5}), "between 0 and 1"),
    (dict(territories=9), "9 territories but only 6 units"),
])
def test_bad_set_up_gets_a_clear_message(bad, msg):
    units, edges, _ = trap()
    kw = dict(territories=2, balance={"n": 0.1}) | bad
    with pytest.raises(DesignError, match=msg):
        CompactTerritories.from_frames(units, edges, **kw)


def test_edges_naming_unknown_units_are_refused_with_the_row():
    units, edges, _ = trap()
    edges = pd.concat([edges, pd.DataFrame({"unit_a": ["a"], "unit_b": ["zz"]})], ignore_index=True)
    with pytest.raises(DesignError, match=r"adjacency row 7: unit 'zz'"):
        CompactTerritories.from_frames(units, edges, territories=2, balance={"n": 0.1})


def test_capacity_shares_set_unequal_targets():
    inst = rios_mercado_instance(24, 2, 1)
    terr = pd.DataFrame({"territory": ["big", "small"], "share": [2.0, 1.0]})
    m = CompactTerritories.from_frames(inst.units, inst.edges, territories=terr,
                                       balance={"workload": 0.1}).solve(time_limit=60, method="exact")
    assert m.status_ in ("optimal", "feasible")
    tab = pd.DataFrame(m.report_["per_territory"]).set_index("territory")
    total = inst.units["workload"].sum()
    assert tab.loc["big", "workload_target"] == pytest.approx(total * 2 / 3, rel=1e-6)
    assert 0.9 * total * 2 / 3 - 1e-6 <= tab.loc["big", "workload"] <= 1.1 * total * 2 / 3 + 1e-6


def test_delaunay_adjacency_is_connected_and_planar():
    inst = rios_mercado_instance(60, 4, 1)
    e = delaunay_edges(inst.units[["x", "y"]].to_numpy())
    g = Graph(60, e[:, 0], e[:, 1])
    assert g.components()[0] == 1
    assert len(e) <= 3 * 60 - 6


def test_great_circle_distances():
    d = Distances("great_circle", xy=np.array([[40.7128, -74.0060], [34.0522, -118.2437]]))
    assert d.between([0], [1])[0, 0] == pytest.approx(3936, rel=0.01)


pfizer = pytest.mark.skipif(not (BENCH / "pfizer_22x4" / "accounts.csv").exists(),
                            reason="../shared/benchmarks (Pfizer case files) is not present on this machine")


def _pfizer(case):
    acc = pd.read_csv(BENCH / case / "accounts.csv").rename(columns={"account_id": "unit_id"})
    reps = pd.read_csv(BENCH / case / "reps.csv")
    d = pd.read_csv(BENCH / case / "distances.csv").rename(columns={"account_id": "unit_id"})
    d["centre"] = d["rep_id"].map(dict(zip(reps.rep_id, reps.office_account_id)))
    terr = pd.DataFrame({"territory": reps.rep_id, "centre": reps.office_account_id})
    return acc, d, terr


@pfizer
def test_pfizer_22x4_distance_optimum_154_60_with_offices_as_fixed_centres():
    acc, d, terr = _pfizer("pfizer_22x4")
    m = CompactTerritories.from_cost_matrix(acc, d, territories=terr, balance={"workload_index": 0.2}).solve(method="exact")
    assert m.status_ == "optimal"
    assert m.objective_ == pytest.approx(154.60, abs=0.005)
    assert m.bound_ == pytest.approx(154.60, abs=0.005)
    assert m.report_["worst_deviation"] <= 0.2 + 1e-9


@pfizer
def test_pfizer_22x4_minimal_disruption_0_1696():
    acc, d, terr = _pfizer("pfizer_22x4")
    cur = dict(zip(acc.unit_id, acc.owner_id))
    m = LeastDisruptionTerritories.from_cost_matrix(acc, d, territories=terr, balance={"workload_index": 0.2},
                                                    current=cur, moved_weight="workload_index").solve(method="exact")
    assert m.status_ == "optimal"
    assert m.objective_ == pytest.approx(0.1696, abs=5e-5)
