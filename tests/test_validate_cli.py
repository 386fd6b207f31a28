"""python -m territory_core validate: report, exit codes, --map, never a traceback."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SF = ROOT / "tests" / "fixtures" / "salesforce"


def cli(*args, timeout=120):
    p = subprocess.run([sys.executable, "-m", "territory_core", "validate", *map(str, args)],
                       cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    assert "Traceback" not in p.stdout + p.stderr, p.stderr
    return p


def test_salesforce_export_with_map_exits_0_with_warnings_only():
    p = cli(SF / "Account.csv", "--reps", SF / "User.csv", "--opportunities", SF / "Opportunity.csv",
            "--map", "ARR__c=arr")
    assert p.returncode == 0, p.stdout
    assert "ARR__c -> arr" in p.stdout and "OK: nothing blocks loading (0 errors" in p.stdout
    assert "ERROR" not in p.stdout


def test_blocking_errors_exit_1(tmp_path):
    f = tmp_path / "acc.csv"
    f.write_text("account_id,name,employees\nA1,a,12\nA1,b,many\n")
    p = cli(f)
    assert p.returncode == 1
    assert "Duplicate account_id 'A1'" in p.stdout and "row 3" in p.stdout and "BLOCKED" in p.stdout


def test_json_output(tmp_path):
    p = cli(SF / "Account.csv", "--map", "ARR__c=arr", "--format", "json")
    data = json.loads(p.stdout)
    assert data["ok"] is True and data["mappings"]["accounts"]["ARR__c"] == "arr"


@pytest.mark.parametrize("args,needle", [
    (["missing.csv"], "not found"),
    ([SF / "Account.csv", "--reps", "nope.csv"], "not found"),
    ([SF / "Account.csv", "--map", "ARR__c"], "SOURCE=canonical"),
    ([SF / "Account.csv", "--map", "ARR__c=revenue_typo"], "not a canonical column"),
    ([], "required"),
])
def test_bad_usage_exits_2(args, needle):
    p = cli(*args)
    assert p.returncode == 2 and needle in p.stderr


def test_garbage_exits_1_with_a_message(tmp_path):
    f = tmp_path / "x.csv"
    f.write_bytes(bytes(range(256)) * 100)
    p = cli(f)
    assert p.returncode == 1 and "not a text table" in p.stdout
    e = tmp_path / "empty.csv"
    e.write_bytes(b"")
    p = cli(e)
    assert p.returncode == 1 and "is empty" in p.stdout
