"""Text tables: decoding bytes to text, and a structural check of a CSV before pandas reads it.

Two kinds of damage would otherwise lose or garble data without a word:

- **A few stray bytes in a UTF-8 file** (one Latin-1 ``é`` pasted into an otherwise UTF-8
  export). Decoding the whole file as Windows-1252 garbles every good row ("ZÃ¼rich"). Instead
  each line is decoded as UTF-8, and only the lines that are not valid UTF-8 are read as
  Windows-1252; :func:`decode_text` returns their line numbers so the report can name them.
- **Broken rows**: a quote left open swallows the following rows into one value, and a row with
  more fields than the header loses its extra values. :func:`scan_csv` walks the records with the
  standard ``csv`` reader (C speed) and returns where each record starts and every such row, so
  the importer can refuse the file with line numbers instead of dropping rows.
"""
from __future__ import annotations

import bisect
import csv
import io
from dataclasses import dataclass, field

@dataclass(frozen=True)
class Decoded:
    text: str
    encoding: str  # "utf-8", "utf-8 (BOM)", "utf-16", "windows-1252", "latin-1", "utf-8 + windows-1252"
    repaired_lines: tuple[int, ...] = ()  # 1-based line numbers read as Windows-1252 in a UTF-8 file


def _single_byte(data: bytes) -> tuple[str, str]:
    try:
        return data.decode("cp1252"), "windows-1252"
    except UnicodeDecodeError:
        return data.decode("latin-1"), "latin-1"


def decode_text(data: bytes) -> Decoded:
    """UTF-8 (with or without BOM), UTF-16 with BOM, else Windows-1252/Latin-1. A UTF-8 file with
    a few lines that are not valid UTF-8 keeps its good lines as UTF-8; only the odd lines are read
    as Windows-1252, and their numbers are returned."""
    if data.startswith(b"\xef\xbb\xbf"):
        body, enc = data[3:], "utf-8 (BOM)"
    elif data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return Decoded(data.decode("utf-16", errors="replace"), "utf-16")
    else:
        body, enc = data, "utf-8"
    try:
        return Decoded(body.decode("utf-8"), enc)
    except UnicodeDecodeError:
        pass
    lines = body.split(b"\n")
    good_multibyte = bad = 0
    decoded: list[str] = []
    repaired: list[int] = []
    for i, line in enumerate(lines, start=1):
        try:
            s = line.decode("utf-8")
            if not line.isascii():
                good_multibyte += 1
        except UnicodeDecodeError:
            bad += 1
            s = _single_byte(line)[0]
            repaired.append(i)
        decoded.append(s)
    if good_multibyte == 0:  # no UTF-8 at all: a Windows-1252 / Latin-1 file
        text, single = _single_byte(body)
        return Decoded(text, single if enc == "utf-8" else f"{single} (after a UTF-8 BOM)")
    return Decoded("\n".join(decoded), f"{enc} + windows-1252 on {bad:,} line{'s' if bad != 1 else ''}",
                   tuple(repaired))


@dataclass
class CsvScan:
    """What the records of a CSV look like. ``starts[k]`` is the 1-based line on which record k
    begins (record 0 is the header)."""
    width: int = 0  # fields in the header
    records: int = 0  # data records (blank lines included)
    starts: list[int] = field(default_factory=list)
    extra_fields: list[tuple[int, int, int]] = field(default_factory=list)  # (line, row, fields)
    trailing_empty: int = 0  # rows whose only extra fields are empty (a trailing delimiter)
    open_quote_line: int | None = None  # a quote opened on this line is never closed
    swallowed: list[tuple[int, int, str]] = field(default_factory=list)  # (line, row, a swallowed line)

    def row_of_line(self, line: int) -> int:
        """Spreadsheet row (header = 1) of the record holding physical ``line``."""
        k = bisect.bisect_right(self.starts, line) - 1
        return max(k, 0) + 1


def header_width(text: str, delimiter: str) -> int:
    """Fields in the first record, reading only as much of the text as that record needs."""
    size = 65536
    while True:
        chunk = text[:size]
        try:
            reader = csv.reader(io.StringIO(chunk, newline=""), delimiter=delimiter)
            first = next(reader, [])
            complete = reader.line_num < chunk.count("\n") + chunk.count("\r") or len(chunk) == len(text)
        except csv.Error:
            first, complete = chunk.split("\n", 1)[0].split(delimiter), True
        if complete or size >= len(text):
            return len(first)
        size *= 4


def scan_csv(text: str, delimiter: str, max_records: int | None = None) -> CsvScan:
    """Walk the records: header width, record start lines, rows with more fields than the header,
    a quote never closed, and quoted values that swallowed whole rows (a value spanning lines whose
    continuation lines each parse as a full row of the file)."""
    scan = CsvScan()
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    last_line = 0
    start = 1
    for k, rec in enumerate(reader):
        start, last_line = last_line + 1, reader.line_num
        scan.starts.append(start)
        if k == 0:
            scan.width = len(rec)
            continue
        scan.records += 1
        if max_records is not None and scan.records > max_records:
            break
        row = k + 1
        if len(rec) > scan.width:
            if any(v.strip() for v in rec[scan.width:]):
                scan.extra_fields.append((start, row, len(rec)))
            else:
                scan.trailing_empty += 1
        if last_line > start and scan.width >= 2:
            hit = _swallowed_row(rec, delimiter, scan.width)
            if hit is not None:
                scan.swallowed.append((start, row, hit))
    if last_line > start and _ends_inside_quotes(text, start, delimiter):
        scan.open_quote_line = start
    return scan


def _swallowed_row(rec: list[str], delimiter: str, width: int) -> str | None:
    """The first continuation line of a multi-line value that parses as a whole row, if any."""
    for v in rec:
        if "\n" not in v and "\r" not in v:
            continue
        for cont in v.splitlines()[1:]:
            if cont.count(delimiter) >= width - 1 and _parses_as_row(cont, delimiter, width):
                return cont[:80]
    return None


def _parses_as_row(line: str, delimiter: str, width: int) -> bool:
    """A line that reads as a full row: exactly ``width`` fields, the first (usually the id) filled
    and at least half of them filled."""
    try:
        rec = next(csv.reader([line], delimiter=delimiter))
    except (csv.Error, StopIteration):
        return False
    filled = sum(1 for v in rec if v.strip())
    return len(rec) == width and bool(rec[0].strip()) and filled * 2 >= width


def _ends_inside_quotes(text: str, start_line: int, delimiter: str) -> bool:
    """True when the record starting on ``start_line`` runs to the end of the text inside a quoted
    value (a quote opened there is never closed)."""
    buf = io.StringIO(text, newline="")
    for _ in range(start_line - 1):
        buf.readline()
    try:
        for _ in csv.reader(io.StringIO(buf.read(), newline=""), delimiter=delimiter, strict=True):
            pass
    except csv.Error as exc:
        return "end of data" in str(exc)
    return False
