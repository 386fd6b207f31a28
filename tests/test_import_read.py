"""importer.read_table / load_files on real-world file shapes and on garbage."""
import io

import pandas as pd
import pytest

from territory_core.contract import A
from territory_core.ingest.importer import load_files, read_table

CSV = "account_id,name,zip,arr\nA1,Acme,02139,\"1,000\"\nA2,Beta,10001,0\n"


def errors(report):
    return [i.message for i in report.errors]


@pytest.mark.parametrize("sep", [",", ";", "\t", "|"])
def test_delimiters_are_sniffed(sep):
    text = CSV.replace(",", sep) if sep != "," else CSV
    if sep != ",":
        text = text.replace(f'"1{sep}000"', '"1,000"')
    r = read_table(text.encode())
    assert r.frame is not None, r.issues
    assert list(r.frame.columns[:4]) == ["account_id", "name", "zip", "arr"]
    assert r.frame["zip"].tolist() == ["02139", "10001"]  # strings keep their zeros


def test_utf8_bom_and_latin1():
    r = read_table("\ufeffaccount_id,name\nA1,Café\n".encode("utf-8"))
    assert r.frame.columns[0] == "account_id" and r.info["encoding"] == "utf-8 (BOM)"
    r = read_table("account_id;name\nA1;Société Générale\n".encode("latin-1"))
    assert r.frame.loc[0, "name"] == "Société Générale" and r.info["delimiter"] == "semicolon"


def test_utf16_tab_separated_excel_unicode_text():
    res = load_files(accounts="account_id\tname\tzip\nA1\tCafé\t2139\n".encode("utf-16"))
    assert res.report.ok, res.report.to_text()
    assert res.dataset.accounts.loc[0, "name"] == "Café" and res.dataset.accounts.loc[0, "state"] == "MA"


def test_xlsx_and_parquet(tmp_path):
    df = pd.DataFrame({"Id": ["A1", "A2"], "Name": ["Acme", "Beta"], "Zip": [2139, 10001], "ARR": [1000.0, None]})
    x = tmp_path / "a.xlsx"
    df.to_excel(x, index=False)
    res = load_files(accounts=x)
    assert res.report.ok, res.report.to_text()
    assert res.dataset.accounts[A.zip].tolist() == ["02139", "10001"]  # lost leading zero restored
    pq = tmp_path / "a.parquet"
    df.to_parquet(pq)
    res = load_files(accounts=pq)
    assert res.report.ok and res.dataset.accounts[A.state].tolist() == ["MA", "NY"]


@pytest.mark.parametrize("data,needle", [
    (b"", "empty"),
    (b"   \n\n  ", "empty"),
    (bytes(range(256)) * 40, "binary"),
    (b"account_id,name\n", "no data rows"),
    (b"account_id,name\n,\n ,  \n", "no data rows"),
])
def test_garbage_gets_a_clear_message(data, needle):
    res = load_files(accounts=io.BytesIO(data))
    assert not res.report.ok and res.dataset is None
    assert any(needle in m for m in errors(res.report)), res.report.to_text()


def test_wrong_delimiter_says_which_columns_were_found():
    res = load_files(accounts=b"account_id:name:zip\nA1:Acme:02139\n")
    msgs = " ".join(errors(res.report))
    assert "Required column 'account_id' is missing" in msgs and "account_id:name:zip" in msgs


def test_size_and_row_limits(tmp_path):
    big = tmp_path / "big.csv"
    with open(big, "wb") as f:  # a sparse 200 MB file: refused before anything is read
        f.write(b"account_id,name\n")
        f.truncate(200_000_000)
    res = load_files(accounts=big)
    assert any("over the 100 MB limit" in m for m in errors(res.report))
    rows = "account_id,name\n" + "".join(f"A{i},N{i}\n" for i in range(50))
    res = load_files(accounts=rows.encode(), max_rows=20)
    assert any("more than 20 rows" in m for m in errors(res.report))


def test_rows_with_extra_fields_are_reported_and_row_numbers_are_file_rows():
    text = b"account_id,name,arr\nA1,Acme,10\nA2,Beta,abc\n\nA3,Gamma,5\n"
    res = load_files(accounts=text)
    err = res.report.errors
    assert len(err) == 1 and err[0].row == 3 and err[0].column == "arr"
    res = load_files(accounts=b"account_id,name\nA1,Acme\nA2,Beta,extra,fields\nA3,C\n")
    assert res.dataset is None  # refused: the extra values would be lost
    assert [(e.row, "line 3 has 4 fields but the header has 2" in e.message) for e in res.report.errors] == [(3, True)]


def test_failed_upload_keeps_nothing_half_loaded():
    res = load_files(accounts=b"account_id,name\nA1,Acme\nA1,Dup\n")
    assert res.dataset is None and not res.report.ok


def test_missing_accounts_file_is_an_error_not_an_exception():
    res = load_files(reps=b"rep_id,name\nR1,Ann\n")
    assert not res.report.ok and any("No accounts file" in m for m in errors(res.report))
    res = load_files(accounts="/nonexistent/file.csv")
    assert not res.report.ok and any("Cannot read" in m for m in errors(res.report))
