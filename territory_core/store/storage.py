"""Saved scenarios in a real database (SQLAlchemy): SQLite by default, PostgreSQL when
``TERRITORY_DB_URL`` says so (``postgresql+psycopg://user:pass@host/db``).

Each save writes a new immutable version (scenario_id, version) in one transaction. A save names
the version it was based on (``expected_version``); when someone saved a newer version since, the
save is refused with :class:`ConflictError` (reload, or :meth:`ScenarioStore.save_as_copy`), never
a silent overwrite. The schema is created and upgraded by alembic migrations
(``territory_core/migrations``) when a store opens a database.
"""
from __future__ import annotations

import contextlib
import gzip
import json
import os
import threading
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, IntegrityError, OperationalError, SQLAlchemyError

from ..contract import ASSIGNMENT
from ..dataset import ROOT, coerce_types
from ..plan.scenarios import Scenario, _json_safe

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
VERSION_TABLE = "territory_schema_version"
DEFAULT_DB = ROOT / ".territory" / "scenarios.db"
ENV_URL = "TERRITORY_DB_URL"
_PG_LOCK_KEY = 7_420_612_001  # advisory lock held while migrating a PostgreSQL database
_WRITE = "territory_write"  # execution option marking a write transaction
LOCK_ENV = "TERRITORY_DB_LOCK_TIMEOUT"
DEFAULT_LOCK_TIMEOUT = 10.0  # seconds a write waits for another writer's lock before giving up
MAX_NAME = 300  # characters of a scenario name the database keeps

metadata = sa.MetaData()
scenario_t = sa.Table(
    "scenario", metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(300), nullable=False),
    sa.Column("head_version", sa.Integer, nullable=False),
    sa.Column("parent_id", sa.String(64)),
    sa.Column("parent_version", sa.Integer),
    sa.Column("created_by", sa.String(300), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)
version_t = sa.Table(
    "scenario_version", metadata,
    sa.Column("scenario_id", sa.String(64), sa.ForeignKey("scenario.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(300), nullable=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("note", sa.Text, nullable=False),
    sa.Column("saved_by", sa.String(300), nullable=False),
    sa.Column("saved_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("parent_id", sa.String(64)),
    sa.Column("parent_version", sa.Integer),
    sa.Column("settings_json", sa.Text, nullable=False),
    sa.Column("events_json", sa.Text, nullable=False),
    sa.Column("overrides_json", sa.Text, nullable=False),
    sa.Column("report_json", sa.Text),
    sa.Column("input_fingerprint", sa.String(64)),
    sa.Column("assignment_gz", sa.LargeBinary),
    sa.Column("n_accounts", sa.Integer),
    sa.Column("status", sa.String(32)),  # 0002: summary of report_json
    sa.Column("moves", sa.Integer),
    sa.Column("arr_moved", sa.Float),
    sa.Column("dataset_id", sa.String(64)),  # 0003: the stored dataset version it was solved on
    sa.Column("dataset_version", sa.Integer),
)


class StorageError(RuntimeError):
    """The scenario database cannot be opened or used (message says what and how to fix)."""


class ScenarioNotFound(StorageError, LookupError):
    """No scenario (or version) with that id or name."""


class StoreBusy(StorageError):
    """Another process held the database's write lock for longer than the store waits."""


class NameTooLong(StorageError, ValueError):
    """A name longer than the database keeps; nothing was written."""


def lock_timeout_default() -> float:
    """Seconds a write waits for another writer: ``TERRITORY_DB_LOCK_TIMEOUT``, else 10."""
    try:
        v = float(os.environ.get(LOCK_ENV, "") or DEFAULT_LOCK_TIMEOUT)
    except ValueError:
        return DEFAULT_LOCK_TIMEOUT
    return v if v > 0 else DEFAULT_LOCK_TIMEOUT


def is_lock_error(exc: BaseException) -> bool:
    """A SQLite "database is locked/busy" or a PostgreSQL lock timeout (SQLSTATE 55P03)."""
    orig = getattr(exc, "orig", exc)
    if getattr(orig, "sqlstate", None) == "55P03" or getattr(orig, "pgcode", None) == "55P03":
        return True
    text = str(orig).lower()
    return "database is locked" in text or "database is busy" in text or "lock timeout" in text


def busy_message(seconds: float, what: str = "save") -> str:
    return (f"Another save is in progress on the scenario database (it held the lock for more than "
            f"{seconds:g} s), so this {what} did not go through and nothing was written. Try again in a moment.")


def check_name(name: str, what: str = "scenario", limit: int = MAX_NAME) -> str:
    """The name as stored, or :class:`NameTooLong` (the database keeps at most ``limit`` characters)."""
    name = str(name)
    if len(name) > limit:
        raise NameTooLong(f"The {what} name is {len(name):,} characters long; names can have at most {limit}. "
                          "Shorten it and save again; nothing was written.")
    return name


class ConflictError(StorageError):
    """Someone saved a newer version since the one this save was based on.

    Attributes: ``scenario_id``, ``name``, ``expected_version``, ``latest_version`` (None when the
    scenario was deleted), ``latest_saved_by``, ``latest_saved_at``. Offer "Reload" (load the latest)
    or "Save as copy" (:meth:`ScenarioStore.save_as_copy`)."""

    def __init__(self, message: str, *, scenario_id: str, name: str = "", expected_version: int | None = None,
                 latest_version: int | None = None, latest_saved_by: str | None = None,
                 latest_saved_at: datetime | None = None):
        super().__init__(message)
        self.scenario_id = scenario_id
        self.name = name
        self.expected_version = expected_version
        self.latest_version = latest_version
        self.latest_saved_by = latest_saved_by
        self.latest_saved_at = latest_saved_at


def default_url() -> str:
    """``TERRITORY_DB_URL`` when set, else the SQLite file ``.territory/scenarios.db`` in the repo."""
    url = (os.environ.get(ENV_URL) or "").strip()
    return url or f"sqlite:///{DEFAULT_DB}"


def safe_url(url: str) -> str:
    """The URL with its password hidden (for messages)."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<unparseable database URL>"


def _utc(dt: datetime | None) -> datetime | None:
    if dt is None:
        return None
    if isinstance(dt, str):
        dt = datetime.fromisoformat(dt)
    return dt.replace(tzinfo=timezone.utc) if dt.tzinfo is None else dt.astimezone(timezone.utc)


def _dumps(value: Any) -> str:
    return json.dumps(_json_safe(value), sort_keys=True, separators=(",", ":"))


def _summary(report, key, cast):
    try:
        v = (report or {}).get(key)
        return None if v is None else cast(v)
    except (TypeError, ValueError, AttributeError):
        return None


def encode_assignment(df: pd.DataFrame | None) -> bytes | None:
    """An assignment frame as gzip-compressed JSON (columns -> lists; NA as null)."""
    if df is None:
        return None
    payload = {"columns": [str(c) for c in df.columns],
               "data": {str(c): [None if pd.isna(v) else (v.item() if hasattr(v, "item") else v)
                                 for v in df[c].tolist()] for c in df.columns}}
    return gzip.compress(json.dumps(payload, separators=(",", ":")).encode("utf-8"), compresslevel=6, mtime=0)


def decode_assignment(blob: bytes | None) -> pd.DataFrame | None:
    if blob is None:
        return None
    payload = json.loads(gzip.decompress(bytes(blob)).decode("utf-8"))
    df = pd.DataFrame({c: payload["data"][c] for c in payload["columns"]}, columns=payload["columns"])
    return coerce_types(df, ASSIGNMENT)


def _make_engine(url: str, lock_timeout: float | None = None) -> Engine:
    wait = float(lock_timeout) if lock_timeout else lock_timeout_default()
    try:
        u = make_url(url)
    except ArgumentError as exc:
        raise StorageError(f"The scenario database URL {url!r} is not a valid SQLAlchemy URL ({exc}). "
                           f"Set {ENV_URL} to e.g. sqlite:///path/scenarios.db or "
                           "postgresql+psycopg://user:password@host/dbname.") from None
    if u.get_backend_name() == "sqlite":
        db = u.database or ""
        if db and db != ":memory:" and not db.startswith("file:"):
            folder = Path(db).expanduser().parent
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StorageError(f"Cannot create the folder {folder} for the scenario database ({exc.strerror or exc}). "
                                   f"Set {ENV_URL} to a writable location, e.g. sqlite:////tmp/scenarios.db.") from None
        engine = sa.create_engine(u, connect_args={"timeout": wait})

        @event.listens_for(engine, "connect")
        def _connect(dbapi_conn, _rec):  # let SQLAlchemy own transactions; enforce foreign keys
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            if db and db != ":memory:":
                try:  # readers do not wait for a writer (and vice versa)
                    cur.execute("PRAGMA journal_mode=WAL")
                except Exception:
                    pass
            cur.close()

        @event.listens_for(engine, "begin")
        def _begin(conn):
            # Writes take the write lock at BEGIN, so nobody slips in between our read of the
            # latest version and our insert; reads stay deferred and never block.
            write = conn.get_execution_options().get(_WRITE, False)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

        return engine
    if u.drivername in ("postgresql", "postgres"):
        u = u.set(drivername="postgresql+psycopg")  # psycopg 3 is what requirements.txt installs
    try:  # a write waits at most ``wait`` seconds for another writer's row or advisory lock
        return sa.create_engine(u, pool_pre_ping=True,
                                connect_args={"options": f"-c lock_timeout={max(1, int(wait * 1000))}"})
    except (ArgumentError, ImportError) as exc:
        raise StorageError(f"Cannot use the database {safe_url(url)}: {exc}.") from None


def _alembic_config(conn: Connection):
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["connection"] = conn
    return cfg


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    cfg = _alembic_config(None)
    return ScriptDirectory.from_config(cfg).get_current_head()


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE}).get_current_revision()


def _stored_revision(engine: Engine) -> str | None:
    """The revision in the version table by a plain read, without alembic; None when the table is
    missing or unreadable (migrate() then asks alembic)."""
    try:
        with engine.connect() as conn:
            rows = conn.exec_driver_sql(f"SELECT version_num FROM {VERSION_TABLE}").fetchall()
    except sa.exc.DBAPIError:
        return None
    return str(rows[0][0]) if len(rows) == 1 else None


def migrate(engine: Engine) -> bool:
    """Bring the schema to the newest migration. Returns True when something was applied,
    False when the database was already current (a no-op: one read, alembic not even imported)."""
    from territory_core.store.migrations import HEAD

    if _stored_revision(engine) == HEAD:
        return False
    from alembic import command
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(_alembic_config(None))
    head = script.get_current_head()
    known = {r.revision for r in script.walk_revisions()}
    with engine.connect() as conn:  # a plain read first: opening a current store never waits for a writer
        cur = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE}).get_current_revision()
    if cur == head:
        return False
    with engine.execution_options(**{_WRITE: True}).begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_PG_LOCK_KEY})")
        cur = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE}).get_current_revision()
        if cur == head:
            return False
        if cur is not None and cur not in known:
            raise StorageError(f"The scenario database is at schema revision {cur!r}, newer than this version "
                               f"of Territory Modeler knows (newest {head!r}). Upgrade the app, or point "
                               f"{ENV_URL} at another database.")
        command.upgrade(_alembic_config(conn), "head")
        return True


class ScenarioStore:
    """Scenarios and their versions in a database. Thread-safe; one engine per store.

    ``url``: SQLAlchemy URL; default :func:`default_url` (``TERRITORY_DB_URL`` or the SQLite file
    ``.territory/scenarios.db``). The schema is migrated on open.
    """

    def __init__(self, url: str | None = None, *, lock_timeout: float | None = None):
        self.url = url or default_url()
        self.lock_timeout = float(lock_timeout) if lock_timeout else lock_timeout_default()
        self.engine = _make_engine(self.url, self.lock_timeout)
        self._lock = threading.Lock()
        try:
            self.migrated = migrate(self.engine)
        except StorageError:
            self.engine.dispose()
            raise
        except (OperationalError, SQLAlchemyError, OSError) as exc:
            self.engine.dispose()
            if is_lock_error(exc):
                raise StoreBusy(f"The scenario database {safe_url(self.url)} is being upgraded or written by another "
                                f"process (it held the lock for more than {self.lock_timeout:g} s). Try again in a "
                                "moment.") from None
            reason = str(getattr(exc, "orig", exc) or exc).strip().splitlines()[0] if str(exc) else type(exc).__name__
            raise StorageError(f"Cannot open the scenario database {safe_url(self.url)}: {reason}. "
                               f"Check {ENV_URL} (server running, user, password, database name).") from None

    # -- housekeeping -------------------------------------------------------------------------
    @contextlib.contextmanager
    def _write(self, what: str = "save"):
        """A write transaction (on SQLite: BEGIN IMMEDIATE). When another writer holds the lock for
        longer than ``lock_timeout``: :class:`StoreBusy`, and nothing is written."""
        try:
            with self.engine.execution_options(**{_WRITE: True}).begin() as conn:
                yield conn
        except OperationalError as exc:
            if is_lock_error(exc):
                raise StoreBusy(busy_message(self.lock_timeout, what)) from None
            raise

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self) -> str:
        return f"ScenarioStore({safe_url(self.url)!r})"

    # -- reading ------------------------------------------------------------------------------
    def list_scenarios(self) -> pd.DataFrame:
        """One row per scenario, newest save first: id, name, latest_version (also as ``version``),
        saved_by, saved_at (of the latest version), parent (parent's name, or "Today's plan"),
        parent_id, parent_version, description, created_by, created_at, status and moves (of the
        latest version's solve)."""
        s, v = scenario_t, version_t
        p = scenario_t.alias("p")
        q = (sa.select(s.c.id, v.c.name, s.c.head_version, v.c.saved_by, v.c.saved_at, s.c.parent_id,
                       s.c.parent_version, p.c.name.label("parent_name"), v.c.description, s.c.created_by,
                       s.c.created_at, v.c.status, v.c.moves)
             .join(v, sa.and_(v.c.scenario_id == s.c.id, v.c.version == s.c.head_version))
             .outerjoin(p, p.c.id == s.c.parent_id)
             .order_by(v.c.saved_at.desc(), s.c.id))
        with self.engine.connect() as conn:
            rows = conn.execute(q).all()
        cols = ["id", "name", "latest_version", "version", "saved_by", "saved_at", "parent", "parent_id",
                "parent_version", "description", "created_by", "created_at", "status", "moves"]
        data = []
        for r in rows:
            parent = "Today's plan" if r.parent_id is None else (
                f"{r.parent_name} v{r.parent_version}" if r.parent_name and r.parent_version else
                (r.parent_name or f"(deleted scenario {r.parent_id[:8]})"))
            data.append([r.id, r.name, int(r.head_version), int(r.head_version), r.saved_by, _utc(r.saved_at),
                         parent, r.parent_id, r.parent_version, r.description or "", r.created_by, _utc(r.created_at),
                         r.status, r.moves])
        df = pd.DataFrame(data, columns=cols)
        for c in ("latest_version", "version", "parent_version", "moves"):
            df[c] = df[c].astype("Int64")
        for c in ("saved_at", "created_at"):
            df[c] = pd.to_datetime(df[c], utc=True)
        return df

    def resolve(self, name_or_id: str) -> str:
        """A scenario id from an id, an id prefix (8+ characters) or an exact name (case-insensitive).
        Raises :class:`ScenarioNotFound` when nothing or more than one scenario matches."""
        key = str(name_or_id or "").strip()
        if not key:
            raise ScenarioNotFound("No scenario given: pass its name or id (see the list of saved scenarios).")
        with self.engine.connect() as conn:
            if conn.execute(sa.select(scenario_t.c.id).where(scenario_t.c.id == key)).first():
                return key
            heads = conn.execute(
                sa.select(scenario_t.c.id, version_t.c.name)
                .join(version_t, sa.and_(version_t.c.scenario_id == scenario_t.c.id,
                                         version_t.c.version == scenario_t.c.head_version))).all()
        by_name = [r.id for r in heads if (r.name or "").strip().casefold() == key.casefold()]
        by_prefix = [r.id for r in heads if len(key) >= 8 and r.id.startswith(key)]
        hits = by_name or by_prefix
        if len(hits) == 1:
            return hits[0]
        if not hits:
            names = ", ".join(sorted({r.name for r in heads})[:10]) or "none saved yet"
            raise ScenarioNotFound(f"No saved scenario is named or has the id {key!r}. Saved scenarios: {names}.")
        raise ScenarioNotFound(f"{len(hits)} scenarios are named {key!r} (ids {', '.join(h[:8] for h in hits)}); "
                               "pass the id instead.")

    def load(self, id: str, version: int | None = None) -> Scenario:
        """The scenario at ``version`` (the latest when None)."""
        with self.engine.connect() as conn:
            head = conn.execute(sa.select(scenario_t).where(scenario_t.c.id == str(id))).first()
            if head is None:
                raise ScenarioNotFound(f"No saved scenario has the id {id!r} (it may have been deleted).")
            ver = int(version) if version is not None else int(head.head_version)
            row = conn.execute(sa.select(version_t).where(version_t.c.scenario_id == str(id),
                                                          version_t.c.version == ver)).first()
        if row is None:
            raise ScenarioNotFound(f"Scenario {head.name!r} has no version {ver}; its versions are 1 to "
                                   f"{head.head_version}.")
        return self._to_scenario(row)

    @staticmethod
    def _to_scenario(row) -> Scenario:
        return Scenario(
            name=row.name, parent_id=row.parent_id, parent_version=row.parent_version,
            settings=json.loads(row.settings_json or "{}"), events=tuple(json.loads(row.events_json or "[]")),
            overrides=tuple(json.loads(row.overrides_json or "[]")),
            assignment=decode_assignment(row.assignment_gz),
            report=json.loads(row.report_json) if row.report_json else None,
            description=row.description or "", id=row.scenario_id, version=int(row.version),
            saved_by=row.saved_by, saved_at=_utc(row.saved_at), input_fingerprint=row.input_fingerprint,
            dataset_id=row.dataset_id, dataset_version=row.dataset_version,
        )

    def history(self, id: str) -> pd.DataFrame:
        """The scenario's versions, newest first: version, saved_by, saved_at, note, name, status,
        moves, arr_moved, events, overrides (counts)."""
        with self.engine.connect() as conn:
            if not conn.execute(sa.select(scenario_t.c.id).where(scenario_t.c.id == str(id))).first():
                raise ScenarioNotFound(f"No saved scenario has the id {id!r} (it may have been deleted).")
            rows = conn.execute(
                sa.select(version_t.c.version, version_t.c.saved_by, version_t.c.saved_at, version_t.c.note,
                          version_t.c.name, version_t.c.status, version_t.c.moves, version_t.c.arr_moved,
                          version_t.c.events_json, version_t.c.overrides_json)
                .where(version_t.c.scenario_id == str(id)).order_by(version_t.c.version.desc())).all()
        data = []
        for r in rows:
            data.append({"version": int(r.version), "saved_by": r.saved_by, "saved_at": _utc(r.saved_at),
                         "note": r.note or "", "name": r.name, "status": r.status,
                         "moves": r.moves, "arr_moved": r.arr_moved,
                         "events": len(json.loads(r.events_json or "[]")),
                         "overrides": len(json.loads(r.overrides_json or "[]"))})
        df = pd.DataFrame(data, columns=["version", "saved_by", "saved_at", "note", "name", "status", "moves",
                                         "arr_moved", "events", "overrides"])
        df["saved_at"] = pd.to_datetime(df["saved_at"], utc=True)
        df["moves"] = df["moves"].astype("Int64")
        return df

    # -- writing ------------------------------------------------------------------------------
    def _version_row(self, sid: str, version: int, sc: Scenario, user: str, now: datetime, note: str) -> dict:
        return {
            "scenario_id": sid, "version": version, "name": sc.name, "description": sc.description or "",
            "note": note or "", "saved_by": user, "saved_at": now, "parent_id": sc.parent_id,
            "parent_version": sc.parent_version, "settings_json": _dumps(sc.settings or {}),
            "events_json": _dumps(list(sc.events)), "overrides_json": _dumps(list(sc.overrides)),
            "report_json": _dumps(sc.report) if sc.report is not None else None,
            "input_fingerprint": sc.input_fingerprint, "assignment_gz": encode_assignment(sc.assignment),
            "n_accounts": None if sc.assignment is None else int(len(sc.assignment)),
            "status": _summary(sc.report, "status", lambda v: str(v)[:32]),
            "moves": _summary(sc.report, "moves", int),
            "arr_moved": _summary(sc.report, "arr_moved", float),
            "dataset_id": sc.dataset_id, "dataset_version": sc.dataset_version,
        }

    def _bump_head(self, conn: Connection, sid: str, expected: int, new: int, name: str) -> None:
        """Move the scenario's head to ``new`` only if it is still ``expected`` (optimistic check)."""
        res = conn.execute(sa.update(scenario_t)
                           .where(scenario_t.c.id == sid, scenario_t.c.head_version == expected)
                           .values(head_version=new, name=name))
        if res.rowcount != 1:
            raise _RaceLost()

    def save(self, scenario: Scenario, *, user: str, expected_version: int | None = None, note: str = "",
             access=None) -> Scenario:
        """Save a new immutable version and return the scenario with id, version, saved_by, saved_at.

        - A scenario without an ``id`` (new, or derived from today's plan) becomes a new scenario at
          version 1.
        - Otherwise ``expected_version`` (default: ``scenario.version``) must be the latest saved
          version; when someone saved a newer one, or deleted the scenario, :class:`ConflictError` is
          raised and nothing is written.
        The whole save is one transaction: if anything fails, the database is as before. A name
        longer than 300 characters is refused (:class:`NameTooLong`); another writer holding the
        lock past ``lock_timeout`` gives :class:`StoreBusy`. The returned scenario is what is stored.
        ``access`` (a :class:`territory_core.store.access.Access`): refuse with PermissionDenied,
        writing nothing, when the user's role may not save (the app passes the session's access).
        """
        from .identity import clean_user

        if access is not None:
            access.require("save")
        check_name(scenario.name)
        user = clean_user(user)
        now = datetime.now(timezone.utc)
        if scenario.id is None:
            sid = uuid.uuid4().hex
            with self._lock, self._write() as conn:
                conn.execute(sa.insert(scenario_t).values(
                    id=sid, name=scenario.name, head_version=1, parent_id=scenario.parent_id,
                    parent_version=scenario.parent_version, created_by=user, created_at=now))
                conn.execute(sa.insert(version_t).values(**self._version_row(sid, 1, scenario, user, now, note)))
            return scenario.with_(id=sid, version=1, saved_by=user, saved_at=now)

        sid = str(scenario.id)
        expected = expected_version if expected_version is not None else scenario.version
        try:
            with self._lock, self._write() as conn:
                head = conn.execute(sa.select(scenario_t.c.head_version, scenario_t.c.name)
                                    .where(scenario_t.c.id == sid).with_for_update()).first()
                if head is None:
                    raise ConflictError(
                        f"Scenario {scenario.name!r} was deleted since you opened it, so it cannot get a new "
                        "version. Save your changes as a copy to keep them.",
                        scenario_id=sid, name=scenario.name, expected_version=expected)
                latest = int(head.head_version)
                if expected is None or int(expected) != latest:
                    raise self._conflict(conn, sid, scenario.name, expected, latest)
                new = latest + 1
                conn.execute(sa.insert(version_t).values(**self._version_row(sid, new, scenario, user, now, note)))
                self._bump_head(conn, sid, latest, new, scenario.name)
        except (_RaceLost, IntegrityError):
            # Another writer got in between our read and write: report it like any conflict.
            with self.engine.connect() as conn:
                head = conn.execute(sa.select(scenario_t.c.head_version).where(scenario_t.c.id == sid)).first()
                raise self._conflict(conn, sid, scenario.name, expected, int(head.head_version) if head else None) from None
        return scenario.with_(id=sid, version=new, saved_by=user, saved_at=now)

    def _conflict(self, conn: Connection, sid: str, name: str, expected, latest) -> ConflictError:
        row = None
        if latest is not None:
            row = conn.execute(sa.select(version_t.c.saved_by, version_t.c.saved_at)
                               .where(version_t.c.scenario_id == sid, version_t.c.version == latest)).first()
        by = row.saved_by if row else None
        at = _utc(row.saved_at) if row else None
        when = f" at {at:%Y-%m-%d %H:%M} UTC" if at else ""
        if expected is not None:
            msg = (f"Not saved: {by or 'someone'} saved {name!r} as version {latest}{when}, after the version "
                   f"{expected} you were editing. Reload to see their changes, or save yours as a copy; "
                   "nothing was overwritten.")
        else:
            msg = (f"Not saved: {name!r} already has version {latest} (saved by {by or 'someone'}{when}) and this "
                   "save did not say which version it was based on. Reload it, or save yours as a copy; "
                   "nothing was overwritten.")
        return ConflictError(msg, scenario_id=sid, name=name, expected_version=expected, latest_version=latest,
                             latest_saved_by=by, latest_saved_at=at)

    def save_as_copy(self, scenario: Scenario, *, user: str, name: str | None = None, note: str = "",
                     access=None) -> Scenario:
        """Save ``scenario`` as a new scenario (version 1) whose parent is the scenario it was
        opened from. Use it after a :class:`ConflictError` to keep your changes."""
        parent_id = scenario.id if scenario.id is not None else scenario.parent_id
        parent_version = scenario.version if scenario.id is not None else scenario.parent_version
        suffix = " (copy)"
        copy = scenario.with_(id=None, version=None, saved_by=None, saved_at=None, parent_id=parent_id,
                              parent_version=parent_version,
                              name=name or f"{scenario.name[:MAX_NAME - len(suffix)]}{suffix}")
        return self.save(copy, user=user, expected_version=None, note=note or f"Copy of {scenario.label}",
                         access=access)

    def delete(self, id: str) -> None:
        """Delete a scenario and all its versions (one transaction)."""
        with self._lock, self._write("delete") as conn:
            conn.execute(sa.delete(version_t).where(version_t.c.scenario_id == str(id)))
            res = conn.execute(sa.delete(scenario_t).where(scenario_t.c.id == str(id)))
            if res.rowcount == 0:
                raise ScenarioNotFound(f"No saved scenario has the id {id!r} (already deleted?).")


class _RaceLost(Exception):
    pass
