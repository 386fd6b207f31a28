"""Damaged files are refused or repaired out loud, never read with rows lost or text garbled
(issue 11 items 3, 4, 5, 7 and 10)."""
import io
import zipfile

import pytest

from territory_core.__main__ import main
from territory_core.ingest.importer import load_files, read_table
from territory_core.ingest.textfile import decode_text, scan_csv


def errors(res):
    return [(i.row, i.column, i.message) for i in res.report.errors]


def test_unterminated_quote_is_refused_with_its_line():
    res = load_files(accounts=b'account_id,name,arr\nA1,"Acme,10\nA2,Beta,20\nA3,Gamma,30\n')
    assert res.dataset is None
    assert [(r, c) for r, c, _ in errors(res)] == [(2, None)]
    assert "a quote opened on line 2 is never closed" in errors(res)[0][2]


def test_quote_that_swallows_rows_is_refused_even_when_it_closes_later():
    # the quote on line 3 closes on line 5: rows 4 and 5 would be read as part of one name
    text = b'account_id,name,arr\nA1,Acme,10\nA2,"Beta,20\nA3,Gamma,30\nA4,Delta",40\nA5,Eps,50\n'
    res = load_files(accounts=text)
    assert res.dataset is None
    (row, col, msg), = errors(res)
    assert row == 3 and "starting on line 3" in msg and "A3,Gamma,30" in msg


def test_multi_line_addresses_are_not_damage():
    text = (b'account_id,name,street,city,state,zip,arr\n'
            b'A1,Acme,"83 Main St\nSuite 5",Cambridge,MA,02139,10\nA2,Beta,"1 Elm St",Boston,MA,02110,20\n')
    res = load_files(accounts=text)
    assert res.report.ok, res.report.to_text()
    assert res.dataset.accounts["account_id"].tolist() == ["A1", "A2"]
    assert res.tables["accounts"]["_row"].tolist() == [2, 3]  # spreadsheet rows, not physical lines


def test_rows_with_more_fields_than_the_header_are_refused_with_lines():
    text = b"account_id,name,arr\nA1,Acme,10\nA2,Beta,1,000\nA3,Gamma,5\nA4,Delta,2,500\n"
    res = load_files(accounts=text)
    assert res.dataset is None
    assert [(r, "has 4 fields but the header has 3" in m) for r, _, m in errors(res)] == [(3, True), (5, True)]
    assert "line 3" in errors(res)[0][2] and "line 5" in errors(res)[1][2]


def test_a_trailing_delimiter_is_not_an_extra_field_and_is_listed():
    res = load_files(accounts=b"account_id,name,arr\nA1,Acme,10,\nA2,Beta,20,\n")
    assert res.report.ok and res.dataset.accounts["arr"].tolist() == [10.0, 20.0]
    assert any("2 rows end with an empty extra field" in i.message for i in res.report.infos)


@pytest.mark.parametrize("text", [b'account_id,name\nA1,"Acme\nA2,Beta\n', b"account_id,name\nA1,Acme,x\n"])
def test_validate_cli_exits_1_on_a_damaged_file(tmp_path, capsys, text):
    f = tmp_path / "Account.csv"
    f.write_bytes(text)
    assert main(["validate", str(f)]) == 1
    assert "line 2" in capsys.readouterr().out


def test_one_stray_latin1_byte_does_not_garble_the_utf8_rows():
    good = "".join(f"A{i},Zürich Straße AG {i},{i}\n" for i in range(48)).encode("utf-8")
    data = b"account_id,name,arr\n" + good + b"A99,Caf\xe9 Latin,5\n"
    res = load_files(accounts=data)
    assert res.report.ok, res.report.to_text()
    names = res.dataset.accounts.set_index("account_id")["name"]
    assert names["A0"] == "Zürich Straße AG 0" and names["A47"] == "Zürich Straße AG 47"
    assert names["A99"] == "Café Latin"  # the odd row repaired as Windows-1252
    (w,) = [i for i in res.report.warnings if "UTF-8 except" in i.message]
    assert w.row == 50 and "row 50" in w.message
    assert "windows-1252 on 1 line" in res.info["accounts"]["encoding"]


def test_decode_text_whole_latin1_file_and_line_numbers():
    d = decode_text("a;b\n1;Société\n".encode("latin-1"))
    assert d.text == "a;b\n1;Société\n" and d.encoding == "windows-1252" and d.repaired_lines == ()
    d = decode_text("a\nü\n".encode() + b"\xe9\n" + "ö\n".encode() + b"\xfc\n")
    assert d.text == "a\nü\né\nö\nü\n" and d.repaired_lines == (3, 5)


def test_scan_maps_lines_to_spreadsheet_rows():
    scan = scan_csv('a,b\n1,"x\ny"\n2,z\n', ",")
    assert scan.width == 2 and scan.records == 2 and scan.starts == [1, 2, 4]
    assert scan.row_of_line(3) == 2 and scan.row_of_line(4) == 3


def test_a_zip_renamed_csv_gets_a_clear_message():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("Account.csv", "account_id,name\nA1,Acme\n")
    f = io.BytesIO(buf.getvalue())
    f.name = "Account.csv"
    r = read_table(f)
    (sev, _, _, msg, fix), = r.issues
    assert sev == "error" and msg == "Account.csv is a ZIP archive (holding Account.csv), not a table or an Excel workbook."
    assert "Unzip" in fix and "KeyError" not in msg


def test_a_damaged_xlsx_names_no_python_exception():
    f = io.BytesIO(b"PK\x03\x04" + b"\x00" * 200)
    f.name = "Account.xlsx"
    msgs = " ".join(i[3] for i in read_table(f).issues)
    assert "could not be read as an Excel workbook" in msgs and "Error" not in msgs


def test_too_many_columns_are_refused_before_parsing():
    header = ",".join(["Id", "Name"] + [f"c{i}" for i in range(10_018)])
    body = "\n".join(",".join([f"A{r}", f"N{r}"] + ["1"] * 10_018) for r in range(50))
    res = load_files(accounts=(header + "\n" + body + "\n").encode())
    assert res.dataset is None and res.mappings == {}
    (_, _, msg), = errors(res)
    assert "has 10,020 columns, over the 500-column limit" in msg
    ok = ",".join(["Id", "Name"] + [f"c{i}" for i in range(498)]) + "\nA1,N1" + ",1" * 498 + "\n"
    assert load_files(accounts=ok.encode()).report.ok


@pytest.mark.parametrize("cell,what", [("inf", "is not a finite number"), ("-inf", "is not a finite number"),
                                       ("1e308", "is implausibly large"), ("Infinity", "is not a finite number")])
def test_non_finite_and_absurd_numbers_are_errors_with_row_and_column(cell, what):
    res = load_files(accounts=f"account_id,name,arr\nA1,Acme,10\nA2,Beta,{cell}\n".encode())
    assert res.dataset is None
    assert errors(res) == [(3, "arr", f"'{cell}' in 'arr' {what}" + (" (above 10,000,000,000,000)." if "large" in what else "."))]


def test_absurd_values_in_reps_and_extra_columns():
    res = load_files(accounts=b"account_id,name,owner_id,seats\nA1,a,R1,1\nA2,b,R1,1e300\n",
                     reps=b"rep_id,name,capacity,quota\nR1,Ann,inf,5e14\n")
    assert sorted((i.table, i.row, i.column) for i in res.report.errors) == [
        ("accounts", 3, "seats"), ("reps", 2, "capacity"), ("reps", 2, "quota")]


def test_cli_solve_exits_1_on_an_infinite_capacity(tmp_path, capsys):
    acc, reps = tmp_path / "a.csv", tmp_path / "r.csv"
    acc.write_text("account_id,name,owner_id,arr\nA1,a,R1,10\nA2,b,R2,20\n")
    reps.write_text("rep_id,name,capacity\nR1,Ann,inf\nR2,Bob,1\n")
    assert main(["solve", "--accounts", str(acc), "--reps", str(reps), "--balance", "arr:0.5"]) == 1
    assert "'inf' in 'capacity' is not a finite number" in capsys.readouterr().err
