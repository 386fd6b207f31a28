"""Import: read CRM exports (CSV/TSV/xlsx/Parquet), map columns, normalise, validate.

The one entry point the Data page and the CLI share::

    result = load_files(accounts="Account.csv", reps="User.csv",
                        opportunities="Opportunity.csv", mapping={"ARR__c": "arr"})
    result.report.ok, result.report.to_text(), result.dataset  # Dataset only when nothing blocks

Sources may be paths, bytes, or file-like objects with ``.name`` (a Streamlit UploadedFile).
Nothing here raises on bad input: every failure becomes an issue in the report. Memory stays
bounded: files over ``MAX_BYTES`` or with more than ``MAX_ROWS`` rows are refused before they
are parsed in full.
"""
from __future__ import annotations

import csv
import io
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

import numpy as np
import pandas as pd

from ..contract import ACCOUNTS, TABLES, A, O, R
from ..dataset import Dataset, coerce_types, empty_frame
from ..frames import isin
from .mapping import apply_overrides, combined_columns, combined_separator, guess_mapping, norm_header
from .normalize import is_numeric_column, clean_strings, normalize_table
from .ids import reconcile_ids
from .textfile import decode_text, header_width, scan_csv
from .validate import ERROR, INFO, MAX_PER_KIND, WARNING, ValidationReport, check_required_columns, check_tables

MAX_BYTES = int(os.environ.get("TERRITORY_MAX_UPLOAD_MB", "100")) * 1_000_000
MAX_ROWS = int(os.environ.get("TERRITORY_MAX_ROWS", "500000"))
MAX_COLUMNS = int(os.environ.get("TERRITORY_MAX_COLUMNS", "500"))
DELIMITERS = [",", ";", "\t", "|"]
DELIM_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
TABLE_ORDER = ("accounts", "reps", "opportunities", "account_products")


@dataclass
class ReadResult:
    """A file read as text columns. ``frame`` is None when the file could not be read."""
    name: str
    frame: pd.DataFrame | None
    issues: list = field(default_factory=list)
    info: dict = field(default_factory=dict)  # format, encoding, delimiter, rows, columns


@dataclass
class ImportResult:
    dataset: Dataset | None  # None when something blocks
    report: ValidationReport
    mappings: dict[str, dict[str, str | None]]  # table -> {header: canonical or None}
    info: dict[str, dict] = field(default_factory=dict)  # table -> file info
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)  # normalised, before the Dataset

    @property
    def ok(self) -> bool:
        return self.dataset is not None and self.report.ok


def _source_name(src) -> str:
    if isinstance(src, (str, Path)):
        return Path(src).name
    return str(getattr(src, "name", None) or "uploaded file")


def _source_size(src) -> int | None:
    try:
        if isinstance(src, (str, Path)):
            return Path(src).stat().st_size
        if isinstance(src, (bytes, bytearray, memoryview)):
            return len(src)
        size = getattr(src, "size", None)
        if isinstance(size, int):
            return size
        if hasattr(src, "seek") and hasattr(src, "tell"):
            pos = src.tell()
            src.seek(0, 2)
            n = src.tell()
            src.seek(pos)
            return n
    except (OSError, ValueError, TypeError):
        return None
    return None


def _read_bytes(src) -> bytes:
    if isinstance(src, (str, Path)):
        return Path(src).read_bytes()
    if isinstance(src, (bytes, bytearray, memoryview)):
        return bytes(src)
    if hasattr(src, "getvalue"):
        return bytes(src.getvalue())
    if hasattr(src, "read"):
        if hasattr(src, "seek"):
            src.seek(0)
        data = src.read()
        return data.encode("utf-8") if isinstance(data, str) else bytes(data)
    raise TypeError(f"cannot read {type(src).__name__}")


def _looks_binary(data: bytes) -> bool:
    head = data[:8192]
    if not head:
        return False
    if b"\x00" in head:
        return True
    ctrl = sum(1 for b in head if b < 32 and b not in (9, 10, 13, 12))
    return ctrl / len(head) > 0.05


def _sniff_delimiter(text: str) -> str:
    sample = text[:65536]
    lines = [ln for ln in sample.splitlines() if ln.strip()][:50]
    if not lines:
        return ","
    try:
        d = csv.Sniffer().sniff("\n".join(lines), delimiters="".join(DELIMITERS)).delimiter
        if d in DELIMITERS:
            header_count = lines[0].count(d)
            if header_count > 0:
                return d
    except csv.Error:
        pass
    # Fall back: the delimiter that appears most, consistently, in the first lines.
    best, best_score = ",", -1.0
    for d in DELIMITERS:
        counts = [ln.count(d) for ln in lines[:20]]
        if counts[0] == 0:
            continue
        consistent = sum(1 for c in counts if c == counts[0]) / len(counts)
        score = counts[0] * consistent
        if score > best_score:
            best, best_score = d, score
    return best


def _finish_frame(df: pd.DataFrame, name: str, issues: list, table: str, max_rows: int) -> pd.DataFrame | None:
    """Clean headers, drop blank rows, attach ``_row`` (file row numbers), enforce limits."""
    cols = [("" if (c is None or (isinstance(c, float) and np.isnan(c))) else str(c)).strip() for c in df.columns]
    cols = [c if not c.startswith("Unnamed: ") else "" for c in cols]
    seen: dict[str, int] = {}
    final = []
    for i, c in enumerate(cols):
        c = c or f"column_{i + 1}"
        if c in seen:
            seen[c] += 1
            issues.append((WARNING, None, c, f"Column '{c}' appears more than once; the copy is named '{c} ({seen[c]})'.",
                           "Rename or remove the duplicate column."))
            c = f"{c} ({seen[c]})"
        else:
            seen[c] = 1
        final.append(c)
    df.columns = final
    df["_row"] = np.arange(len(df)) + 2
    if len(df) > max_rows:
        issues.append((ERROR, None, None, f"{name} has more than {max_rows:,} rows.",
                       f"Split the file or filter the export to at most {max_rows:,} rows."))
        return None
    data_cols = [c for c in df.columns if c != "_row"]
    blank = pd.Series(True, index=df.index)
    for c in data_cols:
        s = df[c]
        if pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s):
            blank &= s.isna()
        else:
            blank &= (s.isna() | (s.astype("string").str.strip().fillna("") == "")).to_numpy()
        if not blank.any():
            break
    df = df.loc[~blank.to_numpy()].reset_index(drop=True)
    if df.empty:
        issues.append((ERROR, None, None, f"{name} has a header but no data rows.",
                       "Export again with the data rows included."))
        return None
    return df


def _read_csv_text(data: bytes, name: str, res: ReadResult, max_rows: int, max_columns: int) -> pd.DataFrame | None:
    """Decode, parse and check the structure of a CSV; None when the file is refused.

    One pass of pandas' C parser reads the header as a row and gives every row one spare field, so
    a row with more fields than the header shows up (never dropped, never shifted into an index)
    and a quote never closed stops the parser. Only then, or when a quoted value spans lines, does
    the slower record scan (:func:`.textfile.scan_csv`) run, to name the lines."""
    issues = res.issues
    dec = decode_text(data)
    text = dec.text
    delim = _sniff_delimiter(text)
    dname = DELIM_NAMES.get(delim, delim)
    res.info.update(format="csv", encoding=dec.encoding, delimiter=dname)
    width = header_width(text, delim)
    if width > max_columns:
        issues.append((ERROR, None, None, _too_many_columns(name, width, max_columns), _COLUMNS_FIX))
        return None
    raw = text.encode("utf-8")
    opts = dict(sep=delim, dtype=str, keep_default_na=False, na_values=[], skip_blank_lines=False, header=None,
                names=list(range(width + 1)), index_col=False, encoding="utf-8")
    df = None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", pd.errors.ParserWarning)
        try:
            df = pd.read_csv(io.BytesIO(raw), engine="c", on_bad_lines="error", nrows=max_rows + 2, **opts)
        except (pd.errors.ParserError, ValueError, csv.Error):
            df = None
    spare = df[width] if df is not None else None
    extra = (spare.notna() & (spare.astype("string").str.strip() != "")).to_numpy(dtype=bool) if df is not None else None
    # a quoted value spans lines exactly when the file has more lines than records (C-speed counts)
    breaks = text.count("\n") if "\n" in text else text.count("\r")
    lines = breaks + (0 if text.endswith(("\n", "\r")) else 1)
    multiline = df is not None and '"' in text and len(df) < lines
    scan = None
    if df is None or extra.any() or multiline:
        scan = scan_csv(text, delim, max_records=max_rows + 1)
        if _refuse(scan, name, dname, issues):
            return None
    if df is None:  # the C parser gave up on something the scan found acceptable: the python parser
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", pd.errors.ParserWarning)
                df = pd.read_csv(io.BytesIO(raw), engine="python", on_bad_lines="error", nrows=max_rows + 2, **opts)
        except (pd.errors.ParserError, ValueError, csv.Error) as exc:
            issues.append((ERROR, None, None, f"{name} could not be read as a {dname}-separated table "
                           f"({str(exc)[:160]}).", "Open it in a spreadsheet and save it again as CSV (UTF-8)."))
            return None
        spare = df[width]
    trailing = _trailing_delimiters(text, delim)
    if trailing:
        issues.append((INFO, None, None, f"{trailing:,} rows end with an empty extra field (a trailing delimiter); "
                       "it was ignored.", ""))
    header = ["" if pd.isna(h) else str(h) for h in df.iloc[0, :width]]
    body = df.iloc[1:, :width].reset_index(drop=True)
    body.columns = header
    if dec.repaired_lines:
        starts = scan if scan is not None else (scan_csv(text, delim, max_records=max_rows + 1) if multiline else None)
        rows = sorted({starts.row_of_line(ln) if starts is not None else ln for ln in dec.repaired_lines})
        shown = ", ".join(str(r) for r in rows[:10]) + (f" and {len(rows) - 10:,} more" if len(rows) > 10 else "")
        n = len(dec.repaired_lines)
        issues.append((WARNING, rows[0] if len(rows) == 1 else None, None,
                       f"{name} is UTF-8 except on {n:,} line{'s' if n != 1 else ''} (row{'s' if len(rows) != 1 else ''} "
                       f"{shown}), read as Windows-1252 so that every other row keeps its accents. Check the text "
                       "of those rows.",
                       "Save the file as UTF-8 from the program that wrote it."))
        res.info["repaired_rows"] = rows
    return body


def _trailing_delimiters(text: str, delim: str) -> int:
    """Data lines that end with the delimiter (an empty extra field) when the header does not:
    counted for the report's info line (C-speed string counts)."""
    nl = "\r\n" if "\r\n" in text else "\n" if "\n" in text else "\r"
    first = text.split(nl, 1)[0]
    if first.endswith(delim):
        return 0
    n = text.count(delim + nl) + (1 if text.endswith(delim) else 0)
    return n


def _refuse(scan, name: str, dname: str, issues: list) -> bool:
    """Errors, with line numbers, for what would lose rows or values: a quote never closed, a
    quoted value that swallowed whole rows, rows with more fields than the header."""
    refused = False
    if scan.open_quote_line is not None:
        refused = True
        issues.append((ERROR, scan.row_of_line(scan.open_quote_line), None,
                       f"{name}: a quote opened on line {scan.open_quote_line:,} is never closed, so every line "
                       "after it would be read as one value and those rows would be lost.",
                       "Close the quote (or remove it) on that line, or export the file again."))
    swallowed = [w for w in scan.swallowed if w[0] != scan.open_quote_line]
    for line, row, cont in swallowed[:MAX_PER_KIND]:
        refused = True
        issues.append((ERROR, row, None,
                       f"{name}: the quoted value starting on line {line:,} runs over several lines and holds "
                       f"what looks like whole rows (e.g. '{cont}'): a quote is probably left open, and those "
                       "rows would be lost.",
                       "Close the quote on that line (a value with a quote inside is written \"\"), or export again."))
    if len(swallowed) > MAX_PER_KIND:
        issues.append((ERROR, None, None, f"{name}: {len(swallowed) - MAX_PER_KIND:,} more quoted values "
                       "swallow whole rows.", "Check the quotes in the file."))
    for line, row, n in scan.extra_fields[:MAX_PER_KIND]:
        refused = True
        issues.append((ERROR, row, None,
                       f"{name}: line {line:,} has {n} fields but the header has {scan.width} "
                       f"(delimiter: {dname}); the extra values would be lost.",
                       "Quote values that contain the delimiter, or remove the extra fields on that line."))
    if len(scan.extra_fields) > MAX_PER_KIND:
        issues.append((ERROR, None, None,
                       f"{name}: {len(scan.extra_fields) - MAX_PER_KIND:,} more lines have more fields than the header.",
                       "Quote values that contain the delimiter, or export again as CSV."))
    return refused


_COLUMNS_FIX = ("Export only the columns you need (Salesforce Data Loader: pick the fields; HubSpot: export "
                "the current view rather than all properties), or delete unused columns.")


def _too_many_columns(name: str, n: int, limit: int) -> str:
    return (f"{name} has {n:,} columns, over the {limit:,}-column limit (set TERRITORY_MAX_COLUMNS to change "
            "it). Reading it would tie up the session.")


def _zip_contents(data: bytes) -> list[str] | None:
    """Names inside a ZIP archive that is not an Excel workbook; None when it is one (or unreadable)."""
    import zipfile

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            names = z.namelist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        return None
    if "[Content_Types].xml" in names and any(n.startswith("xl/") for n in names):
        return None
    return names


def read_table(src, table: str = "accounts", max_bytes: int = MAX_BYTES, max_rows: int = MAX_ROWS,
               max_columns: int = MAX_COLUMNS) -> ReadResult:
    """Read a file as text columns (strings stay strings: ZIPs and ids keep their zeros).
    Problems are returned as ``(severity, row, column, message, fix)`` tuples in ``issues``."""
    name = _source_name(src)
    res = ReadResult(name, None)
    issues = res.issues
    size = _source_size(src)
    if size is not None and size > max_bytes:
        issues.append((ERROR, None, None,
                       f"{name} is {size / 1e6:,.0f} MB, over the {max_bytes / 1e6:,.0f} MB limit.",
                       "Export only the columns you need, or split the file."))
        return res
    try:
        data = _read_bytes(src)
    except (OSError, TypeError, ValueError) as exc:
        issues.append((ERROR, None, None, f"Cannot read {name}: {exc}.", "Check the file path and permissions."))
        return res
    if len(data) > max_bytes:
        issues.append((ERROR, None, None, f"{name} is {len(data) / 1e6:,.0f} MB, over the {max_bytes / 1e6:,.0f} MB limit.",
                       "Export only the columns you need, or split the file."))
        return res
    if not data.strip():
        issues.append((ERROR, None, None, f"{name} is empty.", "Export the report again; the file has no content."))
        return res
    lower = name.lower()
    try:
        if data[:4] == b"PAR1" or lower.endswith(".parquet"):
            res.info["format"] = "parquet"
            import pyarrow.parquet as pq

            pf = pq.ParquetFile(io.BytesIO(data))
            if pf.metadata.num_columns > max_columns:
                issues.append((ERROR, None, None, _too_many_columns(name, pf.metadata.num_columns, max_columns),
                               _COLUMNS_FIX))
                return res
            if pf.metadata.num_rows > max_rows:
                issues.append((ERROR, None, None, f"{name} has {pf.metadata.num_rows:,} rows, over the {max_rows:,} limit.",
                               f"Filter the export to at most {max_rows:,} rows."))
                return res
            df = pf.read().to_pandas()
        elif data[:4] == b"PK\x03\x04" or lower.endswith((".xlsx", ".xlsm")):
            inside = _zip_contents(data) if data[:4] == b"PK\x03\x04" else None
            if inside is not None:
                listed = ", ".join(inside[:5]) + (f" and {len(inside) - 5:,} more" if len(inside) > 5 else "")
                issues.append((ERROR, None, None,
                               f"{name} is a ZIP archive" + (f" (holding {listed})" if inside else " (empty)")
                               + ", not a table or an Excel workbook.",
                               "Unzip it and upload the CSV or .xlsx file inside."))
                return res
            res.info["format"] = "xlsx"
            import openpyxl

            wb = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
            ws = wb.worksheets[0]
            if (ws.max_column or 0) > max_columns:
                issues.append((ERROR, None, None, _too_many_columns(name, ws.max_column, max_columns), _COLUMNS_FIX))
                wb.close()
                return res
            if (ws.max_row or 0) > max_rows + 1:
                issues.append((ERROR, None, None, f"{name} has {ws.max_row:,} rows, over the {max_rows:,} limit.",
                               f"Filter the export to at most {max_rows:,} rows."))
                return res
            rows = []
            for i, r in enumerate(ws.iter_rows(values_only=True)):
                if i > max_rows + 1:
                    break
                rows.append(r)
            wb.close()
            if not rows:
                issues.append((ERROR, None, None, f"{name}: the first sheet is empty.", "Put the table on the first sheet."))
                return res
            width = max(len(r) for r in rows)
            header = list(rows[0]) + [None] * (width - len(rows[0]))
            body = [list(r) + [None] * (width - len(r)) for r in rows[1:]]
            df = pd.DataFrame(body, columns=header, dtype=object)
            # Excel numbers in text-like columns (ZIPs, ids) are turned into text later; keep objects.
        else:
            if not data.startswith((b"\xff\xfe", b"\xfe\xff")) and _looks_binary(data):  # UTF-16 has NULs
                issues.append((ERROR, None, None, f"{name} is not a text table (it looks like a binary file).",
                               "Upload a CSV, tab-separated, Excel .xlsx or Parquet file."))
                return res
            df = _read_csv_text(data, name, res, max_rows, max_columns)
            if df is None:
                return res
    except Exception:  # a broken xlsx/parquet/csv: a message, never a traceback or an exception name
        what = {"xlsx": "an Excel workbook", "parquet": "a Parquet file"}.get(res.info.get("format"), "a table")
        issues.append((ERROR, None, None, f"{name} could not be read as {what}: the file is damaged or is not "
                       f"what its name says.",
                       "Open the file in a spreadsheet and save it again as CSV (UTF-8) or .xlsx."))
        return res
    if df.shape[1] == 0:
        issues.append((ERROR, None, None, f"{name} has no columns.", "Export the table with a header row."))
        return res
    df = _finish_frame(df, name, issues, table, max_rows)
    if df is None:
        return res
    res.frame = df
    res.info.update(rows=len(df), columns=len(df.columns) - 1)
    return res


def read_headers(src) -> tuple[list[str], ReadResult]:
    """Headers of a file (for the mapping step) and the full read (reuse it: no second parse)."""
    r = read_table(src)
    return ([c for c in r.frame.columns if c != "_row"] if r.frame is not None else []), r


def _split_mapping(mapping: Mapping | None) -> tuple[dict, dict]:
    """Accept {"ARR__c": "arr"} (applies to every file that has the header) or
    {"accounts": {...}, "reps": {...}} (per table). Returns (global, per_table)."""
    glob, per = {}, {}
    for k, v in (mapping or {}).items():
        if k in TABLES and isinstance(v, Mapping):
            per[k] = dict(v)
        else:
            glob[k] = v
    return glob, per


def map_frame(raw: pd.DataFrame, tname: str, overrides: Mapping | None, report: ValidationReport,
              source: str = "") -> tuple[pd.DataFrame, dict[str, str | None], list[str]]:
    """Rename mapped columns to canonical names. Returns (frame with canonical columns + ``_row`` +
    kept extra numeric columns (accounts), mapping, extra column names)."""
    headers = [c for c in raw.columns if c != "_row"]
    guess = guess_mapping(headers, tname)
    glob, per = _split_mapping(overrides)
    valid = set(TABLES[tname].names)
    # Global overrides apply only where they make sense for this table.
    scoped = {k: v for k, v in glob.items() if v in (None, "", "ignore") or v in valid}
    scoped.update(per.get(tname, {}))
    mapping, problems = apply_overrides(guess, scoped, tname)
    for p in problems:
        report.error(tname, None, None, p, "Choose a column from the data contract (see the README).")
    out = pd.DataFrame(index=raw.index)
    for h, canon in mapping.items():
        if canon:
            out[canon] = raw[h]
    # Columns given in parts (FirstName + LastName when there is no Name column): joined, and said so.
    combined = combined_columns(headers, mapping, tname)
    for canon, parts in combined.items():
        sep = combined_separator(tname, canon)
        vals = [clean_strings(raw[h]).fillna("") for h in parts]
        full = vals[0]
        for v in vals[1:]:
            full = full + sep + v
        out[canon] = full.str.strip().replace("", pd.NA)
        report.info(tname, canon, f"{canon} built from the columns {' + '.join(repr(h) for h in parts)} "
                    f"(e.g. '{next(iter(out[canon].dropna()), '')}'): {len(out):,} rows.")
    extras = []
    if tname == "accounts" and ACCOUNTS.keep_extra_numeric:
        for h, canon in mapping.items():
            if canon is None and h not in out.columns and is_numeric_column(raw[h]):
                name = h if h not in valid else f"{h}_extra"
                out[name] = raw[h]
                extras.append(name)
    out["_row"] = raw["_row"].to_numpy()
    return out, mapping, extras


def _owners_without_reps(tables: dict, report: ValidationReport) -> None:
    """Accounts that name owners while no reps file is given: say so before loading (the pages have
    no territories to show until reps exist)."""
    acc = tables.get("accounts")
    if "reps" in tables or acc is None or A.owner_id not in acc.columns:
        return
    owners = acc[A.owner_id].dropna().astype(str)
    if owners.empty:
        return
    uniq = list(dict.fromkeys(owners))
    report.warning("accounts", None, A.owner_id,
                   f"The accounts name {len(uniq):,} owner{'s' if len(uniq) != 1 else ''} (e.g. "
                   + ", ".join(f"'{o}'" for o in uniq[:3]) + ") but no reps file was given, so there are no "
                   "territories to measure or balance yet.",
                   "Upload the reps (users) file with these, or after loading use 'Create reps from the owner "
                   "names' on the Data page (capacity 1 FTE each).")


def _rep_names_from(mapping: Mapping | None) -> str | None:
    """How the reps' names were built, for messages: "the column 'First name'" or "the columns
    'First name' + 'Last name' (joined)"."""
    if not mapping:
        return None
    direct = [h for h, c in mapping.items() if c == R.name]
    if direct:
        return f"the column '{direct[0]}'"
    parts = combined_columns(list(mapping), mapping, "reps").get(R.name)
    if parts:
        return "the columns " + " + ".join(f"'{h}'" for h in parts) + " (joined)"
    return None


def _resolve_owner_names(tables: dict, report: ValidationReport) -> None:
    """owner_id holding rep *names* (HubSpot 'Company owner', Salesforce report 'Account Owner'):
    replace a value that matches no rep_id but exactly one rep name by that rep's id."""
    reps = tables.get("reps")
    if reps is None or R.rep_id not in reps.columns or R.name not in reps.columns:
        return
    ids = set(reps[R.rep_id].dropna().astype(str))
    names = reps[[R.rep_id, R.name]].dropna()
    key = names[R.name].astype(str).str.strip().str.lower()
    uniq = key[~key.duplicated(keep=False)]
    by_name = dict(zip(uniq, names.loc[uniq.index, R.rep_id].astype(str)))
    for tname, col in (("accounts", A.owner_id), ("opportunities", O.owner_id)):
        df = tables.get(tname)
        if df is None or col not in df.columns:
            continue
        s = df[col].astype("string")
        cand = s.notna() & ~pd.Series(isin(s, ids), index=s.index)
        if not cand.any():
            continue
        mapped = s[cand].str.strip().str.lower().map(by_name)
        hit = mapped.notna()
        if hit.any():
            s = s.copy()
            s[mapped[hit].index] = mapped[hit].astype("string")
            df[col] = s
            report.warning(tname, None, col,
                           f"{int(hit.sum()):,} owners were given by name and matched to rep ids by name.",
                           "Export the owner's id (OwnerId) to avoid ambiguity between reps with the same name.")


def _to_dataset(tables: dict[str, pd.DataFrame], extras: list[str], name: str) -> Dataset:
    def canon(tname):
        df = tables.get(tname)
        table = TABLES[tname]
        if df is None:
            return empty_frame(table)
        keep = [c for c in df.columns if c != "_row"]
        out = coerce_types(df[keep], table)
        order = table.names + [c for c in out.columns if c not in table.names]
        return out[order].reset_index(drop=True)

    acc = canon("accounts")
    for c in extras:
        if c in acc.columns:
            acc[c] = pd.to_numeric(acc[c], errors="coerce").astype("float64")
    return Dataset(accounts=acc, reps=canon("reps"), opportunities=canon("opportunities"),
                   account_products=canon("account_products"), name=name)


def load_files(accounts=None, reps=None, opportunities=None, account_products=None,
               mapping: Mapping | None = None, name: str | None = None,
               max_bytes: int = MAX_BYTES, max_rows: int = MAX_ROWS,
               preread: Mapping[str, ReadResult] | None = None) -> ImportResult:
    """Read, map, normalise and validate CRM exports. ``mapping`` is ``{header: canonical}``
    (every file) or ``{table: {header: canonical}}``. The dataset is built only when nothing
    blocks. ``preread`` reuses :func:`read_table` results (the Data page reads once).
    Never raises on bad input."""
    report = ValidationReport()
    sources = {"accounts": accounts, "reps": reps, "opportunities": opportunities,
               "account_products": account_products}
    preread = dict(preread or {})
    mappings: dict[str, dict] = {}
    info: dict[str, dict] = {}
    normalised: dict[str, pd.DataFrame] = {}
    extras: list[str] = []
    try:
        glob, _per = _split_mapping(mapping)
        known = {c for t in TABLE_ORDER for c in TABLES[t].names}
        for src, canon in glob.items():
            if canon not in (None, "", "ignore") and canon not in known:
                report.error("import", None, src, f"'{src}' is mapped to '{canon}', which is not a canonical column.",
                             f"Use one of: {', '.join(sorted(known))}.")
        if sources["accounts"] is None and "accounts" not in preread:
            report.error("accounts", None, None, "No accounts file given.",
                         "Upload or pass the accounts export (one row per account).")
        for tname in TABLE_ORDER:
            src = sources[tname]
            if src is None and tname not in preread:
                continue
            r = preread.get(tname) or read_table(src, tname, max_bytes=max_bytes, max_rows=max_rows)
            info[tname] = {"file": r.name, **r.info}
            for sev, row, col, msg, fix in r.issues:
                report.add(sev, tname, row, col, msg, fix)
            if r.frame is None:
                continue
            mapped, mp, ex = map_frame(r.frame, tname, mapping, report, r.name)
            mappings[tname] = mp
            headers = [c for c in r.frame.columns if c != "_row"]
            if not check_required_columns(mapped, tname, report, source_headers=headers):
                continue
            normalised[tname] = normalize_table(mapped, tname, report, extra_columns=ex)
            if tname == "accounts":
                extras = ex
        for tname, col, _n, what in reconcile_ids(normalised):
            report.info(tname, col, what + ".")
        _resolve_owner_names(normalised, report)
        _owners_without_reps(normalised, report)
        if normalised:  # tables missing a required column were reported above and never normalised
            check_tables(normalised, report, rep_names_from=_rep_names_from(mappings.get("reps")))
        dataset = None
        if report.ok and "accounts" in normalised:
            nm = name or info.get("accounts", {}).get("file") or "Imported data"
            dataset = _to_dataset(normalised, extras, nm)
    except Exception as exc:  # last line of defence: a report issue, never a traceback
        report.error("import", None, None, f"Unexpected problem while importing: {type(exc).__name__}: {str(exc)[:300]}",
                     "Please report this with the file; meanwhile check the file opens in a spreadsheet.")
        dataset = None
    return ImportResult(dataset, report, mappings, info, normalised)
