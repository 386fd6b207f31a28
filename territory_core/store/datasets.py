"""Datasets in the store, next to the scenarios (same database, same engine).

A dataset is named (unique, case-insensitive) and versioned. Each version is immutable and
holds the normalised tables (accounts, reps, opportunities, account products, distances) as
zstd-compressed Parquet, plus the column mapping used, the source file names and the validation
summary. A scenario version names the dataset version it was solved on
(``Scenario.dataset_id``/``dataset_version``), so it reopens on that data for every user, in
any process.

The same store remembers column mappings per source file (by header set, see
:func:`territory_core.ingest.mapping.header_key`) and store-wide settings such as the dataset
new sessions start on (:meth:`DatasetStore.active`).

    with DatasetStore() as ds_store:                     # TERRITORY_DB_URL or the SQLite default
        info = ds_store.save(dataset, name="FY27 CRM", user="ana", mapping=..., sources=...)
        same = ds_store.load("FY27 CRM", info.version)
"""
from __future__ import annotations

import functools
import io
import json
import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Iterable, Mapping

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from ..contract import TABLES
from ..dataset import Dataset, coerce_types, empty_frame
from ..plan.scenarios import Scenario, _json_safe, dataset_fingerprint
from .storage import ScenarioStore, StorageError, _dumps, _utc, check_name, metadata

TABLE_NAMES = ("accounts", "reps", "opportunities", "account_products", "distances")
MAX_DATASET_NAME = 200
ACTIVE_KEY = "active_dataset"
_CTRL = re.compile(r"[\x00-\x1f\x7f]+")

dataset_t = sa.Table(
    "dataset", metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("name_key", sa.String(200), nullable=False),
    sa.Column("head_version", sa.Integer, nullable=False),
    sa.Column("created_by", sa.String(300), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)
dversion_t = sa.Table(
    "dataset_version", metadata,
    sa.Column("dataset_id", sa.String(64), primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("saved_by", sa.String(300), nullable=False),
    sa.Column("saved_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("note", sa.Text, nullable=False),
    sa.Column("fingerprint", sa.String(64)),
    sa.Column("n_accounts", sa.Integer, nullable=False),
    sa.Column("n_reps", sa.Integer, nullable=False),
    sa.Column("n_opportunities", sa.Integer, nullable=False),
    sa.Column("n_account_products", sa.Integer, nullable=False),
    sa.Column("n_distances", sa.Integer, nullable=False),
    sa.Column("stored_bytes", sa.BigInteger, nullable=False),
    sa.Column("sources_json", sa.Text, nullable=False),
    sa.Column("mapping_json", sa.Text, nullable=False),
    sa.Column("validation_json", sa.Text, nullable=False),
)
dtable_t = sa.Table(
    "dataset_table", metadata,
    sa.Column("dataset_id", sa.String(64), primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("table_name", sa.String(40), primary_key=True),
    sa.Column("n_rows", sa.Integer, nullable=False),
    sa.Column("parquet", sa.LargeBinary, nullable=False),
)
memory_t = sa.Table(
    "mapping_memory", metadata,
    sa.Column("kind", sa.String(40), primary_key=True),
    sa.Column("header_key", sa.String(64), primary_key=True),
    sa.Column("headers_json", sa.Text, nullable=False),
    sa.Column("mapping_json", sa.Text, nullable=False),
    sa.Column("source", sa.String(300), nullable=False),
    sa.Column("saved_by", sa.String(300), nullable=False),
    sa.Column("saved_at", sa.DateTime(timezone=True), nullable=False),
)
setting_t = sa.Table(
    "app_setting", metadata,
    sa.Column("key", sa.String(100), primary_key=True),
    sa.Column("value_json", sa.Text, nullable=False),
    sa.Column("saved_by", sa.String(300), nullable=False),
    sa.Column("saved_at", sa.DateTime(timezone=True), nullable=False),
)


class DatasetNotFound(StorageError, LookupError):
    """No dataset (or version) with that name or id."""


class DatasetNameTaken(StorageError, ValueError):
    """"Save as a new dataset" with a name another dataset has."""


class InvalidName(StorageError, ValueError):
    """A blank dataset name."""


class _HeadMoved(Exception):
    pass


@dataclass(frozen=True)
class DatasetInfo:
    """One stored dataset version (no tables: :meth:`DatasetStore.load` reads those)."""

    id: str
    name: str
    version: int
    saved_by: str
    saved_at: datetime
    note: str = ""
    fingerprint: str | None = None
    rows: Mapping[str, int] = field(default_factory=dict)  # table -> rows
    stored_bytes: int = 0
    sources: tuple = ()  # ({"table": "accounts", "file": "Account.csv", "rows": 25, ...}, ...)
    mapping: Mapping[str, Any] = field(default_factory=dict)  # table -> {header: canonical or None}
    validation: Mapping[str, Any] = field(default_factory=dict)  # summary, errors, warnings, issues

    @property
    def label(self) -> str:
        return f"{self.name} v{self.version}"


@dataclass(frozen=True)
class SavedMapping:
    """A remembered mapping for one kind of file with one header set."""

    kind: str
    headers: tuple[str, ...]
    mapping: Mapping[str, str | None]
    source: str
    saved_by: str
    saved_at: datetime


# ------------------------------------------------------------------------------------------------
# Tables as Parquet
def encode_table(df: pd.DataFrame) -> bytes:
    """A frame as zstd-compressed Parquet (dtypes kept, index dropped)."""
    buf = io.BytesIO()
    frame = df.reset_index(drop=True)
    try:
        frame.to_parquet(buf, engine="pyarrow", compression="zstd", index=False)
    except (TypeError, ValueError, ImportError):  # odd object cells (lists, mixed types): store them as text
        buf = io.BytesIO()
        obj = [c for c in frame.columns if frame[c].dtype == object]
        frame = frame.astype({c: "string" for c in obj})
        frame.to_parquet(buf, engine="pyarrow", compression="zstd", index=False)
    return buf.getvalue()


def decode_table(blob: bytes, table_name: str | None = None) -> pd.DataFrame:
    df = pd.read_parquet(io.BytesIO(bytes(blob)), engine="pyarrow")
    if table_name in TABLES:  # columns a later contract added come back with their defaults
        missing = [c for c in TABLES[table_name].names if c not in df.columns]
        if missing:
            df = coerce_types(df, TABLES[table_name])
    return df


def clean_name(name, what: str = "dataset") -> str:
    """A dataset name as stored: printable, single-spaced, at most 200 characters, never blank."""
    s = " ".join(_CTRL.sub(" ", str(name if name is not None else "")).split())
    if not s:
        raise InvalidName(f"The {what} needs a name: type one and save again; nothing was written.")
    return check_name(s, what, MAX_DATASET_NAME)


def parse_ref(text: str) -> tuple[str, int | None]:
    """``"FY27 CRM@3"`` -> ("FY27 CRM", 3); ``"FY27 CRM"`` -> ("FY27 CRM", None). A name may itself
    hold "@": only a trailing ``@<digits>`` is read as the version."""
    s = str(text or "").strip()
    m = re.fullmatch(r"(.*\S)\s*@\s*v?(\d+)", s)
    if m:
        return m.group(1), int(m.group(2))
    return s, None


def validation_summary(report) -> dict:
    """A JSON-safe summary of a ValidationReport (or the dict itself): summary line, counts and the
    first 200 issues."""
    if report is None:
        return {}
    if isinstance(report, Mapping):
        return _json_safe(dict(report))
    issues = [i.to_dict() for i in getattr(report, "issues", [])]
    return {"summary": report.summary(), "errors": len(report.errors), "warnings": len(report.warnings),
            "issues": issues[:200], "issues_total": len(issues)}


def sources_from(info: Mapping | Iterable | None) -> list[dict]:
    """Source file descriptions from ``ImportResult.info`` ({table: {file, format, rows, ...}}) or a
    list of such dicts / file names."""
    if not info:
        return []
    out = []
    if isinstance(info, Mapping):
        for table, d in info.items():
            d = dict(d or {})
            out.append({"table": str(table), "file": str(d.get("file") or ""), "rows": d.get("rows"),
                        "format": d.get("format")})
    else:
        for d in info:
            out.append(dict(d) if isinstance(d, Mapping) else {"file": str(d)})
    return _json_safe(out)


# ------------------------------------------------------------------------------------------------
class DatasetStore:
    """Datasets, mapping memory and settings in the scenario database.

    ``store``: a :class:`ScenarioStore` to share (its engine and lock), or a database URL (or None
    for :func:`territory_core.store.storage.default_url`), in which case a store is opened here and
    closed by :meth:`close`.
    """

    def __init__(self, store: ScenarioStore | str | None = None):
        if isinstance(store, ScenarioStore):
            self.store, self._owns = store, False
        else:
            self.store, self._owns = ScenarioStore(store), True
        self.engine = self.store.engine

    def close(self) -> None:
        if self._owns:
            self.store.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self) -> str:
        return f"DatasetStore({self.store!r})"

    # -- writing ------------------------------------------------------------------------------
    @staticmethod
    def _encode(dataset: Dataset) -> dict[str, tuple[int, bytes]]:
        out = {}
        for t in TABLE_NAMES:
            df = getattr(dataset, t, None)
            if df is None or (t == "distances" and not len(df)):
                continue
            out[t] = (int(len(df)), encode_table(df))
        return out

    def _version_values(self, did: str, version: int, dataset: Dataset, blobs, *, user: str, now, note: str,
                        mapping, sources, validation) -> dict:
        rows = {t: (blobs[t][0] if t in blobs else 0) for t in TABLE_NAMES}
        return {
            "dataset_id": did, "version": version, "saved_by": user, "saved_at": now, "note": str(note or ""),
            "fingerprint": dataset_fingerprint(dataset),
            **{f"n_{t}": rows[t] for t in TABLE_NAMES},
            "stored_bytes": int(sum(len(b) for _n, b in blobs.values())),
            "sources_json": _dumps(sources_from(sources)), "mapping_json": _dumps(mapping or {}),
            "validation_json": _dumps(validation_summary(validation)),
        }

    def _insert_version(self, conn, values: dict, blobs) -> None:
        conn.execute(sa.insert(dversion_t).values(**values))
        for t, (n, blob) in blobs.items():
            conn.execute(sa.insert(dtable_t).values(dataset_id=values["dataset_id"], version=values["version"],
                                                    table_name=t, n_rows=n, parquet=blob))

    def create(self, dataset: Dataset, *, name: str, user: str, mapping=None, sources=None, validation=None,
               note: str = "") -> DatasetInfo:
        """Save ``dataset`` as a new dataset (version 1). :class:`DatasetNameTaken` when another
        dataset has that name (case-insensitive): save a new version of it, or pick another name."""
        from .identity import clean_user

        name = clean_name(name)
        user = clean_user(user)
        blobs = self._encode(dataset)
        now = datetime.now(timezone.utc)
        did = uuid.uuid4().hex
        try:
            with self.store._lock, self.store._write("dataset save") as conn:
                taken = conn.execute(sa.select(dataset_t.c.name, dataset_t.c.head_version)
                                     .where(dataset_t.c.name_key == name.casefold())).first()
                if taken:
                    raise self._taken(name, taken)
                conn.execute(sa.insert(dataset_t).values(id=did, name=name, name_key=name.casefold(), head_version=1,
                                                         created_by=user, created_at=now))
                self._insert_version(conn, self._version_values(did, 1, dataset, blobs, user=user, now=now, note=note,
                                                                mapping=mapping, sources=sources,
                                                                validation=validation), blobs)
        except IntegrityError:  # another process created the name between our check and insert
            raise self._taken(name, None) from None
        return self.info(did, 1)

    @staticmethod
    def _taken(name: str, row) -> DatasetNameTaken:
        has = f" (it has {row.head_version} version{'s' if row.head_version != 1 else ''})" if row is not None else ""
        return DatasetNameTaken(f"A dataset named {name!r} already exists{has}. Save these files as a new version of "
                                "it, or give the new dataset another name; nothing was written.")

    def add_version(self, dataset_ref: str, dataset: Dataset, *, user: str, mapping=None, sources=None,
                    validation=None, note: str = "") -> DatasetInfo:
        """Save ``dataset`` as the next version of an existing dataset (by name or id). Versions
        never change: two people saving at once get two versions, nothing is overwritten."""
        from .identity import clean_user

        did = self.resolve(dataset_ref)
        user = clean_user(user)
        blobs = self._encode(dataset)
        now = datetime.now(timezone.utc)
        for _attempt in range(3):
            try:
                with self.store._lock, self.store._write("dataset save") as conn:
                    head = conn.execute(sa.select(dataset_t.c.head_version).where(dataset_t.c.id == did)
                                        .with_for_update()).first()
                    if head is None:
                        raise DatasetNotFound(f"The dataset {dataset_ref!r} was deleted; save the files as a new dataset.")
                    new = int(head.head_version) + 1
                    self._insert_version(conn, self._version_values(did, new, dataset, blobs, user=user, now=now,
                                                                    note=note, mapping=mapping, sources=sources,
                                                                    validation=validation), blobs)
                    res = conn.execute(sa.update(dataset_t).where(dataset_t.c.id == did,
                                                                  dataset_t.c.head_version == new - 1)
                                       .values(head_version=new))
                    if res.rowcount != 1:
                        raise _HeadMoved()
                return self.info(did, new)
            except (IntegrityError, _HeadMoved):
                continue  # someone saved a version in between: take the next number
        raise StorageError("Could not save a new dataset version: other saves kept getting in first. Try again.")

    def save(self, dataset: Dataset, *, name: str, user: str, **kw) -> DatasetInfo:
        """A new version of the dataset called ``name`` when it exists, else a new dataset."""
        name = clean_name(name)
        try:
            self.resolve(name)
        except DatasetNotFound:
            try:
                return self.create(dataset, name=name, user=user, **kw)
            except DatasetNameTaken:
                pass  # created by someone else just now: add ours as its next version
        return self.add_version(name, dataset, user=user, **kw)

    # -- reading ------------------------------------------------------------------------------
    def resolve(self, name_or_id: str) -> str:
        """A dataset id from an id, an id prefix (8+ characters) or an exact name (case-insensitive)."""
        key = str(name_or_id or "").strip()
        if not key:
            raise DatasetNotFound("No dataset given: pass its name or id (see `data list`).")
        with self.engine.connect() as conn:
            if conn.execute(sa.select(dataset_t.c.id).where(dataset_t.c.id == key)).first():
                return key
            row = conn.execute(sa.select(dataset_t.c.id).where(dataset_t.c.name_key == key.casefold())).first()
            if row:
                return row.id
            if len(key) >= 8:
                hits = conn.execute(sa.select(dataset_t.c.id).where(dataset_t.c.id.startswith(key, autoescape=True))).all()
                if len(hits) == 1:
                    return hits[0].id
            names = [r.name for r in conn.execute(sa.select(dataset_t.c.name).order_by(dataset_t.c.name).limit(10))]
        raise DatasetNotFound(f"No saved dataset is named or has the id {key!r}. Saved datasets: "
                              f"{', '.join(names) if names else 'none yet (import one with `data import`)'}.")

    def _row(self, conn, did: str, version: int | None):
        head = conn.execute(sa.select(dataset_t).where(dataset_t.c.id == did)).first()
        if head is None:
            raise DatasetNotFound(f"No saved dataset has the id {did!r} (it may have been deleted).")
        ver = int(version) if version is not None else int(head.head_version)
        row = conn.execute(sa.select(dversion_t).where(dversion_t.c.dataset_id == did,
                                                       dversion_t.c.version == ver)).first()
        if row is None:
            raise DatasetNotFound(f"Dataset {head.name!r} has no version {ver}; its versions are 1 to "
                                  f"{head.head_version}.")
        return head, row

    @staticmethod
    def _to_info(head, row) -> DatasetInfo:
        return DatasetInfo(
            id=head.id, name=head.name, version=int(row.version), saved_by=row.saved_by, saved_at=_utc(row.saved_at),
            note=row.note or "", fingerprint=row.fingerprint,
            rows={t: int(getattr(row, f"n_{t}") or 0) for t in TABLE_NAMES}, stored_bytes=int(row.stored_bytes or 0),
            sources=tuple(json.loads(row.sources_json or "[]")), mapping=json.loads(row.mapping_json or "{}"),
            validation=json.loads(row.validation_json or "{}"))

    def info(self, dataset_ref: str, version: int | None = None) -> DatasetInfo:
        """The stored version's description (the latest when ``version`` is None)."""
        did = self.resolve(dataset_ref)
        with self.engine.connect() as conn:
            head, row = self._row(conn, did, version)
        return self._to_info(head, row)

    def load(self, dataset_ref: str, version: int | None = None) -> Dataset:
        """The dataset version's tables as a :class:`Dataset` (named, with its id and version)."""
        did = self.resolve(dataset_ref)
        with self.engine.connect() as conn:
            head, row = self._row(conn, did, version)
            blobs = conn.execute(sa.select(dtable_t.c.table_name, dtable_t.c.parquet)
                                 .where(dtable_t.c.dataset_id == did, dtable_t.c.version == row.version)).all()
        frames = {b.table_name: decode_table(b.parquet, b.table_name) for b in blobs}
        tables = {t: frames[t] if t in frames else empty_frame(TABLES[t])
                  for t in ("accounts", "reps", "opportunities", "account_products")}
        return Dataset(**tables, distances=frames.get("distances"), name=head.name, dataset_id=head.id,
                       version=int(row.version))

    def latest_version(self, dataset_ref: str) -> int:
        did = self.resolve(dataset_ref)
        with self.engine.connect() as conn:
            v = conn.execute(sa.select(dataset_t.c.head_version).where(dataset_t.c.id == did)).scalar()
        return int(v)

    def list_datasets(self) -> pd.DataFrame:
        """One row per dataset, newest save first: id, name, version (latest), versions, accounts,
        reps, opportunities, account_products, saved_by, saved_at (of the latest), stored_bytes,
        sources (file names of the latest), active (the dataset new sessions start on)."""
        d, v = dataset_t, dversion_t
        q = (sa.select(d.c.id, d.c.name, d.c.head_version, v.c.n_accounts, v.c.n_reps, v.c.n_opportunities,
                       v.c.n_account_products, v.c.saved_by, v.c.saved_at, v.c.stored_bytes, v.c.sources_json)
             .join(v, sa.and_(v.c.dataset_id == d.c.id, v.c.version == d.c.head_version))
             .order_by(v.c.saved_at.desc(), d.c.name))
        with self.engine.connect() as conn:
            rows = conn.execute(q).all()
        act = self.active()
        cols = ["id", "name", "version", "versions", "accounts", "reps", "opportunities", "account_products",
                "saved_by", "saved_at", "stored_bytes", "sources", "active"]
        data = [[r.id, r.name, int(r.head_version), int(r.head_version), int(r.n_accounts), int(r.n_reps),
                 int(r.n_opportunities), int(r.n_account_products), r.saved_by, _utc(r.saved_at),
                 int(r.stored_bytes or 0), ", ".join(s.get("file", "") for s in json.loads(r.sources_json or "[]")
                                                      if s.get("file")),
                 bool(act and act[0] == r.id)] for r in rows]
        df = pd.DataFrame(data, columns=cols)
        df["saved_at"] = pd.to_datetime(df["saved_at"], utc=True)
        return df

    def versions(self, dataset_ref: str) -> pd.DataFrame:
        """The dataset's versions, newest first: version, accounts, reps, opportunities,
        account_products, distances, saved_by, saved_at, note, stored_bytes, sources, errors, warnings."""
        did = self.resolve(dataset_ref)
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(dversion_t).where(dversion_t.c.dataset_id == did)
                                .order_by(dversion_t.c.version.desc())).all()
        data = []
        for r in rows:
            val = json.loads(r.validation_json or "{}")
            data.append({"version": int(r.version), "accounts": int(r.n_accounts), "reps": int(r.n_reps),
                         "opportunities": int(r.n_opportunities), "account_products": int(r.n_account_products),
                         "distances": int(r.n_distances), "saved_by": r.saved_by, "saved_at": _utc(r.saved_at),
                         "note": r.note or "", "stored_bytes": int(r.stored_bytes or 0),
                         "sources": ", ".join(s.get("file", "") for s in json.loads(r.sources_json or "[]")
                                              if s.get("file")),
                         "errors": val.get("errors"), "warnings": val.get("warnings")})
        cols = ["version", "accounts", "reps", "opportunities", "account_products", "distances", "saved_by",
                "saved_at", "note", "stored_bytes", "sources", "errors", "warnings"]
        df = pd.DataFrame(data, columns=cols)
        df["saved_at"] = pd.to_datetime(df["saved_at"], utc=True)
        return df

    # -- settings -----------------------------------------------------------------------------
    def get_setting(self, key: str, default=None):
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(setting_t.c.value_json).where(setting_t.c.key == key)).first()
        return json.loads(row.value_json) if row else default

    def set_setting(self, key: str, value, *, user: str) -> None:
        """Store a JSON-safe setting for every user (``None`` removes it)."""
        from .identity import clean_user

        user = clean_user(user)
        with self.store._lock, self.store._write("settings save") as conn:
            conn.execute(sa.delete(setting_t).where(setting_t.c.key == key))
            if value is not None:
                conn.execute(sa.insert(setting_t).values(key=key, value_json=_dumps(value), saved_by=user,
                                                         saved_at=datetime.now(timezone.utc)))

    def active(self) -> tuple[str, int] | None:
        """(dataset id, version) new sessions start on, or None for the sample. A setting that
        names a dataset or version that no longer exists counts as None."""
        v = self.get_setting(ACTIVE_KEY)
        if not isinstance(v, Mapping) or not v.get("dataset_id"):
            return None
        try:
            with self.engine.connect() as conn:
                head, row = self._row(conn, str(v["dataset_id"]), v.get("version"))
        except DatasetNotFound:
            return None
        return head.id, int(row.version)

    def set_active(self, dataset_ref: str | None, version: int | None = None, *, user: str) -> tuple[str, int] | None:
        """Make a dataset version the one new sessions start on (``None``: the sample)."""
        if dataset_ref is None:
            self.set_setting(ACTIVE_KEY, None, user=user)
            return None
        info = self.info(dataset_ref, version)
        self.set_setting(ACTIVE_KEY, {"dataset_id": info.id, "version": info.version}, user=user)
        return info.id, info.version

    # -- mapping memory -----------------------------------------------------------------------
    def remember_mapping(self, kind: str, headers: Iterable, mapping: Mapping[str, str | None], *, user: str,
                         source: str = "") -> SavedMapping:
        """Remember the mapping of a ``kind`` file with these headers (replaces the previous one)."""
        from ..ingest.mapping import header_key
        from .identity import clean_user

        headers = tuple(str(h) for h in headers if str(h) != "_row")
        key = header_key(headers)
        clean = {str(h): (None if c in (None, "", "ignore", "(ignore)") else str(c)) for h, c in mapping.items()
                 if str(h) in headers}
        user = clean_user(user)
        now = datetime.now(timezone.utc)
        src = " ".join(_CTRL.sub(" ", str(source or "")).split())[:300]
        with self.store._lock, self.store._write("mapping save") as conn:
            conn.execute(sa.delete(memory_t).where(memory_t.c.kind == kind, memory_t.c.header_key == key))
            conn.execute(sa.insert(memory_t).values(kind=kind, header_key=key, headers_json=_dumps(list(headers)),
                                                    mapping_json=_dumps(clean), source=src, saved_by=user,
                                                    saved_at=now))
        return SavedMapping(kind, headers, clean, src, user, now)

    def saved_mapping(self, kind: str, headers: Iterable) -> SavedMapping | None:
        """The mapping remembered for a ``kind`` file with this header set, or None."""
        from ..ingest.mapping import header_key

        key = header_key(headers)
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(memory_t).where(memory_t.c.kind == kind, memory_t.c.header_key == key)).first()
        if row is None:
            return None
        return SavedMapping(row.kind, tuple(json.loads(row.headers_json)), json.loads(row.mapping_json), row.source,
                            row.saved_by, _utc(row.saved_at))


# ------------------------------------------------------------------------------------------------
# Which data a scenario belongs to
@functools.lru_cache(maxsize=1)
def sample_fingerprint() -> str | None:
    """dataset_fingerprint of the shipped sample (None when it cannot be read)."""
    from ..dataset import load_sample

    try:
        return dataset_fingerprint(load_sample())
    except (OSError, ValueError):
        return None


def same_data(scenario: Scenario, dataset: Dataset, fingerprint: str | None = None) -> bool:
    """Was ``scenario`` solved on ``dataset``? By stored reference when both have one, else by
    fingerprint (``fingerprint``: the dataset's, when already computed). A scenario that records
    neither is taken as matching."""
    if scenario.dataset_id and dataset.dataset_id:
        return (scenario.dataset_id == dataset.dataset_id
                and int(scenario.dataset_version or 0) == int(dataset.version or 0))
    if not scenario.input_fingerprint:
        return True
    fp = fingerprint if fingerprint is not None else dataset_fingerprint(dataset)
    return scenario.input_fingerprint == fp


def data_for_scenario(scenario: Scenario, store: DatasetStore | None,
                      sample: Callable[[], Dataset] | None = None,
                      load: Callable[[str, int | None], Dataset] | None = None) -> Dataset | None:
    """The dataset ``scenario`` was solved on: its stored dataset version; the sample when it has no
    stored reference and its fingerprint is the sample's; None when that data was never stored.
    ``sample``: how to get the sample (default territory_core.dataset.load_sample); ``load``: how
    to read a stored version (default ``store.load``; the app passes its cached reader)."""
    if scenario.dataset_id and (store is not None or load is not None):
        return (load or store.load)(scenario.dataset_id, scenario.dataset_version)
    if scenario.input_fingerprint and scenario.input_fingerprint == sample_fingerprint():
        if sample is None:
            from ..dataset import load_sample as sample
        return sample()
    return None


def with_dataset(scenario: Scenario, dataset: Dataset) -> Scenario:
    """``scenario`` marked as solved on ``dataset`` (its stored id and version, or none)."""
    return scenario.with_(dataset_id=dataset.dataset_id, dataset_version=dataset.version)


def unique_name(store: DatasetStore, base: str) -> str:
    """``base`` (cleaned), or ``base (2)``, ``base (3)``... when a dataset already has that name."""
    base = clean_name(base)
    names = set(store.list_datasets()["name"].str.casefold())
    if base.casefold() not in names:
        return base
    for i in range(2, 10_000):
        cand = f"{base[:MAX_DATASET_NAME - 8]} ({i})"
        if cand.casefold() not in names:
            return cand
    return f"{base[:150]} {uuid.uuid4().hex[:8]}"


# ------------------------------------------------------------------------------------------------
# Importing files with the remembered mappings (the command line's `data import`; the Data page
# does the same with its widgets)
@dataclass
class RememberedImport:
    """``result``: the ImportResult; ``used``: {table: SavedMapping applied}; ``lost``: money
    columns the remembered mapping fed that this import would load as nothing, as
    {table: [(canonical, header)]} (non-empty means: ask before saving); ``mappings``: the
    per-table mapping each file was read with (what to remember)."""

    result: Any
    used: dict
    lost: dict
    mappings: dict


def import_remembered(files: Mapping[str, Any], *, mapping: Mapping | None = None, store: DatasetStore | None = None,
                      use_saved: bool = True) -> RememberedImport:
    """Read ``files`` ({table: path or file}) with each file's remembered mapping (by header set)
    under the explicit ``mapping`` ({header: canonical}, e.g. from ``--map``: it always wins).
    ``use_saved=False`` reads without the remembered mappings. Either way, money columns a
    remembered mapping fed that end up with no header are listed in ``lost``, except those the
    explicit mapping sets to ignore on purpose."""
    from ..ingest.importer import load_files, read_table
    from ..ingest.mapping import apply_overrides, lost_money_columns, norm_header, with_saved

    explicit = dict(mapping or {})
    pre, per, used, lost = {}, {}, {}, {}
    for t, src in files.items():
        if src is None:
            continue
        r = read_table(src, t)
        pre[t] = r
        if r.frame is None:
            continue
        headers = [c for c in r.frame.columns if c != "_row"]
        saved = store.saved_mapping(t, headers) if store is not None else None
        base = with_saved(headers, t, saved.mapping if (saved and use_saved) else None)
        valid = set(TABLES[t].names)
        scoped = {k: v for k, v in explicit.items() if v in (None, "", "ignore") or v in valid}
        final, _problems = apply_overrides(base, scoped, t)
        per[t] = final
        if saved is not None:
            if use_saved:
                used[t] = saved
            ignored = {norm_header(k) for k, v in explicit.items() if v in (None, "", "ignore")}
            gone = [(c, h) for c, h in lost_money_columns(saved.mapping, final, t) if norm_header(h) not in ignored]
            if gone:
                lost[t] = gone
    glob = {k: v for k, v in explicit.items() if v not in (None, "", "ignore")}  # unknown names are reported
    res = load_files(preread=pre, mapping={**glob, **per}, name=" + ".join(r.name for r in pre.values())[:80] or None)
    return RememberedImport(res, used, lost, per)
