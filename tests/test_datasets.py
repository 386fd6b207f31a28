"""Datasets in the store (SQLite and PostgreSQL): immutable versions, names, the active dataset,
mapping memory, which data a scenario belongs to, the 0002 -> 0003 upgrade of a store that
already holds scenarios, a held lock and over-long names."""
from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from conftest_pg import pg_server, pg_url  # noqa: F401
from territory_core.contract import A, S
from territory_core.dataset import Dataset, load_sample
from territory_core.ingest.mapping import header_key, lost_money_columns, with_saved
from territory_core.plan.scenarios import Scenario, dataset_fingerprint
from territory_core.store import storage as storage_mod
from territory_core.store.datasets import (DatasetNameTaken, DatasetNotFound, DatasetStore, InvalidName,
                                           data_for_scenario, import_remembered, parse_ref, same_data,
                                           sample_fingerprint, unique_name, with_dataset)
from territory_core.store.storage import (NameTooLong, ScenarioStore, StorageError, StoreBusy, current_revision,
                                          head_revision)
from test_scenarios import small_dataset
from test_storage import url  # noqa: F401 (fixture: a fresh SQLite file, then a fresh PostgreSQL database)

SF = Path(__file__).parent / "fixtures" / "salesforce"


@pytest.fixture
def store(url):
    s = DatasetStore(url)
    yield s
    s.close()


@pytest.fixture(scope="module")
def ds():
    return small_dataset()


def _frames_equal(a: Dataset, b: Dataset) -> None:
    for t in ("accounts", "reps", "opportunities", "account_products"):
        pd.testing.assert_frame_equal(getattr(a, t).reset_index(drop=True), getattr(b, t).reset_index(drop=True))


# ---------------------------------------------------------------------------------------------- versions
def test_save_and_load_round_trip_is_exact(store, ds):
    info = store.create(ds, name="West CRM", user="ana@example.com", note="first cut",
                        mapping={"accounts": {"ARR__c": "arr", "Notes": None}},
                        sources={"accounts": {"file": "Account.csv", "rows": len(ds.accounts), "format": "csv"}},
                        validation={"summary": "OK", "errors": 0, "warnings": 2})
    assert (info.name, info.version, info.saved_by, info.note) == ("West CRM", 1, "ana@example.com", "first cut")
    assert info.rows == {"accounts": len(ds.accounts), "reps": len(ds.reps), "opportunities": len(ds.opportunities),
                         "account_products": len(ds.account_products), "distances": 0}
    assert info.mapping == {"accounts": {"ARR__c": "arr", "Notes": None}}
    assert [s["file"] for s in info.sources] == ["Account.csv"] and info.validation["warnings"] == 2
    assert info.fingerprint == dataset_fingerprint(ds) and info.stored_bytes > 0
    back = store.load("west crm")  # names are case-insensitive
    assert (back.name, back.dataset_id, back.version, back.label) == ("West CRM", info.id, 1, "West CRM v1")
    _frames_equal(back, ds)
    assert back.distances is None
    assert dataset_fingerprint(back) == dataset_fingerprint(ds)


def test_versions_are_immutable_and_numbered(store, ds):
    v1 = store.create(ds, name="Book", user="ana")
    smaller = ds.with_(accounts=ds.accounts.iloc[:10].reset_index(drop=True))
    v2 = store.add_version("Book", smaller, user="bob", note="ten accounts")
    assert (v2.id, v2.version, v2.rows["accounts"]) == (v1.id, 2, 10)
    assert len(store.load(v1.id, 1).accounts) == len(ds.accounts)  # version 1 is as it was
    assert len(store.load(v1.id).accounts) == 10  # the latest
    v3 = store.save(ds, name="BOOK", user="cy")  # save(): next version of an existing name
    assert v3.version == 3 and store.latest_version("Book") == 3
    vers = store.versions("Book")
    assert vers["version"].tolist() == [3, 2, 1] and vers["saved_by"].tolist() == ["cy", "bob", "ana"]
    assert vers["accounts"].tolist() == [len(ds.accounts), 10, len(ds.accounts)]
    lst = store.list_datasets()
    assert lst[["name", "version", "versions", "accounts"]].values.tolist() == [["Book", 3, 3, len(ds.accounts)]]
    with pytest.raises(DatasetNotFound, match="has no version 4; its versions are 1 to 3"):
        store.load("Book", 4)


def test_names_are_unique_and_checked(store, ds):
    store.create(ds, name="  Q3   export ", user="ana")
    assert store.list_datasets()["name"].tolist() == ["Q3 export"]
    with pytest.raises(DatasetNameTaken, match="already exists .*new version"):
        store.create(ds, name="q3 EXPORT", user="bob")
    with pytest.raises(InvalidName):
        store.create(ds, name=" \t ", user="bob")
    with pytest.raises(NameTooLong, match="201 characters long; names can have at most 200"):
        store.create(ds, name="x" * 201, user="bob")
    assert unique_name(store, "Q3 export") == "Q3 export (2)" and unique_name(store, "Other") == "Other"
    assert len(store.list_datasets()) == 1  # nothing else was written


def test_resolve_and_not_found(store, ds):
    info = store.create(ds, name="Alpha", user="ana")
    assert store.resolve(info.id) == store.resolve(info.id[:10]) == store.resolve("ALPHA") == info.id
    with pytest.raises(DatasetNotFound, match="Saved datasets: Alpha"):
        store.resolve("Beta")


def test_parse_ref():
    assert parse_ref("FY27 CRM@3") == ("FY27 CRM", 3)
    assert parse_ref("FY27 CRM @ v12") == ("FY27 CRM", 12)
    assert parse_ref("FY27 CRM") == ("FY27 CRM", None)
    assert parse_ref("team@example.com") == ("team@example.com", None)


def test_distances_are_stored(store, ds):
    dist = pd.DataFrame({"account_id": ["A001", "A002"], "rep_id": ["R1", "R2"], "distance": [12.5, 3.0]})
    info = store.create(ds.with_(distances=dist), name="With distances", user="ana")
    assert info.rows["distances"] == 2
    pd.testing.assert_frame_equal(store.load(info.id).distances, dist)


def test_the_active_dataset_is_a_store_setting(store, ds):
    assert store.active() is None  # nothing marked: sessions start on the sample
    a = store.create(ds, name="A", user="ana")
    store.add_version("A", ds, user="ana")
    assert store.set_active("A", 1, user="ana") == (a.id, 1)
    assert store.active() == (a.id, 1)
    assert store.list_datasets().set_index("name").loc["A", "active"]
    assert store.get_setting("active_dataset") == {"dataset_id": a.id, "version": 1}
    store.set_active(None, user="ana")
    assert store.active() is None


def test_two_processes_adding_versions_at_once_lose_nothing(url, ds):
    with DatasetStore(url) as s:
        s.create(ds, name="Shared", user="ana")
    errors, got = [], []

    def add(who):
        try:
            with DatasetStore(url) as s2:
                got.append(s2.add_version("Shared", ds, user=who).version)
        except Exception as exc:  # pragma: no cover - shown by the assert
            errors.append(exc)

    threads = [threading.Thread(target=add, args=(u,)) for u in ("bob", "cy")]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert not errors and sorted(got) == [2, 3]
    with DatasetStore(url) as s:
        assert s.versions("Shared")["version"].tolist() == [3, 2, 1]


# ---------------------------------------------------------------------------------------------- mapping memory
def test_mapping_memory_by_header_set(store):
    headers = ["Id", "Name", "ARR__c", "OwnerId"]
    assert store.saved_mapping("accounts", headers) is None
    saved = store.remember_mapping("accounts", headers, {"Id": "account_id", "Name": "name", "ARR__c": "arr",
                                                         "OwnerId": "owner_id"}, user="ana", source="Account.csv")
    back = store.saved_mapping("accounts", ["ownerid", "arr__c", "NAME", "id"])  # order, case: same export
    assert back.mapping["ARR__c"] == "arr" and back.source == "Account.csv" and back.saved_by == "ana"
    assert back.saved_at == saved.saved_at
    assert store.saved_mapping("reps", headers) is None  # per kind of file
    assert store.saved_mapping("accounts", headers + ["Extra"]) is None  # another header set
    store.remember_mapping("accounts", headers, {"ARR__c": None}, user="bob")
    assert store.saved_mapping("accounts", headers).mapping == {"ARR__c": None}  # replaced, not added


def test_header_key_ignores_order_case_and_punctuation():
    assert header_key(["Id", "ARR__c"]) == header_key(["arr_c", "ID"]) != header_key(["Id"])
    assert len(header_key(["Id"])) == 64


def test_with_saved_takes_the_remembered_choices():
    headers = ["Id", "Name", "ARR__c", "AnnualRevenue", "Industry"]
    assert with_saved(headers, "accounts", None)["ARR__c"] is None  # the guess alone misses ARR__c
    m = with_saved(headers, "accounts", {"arr__c": "arr", "Industry": None, "AnnualRevenue": "not_a_column"})
    assert m["ARR__c"] == "arr" and m["Industry"] is None
    assert m["AnnualRevenue"] == "annual_revenue"  # an unknown saved target is left to the guess
    m2 = with_saved(["Id", "Name", "ARR", "ARR__c"], "accounts", {"ARR__c": "arr"})
    assert m2["ARR__c"] == "arr" and m2["ARR"] is None  # one header feeds a column


def test_lost_money_columns():
    saved = {"ARR__c": "arr", "Quota__c": None, "Pipeline__c": "open_pipeline", "Name": "name"}
    now = {"ARR__c": None, "Pipeline__c": "open_pipeline", "Name": "name", "Quota__c": None}
    assert lost_money_columns(saved, now, "accounts") == [("arr", "ARR__c")]
    assert lost_money_columns(saved, {**now, "Other": "arr"}, "accounts") == []  # arr is fed by another header
    assert lost_money_columns(saved, {"Name": "name"}, "accounts") == []  # the header is gone from the file
    assert lost_money_columns({"Name": None}, {"Name": None}, "accounts") == []  # name is not money
    assert lost_money_columns(None, now, "accounts") == []


def test_import_remembers_and_asks_before_losing_arr(store):
    files = {"accounts": SF / "Account.csv", "reps": SF / "User.csv"}
    first = import_remembered(files, mapping={"ARR__c": "arr"}, store=store)
    assert first.result.ok and first.used == {} and first.lost == {}
    arr = float(first.result.dataset.accounts[A.arr].sum())
    assert arr == 1_368_500.5 and int((first.result.dataset.accounts[A.arr] > 0).sum()) == 14
    for t, mp in first.mappings.items():
        store.remember_mapping(t, list(mp), mp, user="ana", source=t)
    again = import_remembered(files, store=store)  # no --map this time: the memory supplies it
    assert set(again.used) == {"accounts", "reps"} and again.lost == {}
    assert float(again.result.dataset.accounts[A.arr].sum()) == arr
    plain = import_remembered(files, store=store, use_saved=False)
    assert plain.lost == {"accounts": [("arr", "ARR__c")]}  # it would load as nothing: ask
    assert float(plain.result.dataset.accounts[A.arr].sum()) == 0.0
    on_purpose = import_remembered(files, mapping={"ARR__c": None}, store=store)
    assert on_purpose.lost == {}  # ignoring it explicitly is an answer


# ---------------------------------------------------------------------------------------------- scenarios and data
def test_a_scenario_names_its_dataset_version_and_reopens_on_it(url, ds):
    with DatasetStore(url) as store:
        info = store.create(ds, name="Plan data", user="ana")
        data = store.load(info.id)
        sc = with_dataset(Scenario.today(data).with_(name="Plan A"), data)
        saved = store.store.save(sc, user="ana")
        back = store.store.load(saved.id)
        assert (back.dataset_id, back.dataset_version) == (info.id, 1)
        assert store.store.list_scenarios().loc[0, "name"] == "Plan A"
        opened = data_for_scenario(back, store)
        assert (opened.dataset_id, opened.version) == (info.id, 1)
        _frames_equal(opened, ds)
        assert same_data(back, opened)
        store.add_version(info.id, ds.with_(accounts=ds.accounts.iloc[:5].reset_index(drop=True)), user="bob")
        assert not same_data(back, store.load(info.id))  # version 2 is other data
        assert data_for_scenario(back, store).version == 1  # still its own version


def test_scenarios_without_a_stored_dataset():
    sample = load_sample()
    on_sample = Scenario.today(sample).with_(name="Sample plan")
    assert sample_fingerprint() == dataset_fingerprint(sample)
    assert data_for_scenario(on_sample, None, sample=lambda: sample) is sample
    other = Scenario.today(small_dataset())
    assert data_for_scenario(other, None) is None  # never stored: unknown
    assert same_data(other, small_dataset()) and not same_data(other, sample)
    assert same_data(Scenario(name="unsolved"), sample)  # nothing recorded: taken as matching


def test_changing_a_table_drops_the_stored_identity(ds):
    stored = ds.with_(dataset_id="abc", version=2, name="X")
    assert stored.label == "X v2"
    changed = stored.with_(accounts=ds.accounts.iloc[:3])
    assert changed.dataset_id is None and changed.version is None and changed.label == "X"
    assert stored.with_(name="Y").dataset_id == "abc"


# ---------------------------------------------------------------------------------------------- migration
def test_upgrade_0002_store_with_scenarios_to_datasets(url, ds):
    """A store made by revision 0002 that holds scenarios opens, upgrades to 0003 (head), keeps its
    scenarios (no dataset reference), and then saves datasets and scenarios that reference them."""
    from datetime import datetime, timezone

    from alembic import command

    eng = storage_mod._make_engine(url)
    try:
        with eng.begin() as conn:
            command.upgrade(storage_mod._alembic_config(conn), "0002")
        assert current_revision(eng) == "0002"
        now = datetime.now(timezone.utc)
        blob = storage_mod.encode_assignment(Scenario.today(ds).assignment)
        with eng.begin() as conn:
            conn.execute(sa.text("INSERT INTO scenario (id, name, head_version, created_by, created_at) "
                                 "VALUES ('old1', 'Old plan', 2, 'ann', :t)"), {"t": now})
            for v in (1, 2):
                conn.execute(sa.text(
                    "INSERT INTO scenario_version (scenario_id, version, name, description, note, saved_by, saved_at, "
                    "settings_json, events_json, overrides_json, report_json, input_fingerprint, assignment_gz, "
                    "n_accounts, status, moves) VALUES ('old1', :v, 'Old plan', '', '', 'ann', :t, '{}', '[]', '[]', "
                    "'{\"status\": \"optimal\", \"moves\": 3}', :fp, :a, :n, 'optimal', 3)"),
                    {"v": v, "t": now, "fp": dataset_fingerprint(ds), "a": blob, "n": len(ds.accounts)})
        tables = set(sa.inspect(eng).get_table_names())
        assert "dataset" not in tables and "mapping_memory" not in tables
    finally:
        eng.dispose()
    s = ScenarioStore(url)
    try:
        assert s.migrated is True and current_revision(s.engine) == head_revision() >= "0003"
        tables = set(sa.inspect(s.engine).get_table_names())
        assert {"dataset", "dataset_version", "dataset_table", "mapping_memory", "app_setting"} <= tables
        old = s.load("old1")
        assert old.name == "Old plan" and old.version == 2 and old.dataset_id is None and old.dataset_version is None
        assert len(old.assignment) == len(ds.accounts) and s.history("old1")["version"].tolist() == [2, 1]
        assert same_data(old, ds)  # an old scenario still matches its data by fingerprint
        dstore = DatasetStore(s)
        info = dstore.create(ds, name="After upgrade", user="bob")
        new = s.save(with_dataset(old, dstore.load(info.id)), user="bob", expected_version=2)
        assert s.load("old1", new.version).dataset_id == info.id and s.load("old1", 1).dataset_id is None
    finally:
        s.close()
    again = ScenarioStore(url)
    try:
        assert again.migrated is False  # a current store opens without migrating
    finally:
        again.close()


def test_downgrade_of_0003_leaves_a_working_0002_store(tmp_path, ds):
    from alembic import command

    url = f"sqlite:///{tmp_path / 'down.db'}"
    s = ScenarioStore(url)
    s.save(Scenario.today(ds).with_(name="Kept"), user="ana")
    s.close()
    eng = storage_mod._make_engine(url)
    try:
        with eng.begin() as conn:
            command.downgrade(storage_mod._alembic_config(conn), "0002")
        assert current_revision(eng) == "0002"
        cols = {c["name"] for c in sa.inspect(eng).get_columns("scenario_version")}
        assert "dataset_id" not in cols and "dataset" not in sa.inspect(eng).get_table_names()
    finally:
        eng.dispose()
    s = ScenarioStore(url)  # and up again
    try:
        assert s.list_scenarios()["name"].tolist() == ["Kept"]
    finally:
        s.close()


# ---------------------------------------------------------------------------------------------- lock and names
def _hold_sqlite_lock(path: Path) -> sqlite3.Connection:
    con = sqlite3.connect(str(path), isolation_level=None, timeout=1)
    con.execute("BEGIN IMMEDIATE")  # another process in the middle of a save
    return con


def test_a_held_sqlite_lock_gives_a_clear_storage_error(tmp_path, ds):
    path = tmp_path / "locked.db"
    url = f"sqlite:///{path}"
    s = ScenarioStore(url, lock_timeout=0.5)
    first = s.save(Scenario.today(ds).with_(name="Before"), user="ana")
    con = _hold_sqlite_lock(path)
    try:
        with pytest.raises(StoreBusy) as ei:
            s.save(first.with_(description="during the lock"), user="ana")
        msg = str(ei.value)
        assert "Another save is in progress" in msg and "Try again" in msg and "more than 0.5 s" in msg
        assert "database is locked" not in msg and "OperationalError" not in msg
        with pytest.raises(StoreBusy):
            DatasetStore(s).create(ds, name="During the lock", user="ana")
        reader = ScenarioStore(url, lock_timeout=0.5)  # opening a current store during a lock works
        assert reader.list_scenarios()["name"].tolist() == ["Before"]
        reader.close()
    finally:
        con.rollback()
        con.close()
    assert s.save(first.with_(description="after"), user="ana").version == 2  # nothing was half-written
    s.close()


def test_opening_a_store_that_needs_upgrading_during_a_lock(tmp_path):
    path = tmp_path / "fresh.db"
    sqlite3.connect(str(path)).close()  # an empty database: opening it migrates (a write)
    con = _hold_sqlite_lock(path)
    try:
        with pytest.raises(StoreBusy) as ei:
            ScenarioStore(f"sqlite:///{path}", lock_timeout=0.3)
        msg = str(ei.value)
        assert "another process" in msg and "Try again" in msg and "TERRITORY_DB_URL" not in msg
    finally:
        con.rollback()
        con.close()
    s = ScenarioStore(f"sqlite:///{path}", lock_timeout=0.3)
    assert s.migrated is True
    s.close()


def test_a_held_postgres_row_lock_gives_a_clear_storage_error(pg_url, ds):
    s = ScenarioStore(pg_url, lock_timeout=0.5)
    first = s.save(Scenario.today(ds).with_(name="Before"), user="ana")
    other = sa.create_engine(pg_url)
    try:
        with other.connect() as conn:
            tx = conn.begin()
            conn.execute(sa.text("SELECT head_version FROM scenario WHERE id = :i FOR UPDATE"), {"i": first.id})
            with pytest.raises(StoreBusy, match="Another save is in progress"):
                s.save(first.with_(description="during the lock"), user="ana")
            tx.rollback()
        assert s.save(first.with_(description="after"), user="ana").version == 2
    finally:
        other.dispose()
        s.close()


def test_names_longer_than_the_database_keeps_are_refused(tmp_path, ds):
    s = ScenarioStore(f"sqlite:///{tmp_path / 'names.db'}")
    try:
        with pytest.raises(NameTooLong, match="400 characters long; names can have at most 300"):
            s.save(Scenario.today(ds).with_(name="n" * 400), user="ana")
        assert s.list_scenarios().empty  # nothing was written
        saved = s.save(Scenario.today(ds).with_(name="m" * 300), user="ana")
        assert saved.name == s.load(saved.id).name == "m" * 300  # what is returned is what is stored
        copy = s.save_as_copy(saved, user="bob")
        assert len(copy.name) == 300 and copy.name.endswith(" (copy)") and s.load(copy.id).name == copy.name
        assert isinstance(NameTooLong("x"), StorageError) and isinstance(NameTooLong("x"), ValueError)
    finally:
        s.close()
