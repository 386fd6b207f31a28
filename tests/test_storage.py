"""ScenarioStore on real SQLite and real PostgreSQL: versions, history, conflicts, copies,
transactions, migrations."""
from __future__ import annotations

import threading
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from conftest_pg import pg_server, pg_url  # noqa: F401
from territory_core.store import storage as storage_mod
from territory_core.contract import S
from territory_core.plan.scenarios import Scenario
from territory_core.store.storage import (ConflictError, ScenarioNotFound, ScenarioStore, StorageError, current_revision,
                                    head_revision)
from test_scenarios import small_dataset


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'scenarios.db'}"
    return request.getfixturevalue("pg_url")


@pytest.fixture
def store(url):
    s = ScenarioStore(url)
    yield s
    s.close()


@pytest.fixture(scope="module")
def ds():
    return small_dataset()


def _scenario(ds, name="West rebalance", moved=5):
    t = Scenario.today(ds)
    a = t.assignment.copy()
    a.loc[: moved - 1, S.rep_id] = "R2"
    a[S.moved] = a[S.rep_id] != a[S.previous_rep_id]
    a.loc[: moved - 1, S.reason] = "=HYPERLINK(\"http://x\")"  # odd text must survive a round trip
    return t.with_(name=name, assignment=a, settings={"solver": {"time_limit": 5, "metrics": [{"column": "arr"}]}},
                   events=({"type": "rep_leaves", "rep_id": "R0"},),
                   overrides=({"account_id": "A001", "rep_id": "R3", "lock": True, "reason": "exec sponsor"},),
                   report={"status": "optimal", "moves": moved, "gap": 0.0}, description="Q3 plan")


def test_save_load_round_trip(store, ds):
    sc = _scenario(ds)
    saved = store.save(sc, user="alice@example.com", expected_version=None)
    assert saved.id and saved.version == 1 and saved.saved_by == "alice@example.com"
    assert saved.saved_at is not None and saved.saved_at.tzinfo is not None
    back = store.load(saved.id)
    assert back.name == sc.name and back.description == "Q3 plan"
    assert back.settings == sc.settings and back.events == sc.events and back.overrides == sc.overrides
    assert back.report == sc.report
    assert back.input_fingerprint == sc.input_fingerprint
    pd.testing.assert_frame_equal(back.assignment.reset_index(drop=True), sc.assignment.reset_index(drop=True),
                                  check_dtype=False)
    assert back.assignment[S.reason].iloc[0] == "=HYPERLINK(\"http://x\")"
    assert back.version == 1 and back.saved_by == "alice@example.com"


def test_versions_are_immutable_and_history_lists_them(store, ds):
    v1 = store.save(_scenario(ds), user="alice", expected_version=None, note="first cut")
    v2 = store.save(v1.with_(events=v1.events + ({"type": "capacity_change", "rep_id": "R1", "capacity": 0.5},)),
                    user="bob", expected_version=1, note="Bob halves R1")
    assert v2.id == v1.id and v2.version == 2
    old = store.load(v1.id, 1)
    assert len(old.events) == 1 and old.saved_by == "alice"
    assert len(store.load(v1.id).events) == 2
    h = store.history(v1.id)
    assert h["version"].tolist() == [2, 1]
    assert h["saved_by"].tolist() == ["bob", "alice"]
    assert h["note"].tolist() == ["Bob halves R1", "first cut"]
    assert h["saved_at"].is_monotonic_decreasing
    lst = store.list_scenarios()
    assert len(lst) == 1
    row = lst.iloc[0]
    assert row["latest_version"] == 2 and row["saved_by"] == "bob" and row["parent"] == "Today's plan"
    with pytest.raises(ScenarioNotFound, match="no version 7"):
        store.load(v1.id, 7)


def test_second_save_from_same_version_is_refused(store, ds):
    base = store.save(_scenario(ds), user="alice", expected_version=None)
    alice = store.load(base.id)
    bob = store.load(base.id)
    store.save(bob.with_(description="bob's edit"), user="bob", expected_version=bob.version)
    with pytest.raises(ConflictError) as ei:
        store.save(alice.with_(description="alice's edit"), user="alice", expected_version=alice.version)
    err = ei.value
    assert err.latest_version == 2 and err.expected_version == 1 and err.latest_saved_by == "bob"
    msg = str(err)
    assert "bob" in msg and "version 2" in msg and "Reload" in msg and "copy" in msg
    # Nothing was overwritten: version 2 is Bob's, there is no version 3.
    assert store.load(base.id).description == "bob's edit"
    assert store.history(base.id)["version"].tolist() == [2, 1]
    # Default expected version is the scenario's own version: same refusal.
    with pytest.raises(ConflictError):
        store.save(alice, user="alice")
    # The way out: save as a copy, parented on what Alice opened.
    copy = store.save_as_copy(alice.with_(description="alice's edit"), user="alice")
    assert copy.id != base.id and copy.version == 1
    assert copy.parent_id == base.id and copy.parent_version == 1
    assert copy.name.endswith("(copy)")
    lst = store.list_scenarios().set_index("id")
    assert lst.loc[copy.id, "parent"] == f"{base.name} v1"
    # Reload then save works.
    fresh = store.load(base.id)
    assert store.save(fresh.with_(description="merged"), user="alice", expected_version=fresh.version).version == 3


def test_two_stores_racing_on_one_database(url, ds):
    """Two app processes (two stores, separate engines) save from the same version at once:
    exactly one wins, the other gets a ConflictError."""
    a, b = ScenarioStore(url), ScenarioStore(url)
    try:
        base = a.save(_scenario(ds), user="alice", expected_version=None)
        results = []
        barrier = threading.Barrier(2)

        def worker(store, who):
            barrier.wait()
            try:
                results.append(store.save(base.with_(description=who), user=who, expected_version=1).version)
            except ConflictError:
                results.append("conflict")

        ts = [threading.Thread(target=worker, args=(s, w)) for s, w in ((a, "alice"), (b, "bob"))]
        for t in ts:
            t.start()
        for t in ts:
            t.join(60)
        assert sorted(map(str, results)) == ["2", "conflict"]
        assert a.history(base.id)["version"].tolist() == [2, 1]
    finally:
        a.close()
        b.close()


def test_interrupted_save_loses_nothing(store, ds, monkeypatch):
    v1 = store.save(_scenario(ds), user="alice", expected_version=None)

    def boom(*args, **kwargs):
        raise RuntimeError("power cut after the version row was written")

    monkeypatch.setattr(ScenarioStore, "_bump_head", boom)
    with pytest.raises(RuntimeError, match="power cut"):
        store.save(v1.with_(description="half saved"), user="alice", expected_version=1)
    monkeypatch.undo()
    # The half-written version 2 was rolled back; version 1 is intact and the next save is version 2.
    assert store.history(v1.id)["version"].tolist() == [1]
    back = store.load(v1.id)
    assert back.version == 1 and back.description == "Q3 plan"
    pd.testing.assert_frame_equal(back.assignment, store.load(v1.id, 1).assignment)
    assert store.save(back.with_(description="retry"), user="alice", expected_version=1).version == 2

    # An encoding failure while building a new scenario leaves no half scenario behind either.
    monkeypatch.setattr(storage_mod, "encode_assignment", boom)
    with pytest.raises(RuntimeError):
        store.save(_scenario(ds, name="never"), user="alice", expected_version=None)
    monkeypatch.undo()
    assert store.list_scenarios()["name"].tolist() == [v1.name]


def test_delete_and_not_found(store, ds):
    a = store.save(_scenario(ds, name="A"), user="u", expected_version=None)
    b = store.save(_scenario(ds, name="B"), user="u", expected_version=None)
    store.save(store.load(a.id), user="u", expected_version=1)
    store.delete(a.id)
    assert store.list_scenarios()["id"].tolist() == [b.id]
    with pytest.raises(ScenarioNotFound):
        store.load(a.id)
    with pytest.raises(ScenarioNotFound):
        store.history(a.id)
    with pytest.raises(ScenarioNotFound):
        store.delete(a.id)
    # Saving a new version of a deleted scenario is a conflict, with a way out.
    with pytest.raises(ConflictError, match="deleted"):
        store.save(a, user="u", expected_version=1)
    with store.engine.connect() as c:
        assert c.execute(sa.text("SELECT COUNT(*) FROM scenario_version WHERE scenario_id = :i"), {"i": a.id}).scalar() == 0


def test_resolve_by_name_id_and_prefix(store, ds):
    a = store.save(_scenario(ds, name="East plan"), user="u", expected_version=None)
    assert store.resolve(a.id) == a.id
    assert store.resolve("east PLAN") == a.id
    assert store.resolve(a.id[:10]) == a.id
    store.save(_scenario(ds, name="East plan"), user="u", expected_version=None)
    with pytest.raises(ScenarioNotFound, match="2 scenarios"):
        store.resolve("East plan")
    with pytest.raises(ScenarioNotFound, match="No saved scenario"):
        store.resolve("nothing like it")


def test_unsolved_scenario_saves_without_assignment(store, ds):
    sc = Scenario(name="draft", events=({"type": "rep_leaves", "rep_id": "R1"},))
    saved = store.save(sc, user="u", expected_version=None)
    back = store.load(saved.id)
    assert back.assignment is None and back.report is None and back.events == sc.events


def test_blank_user_is_never_stored(store, ds):
    saved = store.save(_scenario(ds), user="  \n ", expected_version=None)
    assert saved.saved_by.strip()
    assert store.history(saved.id)["saved_by"].iloc[0].strip()


def test_migration_creates_schema_then_second_open_is_a_noop(url):
    eng = sa.create_engine(url)
    try:
        assert not sa.inspect(eng).get_table_names()
    finally:
        eng.dispose()
    s1 = ScenarioStore(url)
    assert s1.migrated is True
    tables = set(sa.inspect(s1.engine).get_table_names())
    assert {"scenario", "scenario_version", "territory_schema_version"} <= tables
    cols = {c["name"] for c in sa.inspect(s1.engine).get_columns("scenario_version")}
    assert {"scenario_id", "version", "saved_by", "saved_at", "assignment_gz", "settings_json"} <= cols
    assert current_revision(s1.engine) == head_revision()
    s1.close()
    s2 = ScenarioStore(url)
    assert s2.migrated is False
    assert current_revision(s2.engine) == head_revision()
    s2.close()


def test_opening_a_current_database_does_not_import_alembic(tmp_path):
    """HEAD (the constant a current database is checked against) is alembic's head, and a process that
    opens a database already at it never imports alembic (11 MB in every app process)."""
    import subprocess
    import sys

    from territory_core.store.migrations import HEAD

    assert HEAD == head_revision()
    url = f"sqlite:///{tmp_path / 'current.db'}"
    ScenarioStore(url).close()  # created and migrated here
    code = ("import sys; from territory_core.store.storage import ScenarioStore; "
            f"s = ScenarioStore({url!r}); print(s.migrated, 'alembic' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=str(Path(__file__).resolve().parent.parent)).stdout.split()
    assert out == ["False", "False"]


def test_database_newer_than_the_code_is_refused(url):
    s = ScenarioStore(url)
    with s.engine.begin() as c:
        c.execute(sa.text("UPDATE territory_schema_version SET version_num = '9999_future'"))
    s.close()
    with pytest.raises(StorageError, match="newer than this version"):
        ScenarioStore(url)


def test_default_url_and_sqlite_file_created(tmp_path, monkeypatch):
    monkeypatch.delenv("TERRITORY_DB_URL", raising=False)
    assert storage_mod.default_url().endswith(".territory/scenarios.db")
    db = tmp_path / "nested" / "dir" / "s.db"
    monkeypatch.setenv("TERRITORY_DB_URL", f"sqlite:///{db}")
    s = ScenarioStore()
    assert db.exists() and s.dialect == "sqlite"
    s.close()


def test_bad_urls_give_clear_errors_without_passwords():
    with pytest.raises(StorageError, match="not a valid SQLAlchemy URL"):
        ScenarioStore("not a url at all")
    with pytest.raises(StorageError) as ei:
        ScenarioStore("postgresql+psycopg://bob:s3cret@127.0.0.1:1/nodb")
    assert "s3cret" not in str(ei.value) and "TERRITORY_DB_URL" in str(ei.value)
    blocker = __import__("pathlib").Path(__import__("tempfile").mkdtemp()) / "file"
    blocker.write_text("not a folder")
    with pytest.raises(StorageError, match="Cannot create the folder"):
        ScenarioStore(f"sqlite:///{blocker}/sub/s.db")
    for plain in ("postgres://u:p@localhost/x", "postgresql://u:p@localhost/x"):
        eng = storage_mod._make_engine(plain)
        assert eng.url.drivername == "postgresql+psycopg"  # psycopg 3, the driver that is installed
        eng.dispose()


def test_postgres_fixture_explains_why_it_cannot_start(monkeypatch):
    import conftest_pg

    monkeypatch.setattr(conftest_pg.glob, "glob", lambda pattern: [])
    monkeypatch.setattr(conftest_pg.shutil, "which", lambda name: None)
    with pytest.raises(RuntimeError, match="no PostgreSQL server binaries"):
        conftest_pg._start_local()


def test_conflict_message_without_expected_version(store, ds):
    v1 = store.save(_scenario(ds), user="alice", expected_version=None)
    with pytest.raises(ConflictError, match="did not say which version") as ei:
        store.save(v1.with_(version=None), user="bob")
    assert ei.value.latest_version == 1 and "alice" in str(ei.value)


def test_process_killed_mid_save_loses_nothing(store, url, ds):
    """A process dies (os._exit, no cleanup) after writing the new version row but before the
    commit: the database keeps exactly the versions saved before."""
    import subprocess
    import sys
    import textwrap

    v1 = store.save(_scenario(ds), user="alice", expected_version=None)
    code = textwrap.dedent(f"""
        import os, sys
        sys.path.insert(0, {str(__import__('pathlib').Path(__file__).resolve().parent)!r})
        from territory_core.store.storage import ScenarioStore
        def die(*a, **k):
            os._exit(9)
        ScenarioStore._bump_head = die
        s = ScenarioStore({url!r})
        sc = s.load({v1.id!r})
        s.save(sc.with_(description="never committed"), user="crasher", expected_version=1)
    """)
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         cwd=str(__import__('pathlib').Path(__file__).resolve().parent.parent))
    assert res.returncode == 9, res.stderr
    assert store.history(v1.id)["version"].tolist() == [1]
    assert store.load(v1.id).description == "Q3 plan"
    assert store.save(store.load(v1.id).with_(description="after crash"), user="alice", expected_version=1).version == 2


def test_upgrade_from_the_first_schema_keeps_and_backfills_data(url):
    """A database made by revision 0001 (before the version summary columns) opens, upgrades to
    the newest revision and keeps its scenarios, with status and moves backfilled."""
    import json
    from datetime import datetime, timezone

    from alembic import command

    eng = storage_mod._make_engine(url)
    try:
        with eng.begin() as conn:
            command.upgrade(storage_mod._alembic_config(conn), "0001")
        assert current_revision(eng) == "0001"
        now = datetime.now(timezone.utc)
        with eng.begin() as conn:
            conn.execute(sa.text("INSERT INTO scenario (id, name, head_version, created_by, created_at) "
                                 "VALUES ('old1', 'Old plan', 1, 'ann', :t)"), {"t": now})
            conn.execute(sa.text(
                "INSERT INTO scenario_version (scenario_id, version, name, description, note, saved_by, saved_at, "
                "settings_json, events_json, overrides_json, report_json) VALUES ('old1', 1, 'Old plan', '', 'v1', "
                "'ann', :t, '{}', '[]', '[]', :r)"), {"t": now, "r": json.dumps({"status": "optimal", "moves": 42,
                                                                                  "arr_moved": 1.5e6})})
    finally:
        eng.dispose()
    s = ScenarioStore(url)
    try:
        assert s.migrated is True and current_revision(s.engine) == head_revision() != "0001"
        h = s.history("old1")
        assert h.loc[0, "status"] == "optimal" and h.loc[0, "moves"] == 42 and h.loc[0, "arr_moved"] == 1.5e6
        old = s.load("old1")
        assert old.name == "Old plan" and old.report["moves"] == 42 and old.assignment is None
        lst = s.list_scenarios()
        assert lst.loc[0, "status"] == "optimal" and lst.loc[0, "moves"] == 42
        new = s.save(old.with_(report={"status": "feasible", "moves": 7}), user="bob", expected_version=1)
        assert s.history(new.id)[["version", "status", "moves"]].values.tolist() == [[2, "feasible", 7], [1, "optimal", 42]]
    finally:
        s.close()
