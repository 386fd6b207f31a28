"""``python -m territory_core design`` end to end: units/edges files and --geo, outputs, exit codes."""
from __future__ import annotations

import json

import geopandas as gpd
import pandas as pd
import pytest

from territory_core.__main__ import main
from territory_core.geo.instances import rios_mercado_instance


@pytest.fixture()
def files(tmp_path):
    inst = rios_mercado_instance(24, 2, 1)
    inst.units.to_csv(tmp_path / "units.csv", index=False)
    inst.edges.to_csv(tmp_path / "edges.csv", index=False)
    return tmp_path


def test_units_and_edges_to_plan_and_report(files, capsys):
    code = main(["design", "--units", str(files / "units.csv"), "--adjacency", str(files / "edges.csv"),
                 "--territories", "2", "--balance", "customers:0.05", "sales:0.05", "--balance", "workload:0.05",
                 "--objective", "compactness", "--method", "exact", "--time-limit", "60",
                 "--out", str(files / "plan.csv"), "--report", str(files / "r.json")])
    assert code == 0
    plan = pd.read_csv(files / "plan.csv", dtype=str)
    assert list(plan.columns) == ["unit_id", "territory", "centre"] and len(plan) == 24
    # every unit's centre is a unit of its own territory
    own = dict(zip(plan["unit_id"], plan["territory"]))
    assert all(own[c] == t for c, t in zip(plan["centre"], plan["territory"]))
    rep = json.loads((files / "r.json").read_text())
    assert rep["status"] == "optimal" and rep["gap"] == 0.0
    assert rep["objective"] == pytest.approx(3070.8635, abs=1e-3) and rep["bound"] == pytest.approx(rep["objective"])
    assert rep["contiguous"] is True and rep["worst_deviation"] <= 0.05
    assert len(rep["per_territory"]) == 2 and {"customers_deviation", "pieces"} <= set(rep["per_territory"][0])
    assert "Optimal" in capsys.readouterr().out


def test_disruption_with_a_current_map(files):
    plan0 = pd.read_csv(files / "units.csv")[["unit_id"]].assign(territory=lambda d: ["north"] * 12 + ["south"] * 12)
    plan0.to_csv(files / "current.csv", index=False)
    code = main(["design", "--units", str(files / "units.csv"), "--adjacency", str(files / "edges.csv"),
                 "--territories", "2", "--balance", "workload:0.1", "--objective", "disruption",
                 "--current", str(files / "current.csv"), "--time-limit", "15", "--report", str(files / "r.json"),
                 "--out", str(files / "plan.csv"), "--quiet"])
    rep = json.loads((files / "r.json").read_text())
    assert code == 0 and rep["status"] in ("optimal", "feasible") and rep["contiguous"] is True
    assert rep["bound"] is not None and rep["bound"] <= rep["objective"] + 1e-9
    plan = pd.read_csv(files / "plan.csv", dtype=str)
    assert set(plan["territory"]) == {"north", "south"}
    moved = (plan.merge(plan0.astype(str), on="unit_id").pipe(lambda d: d["territory_x"] != d["territory_y"])).sum()
    assert moved == rep["objective"] == rep["units_moved"]


@pytest.mark.parametrize("args, code, msg", [
    (["--territories", "2"], 2, "--balance MEASURE:TOL"),
    (["--territories", "2", "--balance", "nope:0.1"], 2, "no column 'nope'"),
    (["--balance", "workload:0.1"], 2, "--territories P is needed"),
    (["--territories", "2", "--balance", "workload:x"], 2, "not a number"),
    (["--territories", "2", "--balance", "workload:0.1", "--objective", "disruption"], 2, "needs --current"),
    (["--territories", "30", "--balance", "workload:0.1"], 1, "30 territories but only 24 units"),
    (["--territories", "2", "--balance", "workload:0"], 1, ""),
])
def test_bad_input_exit_codes(files, capsys, args, code, msg):
    rc = main(["design", "--units", str(files / "units.csv"), "--adjacency", str(files / "edges.csv"),
               "--time-limit", "10", *args])
    assert rc == code
    if msg:
        assert msg in capsys.readouterr().err


def test_bad_files_say_where(files, capsys):
    e = pd.read_csv(files / "edges.csv")
    pd.concat([e, pd.DataFrame({"unit_a": ["U001"], "unit_b": ["X9"]})]).to_csv(files / "bad.csv", index=False)
    rc = main(["design", "--units", str(files / "units.csv"), "--adjacency", str(files / "bad.csv"),
               "--territories", "2", "--balance", "workload:0.1"])
    assert rc == 1 and "unit 'X9' is not among the units" in capsys.readouterr().err
    rc = main(["design", "--units", str(files / "missing.csv"), "--territories", "2", "--balance", "workload:0.1"])
    assert rc == 2 and "not found" in capsys.readouterr().err


def test_geo_counties_from_accounts_and_reps(tmp_path):
    out = tmp_path
    rc = main(["design", "--geo", "state", "--accounts", "data/sample/accounts.csv", "--territories", "4",
               "--balance", "accounts:0.35", "--method", "heuristic", "--time-limit", "15",
               "--out", str(out / "plan.csv"), "--report", str(out / "r.json"),
               "--boundaries", str(out / "t.gpkg"), "--rules", str(out / "rules.csv"), "--quiet"])
    rep = json.loads((out / "r.json").read_text())
    assert rep["geo"]["level"] == "state" and rep["units"] == rep["geo"]["units"] >= 50
    assert rc == (0 if rep["status"] in ("optimal", "feasible") else 1)
    assert rep["contiguous"] is True
    shapes = gpd.read_file(out / "t.gpkg")
    assert len(shapes) == 4
    rules = pd.read_csv(out / "rules.csv", dtype=str)
    plan = pd.read_csv(out / "plan.csv", dtype=str).set_index("unit_id")["territory"]
    assert rules.set_index(["key_type", "key"]).loc[("state", "CA"), "territory"] == plan["CA"]
    assert rules.set_index(["key_type", "key"]).loc[("zip", "94105"), "territory"] == plan["CA"]
