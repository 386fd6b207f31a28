"""Normalisation of mapped CRM tables into the contract's types.

Works on a frame whose columns are already canonical names (see ``mapping``), all values as
read from the file (strings, or numbers from Excel/Parquet), plus a ``_row`` column with the
file row number. Every value that cannot be understood becomes an issue in the report; nothing
here raises on bad data.

- ids: kept as given (18-character Salesforce ids stay 18 characters); ``ids.reconcile_ids``
  makes references in the other form (15 vs 18, or case) match the table of record.
- numbers: thousands separators, currency symbols and codes, spaces, 1.234,56, (1,234) and
  trailing-minus negatives, percentages, k/M/B suffixes.
- booleans: true/false, 1/0, yes/no, y/n, t/f, x, checked.
- states: names and abbreviations to 2-letter codes; ZIP+4 to 5 digits; lost leading zeros.
- geography: missing lat/lon/state/county/city filled from the ZIP (offline).
"""
from __future__ import annotations

import re
from functools import lru_cache

import numpy as np
import pandas as pd

from ..geo import zips as geo
from ..contract import BOOL, DATE, FLOAT, INT, STR, TABLES, A, O, P, R
from .ids import clean_id, id_key, sf_checksum, sf_id_18  # noqa: F401 (sf_*: re-exported)
from .validate import ERROR, MAX_PER_KIND, WARNING, ValidationReport, _rows

NULL_TOKENS = {"", "nan", "none", "null", "n/a", "na", "#n/a", "-", "--", "nil", "(blank)", "<na>", "nat"}
ID_COLUMNS = {
    "accounts": (A.account_id, A.parent_id, A.owner_id),
    "reps": (R.rep_id,),
    "opportunities": (O.opportunity_id, O.account_id, O.owner_id),
    "account_products": ("account_id",),
}
# Ids keep the form the user gave; 15/18-character Salesforce ids are matched through their key.
canonical_id = id_key


def _is_null(v) -> bool:
    if v is None:
        return True
    if isinstance(v, float) and np.isnan(v):
        return True
    try:
        if v is pd.NA or v is pd.NaT:
            return True
    except TypeError:
        pass
    return isinstance(v, str) and v.strip().lower() in NULL_TOKENS


def clean_strings(s: pd.Series) -> pd.Series:
    """Strings, stripped, with empty/null tokens as NA (numbers from Excel: 2139.0 -> '2139')."""
    if not (pd.api.types.is_string_dtype(s) and pd.api.types.infer_dtype(s, skipna=True) in ("string", "empty")):
        s = s.map(lambda v: pd.NA if _is_null(v) else (
            str(int(v)) if isinstance(v, (float, np.floating)) and float(v).is_integer() else str(v)))
    t = s.astype("string").str.strip()
    return t.mask(t.str.lower().isin(NULL_TOKENS))


def normalize_ids(s: pd.Series) -> pd.Series:
    """Ids as given (stripped, Excel's ``.0`` removed); matching across forms is :mod:`.ids`' job."""
    s = clean_strings(s)
    return s.map(lambda v: clean_id(v) if isinstance(v, str) else v).astype("string")


_CURRENCY = re.compile(r"(?i)(usd|eur|gbp|cad|aud|us\$|[$€£¥₹\s\u00a0'’])")
_MULT = {"k": 1e3, "m": 1e6, "mm": 1e6, "b": 1e9, "bn": 1e9}


@lru_cache(maxsize=200_000)
def parse_number(text: str, decimal_comma: bool = False) -> float | None:
    """'$1,234.50' -> 1234.5; '1.234,5' -> 1234.5; '(300)' -> -300; '12%' -> 12; '2.5M' -> 2.5e6.
    With ``decimal_comma`` (a file written with European conventions) '1.200' is 1200 and
    '12,5' is 12.5. Returns None when the text is not a number."""
    t = text.strip()
    if t.lower() in NULL_TOKENS:
        return np.nan
    neg = False
    if t.startswith("(") and t.endswith(")"):
        neg, t = True, t[1:-1]
    t = _CURRENCY.sub("", t)
    if t.endswith("-") and t[:-1].replace(".", "").replace(",", "").isdigit():
        neg, t = True, t[:-1]
    if t.startswith("-"):
        neg, t = not neg, t[1:]
    elif t.startswith("+"):
        t = t[1:]
    t = t.rstrip("%")
    mult = 1.0
    m = re.match(r"^([0-9.,]+)\s*([kKmMbB]{1,2}|bn)$", t)
    if m and m.group(2).lower() in _MULT:
        t, mult = m.group(1), _MULT[m.group(2).lower()]
    if not t or not re.fullmatch(r"[0-9.,]*[0-9][0-9.,]*(e[+-]?\d+)?", t, flags=re.I):
        return None
    if decimal_comma and re.fullmatch(r"\d{1,3}(\.\d{3})+(,\d+)?|\d+(,\d+)?", t):
        t = t.replace(".", "").replace(",", ".")
    elif "," in t and "." in t:
        if t.rfind(",") > t.rfind("."):  # 1.234,56
            t = t.replace(".", "").replace(",", ".")
        else:  # 1,234.56
            t = t.replace(",", "")
    elif "," in t:
        if re.fullmatch(r"\d{1,3}(,\d{3})+", t):
            t = t.replace(",", "")
        elif t.count(",") == 1:
            t = t.replace(",", ".")  # 12,5
        else:
            return None
    elif t.count(".") > 1:
        if re.fullmatch(r"\d{1,3}(\.\d{3})+", t):  # 1.234.567
            t = t.replace(".", "")
        else:
            return None
    try:
        v = float(t) * mult
    except ValueError:
        return None
    return -v if neg else v


def parse_numbers(s: pd.Series, decimal_comma: bool = False) -> tuple[pd.Series, np.ndarray]:
    """(float64 series, mask of cells that held text that is not a number)."""
    if pd.api.types.is_bool_dtype(s):
        return s.astype("float64"), np.zeros(len(s), bool)
    if pd.api.types.is_numeric_dtype(s):
        return pd.to_numeric(s, errors="coerce").astype("float64"), np.zeros(len(s), bool)
    txt = clean_strings(s)
    out = pd.to_numeric(txt, errors="coerce").astype("float64")
    if decimal_comma:  # '1.200' is twelve hundred in this file: parse every dotted value by hand
        out = out.mask(txt.str.contains(".", regex=False).fillna(False))
    hard = txt.notna() & out.isna()
    bad = np.zeros(len(s), dtype=bool)
    if hard.any():
        parsed = {v: parse_number(v, decimal_comma) for v in set(txt[hard])}
        vals = txt[hard].map(lambda v: np.nan if parsed[v] is None else parsed[v]).astype("float64")
        out[hard] = vals
        bad = (hard & txt.map(lambda v: isinstance(v, str) and parsed.get(v, 0) is None).fillna(False)).to_numpy(dtype=bool)
    out.index = s.index
    return out, bad


# Only cells that cannot be read the US way count as evidence ('1.200' alone is ambiguous).
_EURO = re.compile(r"^[-+(]?[$€£]?\s*(\d{1,3}(\.\d{3})+,\d+|\d{1,3}(\.\d{3}){2,}|\d+,\d{1,2})\s*[€)%]?$")
_USA = re.compile(r"^[-+(]?[$€£]?\s*(\d{1,3}(,\d{3})+(\.\d+)?|\d+\.\d{1,2})\s*[€)%]?$")


def detect_decimal_comma(df: pd.DataFrame, columns) -> bool:
    """True when the numbers in these columns are written the European way (1.234,5): some cells
    can only be read that way and none only the US way."""
    euro = usa = 0
    for c in columns:
        if c not in df.columns or pd.api.types.is_numeric_dtype(df[c]):
            continue
        txt = clean_strings(df[c]).dropna()
        txt = txt[txt.str.contains(r"[.,]", regex=True)].head(2000)
        if txt.empty:
            continue
        euro += int(txt.str.match(_EURO).sum())
        usa += int(txt.str.match(_USA).sum())
    return euro > 0 and usa == 0


_TRUE = {"true", "t", "yes", "y", "1", "x", "checked", "on", "1.0", "won", "active"}
_FALSE = {"false", "f", "no", "n", "0", "unchecked", "off", "0.0", "inactive"}


def parse_bools(s: pd.Series, default=None) -> tuple[pd.Series, np.ndarray]:
    if pd.api.types.is_bool_dtype(s):
        out = s.astype("boolean")
        return (out.fillna(default) if default is not None else out), np.zeros(len(s), bool)
    txt = clean_strings(s).str.lower()
    table = {**{t: True for t in _TRUE}, **{f: False for f in _FALSE}}
    vals = txt.map(table)
    bad = (txt.notna() & vals.isna()).to_numpy(dtype=bool)
    out = pd.Series(pd.array(vals.to_numpy(dtype=object), dtype="boolean"), index=s.index)
    if default is not None:
        out = out.fillna(default)
    return out, bad


def parse_dates(s: pd.Series) -> tuple[pd.Series, np.ndarray]:
    if pd.api.types.is_datetime64_any_dtype(s):
        d = s
        if getattr(d.dt, "tz", None) is not None:
            d = d.dt.tz_convert(None)
        return d.astype("datetime64[ns]"), np.zeros(len(s), bool)
    txt = clean_strings(s)
    try:
        d = pd.to_datetime(txt, errors="coerce", format="ISO8601", utc=True)
        rest = txt.notna() & d.isna()
        if rest.any():
            d[rest] = pd.to_datetime(txt[rest], errors="coerce", format="mixed", utc=True)
        d = d.dt.tz_convert(None)
    except (ValueError, TypeError, OverflowError):
        d = pd.Series(pd.NaT, index=s.index)
    d = pd.Series(d, index=s.index).astype("datetime64[ns]")
    bad = (txt.notna() & d.isna()).to_numpy()
    return d, bad


_ZIP5 = re.compile(r"^(\d{5})(?:[-\s]?\d{4})?$")
_ZIP_SHORT = re.compile(r"^(\d{3,4})(?:[-\s]\d{4})?$")


@lru_cache(maxsize=100_000)
def normalize_zip_value(v: str) -> str:
    """'02139-4307' -> '02139'; '021394307' -> '02139'; '2139' -> '02139'; '2139.0' -> '02139';
    other text (foreign postal codes) is returned stripped."""
    t = v.strip()
    if re.fullmatch(r"\d+\.0+", t):
        t = t.split(".")[0]
    m = _ZIP5.match(t)
    if m:
        return m.group(1)
    m = _ZIP_SHORT.match(t)
    if m:
        return m.group(1).zfill(5)
    if re.fullmatch(r"\d{6,8}", t):  # ZIP+4 that lost its leading zero(s): 21394307 -> 02139
        return t.zfill(9)[:5]
    return t


def normalize_zips(s: pd.Series) -> pd.Series:
    s = clean_strings(s)
    return s.map(lambda v: normalize_zip_value(v) if isinstance(v, str) else v).astype("string")


def normalize_states(s: pd.Series) -> tuple[pd.Series, np.ndarray]:
    s = clean_strings(s)
    vals = s.to_numpy(dtype=object)
    codes = [geo.state_code(v) if isinstance(v, str) else None for v in vals]
    bad = np.array([isinstance(v, str) and c is None for v, c in zip(vals, codes)], dtype=bool)
    # keep what we could not convert (regions of other countries)
    out = [c if c is not None else (v if isinstance(v, str) else pd.NA) for v, c in zip(vals, codes)]
    return pd.Series(pd.array(out, dtype="string"), index=s.index), bad


_US = {"us", "usa", "u.s.", "u.s.a.", "united states", "united states of america", "america"}


def normalize_country(s: pd.Series) -> pd.Series:
    s = clean_strings(s)
    return s.map(lambda v: "US" if isinstance(v, str) and v.strip().lower() in _US else v).astype("string")


def is_numeric_column(s: pd.Series, threshold: float = 0.8) -> bool:
    if pd.api.types.is_bool_dtype(s):
        return False
    if pd.api.types.is_numeric_dtype(s):
        return s.notna().any()
    nonblank = ~clean_strings(s).isna()
    if nonblank.sum() == 0:
        return False
    vals, bad = parse_numbers(s[nonblank.to_numpy()])
    return (1 - bad.mean()) >= threshold


# Largest believable magnitude per column: beyond it a value is a typo or an overflow (1e308), and
# sums over it would break totals and the solver. Money is in USD.
_MONEY_MAX = 1e13  # ten trillion dollars: above any company's revenue
PLAUSIBLE_MAX = {
    A.annual_revenue: _MONEY_MAX, A.arr: _MONEY_MAX, A.open_pipeline: _MONEY_MAX, O.amount: _MONEY_MAX,
    R.quota: _MONEY_MAX, P.arr: _MONEY_MAX, A.employees: 1e8, R.capacity: 1e3,
    A.lat: 90.0, A.lon: 180.0, R.home_lat: 90.0, R.home_lon: 180.0,
}
ANY_MAX = 1e15  # any other numeric column (extra account columns, intent, ramp...)


def check_numbers(vals: pd.Series, raw: pd.Series, report: ValidationReport, tname: str, df: pd.DataFrame,
                  col: str) -> pd.Series:
    """Blocking errors, with row and column, for values that are not finite (inf, -inf) or beyond
    the column's believable size (1e308); those cells are left empty so nothing downstream sums them."""
    v = vals.to_numpy(dtype="float64", na_value=np.nan)
    inf = np.isinf(v)
    limit = PLAUSIBLE_MAX.get(col, ANY_MAX)
    huge = np.isfinite(v) & (np.abs(v) > limit)
    shown = raw.astype("string").str.strip().str.slice(0, 30).to_numpy(dtype=object)
    rows = _rows(df, np.ones(len(df), bool))
    fix = "Fix the cell: enter the real number, or leave it empty if it is unknown."
    for mask, what in ((inf, "is not a finite number"), (huge, f"is implausibly large (above {limit:,.0f})")):
        idx = np.flatnonzero(mask)
        for i in idx[:MAX_PER_KIND]:
            report.error(tname, rows[i], col, f"'{shown[i]}' in '{col}' {what}.", fix)
        if len(idx) > MAX_PER_KIND:
            report.error(tname, None, col, f"{len(idx) - MAX_PER_KIND:,} more values in '{col}' {what}.", fix)
    bad = inf | huge
    return vals.mask(bad) if bad.any() else vals


def _info_count(report: ValidationReport, tname: str, col: str, mask, what: str) -> None:
    """One info line for a fix made on the way in: 'ZIP+4 codes cut to 5 digits: 312'."""
    n = int(np.asarray(pd.Series(mask).fillna(False), dtype=bool).sum())
    if n:
        report.info(tname, col, f"{what[0].upper()}{what[1:]}: {n:,}.")


def _info_changed(report, tname, col, before: pd.Series, after: pd.Series, what: str) -> None:
    _info_count(report, tname, col, (before.notna() & (before.astype("string") != after.astype("string"))).fillna(False),
                what)


def _dressed_numbers(raw: pd.Series, vals: pd.Series, bad: np.ndarray) -> np.ndarray:
    """Cells that held a number only after cleaning (not plain digits)."""
    if pd.api.types.is_numeric_dtype(raw) or pd.api.types.is_bool_dtype(raw):
        return np.zeros(len(raw), bool)
    txt = clean_strings(raw)
    plain = pd.to_numeric(txt, errors="coerce").notna()
    return (txt.notna() & ~plain & vals.notna()).to_numpy(dtype=bool) & ~bad


def _report_bad(report, tname, df, mask, col, severity, message, fix):
    if mask.any():
        report.add_rows(severity, tname, _rows(df, mask), col, message, fix)


def normalize_table(df: pd.DataFrame, tname: str, report: ValidationReport,
                    extra_columns: list[str] | None = None) -> pd.DataFrame:
    """Canonical, typed copy of ``df`` (canonical column names + ``_row`` + extra columns).
    Problems go into ``report``; unparseable numbers are blocking errors."""
    table = TABLES[tname]
    df = df.copy()
    if "_row" not in df.columns:
        df["_row"] = np.arange(len(df)) + 2
    ids = ID_COLUMNS.get(tname, ())
    numeric = [c.name for c in table.columns if c.dtype in (FLOAT, INT)
               and c.name not in (A.lat, A.lon, R.home_lat, R.home_lon)] + list(extra_columns or [])
    dec_comma = detect_decimal_comma(df, numeric)
    if dec_comma:
        report.warning(tname, None, None, "Numbers are written the European way (1.234,5): read with a "
                       "decimal comma.", "Nothing to do if that is right; otherwise export with '.' as the "
                       "decimal separator.")
    for c in table.columns:
        if c.name not in df.columns:
            continue
        s = df[c.name]
        before = clean_strings(s) if c.dtype == STR else None
        if c.name in ids:
            df[c.name] = normalize_ids(s)
            _info_changed(report, tname, c.name, before, df[c.name], "ids without the '.0' a spreadsheet added")
        elif c.dtype == STR:
            if c.name in (A.zip, R.home_zip):
                df[c.name] = normalize_zips(s)
                digits = before.str.replace(r"\D", "", regex=True).str.len()
                changed = (before != df[c.name]).fillna(False)
                _info_count(report, tname, c.name, changed & (digits >= 9), "ZIP+4 codes cut to 5 digits")
                _info_count(report, tname, c.name, changed & (digits < 5),
                            "ZIP codes given back the leading zeros a spreadsheet dropped")
            elif c.name == A.state and tname == "accounts":
                df[c.name], bad = normalize_states(s)
                _info_changed(report, tname, c.name, before, df[c.name], "state names converted to 2-letter codes")
                if A.country in df.columns:
                    ctry = normalize_country(df[A.country])
                    bad = bad & (ctry.isna() | (ctry == "US")).to_numpy()
                _report_bad(report, tname, df, bad, c.name, WARNING, "Unknown US state.",
                            "Use a 2-letter code or the full state name (e.g. 'CA' or 'California').")
            elif c.name == A.country:
                df[c.name] = normalize_country(s)
                _info_changed(report, tname, c.name, before, df[c.name], "United States spellings written as 'US'")
            else:
                df[c.name] = clean_strings(s)
        elif c.dtype in (FLOAT, INT):
            vals, bad = parse_numbers(s, dec_comma)
            _info_count(report, tname, c.name, _dressed_numbers(s, vals, bad),
                        "numbers read from currency symbols, separators or suffixes ($1,234.50, (300), 2.5M)")
            _report_bad(report, tname, df, bad, c.name, ERROR,
                        f"Text in the numeric column '{c.name}'.",
                        "Use plain numbers (1234.5; currency symbols and thousands separators are fine), "
                        "or map this column to another field.")
            vals = check_numbers(vals, s, report, tname, df, c.name)
            if c.default is not None:
                vals = vals.fillna(c.default)
            df[c.name] = vals.round().astype("Int64") if c.dtype == INT else vals
        elif c.dtype == BOOL:
            vals, bad = parse_bools(s, c.default)
            _report_bad(report, tname, df, bad, c.name, WARNING,
                        f"Not a true/false value in '{c.name}'" + (f" (treated as {c.default})." if c.default is not None else "."),
                        "Use true/false, yes/no or 1/0.")
            df[c.name] = vals
        elif c.dtype == DATE:
            vals, bad = parse_dates(s)
            _report_bad(report, tname, df, bad, c.name, WARNING, f"Not a date in '{c.name}' (left empty).",
                        "Use ISO dates (2026-03-31) or your CRM's standard export format.")
            df[c.name] = vals
    for c in extra_columns or []:
        if c in df.columns:
            df[c] = check_numbers(parse_numbers(df[c], dec_comma)[0], df[c], report, tname, df, c)
    if tname == "accounts":
        df = _accounts_geo(df, report)
        df = _accounts_extras(df, report)
    elif tname == "reps":
        df = _reps_home(df, report)
    elif tname == "opportunities":
        derived = [c for c in (O.is_closed, O.is_won) if c not in df.columns]
        df = _opps_flags(df)
        if derived and O.stage in df.columns:
            report.info(tname, O.stage, f"{' and '.join(derived)} taken from the stage name on {len(df):,} "
                        "opportunities ('Closed Won' is closed and won).")
    return df


def _accounts_geo(df: pd.DataFrame, report: ValidationReport) -> pd.DataFrame:
    t = "accounts"
    if A.county in df.columns:
        county = clean_strings(df[A.county])
        fips = county.str.fullmatch(r"\d{4,5}").fillna(False)
        out = county.where(~fips, county.str.zfill(5))
        named = county.notna() & ~fips
        if named.any():
            states = df[A.state] if A.state in df.columns else pd.Series(pd.NA, index=df.index)
            looked = [geo.county_fips(str(st) if isinstance(st, str) else "", nm)
                      for st, nm in zip(states[named], county[named])]
            out = out.astype(object)
            out[named.to_numpy()] = looked
            _info_count(report, t, A.county, pd.Series([v is not None for v in looked]),
                        "county names converted to FIPS codes")
        df[A.county] = pd.Series(out, index=df.index).astype("string")
    if A.zip not in df.columns:
        if not ({A.lat, A.lon} <= set(df.columns)):
            report.warning(t, None, A.zip, "No ZIP or lat/lon column: accounts cannot be placed on maps or by distance.",
                           "Include BillingPostalCode (or Zip) in the export.")
        return df
    zips = df[A.zip]
    look = geo.zip_lookup(zips.fillna(""))
    look.index = df.index
    known = look["state"].notna()
    country = normalize_country(df[A.country]) if A.country in df.columns else pd.Series(pd.NA, index=df.index, dtype="string")
    us = (country.isna() | (country == "US"))
    unknown = (zips.notna() & ~known & us).to_numpy()
    _report_bad(report, t, df, unknown, A.zip, WARNING,
                "Unknown US ZIP code: location not filled from it.",
                "Check the ZIP (5 digits); lat/lon/state can also be given directly.")
    for col, src in ((A.lat, "lat"), (A.lon, "lon")):
        cur = df[col] if col in df.columns else pd.Series(np.nan, index=df.index)
        cur = pd.to_numeric(cur, errors="coerce")
        if col in df.columns and A.lat in df.columns and A.lon in df.columns:
            zero = (pd.to_numeric(df[A.lat], errors="coerce") == 0) & (pd.to_numeric(df[A.lon], errors="coerce") == 0)
            cur = cur.mask(zero)
        filled = cur.isna() & look[src].notna()
        if col == A.lat:
            _info_count(report, t, A.lat, filled, "accounts placed on the map from their ZIP (lat/lon filled)")
        df[col] = cur.fillna(look[src]).astype("float64")
    for col, src in ((A.state, "state"), (A.county, "county"), (A.city, "city")):
        cur = df[col] if col in df.columns else pd.Series(pd.NA, index=df.index, dtype="string")
        _info_count(report, t, col, cur.isna() & look[src].notna(), f"empty {col} values filled from the ZIP")
        df[col] = cur.astype("string").fillna(look[src].astype("string"))
    missing_zip = df[A.zip].isna().to_numpy() & df[A.lat].isna().to_numpy()
    if missing_zip.any():
        report.add_rows(WARNING, t, _rows(df, missing_zip), A.zip,
                        "No ZIP and no lat/lon: the account is not placed on maps.", "Fill the ZIP.", limit=5)
    return df


def _accounts_extras(df: pd.DataFrame, report: ValidationReport) -> pd.DataFrame:
    if A.intent in df.columns:
        s = pd.to_numeric(df[A.intent], errors="coerce")
        bad = ((s < 0) | (s > 100)).fillna(False).to_numpy()
        _report_bad(report, "accounts", df, bad, A.intent, WARNING, "Intent outside 0-100 (clipped to 0-100).",
                    "Intent is a 0-100 score; rescale the column.")
        df[A.intent] = s.clip(0, 100)
    for c, why in ((A.industry, "segmenting and scoring by industry"), (A.employees, "sizing and segments"),
                   (A.annual_revenue, "sizing and potential"), (A.owner_id, "today's territories"),
                   (A.arr, "customers vs prospects")):
        if c not in df.columns:
            report.warning("accounts", None, c, f"Optional column '{c}' is missing: {why} will be limited.",
                           f"Include it in the export or map a column to '{c}'.")
    return df


def _reps_home(df: pd.DataFrame, report: ValidationReport) -> pd.DataFrame:
    if R.home_zip in df.columns:
        look = geo.zip_lookup(df[R.home_zip].fillna(""))
        look.index = df.index
        for col, src in ((R.home_lat, "lat"), (R.home_lon, "lon")):
            cur = pd.to_numeric(df[col], errors="coerce") if col in df.columns else pd.Series(np.nan, index=df.index)
            df[col] = cur.fillna(look[src]).astype("float64")
        unknown = (df[R.home_zip].notna() & look["state"].isna()).to_numpy()
        _report_bad(report, "reps", df, unknown, R.home_zip, WARNING, "Unknown home ZIP: travel distance not computed.",
                    "Use the rep's 5-digit home or office ZIP.")
    return df


def _opps_flags(df: pd.DataFrame) -> pd.DataFrame:
    if O.stage in df.columns:
        st = df[O.stage].astype("string").str.lower().str.replace(r"[^a-z]", "", regex=True)
        closed = st.str.contains("closed").fillna(False)
        won = (st.str.contains("won") & closed).fillna(False)
        if O.is_closed not in df.columns:
            df[O.is_closed] = closed.astype("boolean")
        if O.is_won not in df.columns:
            df[O.is_won] = won.astype("boolean")
    return df
