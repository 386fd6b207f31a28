"""Normalisation: numbers, booleans, dates, ZIPs, states, Salesforce ids, geography fill."""
import numpy as np
import pandas as pd
import pytest

from territory_core.contract import A, O
from territory_core.ingest.importer import load_files
from territory_core.ingest.normalize import (
    canonical_id, normalize_zip_value, parse_bools, parse_dates, parse_number, parse_numbers, sf_id_18,
)


@pytest.mark.parametrize("text,value", [
    ("1234", 1234), ("1,234", 1234), ("$1,234.50", 1234.5), ("1.234,50", 1234.5), ("€ 1.234.567", 1234567),
    ("(300)", -300), ("-300", -300), ("300-", -300), ("USD 2,000", 2000), ("12%", 12), ("2.5M", 2.5e6),
    ("3k", 3000), ("1 234 567", 1234567), ("12,5", 12.5), ("1e3", 1000), ("+7", 7), ("£99", 99),
])
def test_parse_number(text, value):
    assert parse_number(text) == pytest.approx(value)


@pytest.mark.parametrize("text", ["abc", "12abc", "1,2,3", "--5x", "$", "1.2.3"])
def test_parse_number_rejects_text(text):
    assert parse_number(text) is None


def test_parse_numbers_flags_only_real_text():
    vals, bad = parse_numbers(pd.Series(["1", "", None, "N/A", "x", "2,000"]))
    assert vals.iloc[5] == 2000 and np.isnan(vals.iloc[1]) and np.isnan(vals.iloc[3])
    assert bad.tolist() == [False, False, False, False, True, False]


def test_parse_bools():
    vals, bad = parse_bools(pd.Series(["true", "FALSE", "1", "0", "yes", "No", "y", "n", "maybe", None]), False)
    assert vals.tolist() == [True, False, True, False, True, False, True, False, False, False]
    assert bad.tolist() == [False] * 8 + [True, False]


def test_parse_dates_salesforce_and_us_formats():
    d, bad = parse_dates(pd.Series(["2025-03-04T15:22:10.000+0000", "2025-03-04", "03/31/2025", "soon", None]))
    assert d.iloc[0] == pd.Timestamp("2025-03-04 15:22:10") and d.iloc[2] == pd.Timestamp("2025-03-31")
    assert bad.tolist() == [False, False, False, True, False]


@pytest.mark.parametrize("raw,zip5", [("02139", "02139"), ("02139-4307", "02139"), ("021394307", "02139"),
                                      ("2139", "02139"), ("2139.0", "02139"), ("501", "00501"),
                                      ("2139-4307", "02139"), (" 10001 ", "10001"), ("H3B 2Y5", "H3B 2Y5")])
def test_zip_normalisation(raw, zip5):
    assert normalize_zip_value(raw) == zip5


def test_salesforce_15_and_18_char_ids_match():
    id15 = "0015g00000iHkTj"
    id18 = sf_id_18(id15)
    assert len(id18) == 18 and id18 == "0015g00000iHkTjAAK"
    assert canonical_id(id18) == id15 and canonical_id(id15) == id15
    # an 18-char string whose suffix is not the checksum is left alone
    assert canonical_id("0015g00000iHkTjZZZ") == "0015g00000iHkTjZZZ"
    # case matters for 15-char ids: these are two different records
    assert canonical_id(sf_id_18("0015g00000ihktj")) != canonical_id(id18)


def test_ids_match_across_tables_after_normalisation():
    a15, a18 = "001A00000012345", sf_id_18("001A00000012345")
    o15, o18 = "005A00000054321", sf_id_18("005A00000054321")
    c18 = sf_id_18("001A00000099999")
    accounts = f"Id,Name,ParentId,OwnerId\n{a18},Parent,,{o15}\n{c18},Child,{a15},{o18}\n"
    reps = f"Id,Name\n{o18},Ann\n"
    opps = f"Id,AccountId,Amount,StageName\nOP1,{a15},100,Closed Won\nOP2,{a18},50,Prospecting\n"
    res = load_files(accounts=accounts.encode(), reps=reps.encode(), opportunities=opps.encode())
    assert res.report.ok, res.report.to_text()
    acc = res.dataset.accounts
    # the ids the user gave (18 characters), with every reference in the form of its table of record
    assert acc[A.account_id].tolist() == [a18, c18]
    assert acc[A.parent_id].tolist()[1] == a18
    assert set(acc[A.owner_id]) == {o18}
    opp = res.dataset.opportunities
    assert opp[O.account_id].tolist() == [a18, a18]
    assert opp[O.is_closed].tolist() == [True, False] and opp[O.is_won].tolist() == [True, False]
    infos = {(i.table, i.column): i.message for i in res.report.infos}
    assert infos[("accounts", "parent_id")] == ("parent_id values given in another form than the accounts file's ids "
                                                "(15 vs 18 characters, or upper/lower case) and matched to them: 1.")
    assert infos[("opportunities", "account_id")].startswith("account_id values") and infos[("opportunities", "account_id")].endswith(": 1.")
    assert infos[("accounts", "owner_id")].startswith("owner_id values given in another form than the reps file")


def test_states_geo_fill_and_extra_numeric_columns():
    text = ("Id,Name,BillingState,BillingPostalCode,BillingCountry,Score__c,Notes\n"
            "A1,Acme,massachusetts,02139-4307,USA,5,hello\n"
            "A2,Beta,,2110,United States,7,\n"
            "A3,Gamma,Ontario,M5V 2T6,Canada,,x\n"
            "A4,Delta,Texas,,US,1,\n")
    res = load_files(accounts=text.encode())
    assert res.report.ok, res.report.to_text()
    acc = res.dataset.accounts
    assert acc[A.state].tolist()[:2] == ["MA", "MA"] and acc[A.state].tolist()[3] == "TX"
    assert acc[A.state].tolist()[2] == "Ontario"  # non-US regions are kept, not flagged
    assert acc[A.zip].tolist()[:2] == ["02139", "02110"]
    assert acc[A.county].tolist()[:2] == ["25017", "25025"]
    assert acc[A.lat].notna().tolist() == [True, True, False, False]
    assert acc[A.country].tolist() == ["US", "US", "Canada", "US"]
    assert "Score__c" in acc.columns and "Notes" not in acc.columns
    assert acc["Score__c"].tolist()[:2] == [5.0, 7.0]
    warn = [(w.row, w.column) for w in res.report.warnings]
    assert (4, "zip") not in warn  # the Canadian postal code is not an "unknown US ZIP"
    assert (5, "zip") in warn  # no ZIP, no coordinates


def test_county_names_are_converted_to_fips():
    res = load_files(accounts=b"account_id,name,state,county\nA1,X,MD,Baltimore city\nA2,Y,Louisiana,Orleans Parish\n")
    assert res.dataset.accounts[A.county].tolist() == ["24510", "22071"]


def test_european_number_format_is_detected_per_file():
    text = ("account_id;name;employees;annual_revenue;lat;lon\n"
            "A1;Café;1.200;3.500.000,00;48,8566;2,3522\nA2;Bar;300;12,5;;\n")
    res = load_files(accounts=text.encode("latin-1"))
    acc = res.dataset.accounts
    assert acc["employees"].tolist() == [1200, 300] and acc["annual_revenue"].tolist() == [3_500_000, 12.5]
    assert acc["lat"].iloc[0] == pytest.approx(48.8566)
    assert any("European" in w.message for w in res.report.warnings)
    # a US file with an ambiguous '1.200' keeps its dot as the decimal point
    res = load_files(accounts=b"account_id,name,intent,annual_revenue\nA1,a,1.200,\"1,000.50\"\n")
    assert res.dataset.accounts["intent"].iloc[0] == 1.2 and res.dataset.accounts["annual_revenue"].iloc[0] == 1000.5
