"""External check: the Pfizer Turkey sales-territory case (../shared/benchmarks), through the CLI."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from territory_core.__main__ import main

BENCH = Path(__file__).resolve().parent.parent.parent / "shared" / "benchmarks"
P22 = BENCH / "pfizer_22x4"
P100 = BENCH / "pfizer_100x10"

pytestmark = pytest.mark.skipif(not (P22 / "accounts.csv").exists(),
                                reason="../shared/benchmarks (Pfizer case files) is not present on this machine")


def run_cli(case: Path, tmp_path, *extra):
    out, rep = tmp_path / "assign.csv", tmp_path / "report.json"
    code = main(["solve", "--accounts", str(case / "accounts.csv"), "--reps", str(case / "reps.csv"),
                 "--balance", "workload_index:0.2", "--out", str(out), "--report", str(rep), "--quiet", *extra])
    return code, json.loads(rep.read_text()), pd.read_csv(out, dtype=str)


def workload_ok(case: Path, assign: pd.DataFrame):
    acc = pd.read_csv(case / "accounts.csv", dtype={"account_id": str})
    m = acc.merge(assign, on="account_id")
    per = m.groupby("rep_id")["workload_index"].sum()
    mean = acc["workload_index"].sum() / pd.read_csv(case / "reps.csv").shape[0]
    assert len(per) == pd.read_csv(case / "reps.csv").shape[0]
    assert (per >= 0.8 * mean - 1e-9).all() and (per <= 1.2 * mean + 1e-9).all(), per
    return m


def test_22x4_today_distance_is_the_published_187_41():
    acc = pd.read_csv(P22 / "accounts.csv")
    d = pd.read_csv(P22 / "distances.csv")
    today = acc.merge(d, left_on=["account_id", "owner_id"], right_on=["account_id", "rep_id"])["distance"].sum()
    assert today == pytest.approx(187.41, abs=0.005)


def test_22x4_distance_optimum_154_60(tmp_path):
    code, rep, assign = run_cli(P22, tmp_path, "--objective", "distance", "--distances", str(P22 / "distances.csv"))
    assert code == 0
    assert rep["status"] == "optimal" and rep["gap"] == 0.0
    assert rep["objective"] == pytest.approx(154.60, abs=0.005)
    m = workload_ok(P22, assign)
    d = pd.read_csv(P22 / "distances.csv", dtype=str)
    d["distance"] = d["distance"].astype(float)
    assert m.merge(d, on=["account_id", "rep_id"])["distance"].sum() == pytest.approx(154.60, abs=0.005)


def test_22x4_minimal_disruption_0_1696(tmp_path):
    code, rep, assign = run_cli(P22, tmp_path, "--objective", "disruption", "--disruption-weight", "workload_index")
    assert code == 0
    assert rep["status"] == "optimal"
    assert rep["objective"] == pytest.approx(0.1696, abs=5e-5)
    m = workload_ok(P22, assign)
    moved = m[m["rep_id"] != m["owner_id"]]
    assert moved["workload_index"].sum() == pytest.approx(0.1696, abs=5e-5)
    assert (assign["moved"] == "True").sum() == len(moved)


@pytest.mark.parametrize("objective", ["distance", "disruption"])
def test_100x10_proven_optimal(tmp_path, objective):
    extra = ["--objective", objective, "--mip-gap", "0", "--time-limit", "60"]
    if objective == "distance":
        extra += ["--distances", str(P100 / "distances.csv")]
    else:
        extra += ["--disruption-weight", "workload_index"]
    code, rep, assign = run_cli(P100, tmp_path, *extra)
    assert code == 0
    assert rep["status"] == "optimal" and rep["gap"] == 0.0
    assert rep["bound"] == pytest.approx(rep["objective"])
    assert rep["build_seconds"] + rep["solve_seconds"] < 60
    workload_ok(P100, assign)
