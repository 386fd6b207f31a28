"""Ids as the user gave them, matched the way Salesforce means them (issue 14 item 4)."""
from pathlib import Path

import pandas as pd

from territory_core.contract import A, O
from territory_core.ingest.ids import id_key, match_ids, sf_id_18
from territory_core.ingest.importer import load_files
from territory_core.plan.export import assignment_export
from territory_core.plan.scenarios import Scenario

SF = Path(__file__).parent / "fixtures" / "salesforce"


def test_id_key_matches_15_and_18_and_ignores_the_case_of_18():
    id15 = "001pLIix6MEOLeM"
    id18 = sf_id_18(id15)
    assert id18 == "001pLIix6MEOLeMQRX"  # the example
    assert id_key(id18) == id_key(id15) == id15
    assert id_key(id18.upper()) == id15 and id_key(id18.lower()) == id15  # 18-char ids are case-insensitive
    assert id_key("001pliix6meolem") != id_key(id15)  # 15-char ids are case-sensitive: another record
    assert id_key("0015g00000iHkTjZZZ") == "0015g00000iHkTjZZZ"  # suffix inconsistent: not a Salesforce id
    assert id_key(" 12345.0 ") == "12345" and id_key("A-7") == "A-7"


def test_salesforce_export_keeps_its_18_character_ids_on_screen_and_in_the_assignment_csv():
    res = load_files(accounts=SF / "Account.csv", reps=SF / "User.csv", opportunities=SF / "Opportunity.csv",
                     mapping={"ARR__c": "arr"})
    assert res.report.ok, res.report.to_text()
    ds = res.dataset
    raw_acc = pd.read_csv(SF / "Account.csv", dtype=str, encoding="utf-8-sig")
    raw_usr = pd.read_csv(SF / "User.csv", dtype=str)
    assert ds.accounts[A.account_id].tolist() == raw_acc["Id"].tolist()  # 18 characters, as given
    assert set(ds.accounts[A.owner_id].dropna()) <= set(raw_usr["Id"])  # 15-char OwnerIds matched to User.Id
    assert set(ds.opportunities[O.account_id].dropna()) <= set(raw_acc["Id"])
    out = assignment_export(Scenario.today(ds), ds, "2027-01-01")
    assert out["account_id"].str.len().eq(18).all() and set(out["account_id"]) == set(raw_acc["Id"])
    assert set(out["new_owner_id"].dropna()) <= set(raw_usr["Id"])
    # a lookup of the exported ids against the original file finds every account
    assert raw_acc.set_index("Id").loc[out["account_id"], "Name"].notna().all()


def test_the_same_record_twice_in_two_forms_is_a_duplicate():
    id15 = "001pLIix6MEOLeM"
    res = load_files(accounts=f"Id,Name\n{sf_id_18(id15)},A\n{id15},B\n".encode())
    (e,) = res.report.errors
    assert e.row == 3 and e.message == f"Duplicate account_id '{id15}' (also on row 2 as '{sf_id_18(id15)}')."


def test_references_without_a_table_of_record_use_one_form():
    o15 = "005A0000001abcd"
    acc = f"Id,Name,OwnerId\nA1,a,{o15}\nA2,b,{sf_id_18(o15)}\nA3,c,{sf_id_18(o15).lower()}\n"
    res = load_files(accounts=acc.encode())
    assert res.report.ok
    assert res.dataset.accounts[A.owner_id].tolist() == [sf_id_18(o15)] * 3
    assert any("now in one form" in i.message for i in res.report.infos)


def test_match_ids_rewrites_only_what_matches():
    s, n = match_ids(pd.Series(["001pLIix6MEOLeM", "X1", None], dtype="string"), ["001pLIix6MEOLeMQRX", "X2"])
    assert s.tolist()[:2] == ["001pLIix6MEOLeMQRX", "X1"] and pd.isna(s.iloc[2]) and n == 1
