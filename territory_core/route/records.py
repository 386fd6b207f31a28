"""Records to route, in one shape: new accounts and leads become the same account-like frame.

:func:`prepare_records` takes a frame with canonical account columns (``account_id``, ``name``,
``parent_id``, ``website``, ``zip``, ...) or lead columns (``lead_id``, ``company``, ``email``,
``domain``, ...) and returns :data:`RECORD_COLUMNS`, typed, one row per input row (same order),
with the county and state filled from the ZIP where missing. :func:`read_records` reads a file
through the importer (any delimiter or encoding, CRM headers mapped by the data contract).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Mapping

import numpy as np
import pandas as pd

from ..contract import A, L
from .match import normalize_company, normalize_domain, normalize_many

RECORD_COLUMNS = ["record_id", "kind", "name", "parent_id", "domain", "company_key", "zip", "county", "state",
                  "country", "employees", "annual_revenue", "industry", "named", "locked", "owner_id", "row"]
KINDS = ("account", "lead")


class RecordError(ValueError):
    """The records cannot be routed at all (message says what and how to fix)."""


def detect_kind(columns) -> str:
    """``"lead"`` when the frame has lead columns (lead_id, or company/email without account_id),
    else ``"account"``."""
    cols = set(columns)
    if L.lead_id in cols:
        return "lead"
    if A.account_id in cols:
        return "account"
    if cols & {L.company, L.email}:
        return "lead"
    return "account"


def _text(df: pd.DataFrame, col: str) -> pd.Series:
    if col not in df.columns:
        return pd.Series(pd.NA, index=df.index, dtype="string")
    s = df[col].astype("string").str.strip()
    return s.where(s != "", pd.NA)


def _num(df: pd.DataFrame, col: str) -> np.ndarray:
    if col not in df.columns:
        return np.full(len(df), np.nan)
    return pd.to_numeric(df[col], errors="coerce").to_numpy(dtype=float, na_value=np.nan)


def _flag(df: pd.DataFrame, col: str) -> np.ndarray:
    if col not in df.columns:
        return np.zeros(len(df), dtype=bool)
    s = df[col]
    if pd.api.types.is_bool_dtype(s):
        return s.fillna(False).to_numpy(dtype=bool)
    return s.astype("string").str.strip().str.lower().isin(["true", "1", "yes", "y", "t"]).fillna(False).to_numpy(dtype=bool)


def prepare_records(df: pd.DataFrame, kind: str | None = None) -> pd.DataFrame:
    """The frame as routing records (see the module docstring). ``row`` is the 1-based data row
    (the importer's ``_row`` line number when present)."""
    kind = kind or detect_kind(df.columns)
    if kind not in KINDS:
        raise RecordError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}.")
    n = len(df)
    lead = kind == "lead"
    rid = _text(df, L.lead_id if lead else A.account_id)
    name = _text(df, L.company) if lead else _text(df, A.name)
    if lead and name.isna().all() and A.name in df.columns:
        name = _text(df, A.name)
    dom_src = _text(df, L.domain if lead else A.website)
    for extra in ((L.email,) if lead else (L.domain, L.email)):
        if extra in df.columns:
            dom_src = dom_src.fillna(_text(df, extra))
    zips = _text(df, A.zip)
    if zips.notna().any():
        from ..ingest.normalize import normalize_zips

        zips = normalize_zips(zips).astype("string")
    state = _text(df, A.state).str.upper()
    county = _text(df, A.county)
    need = zips.notna() & (county.isna() | state.isna())
    if need.any():
        from ..geo.zips import zip_lookup

        found = zip_lookup(zips[need].to_numpy())
        county.loc[need] = county[need].fillna(pd.Series(found["county"].to_numpy(), index=county[need].index))
        state.loc[need] = state[need].fillna(pd.Series(found["state"].to_numpy(), index=state[need].index))
    if state.notna().any():
        long = state.str.len() > 2
        if long.any():
            from ..geo.zips import state_code

            state.loc[long] = state[long].map(lambda s: state_code(s) or s)
    row = (pd.to_numeric(df["_row"], errors="coerce").to_numpy() - 1) if "_row" in df.columns else np.arange(1, n + 1)
    out = pd.DataFrame({
        "record_id": rid.to_numpy(dtype=object, na_value=None),
        "kind": kind,
        "name": name.to_numpy(dtype=object, na_value=None),
        "parent_id": _text(df, A.parent_id).to_numpy(dtype=object, na_value=None),
        # an email's part after the @ first, in one vectorised step: many addresses, few domains
        "domain": normalize_many([v.rsplit("@", 1)[-1].lower() if v else None
                                  for v in dom_src.to_numpy(dtype=object, na_value=None)], normalize_domain),
        "company_key": normalize_many(name.to_numpy(dtype=object, na_value=None), normalize_company),
        "zip": zips.to_numpy(dtype=object, na_value=None),
        "county": county.to_numpy(dtype=object, na_value=None),
        "state": state.to_numpy(dtype=object, na_value=None),
        "country": _text(df, A.country).to_numpy(dtype=object, na_value=None),
        "employees": _num(df, A.employees),
        "annual_revenue": _num(df, A.annual_revenue),
        "industry": _text(df, A.industry).to_numpy(dtype=object, na_value=None),
        "named": _flag(df, A.named),
        "locked": _flag(df, A.locked),
        "owner_id": _text(df, A.owner_id).to_numpy(dtype=object, na_value=None),
        "row": np.asarray(row, dtype=np.int64),
    }, index=pd.RangeIndex(n))
    return out[RECORD_COLUMNS]


@lru_cache(maxsize=1)
def _zip_places() -> dict[str, tuple[str | None, str | None]]:
    from ..geo.zips import zip_table

    z = zip_table()
    return {str(k): (None if pd.isna(st) else str(st), None if pd.isna(c) else str(c))
            for k, st, c in zip(z["zip"], z["state"], z["county"])}


def _one_text(v) -> str | None:
    if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)):
        return None
    s = str(v).strip()
    return s or None


def _one_num(v) -> float:
    if v is None or v is pd.NA or isinstance(v, bool):
        return math.nan
    try:
        return float(str(v).replace(",", "")) if isinstance(v, str) else float(v)
    except (TypeError, ValueError):
        return math.nan


def prepare_record(record: Mapping, kind: str | None = None) -> dict:
    """One record as a dict of :data:`RECORD_COLUMNS`, without pandas (the service's path; the
    same rules as :func:`prepare_records`)."""
    from ..geo.zips import state_code
    from ..ingest.normalize import normalize_zip_value

    kind = kind or detect_kind(record.keys())
    lead = kind == "lead"
    g = record.get
    name = _one_text(g(L.company)) if lead else _one_text(g(A.name))
    if lead and name is None:
        name = _one_text(g(A.name))
    dom = None
    for key in ((L.domain, A.website, L.email) if lead else (A.website, L.domain, L.email)):
        dom = dom or _one_text(g(key))
    z = _one_text(g(A.zip))
    z = normalize_zip_value(z) if z else None
    state = _one_text(g(A.state))
    state = state.upper() if state else None
    county = _one_text(g(A.county))
    if z and (state is None or county is None):
        zs, zc = _zip_places().get(z, (None, None))
        state, county = state or zs, county or zc
    if state and len(state) > 2:
        state = state_code(state) or state
    flag = lambda v: v if isinstance(v, bool) else str(v).strip().lower() in ("true", "1", "yes", "y", "t")  # noqa: E731
    return {
        "record_id": _one_text(g(L.lead_id) if lead else g(A.account_id)),
        "kind": kind, "name": name, "parent_id": _one_text(g(A.parent_id)),
        "domain": normalize_domain(dom) or None if dom else None,
        "company_key": normalize_company(name) or None if name else None,
        "zip": z, "county": county, "state": state, "country": _one_text(g(A.country)),
        "employees": _one_num(g(A.employees)), "annual_revenue": _one_num(g(A.annual_revenue)),
        "industry": _one_text(g(A.industry)), "named": bool(g(A.named)) and flag(g(A.named)),
        "locked": bool(g(A.locked)) and flag(g(A.locked)), "owner_id": _one_text(g(A.owner_id)), "row": 1,
    }


@dataclass
class ReadRecords:
    """A file read for routing: the records (None when the file cannot be used), what it is,
    and the problems found (``(severity, row, column, message, fix)``)."""

    records: pd.DataFrame | None
    raw: pd.DataFrame | None
    kind: str
    issues: list = field(default_factory=list)


def read_records(path, kind: str | None = None) -> ReadRecords:
    """Read a file of new accounts or leads (CSV/TSV/xlsx/Parquet, CRM headers recognised).
    Rows with text in a number column keep the row (the number is unknown) and are listed in
    ``issues``. Never raises on bad content."""
    from ..ingest.importer import map_frame, read_table
    from ..ingest.mapping import norm_header
    from ..ingest.normalize import normalize_table
    from ..ingest.validate import ValidationReport

    src = str(path) if isinstance(path, Path) else path
    r = read_table(src, "accounts")
    issues = list(r.issues)
    if r.frame is None:
        return ReadRecords(None, None, kind or "account", issues)
    headers = [c for c in r.frame.columns if c != "_row"]
    if kind is None:
        keys = {norm_header(h) for h in headers}
        kind = "lead" if keys & {"leadid", "email", "emailaddress", "company"} and "accountid" not in keys else "account"
    tname = "leads" if kind == "lead" else "accounts"
    report = ValidationReport()
    mapped, _mapping, extras = map_frame(r.frame, tname, None, report, r.name)
    id_col = L.lead_id if kind == "lead" else A.account_id
    if id_col not in mapped.columns:
        issues.append(("error", None, None,
                       f"{r.name} has no {id_col} column (headers: {', '.join(map(str, headers[:12]))}).",
                       f"Name the id column {id_col!r} (or a CRM header such as 'Id')."))
        return ReadRecords(None, r.frame, kind, issues)
    norm = normalize_table(mapped, tname, report, extra_columns=extras)
    for i in report.issues:
        issues.append((i.severity, i.row, i.column, i.message, i.fix))
    return ReadRecords(prepare_records(norm, kind), norm, kind, issues)
