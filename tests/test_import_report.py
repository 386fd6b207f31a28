"""The validation report lists the fixes made on the way in, with counts, and never shows a
row "None" (issue 14 item 10)."""
from pathlib import Path

import pandas as pd

from territory_core.ingest.importer import load_files

FIX = Path(__file__).parent / "fixtures"


def test_silent_fixes_are_listed_as_info_lines_with_counts():
    res = load_files(accounts=FIX / "salesforce" / "Account.csv", reps=FIX / "salesforce" / "User.csv",
                     opportunities=FIX / "salesforce" / "Opportunity.csv", mapping={"ARR__c": "arr"})
    raw = pd.read_csv(FIX / "salesforce" / "Account.csv", dtype=str, encoding="utf-8-sig")
    zip4 = int(raw["BillingPostalCode"].str.replace(r"\D", "", regex=True).str.len().ge(9).sum())
    short = int(raw["BillingPostalCode"].str.replace(r"\D", "", regex=True).str.len().lt(5).sum())
    names = int((raw["BillingState"].str.len() > 2).sum())
    infos = {(i.table, i.column, i.message.rsplit(": ", 1)[0]): i.message.rsplit(": ", 1)[1] for i in res.report.infos}
    assert infos[("accounts", "zip", "ZIP+4 codes cut to 5 digits")] == f"{zip4}." and zip4 == 5
    assert infos[("accounts", "zip", "ZIP codes given back the leading zeros a spreadsheet dropped")] == f"{short}."
    assert infos[("accounts", "state", "State names converted to 2-letter codes")] == f"{names}."
    assert infos[("accounts", "owner_id", "owner_id values given in another form than the reps file's ids "
                  "(15 vs 18 characters, or upper/lower case) and matched to them")] == f"{len(raw)}."
    assert all(i.severity == "info" and i.row is None for i in res.report.infos)
    assert "fixes made on the way in" in res.report.summary() and res.report.ok


def test_report_rows_read_as_text_never_none():
    res = load_files(accounts=b"account_id,name,arr\nA1,Acme,x\nA2,,5\n")
    shown = res.report.to_display_frame()
    assert "None" not in shown["row"].astype(str).tolist() and not shown["row"].isna().any()
    assert set(shown["row"]) >= {"2", "whole column"}
    frame = res.report.to_frame()
    assert frame["row"].isna().any()  # the plain frame keeps missing rows missing (for scripts)
