"""Exports: CRM assignment file (CSV, Excel, Data Loader), formula-injection safety, HTML summary,
and the ``python -m territory_core export`` command."""
from __future__ import annotations

import csv
import io
import subprocess
import sys

import pandas as pd
import pytest
from openpyxl import load_workbook

from territory_core.__main__ import main
from territory_core.contract import A, R, S
from territory_core.dataset import save_dir
from territory_core.plan.export import (EXPORT_COLUMNS, assignment_export, inert_text, make_inert, salesforce_loader,
                                   scenario_summary_html, to_csv_bytes, to_excel_bytes)
from territory_core.plan.scenarios import Scenario, scenario_kpis
from territory_core.store.storage import ScenarioStore
from test_scenarios import small_dataset

EVIL = ["=HYPERLINK(\"http://evil.example\",\"click\")", "+1", "-cmd|' /C calc'!A0", "@SUM(A1:A9)", "\tTabbed",
        "\rReturn", "  =1+1"]


@pytest.fixture(scope="module")
def ds():
    d = small_dataset()
    acc = d.accounts.copy()
    for i, name in enumerate(EVIL):
        acc.loc[i, A.name] = name
    acc.loc[len(EVIL), A.name] = "<script>alert('x')</script> & Sons"
    reps = d.reps.copy()
    reps.loc[reps[R.rep_id] == "R2", R.name] = "=cmd()"
    return d.with_(accounts=acc, reps=reps)


@pytest.fixture(scope="module")
def moved(ds):
    t = Scenario.today(ds)
    a = t.assignment.copy()
    a.loc[:9, S.rep_id] = "R2"  # the evil names all move to R2
    a.loc[10:11, S.rep_id] = "N1"
    a[S.moved] = a[S.rep_id] != a[S.previous_rep_id]
    a.loc[a[S.moved], S.reason] = "moved to R2: R0 was +40% against its arr target"
    return t.with_(name="Moves", assignment=a,
                   events=({"type": "new_hire", "rep_id": "N1", "name": "Nia Hire", "ramp": 0.5},))


def test_inert_text_rules():
    for v in EVIL:
        assert inert_text(v) == "'" + v
    for v in ("Acme", "", "1-800-FLOWERS", "O'Neil", "a=b", "Data+"):
        assert inert_text(v) == v
    assert inert_text(-5.0) == -5.0 and inert_text(None) is None


def test_make_inert_keeps_real_numbers():
    df = pd.DataFrame({"name": pd.array(["-cmd", "ok"], dtype="string"), "arr": [-5.5, 3.0], "n": [-2, 1],
                       "code": pd.array(["-12", "+1"], dtype="string")})
    out = make_inert(df)
    assert out["arr"].tolist() == [-5.5, 3.0] and out["n"].tolist() == [-2, 1]
    assert out["name"].tolist() == ["'-cmd", "ok"]
    assert out["code"].tolist() == ["'-12", "'+1"]  # text that looks like a formula stays text
    text = to_csv_bytes(df).decode()
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert rows[1] == ["'-cmd", "-5.5", "-2", "'-12"]
    assert df["name"].tolist() == ["-cmd", "ok"]  # input untouched


def test_assignment_export_columns_names_and_order(ds, moved):
    df = assignment_export(moved, ds, "2027-01-15")
    assert list(df.columns) == EXPORT_COLUMNS
    assert len(df) == len(ds.accounts)
    assert df["effective_date"].eq("2027-01-15").all()
    n_moved = int(moved.assignment[S.moved].sum())
    head = df.head(n_moved)
    assert (head["previous_owner_id"] != head["new_owner_id"]).all()  # moved accounts first
    assert (df.iloc[n_moved:]["previous_owner_id"] == df.iloc[n_moved:]["new_owner_id"]).all()
    row = df.set_index("account_id").loc["A010"]
    assert row["new_owner_id"] == "N1" and row["new_owner_name"] == "Nia Hire"  # new hire named from the event
    assert row["previous_owner_name"] == "Rep 0"
    only = assignment_export(moved, ds, "2027-01-15", only_moved=True)
    assert len(only) == n_moved
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        assignment_export(moved, ds, "15/01/2027")
    with pytest.raises(ValueError, match="re-solve"):
        assignment_export(Scenario(name="draft"), ds, "2027-01-15")


def test_csv_export_formula_like_names_are_inert(ds, moved):
    df = assignment_export(moved, ds, "2027-01-15")
    rows = list(csv.DictReader(io.StringIO(to_csv_bytes(df).decode("utf-8"), newline="")))
    by_id = {r["account_id"]: r for r in rows}
    for i, evil in enumerate(EVIL):
        assert by_id[f"A{i:03d}"]["account_name"] == "'" + evil
        assert by_id[f"A{i:03d}"]["new_owner_name"] == "'=cmd()"
    assert by_id[f"A{len(EVIL):03d}"]["account_name"].startswith("<script>")
    for r in rows:
        for v in r.values():
            assert not v.startswith(("=", "+", "-", "@", "\t", "\r")), v


def test_excel_export_stores_text_never_formulas(ds, moved):
    df = assignment_export(moved, ds, "2027-01-15")
    df["arr_change"] = -1250.5  # a real negative number must stay a number
    wb = load_workbook(io.BytesIO(to_excel_bytes(df)))
    ws = wb.active
    header = [c.value for c in ws[1]]
    assert header == EXPORT_COLUMNS + ["arr_change"]
    assert ws["A1"].font.bold and ws.freeze_panes == "A2"
    cells = [c for row in ws.iter_rows(min_row=2) for c in row]
    assert not [c.coordinate for c in cells if c.data_type == "f"]
    names = {ws.cell(r, 1).value: ws.cell(r, 2) for r in range(2, ws.max_row + 1)}
    for i, evil in enumerate(EVIL):
        cell = names[f"A{i:03d}"]
        # Typed text with Excel's quote-prefix style, the value exactly as given (no apostrophe:
        # that is for CSV only). XML normalises a bare carriage return to a newline.
        assert cell.value.replace("\r", "\n") == evil.replace("\r", "\n") and cell.data_type == "s"
        assert cell.quotePrefix
    assert not names["A000"].value.startswith("'")
    neg = ws.cell(2, len(header))
    assert neg.value == -1250.5 and neg.data_type == "n"
    assert ws.max_row == len(df) + 1


def test_salesforce_loader(ds, moved):
    df = assignment_export(moved, ds, "2027-01-15", only_moved=True)
    sf = salesforce_loader(df)
    assert list(sf.columns) == ["Id", "OwnerId"]
    assert len(sf) == len(df) and sf["OwnerId"].isin(["R2", "N1"]).all()
    text = to_csv_bytes(sf).decode()
    assert text.splitlines()[0] == "Id,OwnerId"
    with pytest.raises(ValueError):
        salesforce_loader(pd.DataFrame({"x": [1]}))


def test_html_summary_is_self_contained_and_escaped(ds, moved):
    base = Scenario.today(ds)
    h = scenario_summary_html(ds, moved, scenario_kpis(ds, moved), baseline_kpis=scenario_kpis(ds, base))
    assert h.startswith("<!DOCTYPE html>") and h.rstrip().endswith("</html>")
    assert "<script" not in h.lower()  # the evil name is escaped, and there are no scripts at all
    assert "&lt;script&gt;" in h
    assert "<svg" in h and "Balance index" in h and "Baseline" in h
    assert "Nia Hire" in h  # the new-hire event, in plain words
    lowered = h.lower()
    for bad in ("src=\"http", "src='http", "href=\"http", "href='http", "@import", "cdn"):
        assert bad not in lowered
    assert "Biggest moves" in h and "Largest flows between reps" in h


# ------------------------------------------------------------------------------- CLI

@pytest.fixture
def db(tmp_path, ds, moved):
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    store = ScenarioStore(url)
    v1 = store.save(moved, user="alice", expected_version=None)
    store.save(v1.with_(assignment=Scenario.today(ds).assignment), user="bob", expected_version=1)
    store.close()
    data = tmp_path / "data"
    save_dir(ds, data)
    return url, data, v1.id


def test_cli_exports_each_format(db, tmp_path, capsys):
    url, data, sid = db
    out = tmp_path / "moves.csv"
    rc = main(["export", "--scenario", "moves", "--version", "1", "--db", url, "--data", str(data),
               "--effective-date", "2027-02-01", "--out", str(out)])
    assert rc == 0, capsys.readouterr().err
    df = pd.read_csv(out, dtype=str)
    assert list(df.columns) == EXPORT_COLUMNS and len(df) == 80
    assert (df["effective_date"] == "2027-02-01").all()
    assert (df["previous_owner_id"] != df["new_owner_id"]).sum() == 12
    assert "Wrote 80 rows (12 moved) of Moves v1" in capsys.readouterr().out

    rc = main(["export", "--scenario", sid, "--db", url, "--data", str(data), "--out", str(tmp_path / "latest.xlsx")])
    assert rc == 0
    x = pd.read_excel(tmp_path / "latest.xlsx", dtype=str)
    assert (x["previous_owner_id"] == x["new_owner_id"]).all()  # version 2 (latest) moves nothing

    capsys.readouterr()
    rc = main(["export", "--scenario", sid, "--version", "1", "--db", url, "--data", str(data), "--format", "salesforce",
               "--out", str(tmp_path / "sf.csv")])  # a CRM upload: the owner changes by default
    assert rc == 0
    sf = pd.read_csv(tmp_path / "sf.csv", dtype=str)
    assert list(sf.columns) == ["Id", "OwnerId"] and len(sf) == 12
    assert "12 rows (12 owner changes)" in capsys.readouterr().out
    rc = main(["export", "--scenario", sid, "--version", "1", "--db", url, "--data", str(data), "--format", "salesforce",
               "--all-rows", "--out", str(tmp_path / "sf_all.csv")])
    assert rc == 0 and len(pd.read_csv(tmp_path / "sf_all.csv", dtype=str)) == 80

    rc = main(["export", "--scenario", sid, "--version", "1", "--db", url, "--data", str(data),
               "--out", str(tmp_path / "summary.html")])
    assert rc == 0
    assert "<svg" in (tmp_path / "summary.html").read_text()


def test_cli_from_files_without_a_database(tmp_path, capsys):
    data = tmp_path / "plain"
    save_dir(small_dataset(), data)
    asg = tmp_path / "asg.csv"
    pd.DataFrame({"Id": ["A000", "A001"], "OwnerId": ["R3", "R1"]}).to_csv(asg, index=False)
    out = tmp_path / "o.csv"
    rc = main(["export", "--assignment", str(asg), "--accounts", str(data / "accounts.csv"), "--reps",
               str(data / "reps.csv"), "--only-moved", "--out", str(out)])
    assert rc == 0, capsys.readouterr().err
    df = pd.read_csv(out, dtype=str)
    assert df["account_id"].tolist() == ["A000"] and df["new_owner_name"].tolist() == ["Rep 3"]


def test_cli_lists_saved_scenarios(db, tmp_path, capsys):
    url, _, sid = db
    assert main(["export", "--list", "--db", url]) == 0
    out = capsys.readouterr().out
    assert sid in out and "Moves" in out and "bob" in out
    assert main(["export", "--list", "--db", f"sqlite:///{tmp_path / 'empty.db'}"]) == 0
    assert "No saved scenarios yet." in capsys.readouterr().out


@pytest.mark.parametrize("argv, code, text", [
    (["--out", "x.csv"], 2, "exactly one of --scenario"),
    (["--scenario", "Moves"], 2, "--out FILE is required"),
    (["--scenario", "Moves", "--assignment", "a.csv", "--out", "x.csv"], 2, "exactly one of"),
    (["--assignment", "a.csv", "--version", "2", "--out", "x.csv"], 2, "--version needs --scenario"),
    (["--scenario", "Moves", "--effective-date", "soon", "--out", "x.csv"], 2, "YYYY-MM-DD"),
    (["--scenario", "nothing", "--out", "x.csv"], 1, "No saved scenario is named"),
    (["--scenario", "Moves", "--version", "9", "--out", "x.csv"], 1, "has no version 9"),
    (["--assignment", "missing.csv", "--out", "x.csv"], 1, "does not exist"),
])
def test_cli_errors_exit_codes(db, tmp_path, capsys, argv, code, text):
    url, data, _ = db
    args = ["export", *argv]
    if "--scenario" in argv:
        args += ["--db", url]
    args += ["--data", str(data)]
    args = [str(tmp_path / a) if a.endswith(".csv") else a for a in args]
    assert main(args) == code
    assert text in capsys.readouterr().err


def test_cli_bad_database_no_traceback(tmp_path):
    res = subprocess.run([sys.executable, "-m", "territory_core", "export", "--scenario", "x", "--db",
                          "postgresql+psycopg://u:hunter2@127.0.0.1:1/none", "--out", str(tmp_path / "x.csv")],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 1
    assert "Traceback" not in res.stderr and "hunter2" not in res.stderr
    assert "Cannot open the scenario database" in res.stderr


def test_salesforce_ids_are_written_in_18_character_form():
    from territory_core.plan.export import sf_id_18

    assert sf_id_18("001D000000IqhSL", ("001",)) == "001D000000IqhSLIAZ"  # Salesforce's documented example
    assert sf_id_18("A00001", ("001",)) == "A00001"
    assert sf_id_18("123456789012345", ("001",)) == "123456789012345"  # not an account id prefix
    df = pd.DataFrame({"account_id": ["001D000000IqhSL", "A7"], "new_owner_id": ["005A0000001abcd", "R1"]})
    sf = salesforce_loader(df)
    assert sf.values.tolist() == [["001D000000IqhSLIAZ", "005A0000001abcdIAA"], ["A7", "R1"]]


def test_cli_reads_salesforce_exports_through_the_import_pipeline(tmp_path, capsys):
    from territory_core.plan.export import sf_id_18

    acc15 = [f"001D000000Iqh{c}{d}" for c, d in ("SL", "AB", "cd")]
    usr15 = ["005A0000001abcd", "005A0000001WXYZ"]
    acc18 = [sf_id_18(a, ("001",)) for a in acc15]
    usr18 = [sf_id_18(u, ("005",)) for u in usr15]
    pd.DataFrame({"Id": acc18, "Name": ["=SUM(1)", "Beta LLC", "Gamma Inc"], "OwnerId": [usr18[0]] * 3,
                  "AnnualRevenue": ["$1,200,000", "5000000", ""]}).to_csv(tmp_path / "Account.csv", index=False)
    pd.DataFrame({"Id": usr18, "Name": ["Ann Owner", "Will New"], "IsActive": ["true", "true"]}).to_csv(
        tmp_path / "User.csv", index=False)
    pd.DataFrame({"Id": acc18[:2], "OwnerId": [usr18[1], usr18[0]]}).to_csv(tmp_path / "plan.csv", index=False)
    common = ["export", "--assignment", str(tmp_path / "plan.csv"), "--accounts", str(tmp_path / "Account.csv"),
              "--reps", str(tmp_path / "User.csv")]
    assert main(common + ["--out", str(tmp_path / "out.csv")]) == 0, capsys.readouterr().err
    out = pd.read_csv(tmp_path / "out.csv", dtype=str)
    first = out.iloc[0]
    assert first["account_name"] == "'=SUM(1)" and first["new_owner_name"] == "Will New"
    assert first["previous_owner_name"] == "Ann Owner"
    assert main(common + ["--format", "salesforce", "--only-moved", "--out", str(tmp_path / "sf.csv")]) == 0
    sf = pd.read_csv(tmp_path / "sf.csv", dtype=str)
    assert sf.values.tolist() == [[acc18[0], usr18[1]]]
    # a plan written with 15-character ids exports the ids of the accounts file, as given (18)
    pd.DataFrame({"Id": acc15[:2], "OwnerId": [usr15[1], usr15[0]]}).to_csv(tmp_path / "plan15.csv", index=False)
    assert main(["export", "--assignment", str(tmp_path / "plan15.csv"), "--accounts", str(tmp_path / "Account.csv"),
                 "--reps", str(tmp_path / "User.csv"), "--out", str(tmp_path / "o15.csv")]) == 0
    o15 = pd.read_csv(tmp_path / "o15.csv", dtype=str)
    assert o15["account_id"].tolist() == acc18[:2] and o15["new_owner_id"].tolist() == [usr18[1], usr18[0]]
    assert o15["account_name"].tolist()[1] == "Beta LLC" and "not in the dataset" not in capsys.readouterr().err
    # A file the import cannot load is reported with its problems, not a traceback.
    (tmp_path / "bad.csv").write_text("Colour,Size\nred,1\n")
    assert main(["export", "--assignment", str(tmp_path / "plan.csv"), "--accounts", str(tmp_path / "bad.csv"),
                 "--reps", str(tmp_path / "User.csv"), "--out", str(tmp_path / "x.csv")]) == 1
    assert "cannot be loaded" in capsys.readouterr().err


from hypothesis import given, settings, strategies as st  # noqa: E402


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(min_size=0, max_size=12), min_size=1, max_size=5))
def test_any_text_round_trips_through_csv_inert(values):
    df = pd.DataFrame({"name": pd.array(values, dtype="string"), "n": range(len(values))})
    rows = list(csv.reader(io.StringIO(to_csv_bytes(df).decode("utf-8"), newline="")))
    assert len(rows) == len(values) + 1  # no value can split or merge rows
    for v, (cell, n) in zip(values, rows[1:]):
        assert cell in (v, "'" + v)
        assert not cell.lstrip(" ").startswith(("=", "+", "-", "@")) and not cell.startswith(("\t", "\r"))


def test_cli_list_escapes_control_characters_in_names(tmp_path, ds, capsys):
    url = f"sqlite:///{tmp_path / 'ctl.db'}"
    store = ScenarioStore(url)
    store.save(Scenario.today(ds).with_(name="Plan\x1b[2J\x1b[31m red\rX\nY\x07"), user="eve\x1b]0;pwned\x07")
    store.close()
    assert main(["export", "--list", "--db", url]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\r" not in out and "\x07" not in out
    assert "Plan\\x1b[2J\\x1b[31m red\\rX\\nY\\x07" in out  # shown as escapes (the store cleans user names)


@pytest.fixture
def tbh_db(tmp_path, ds):
    """A plan giving two accounts to a placeholder hire (TBH-1), saved, with its data as files."""
    t = Scenario.today(ds)
    a = t.assignment.copy()
    a.loc[:1, S.rep_id] = "TBH-1"
    a.loc[2:4, S.rep_id] = "R2"
    a[S.moved] = a[S.rep_id] != a[S.previous_rep_id]
    sc = t.with_(name="Backfill", assignment=a,
                 events=({"type": "new_hire", "rep_id": "TBH-1", "name": "West hire", "ramp_schedule": [0.5, 1.0],
                          "quota": 400000},))
    url = f"sqlite:///{tmp_path / 'tbh.db'}"
    store = ScenarioStore(url)
    store.save(sc, user="alice", expected_version=None)
    store.close()
    data = tmp_path / "data"
    save_dir(ds, data)
    return url, data, sc


def test_salesforce_file_refuses_placeholder_owners_until_mapped(tbh_db, ds):
    from territory_core.plan.export import (PlaceholderOwners, apply_owner_map, placeholder_owners,
                                            split_placeholders)

    _, _, sc = tbh_db
    df = assignment_export(sc, ds, only_moved=True)
    assert placeholder_owners(df).to_dict() == {"TBH-1": 2}
    with pytest.raises(PlaceholderOwners, match=r"TBH-1 \(2 rows\)"):
        salesforce_loader(df)
    mapped = apply_owner_map(df, {"TBH-1": "0055g00000ABCDe"})
    sf = salesforce_loader(mapped)
    from territory_core.plan.export import sf_id_18

    assert len(sf) == 5 and (sf["OwnerId"] == sf_id_18("0055g00000ABCDe", ("005",))).sum() == 2  # 18 characters
    assert len(sf_id_18("0055g00000ABCDe", ("005",))) == 18
    ready, held = split_placeholders(df)
    assert len(ready) == 3 and len(held) == 2 and set(held["new_owner_id"]) == {"TBH-1"}
    assert len(salesforce_loader(ready)) == 3


def test_cli_owner_map_and_to_assign(tbh_db, tmp_path, capsys):
    url, data, _ = tbh_db
    base = ["export", "--scenario", "Backfill", "--db", url, "--data", str(data), "--format", "salesforce"]
    assert main(base + ["--out", str(tmp_path / "sf.csv")]) == 1
    assert "placeholder reps not yet in the CRM: TBH-1 (2 rows)" in capsys.readouterr().err
    assert not (tmp_path / "sf.csv").exists()
    assert main(base + ["--owner-map", "TBH-1=0055g00000ABCDe", "--out", str(tmp_path / "sf.csv")]) == 0
    sf = pd.read_csv(tmp_path / "sf.csv", dtype=str)
    assert len(sf) == 5 and "TBH-1" not in set(sf["OwnerId"])
    assert main(base + ["--to-assign", str(tmp_path / "hold.csv"), "--out", str(tmp_path / "sf2.csv")]) == 0
    assert len(pd.read_csv(tmp_path / "sf2.csv", dtype=str)) == 3
    assert set(pd.read_csv(tmp_path / "hold.csv", dtype=str)["new_owner_id"]) == {"TBH-1"}
    assert main(base + ["--owner-map", "TBH-1", "--out", str(tmp_path / "x.csv")]) == 2


def test_html_summary_shows_the_cost_and_flags_placeholders(tbh_db, ds):
    from territory_core.plan.scenarios import scenario_kpis

    _, _, sc = tbh_db
    html = scenario_summary_html(ds, sc, scenario_kpis(ds, sc))
    assert "Cost of this change" in html and "Accounts changing hands" in html and "5 of 80" in html
    assert "Placeholders:</b> West hire (TBH-1)" in html
    assert "ramp gap $50.0k of $400.0k quota" in html  # 400k x (1 - (0.5 + 1 + 1 + 1) / 4)


def test_html_summary_lists_the_solvers_notes_escaped(ds, moved):
    from dataclasses import replace

    noted = replace(moved, report={**(moved.report or {}), "explanation": ["Team West <b>could not</b> hold its band."]})
    h = scenario_summary_html(ds, noted, scenario_kpis(ds, noted))
    assert "Solver notes" in h and "Team West &lt;b&gt;could not&lt;/b&gt; hold its band." in h
