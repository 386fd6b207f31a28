"""``python -m territory_core solve`` and ``benchmark``: options, outputs, exit codes, no tracebacks."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from territory_core.__main__ import main
from territory_core.commands.benchmark import parse_sizes
from territory_core.commands.solve import parse_balance, Usage
from territory_core.solve.bench import make_instance

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def files(tmp_path):
    acc, reps = make_instance(120, 4, seed=1)
    acc["workload_index"] = (acc.index % 5 + 1).astype(float)
    a, r = tmp_path / "accounts.csv", tmp_path / "reps.csv"
    acc.to_csv(a, index=False)
    reps.to_csv(r, index=False)
    return a, r, tmp_path


def test_solve_writes_assignments_and_report(files, capsys):
    a, r, tmp = files
    out, rep = tmp / "out.csv", tmp / "rep.json"
    code = main(["solve", "--accounts", str(a), "--reps", str(r), "--balance", "workload_index:0.1", "arr:0.2",
                 "--out", str(out), "--report", str(rep)])
    assert code == 0
    df = pd.read_csv(out)
    assert list(df.columns) == ["account_id", "rep_id", "previous_rep_id", "moved", "reason"]
    assert len(df) == 120
    d = json.loads(rep.read_text())
    for k in ("status", "objective", "bound", "gap", "build_seconds", "solve_seconds", "moves", "max_deviation", "reps"):
        assert k in d
    assert set(d["max_deviation"]) == {"workload_index", "arr"}
    assert d["max_deviation"]["workload_index"] <= 0.1 + 1e-9
    assert d["moves"] == int(df["moved"].sum())
    assert "Optimal" in capsys.readouterr().out or d["status"] == "feasible"


def test_balance_pairs_in_one_flag_or_several_are_the_same():
    assert parse_balance([["a:0.05", "b:0.1"]]) == parse_balance([["a:0.05"], ["b:0.1"]]) == [("a", 0.05), ("b", 0.1)]
    assert parse_balance([["a:5%"]]) == [("a", 0.05)]
    with pytest.raises(Usage):
        parse_balance([["a"]])
    with pytest.raises(Usage):
        parse_balance([["a:x"]])


def test_config_toml_and_flags_override(files):
    a, r, tmp = files
    cfg = tmp / "s.toml"
    cfg.write_text('objective = "disruption"\nmax_moves = 0\n[balance]\nworkload_index = 0.05\n')
    rep = tmp / "rep.json"
    code = main(["solve", "--accounts", str(a), "--reps", str(r), "--config", str(cfg), "--report", str(rep), "--quiet"])
    d = json.loads(rep.read_text())
    assert d["settings"]["max_moves"] == 0 and d["settings"]["metrics"][0]["column"] == "workload_index"
    # skewed plan, no moves allowed: infeasible, exit 1 with the fix
    assert code == 1 and d["status"] == "infeasible" and d["explanation"]
    code = main(["solve", "--accounts", str(a), "--reps", str(r), "--config", str(cfg), "--max-moves", "500",
                 "--report", str(rep), "--quiet"])
    assert code == 0 and json.loads(rep.read_text())["settings"]["max_moves"] == 500


def test_infeasible_exits_1_and_explains(files, capsys):
    a, r, tmp = files
    rep = tmp / "rep.json"
    code = main(["solve", "--accounts", str(a), "--reps", str(r), "--balance", "account_count:0.05", "--max-moves", "3",
                 "--report", str(rep), "--time-limit", "10"])
    err = capsys.readouterr().err
    d = json.loads(rep.read_text())
    assert code == 1 and d["status"] == "infeasible"
    assert d["explanation"] and "fix:" in err and "move cap" in err
    need = next(f["max_moves"] for f in d["fixes"] if "max_moves" in f)
    assert main(["solve", "--accounts", str(a), "--reps", str(r), "--balance", "account_count:0.05",
                 "--max-moves", str(need), "--quiet"]) == 0
    assert "Traceback" not in err


@pytest.mark.parametrize("argv", [
    ["--balance", "nope:0.1"],
    ["--balance", "arr"],
    ["--objective", "speed"],
    ["--config", "missing.toml"],
    ["--disruption-weight", "nope"],
])
def test_bad_usage_exits_2(files, capsys, argv):
    a, r, _ = files
    with pytest.raises(SystemExit) as e:
        raise SystemExit(main(["solve", "--accounts", str(a), "--reps", str(r), *argv]))
    assert e.value.code == 2
    assert "Traceback" not in capsys.readouterr().err


def test_missing_file_and_bad_toml_exit_2(files, capsys):
    a, r, tmp = files
    assert main(["solve", "--accounts", str(tmp / "nope.csv"), "--reps", str(r)]) == 2
    bad = tmp / "bad.toml"
    bad.write_text("objective = [")
    assert main(["solve", "--accounts", str(a), "--reps", str(r), "--config", str(bad)]) == 2
    assert "not valid TOML" in capsys.readouterr().err


def test_map_renames_a_column(files):
    a, r, tmp = files
    df = pd.read_csv(a).rename(columns={"arr": "ARR__c"})
    df.to_csv(a, index=False)
    rep = tmp / "rep.json"
    code = main(["solve", "--accounts", str(a), "--reps", str(r), "--map", "ARR__c=arr", "--balance", "arr:0.2",
                 "--report", str(rep), "--quiet"])
    assert code == 0 and "arr" in json.loads(rep.read_text())["max_deviation"]


def test_python_dash_m_runs_without_traceback(files):
    a, r, tmp = files
    p = subprocess.run([sys.executable, "-m", "territory_core", "solve", "--accounts", str(a), "--reps", str(r),
                        "--balance", "account_count:0.1", "--quiet"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert "Optimal" in p.stdout or "Feasible" in p.stdout
    p = subprocess.run([sys.executable, "-m", "territory_core", "solve", "--accounts", str(a)], cwd=ROOT,
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 2 and "Traceback" not in p.stderr


def test_benchmark_command_prints_a_table(capsys):
    assert parse_sizes("1000x20, 10000x50") == [(1000, 20), (10000, 50)]
    with pytest.raises(ValueError):
        parse_sizes("1000")
    code = main(["benchmark", "--sizes", "300x5", "--time-limit", "20"])
    out = capsys.readouterr().out
    assert code == 0
    for col in ("size", "build_s", "solve_s", "status", "gap", "moves", "lp_bound_moves", "greedy_moves",
                "worst_dev", "peak_mb", "limit_s", "limit_ok"):
        assert col in out
    assert "300x5" in out
    assert main(["benchmark", "--sizes", "abc"]) == 2
    assert main(["benchmark", "--sizes", "300x5", "--tolerance", "5"]) == 2
    assert "--tolerance must be between 0 and 1" in capsys.readouterr().err


def test_benchmark_tolerance_reaches_the_solver():
    from territory_core.solve.bench import bench_one

    wide = bench_one(300, 5, time_limit=20, tolerance=0.5, greedy=False)
    tight = bench_one(300, 5, time_limit=20, tolerance=0.02, greedy=False)
    assert wide["status"] == tight["status"] == "optimal"
    assert wide["worst_dev"] <= 0.5 + 1e-6 and tight["worst_dev"] <= 0.02 + 1e-6
    assert wide["moves"] < tight["moves"]
    assert wide["limit_s"] == 20 and wide["limit_ok"] is True


def test_balance_within_teams_from_the_command_line(tmp_path, capsys):
    from territory_core.contract import R

    acc, reps = make_instance(200, 6, seed=2)
    reps[R.region] = ["East", "East", "East", "West", "West", "West"]
    a, r, rep = tmp_path / "a.csv", tmp_path / "r.csv", tmp_path / "rep.json"
    acc.to_csv(a, index=False)
    reps.to_csv(r, index=False)
    out = tmp_path / "out.csv"
    code = main(["solve", "--accounts", str(a), "--reps", str(r), "--balance", "annual_revenue:0.1",
                 "--balance-within", "region", "--out", str(out), "--report", str(rep), "--quiet"])
    assert code == 0, capsys.readouterr()
    d = json.loads(rep.read_text())
    assert d["settings"]["balance_within"] == ["region"]
    assert any("independent teams" in n for n in d["notes"])
    df = pd.read_csv(out, dtype=str)
    team = reps.set_index(R.rep_id)[R.region]
    assert (df["rep_id"].map(team) == df["previous_rep_id"].map(team)).all()  # nobody changes team
    assert main(["solve", "--accounts", str(a), "--reps", str(r), "--balance-within", "territory", "--quiet"]) == 1
    assert "territory" in capsys.readouterr().err


@pytest.mark.parametrize("argv, needle", [
    (["--balance", "industry:0.1"], "'industry' is not a numeric column"),  # a text column, like an unknown one
    (["--max-moves", "-5"], "--max-moves -5: must be 0 or more"),  # bad usage, not "infeasible"
    (["--mip-gap", "-1"], "--mip-gap -1.0: must be between 0 and 1"),
    (["--mip-gap", "1.5"], "must be between 0 and 1"),
    (["--max-moves-per-rep", "-1"], "must be 0 or more"),
    (["--max-arr-moved", "-100"], "must be 0 or more"),
    (["--max-radius-km", "0"], "must be more than 0"),
    (["--max-radius-km", "nan"], "must be more than 0"),
])
def test_out_of_range_flags_and_text_metrics_exit_2(files, capsys, argv, needle):
    a, r, _ = files
    acc = pd.read_csv(a)
    acc["industry"] = "Tech"
    acc.to_csv(a, index=False)
    assert main(["solve", "--accounts", str(a), "--reps", str(r), *argv]) == 2
    assert needle in capsys.readouterr().err


def test_out_of_range_config_values_exit_2(files, capsys):
    a, r, tmp = files
    cfg = tmp / "s.toml"
    cfg.write_text("[solver]\nmax_moves = -3\n")
    assert main(["solve", "--accounts", str(a), "--reps", str(r), "--config", str(cfg)]) == 2
    assert "must be 0 or more (config key max_moves)" in capsys.readouterr().err
