"""The command line on stored datasets: `data import` / `data list` / `data activate`,
`solve --dataset ... --save-scenario`, and `export --scenario` with no data files, each in a fresh
process on one database."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parent.parent
SF = Path(__file__).parent / "fixtures" / "salesforce"


@pytest.fixture
def db(tmp_path):
    return f"sqlite:///{tmp_path / 'cli.db'}"


def cli(db: str, *args, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """``python -m territory_core ARGS`` in a fresh process on the database ``db``."""
    env = {**os.environ, "TERRITORY_DB_URL": db, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "territory_core", *map(str, args)], capture_output=True, text=True,
                          timeout=300, cwd=str(cwd or ROOT), env=env)


@pytest.fixture
def run(db, monkeypatch, capsys):
    """The same command in this process (faster; for the tests that do not need a fresh process)."""
    from territory_core.__main__ import main

    monkeypatch.setenv("TERRITORY_DB_URL", db)

    def call(*args) -> subprocess.CompletedProcess:
        capsys.readouterr()
        try:
            code = main([str(a) for a in args])
        except SystemExit as exc:  # argparse usage errors
            code = exc.code
        out = capsys.readouterr()
        return subprocess.CompletedProcess(args, code, out.out, out.err)

    return call


def test_import_solve_save_then_export_in_a_fresh_process_without_files(db, tmp_path):
    """Import a Salesforce export as a dataset, solve on it and save "Plan A"; then another process,
    given no data files (and run elsewhere), exports the plan: every account by the id the export
    gave, with the export's names and owners."""
    r = cli(db, "data", "import", "--name", "SF export", "--accounts", SF / "Account.csv", "--reps", SF / "User.csv",
            "--opportunities", SF / "Opportunity.csv", "--map", "ARR__c=arr")
    assert r.returncode == 0, r.stderr
    assert "Saved SF export v1: 25 accounts, 8 reps, 40 opportunities from Account.csv, User.csv, Opportunity.csv" \
        in r.stdout
    r = cli(db, "solve", "--dataset", "SF export", "--balance", "account_count:0.5", "--save-scenario", "Plan A",
            "--quiet")
    assert r.returncode == 0, r.stderr
    assert "Saved scenario Plan A v1 on dataset SF export v1." in r.stdout

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    owners = elsewhere / "owners.csv"
    r = cli(db, "export", "--scenario", "Plan A", "--format", "salesforce", "--all-rows", "--out", owners, cwd=elsewhere)
    assert r.returncode == 0, r.stderr
    assert "on dataset SF export v1" in r.stdout and "warning" not in r.stderr
    given = pd.read_csv(SF / "Account.csv", dtype=str, encoding="utf-8-sig")
    out = pd.read_csv(owners, dtype=str)
    assert list(out.columns) == ["Id", "OwnerId"] and len(out) == 25
    assert sorted(out["Id"]) == sorted(given["Id"])  # every account, by the 18-character id of the export
    users = pd.read_csv(SF / "User.csv", dtype=str)
    assert set(out["OwnerId"]) <= set(users.loc[users["IsActive"] == "true", "Id"])

    plan = elsewhere / "plan.csv"
    r = cli(db, "export", "--scenario", "Plan A", "--out", plan, cwd=elsewhere)
    assert r.returncode == 0, r.stderr
    df = pd.read_csv(plan, dtype=str, keep_default_na=False)
    names = dict(zip(given["Id"], given["Name"]))  # ids as the export gave them (18 characters)
    assert len(df) == 25 and (df["account_name"] == df["account_id"].map(names)).all()  # the export's names
    assert df["previous_owner_name"].isin(set(users["Name"])).all()  # and its reps, not the sample's


def test_data_list_versions_and_activate(run):
    for _ in range(2):
        assert run("data", "import", "--name", "SF export", "--accounts", SF / "Account.csv", "--reps",
                   SF / "User.csv", "--map", "ARR__c=arr").returncode == 0
    r = run("data", "list")
    assert r.returncode == 0, r.stderr
    row = [ln for ln in r.stdout.splitlines() if ln.strip().startswith("SF export")]
    assert len(row) == 1 and row[0].split()[2:5] == ["2", "25", "8"]  # name, version 2, accounts, reps
    r = run("data", "list", "sf export")
    assert "Versions of SF export:" in r.stdout and len([ln for ln in r.stdout.splitlines()
                                                          if ln.strip()[:1] in ("1", "2")]) == 2
    r = run("data", "activate", "SF export@1")
    assert r.returncode == 0 and "New app sessions open SF export v1." in r.stdout
    assert "*" in [ln for ln in run("data", "list").stdout.splitlines() if "SF export" in ln][0]
    assert run("data", "activate", "--sample").returncode == 0


def test_second_import_uses_the_saved_mapping_and_blocks_on_a_lost_money_column(run):
    args = ["data", "import", "--name", "SF", "--accounts", SF / "Account.csv", "--reps", SF / "User.csv"]
    assert run(*args, "--map", "ARR__c=arr").returncode == 0
    r = run(*args)  # no --map: the remembered mapping loads ARR__c as arr again
    assert r.returncode == 0, r.stderr
    assert "accounts: using your saved mapping from" in r.stdout and "Saved SF v2" in r.stdout
    r = run(*args, "--no-saved-mapping")
    assert r.returncode == 1
    assert "'ARR__c' was loaded as arr last time" in r.stderr and "Nothing was saved." in r.stderr
    assert run(*args, "--no-saved-mapping", "--map", "ARR__c=").returncode == 0  # on purpose: v3


def test_import_errors_and_usage(run, tmp_path):
    bad = tmp_path / "accounts.csv"
    bad.write_text("account_id,name,employees\nA1,a,12\nA1,b,lots\n")
    reps = tmp_path / "reps.csv"
    reps.write_text("rep_id,name\nR1,Ann\n")
    r = run("data", "import", "--name", "Bad", "--accounts", bad, "--reps", reps)
    assert r.returncode == 1
    assert "Duplicate account_id 'A1'" in r.stderr and "BLOCKED" in r.stderr and "Nothing was saved" in r.stderr
    assert "No saved datasets yet" in run("data", "list").stdout
    assert run("data", "import", "--name", "X", "--accounts", tmp_path / "nope.csv", "--reps", reps).returncode == 2
    assert run("data", "import", "--accounts", bad, "--reps", reps).returncode == 2  # --name is required
    assert run("data").returncode == 2
    r = run("solve", "--dataset", "Nothing", "--quiet")
    assert r.returncode == 2 and "No saved dataset is named" in r.stderr
    r = run("solve", "--accounts", SF / "Account.csv", "--reps", SF / "User.csv", "--save-scenario", "P")
    assert r.returncode == 2 and "--save-scenario needs --dataset" in r.stderr
    r = run("solve", "--quiet")
    assert r.returncode == 2 and "--dataset NAME[@VERSION]" in r.stderr
