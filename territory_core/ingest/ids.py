"""Record ids: shown as the user gave them, matched the way Salesforce means them.

A Salesforce record has two ids: 15 characters, case-sensitive (``001pLIix6MEOLeM``), and 18
characters, the same plus a 3-character suffix that encodes the case of the first 15, so it is
case-insensitive (``001pLIix6MEOLeMQRX``). Exports mix them: Data Loader writes 18, reports 15.

- :func:`id_key` is the matching key: an 18-character id whose suffix is consistent with it is
  reduced to its 15-character form with the case the suffix encodes (so ``001PLIIX6MEOLEMQRX``,
  upper-cased by some tool, still matches); any other id is compared as given (stripped; numeric
  ids that went through Excel lose their ``.0``).
- :func:`reconcile_ids` rewrites every reference (parent, owner, an opportunity's account) to the
  form its table of record uses, so the accounts keep the ids the user gave (18 characters on
  screen and in the export when the file had 18) while references given in the other form still
  match.
"""
from __future__ import annotations

import re
from functools import lru_cache
from typing import Iterable

import pandas as pd

from ..contract import A, O, P, R

_SF_ALPHA = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
_SF_RE = re.compile(r"^[A-Za-z0-9]{18}$")

# entity -> (table of record, its id column), and the columns that refer to it
RECORDS = {"account": ("accounts", A.account_id), "rep": ("reps", R.rep_id)}
REFERENCES = {
    "account": (("accounts", A.parent_id), ("opportunities", O.account_id), ("account_products", P.account_id)),
    "rep": (("accounts", A.owner_id), ("opportunities", O.owner_id)),
}


def sf_checksum(id15: str) -> str:
    """The 3-character suffix Salesforce appends to a 15-char id to make it case-insensitive."""
    out = []
    for i in range(3):
        chunk = id15[i * 5:(i + 1) * 5]
        bits = sum(1 << j for j, ch in enumerate(chunk) if "A" <= ch <= "Z")
        out.append(_SF_ALPHA[bits])
    return "".join(out)


def sf_id_18(id15: str) -> str:
    return id15 + sf_checksum(id15) if len(id15) == 15 else id15


def _recase_18(v: str) -> str | None:
    """The 15-character id an 18-character one stands for, with the case its suffix encodes; None
    when the suffix is not consistent with the id (then it is not a Salesforce id)."""
    out = []
    for i, ch in enumerate(v[15:].upper()):
        bits = _SF_ALPHA.find(ch)
        if bits < 0:
            return None
        for j, c in enumerate(v[i * 5:(i + 1) * 5]):
            upper = bool(bits >> j & 1)
            if upper and not c.isalpha():
                return None
            out.append(c.upper() if upper else c.lower())
    return "".join(out)


def clean_id(value: str) -> str:
    """The id as given, minus what is not part of it: surrounding spaces, and the ``.0`` that
    Excel adds to numeric ids."""
    v = value.strip()
    if v.endswith(".0") and v[:-2].isdigit():
        return v[:-2]
    return v


@lru_cache(maxsize=200_000)
def id_key(value: str) -> str:
    """The matching key of an id: 15- and 18-character forms of one Salesforce record give the
    same key, whatever the case of the 18-character one; other ids are compared as given."""
    v = clean_id(value)
    if len(v) == 18 and _SF_RE.match(v):
        k = _recase_18(v)
        if k is not None:
            return k
    return v


def keys(s: pd.Series) -> pd.Series:
    """:func:`id_key` of every non-missing value (missing stays missing)."""
    return s.astype("string").map(lambda v: id_key(v) if isinstance(v, str) else v).astype("string")


def match_ids(values: pd.Series, known: Iterable[str]) -> tuple[pd.Series, int]:
    """Each value rewritten to the ``known`` id with the same key (the form the table of record
    uses); values with no match are kept as given. Returns (series, how many were rewritten)."""
    known = [k for k in dict.fromkeys(known) if isinstance(k, str)]
    by_key = {}
    for k in known:
        by_key.setdefault(id_key(k), k)
    s = values.astype("string")
    mapped = keys(s).map(by_key)
    hit = mapped.notna() & (mapped != s).fillna(False)
    if not hit.any():
        return s, 0
    out = s.copy()
    out[hit] = mapped[hit]
    return out.astype("string"), int(hit.sum())


def _one_form(s: pd.Series) -> tuple[pd.Series, int]:
    """References to a record missing from its table, given in several forms (15 and 18): one
    form each, the 18-character one when there is one (it is case-safe)."""
    k = keys(s)
    d = pd.DataFrame({"v": s, "k": k}).dropna()
    if d.empty:
        return s, 0
    forms = d.drop_duplicates()
    multi = forms["k"].duplicated(keep=False)
    if not multi.any():
        return s, 0
    forms = forms[multi].assign(n=forms["v"].str.len()).sort_values("n", ascending=False, kind="stable")
    pick = forms.drop_duplicates("k").set_index("k")["v"]
    new = k.map(pick)
    hit = new.notna() & (new != s).fillna(False)
    out = s.copy()
    out[hit] = new[hit]
    return out.astype("string"), int(hit.sum())


def reconcile_ids(tables: dict[str, pd.DataFrame]) -> list[tuple[str, str, int, str]]:
    """Rewrite references (in place) to the form of the id in the table of record. Returns what
    was done: (table, column, count, what) for the report's info lines."""
    done = []
    for entity, (rtable, rcol) in RECORDS.items():
        rec = tables.get(rtable)
        known = rec[rcol].dropna().astype(str).tolist() if rec is not None and rcol in rec.columns else []
        for tname, col in REFERENCES[entity]:
            df = tables.get(tname)
            if df is None or col not in df.columns or (tname == rtable and col == rcol):
                continue
            n = 0
            if known:
                df[col], n = match_ids(df[col], known)
            if n:
                done.append((tname, col, n, f"{col} values given in another form than the {rtable} file's ids "
                             f"(15 vs 18 characters, or upper/lower case) and matched to them: {n:,}"))
    # references to records that are not in any table: one form per record across the columns
    for entity, refs in REFERENCES.items():
        cols = [(t, c) for t, c in refs if tables.get(t) is not None and c in tables[t].columns]
        if not cols:
            continue
        stacked = pd.concat([tables[t][c].astype("string") for t, c in cols], ignore_index=True)
        unified, n = _one_form(stacked)
        if not n:
            continue
        pos = 0
        for t, c in cols:
            m = len(tables[t])
            tables[t][c] = pd.array(unified.iloc[pos:pos + m].to_numpy(), dtype="string")
            pos += m
        done.append((cols[0][0], cols[0][1], n, f"references to one {entity} given as both 15- and 18-character "
                     f"ids, now in one form (the 18-character one): {n:,}"))
    return done
