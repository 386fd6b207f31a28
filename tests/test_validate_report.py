"""Validation: blocking errors vs warnings, rows and columns, and the Salesforce export case."""
from pathlib import Path

import pandas as pd

from territory_core.ingest.importer import load_files
from territory_core.ingest.validate import Issue, ValidationReport

FIX = Path(__file__).parent / "fixtures"
REPS = b"rep_id,name\nR1,Ann\nR2,Bob\n"


def issues(res, severity):
    return [(i.row, i.column, i.message) for i in res.report.issues if i.severity == severity]


def has(res, severity, column, text, row=None):
    return any(c == column and text in m and (row is None or r == row) for r, c, m in issues(res, severity))


def test_missing_required_column_blocks():
    res = load_files(accounts=b"account_id,industry\nA1,Software\n")
    assert not res.report.ok and res.dataset is None
    assert has(res, "error", "name", "Required column 'name' is missing")
    assert "fix" in res.report.to_text()


def test_empty_and_duplicate_account_ids_block_with_rows():
    res = load_files(accounts=b"account_id,name\nA1,Acme\n,NoId\nA1,Dup\n")
    assert has(res, "error", "account_id", "Empty account_id", row=3)
    assert has(res, "error", "account_id", "Duplicate account_id 'A1' (also on row 2)", row=4)


def test_parent_cycle_blocks_and_parent_outside_warns():
    res = load_files(accounts=b"account_id,name,parent_id\nA,a,B\nB,b,C\nC,c,A\nD,d,ZZZ\nE,e,E\n")
    assert has(res, "error", "parent_id", "Parent cycle")
    assert has(res, "warning", "parent_id", "not in the file", row=5)
    assert has(res, "warning", "parent_id", "its own parent", row=6)
    assert not has(res, "error", "parent_id", "Parent cycle: E")


def test_text_in_numeric_column_blocks():
    res = load_files(accounts=b"account_id,name,employees,annual_revenue\nA1,a,12,$1M\nA2,b,lots,100\n")
    assert has(res, "error", "employees", "Text in the numeric column", row=3)
    assert not has(res, "error", "annual_revenue", "Text")


def test_owner_matching_no_rep_blocks_only_when_reps_are_given():
    acc = b"account_id,name,owner_id\nA1,a,R1\nA2,b,R9\nA3,c,\n"
    assert load_files(accounts=acc).report.ok
    res = load_files(accounts=acc, reps=REPS)
    assert has(res, "error", "owner_id", "matches no rep_id", row=3)
    assert has(res, "warning", "owner_id", "1 accounts have no owner")


def test_owner_names_are_matched_to_rep_ids():
    res = load_files(accounts=b"account_id,name,Account Owner\nA1,a,Ann\nA2,b,bob\n", reps=REPS)
    assert res.report.ok, res.report.to_text()
    assert res.dataset.accounts["owner_id"].tolist() == ["R1", "R2"]


def test_duplicate_rep_and_unknown_opportunity_account_block():
    res = load_files(accounts=b"account_id,name\nA1,a\n", reps=b"rep_id,name\nR1,Ann\nR1,Ann again\n",
                     opportunities=b"opportunity_id,account_id,amount\nO1,A1,10\nO2,A9,5\n")
    assert has(res, "error", "rep_id", "Duplicate rep_id 'R1'", row=3)
    assert any(i.table == "opportunities" and i.row == 3 and "not in the accounts file" in i.message
               for i in res.report.errors)


def test_warnings_do_not_block():
    acc = (b"account_id,name,zip,annual_revenue,intent\n"
           b"A1,a,99999,-5,150\nA2,,02139,10,50\n")
    res = load_files(accounts=acc)
    assert res.report.ok and res.dataset is not None
    assert has(res, "warning", "zip", "Unknown US ZIP", row=2)
    assert has(res, "warning", "annual_revenue", "Negative", row=2)
    assert has(res, "warning", "intent", "outside 0-100", row=2)
    assert has(res, "warning", "name", "Empty account name", row=3)
    assert has(res, "warning", "industry", "Optional column 'industry' is missing")
    assert res.dataset.accounts["intent"].max() == 100


def test_many_bad_rows_are_summarised():
    rows = "".join(f"A{i},n,x\n" for i in range(100))
    res = load_files(accounts=("account_id,name,employees\n" + rows).encode())
    errs = [i for i in res.report.errors if i.column == "employees"]
    assert len(errs) == 21 and "80 more rows" in errs[-1].message


def test_report_frame_puts_errors_first_and_text_is_readable():
    rep = ValidationReport()
    rep.warning("accounts", 5, "zip", "w1", "f1")
    rep.error("accounts", 2, "account_id", "e1", "f2")
    df = rep.to_frame()
    assert df["severity"].tolist() == ["error", "warning"] and df["row"].tolist() == [2, 5]
    txt = rep.to_text()
    assert txt.index("e1") < txt.index("w1") and "BLOCKED" in txt and "row 2" in txt
    assert not rep.ok and len(rep.errors) == 1 and len(rep.warnings) == 1
    assert isinstance(rep.issues[0], Issue) and rep.issues[0].where == "accounts, row 5, column 'zip'"
    assert ValidationReport().to_frame().empty and ValidationReport().ok


def test_salesforce_data_loader_export_validates_with_warnings_only():
    """BOM, quoted headers, ZIP+4, lost leading zeros, state names, 18-char Ids with 15-char
    ParentId/OwnerId, a custom ARR__c mapped to arr, and an extra numeric custom field."""
    sf = FIX / "salesforce"
    res = load_files(accounts=sf / "Account.csv", reps=sf / "User.csv", opportunities=sf / "Opportunity.csv",
                     mapping={"ARR__c": "arr"})
    assert res.report.ok, res.report.to_text()
    assert not res.report.errors
    acc = res.dataset.accounts
    assert acc["arr"].sum() > 1_000_000
    assert acc["zip"].str.fullmatch(r"\d{5}").all() and acc["state"].str.fullmatch(r"[A-Z]{2}").all()
    assert acc["owner_id"].isin(res.dataset.reps["rep_id"]).all()
    assert acc["parent_id"].dropna().isin(acc["account_id"]).all() and acc["parent_id"].notna().sum() == 4
    assert "Health_Score__c" in acc.columns
    assert res.dataset.opportunities["account_id"].isin(acc["account_id"]).all()
    assert res.info["accounts"]["encoding"] == "utf-8 (BOM)"


def test_hubspot_exports():
    res = load_files(accounts=FIX / "hubspot" / "companies.csv")
    assert res.report.ok, res.report.to_text()
    res = load_files(accounts=FIX / "hubspot" / "companies_semicolon_latin1.csv")
    assert res.report.ok, res.report.to_text()
    acc = res.dataset.accounts
    assert "Société Générale Café" in acc["name"].tolist()
    assert pd.to_numeric(acc["annual_revenue"]).max() >= 3_500_000
