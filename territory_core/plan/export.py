"""Exports of a scenario: the CRM assignment file (CSV, Excel, Salesforce Data Loader) and a
self-contained one-page HTML summary.

Spreadsheet safety: a text cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
return (also after leading spaces) would run as a formula in Excel or Sheets. In CSV such cells get
a leading apostrophe (``'=HYPERLINK(...)``) so they show as text. In Excel the cell is typed text
and carries Excel's own quote-prefix style, so the value is exactly what was given (``-2+3``, no
apostrophe) and stays text even when edited. Numeric columns are left alone, so real negative
numbers stay numbers.
"""
from __future__ import annotations

import html
import io
import re
from datetime import date, datetime, timezone
from typing import Iterable, Mapping

import numpy as np
import pandas as pd

from ..contract import A, R, S, X
from ..dataset import Dataset
from ..frames import isin
from .scenarios import (METRIC_LABELS, EventError, Scenario, apply_events, change_cost, cost_rows, describe_event,
                        diff_scenarios, is_placeholder, kpi_rows, rep_loads)

EXPORT_COLUMNS = ["account_id", "account_name", "previous_owner_id", "previous_owner_name", "new_owner_id",
                  "new_owner_name", "effective_date", "reason"]
SALESFORCE_COLUMNS = ["Id", "OwnerId"]
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


# --------------------------------------------------------------------------------------------
# Formula-injection safety
# --------------------------------------------------------------------------------------------

def inert_text(value):
    """``value`` made safe for a spreadsheet cell: strings a spreadsheet would run as a formula get
    a leading apostrophe; everything else (numbers, NA, harmless text) is returned unchanged."""
    if not isinstance(value, str) or not value:
        return value
    if value.startswith(FORMULA_PREFIXES) or value.lstrip(" ").startswith(FORMULA_PREFIXES[:4]):
        return "'" + value
    return value


def make_inert(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``df`` whose text cells cannot run as formulas (numeric columns untouched)."""
    out = df.copy()
    for c in out.columns:
        s = out[c]
        if pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s) or pd.api.types.is_datetime64_any_dtype(s):
            continue
        out[c] = s.map(inert_text, na_action="ignore")
    out.columns = [inert_text(str(c)) for c in out.columns]
    return out


def to_csv_bytes(df: pd.DataFrame) -> bytes:
    """UTF-8 CSV (no index, CRLF line ends as RFC 4180 says) with formula-like text made inert.
    CRLF also makes the writer quote any field holding a bare carriage return, which would
    otherwise split the row in Excel."""
    return make_inert(df).to_csv(index=False, lineterminator="\r\n").encode("utf-8")


def formula_like(value) -> bool:
    """True for text a spreadsheet would run as a formula."""
    return isinstance(value, str) and inert_text(value) is not value


def to_excel_bytes(df: pd.DataFrame, sheet_name: str = "Assignments") -> bytes:
    """An .xlsx workbook with one sheet: bold frozen header, sized columns, text cells stored as
    typed text (never formulas) with the value as given; formula-like text also gets Excel's
    quote-prefix style (no apostrophe in the value, unlike the CSV)."""
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    safe = df
    wb = Workbook()
    ws = wb.active
    ws.title = (sheet_name or "Sheet1")[:31]
    cols = list(safe.columns)
    ws.append([str(c) for c in cols])
    for cell in ws[1]:
        cell.font = Font(bold=True)
        cell.data_type = "s"
        cell.quotePrefix = formula_like(cell.value)
    numeric = [pd.api.types.is_numeric_dtype(safe[c]) and not pd.api.types.is_bool_dtype(safe[c]) for c in cols]
    for row in safe.itertuples(index=False, name=None):
        vals = []
        for v, is_num in zip(row, numeric):
            if v is None or (not isinstance(v, str) and pd.isna(v)):
                vals.append(None)
            elif is_num:
                vals.append(float(v) if isinstance(v, (float, np.floating)) else int(v))
            elif isinstance(v, (bool, np.bool_)):
                vals.append(bool(v))
            elif isinstance(v, (pd.Timestamp, datetime, date)):
                vals.append(pd.Timestamp(v).to_pydatetime())
            else:
                vals.append(str(v))
        ws.append(vals)
    # Text must stay text: openpyxl would store any "=..." string as a formula.
    for j, is_num in enumerate(numeric, start=1):
        if is_num:
            continue
        for (cell,) in ws.iter_rows(min_row=2, min_col=j, max_col=j):
            if isinstance(cell.value, str):
                cell.data_type = "s"
                if formula_like(cell.value):
                    cell.quotePrefix = True
    for j, c in enumerate(cols, start=1):
        sample = [str(c)] + [str(v) for v in safe[c].head(200).tolist()]
        ws.column_dimensions[get_column_letter(j)].width = min(60, max(10, max(len(s) for s in sample) + 2))
    ws.freeze_panes = "A2"
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


# --------------------------------------------------------------------------------------------
# Assignment export
# --------------------------------------------------------------------------------------------

def _rep_names(dataset: Dataset, scenario: Scenario | None = None) -> dict[str, str]:
    reps = dataset.reps
    if scenario is not None and scenario.events:
        try:
            reps = apply_events(dataset, scenario.events).reps  # new hires have names too
        except EventError:
            pass
    ids = reps[R.rep_id].astype("string").fillna("").astype(str)
    names = reps[R.name].astype("string") if R.name in reps.columns else ids
    return {i: (str(n) if pd.notna(n) else i) for i, n in zip(ids, names)}


def _iso_date(effective_date) -> str:
    if effective_date is None or effective_date == "":
        return date.today().isoformat()
    if isinstance(effective_date, (datetime, pd.Timestamp)):
        return pd.Timestamp(effective_date).date().isoformat()
    if isinstance(effective_date, date):
        return effective_date.isoformat()
    try:
        return date.fromisoformat(str(effective_date).strip()).isoformat()
    except ValueError:
        raise ValueError(f"Effective date {effective_date!r} is not a date; use YYYY-MM-DD, e.g. 2027-01-01.") from None


def assignment_export(scenario: Scenario, dataset: Dataset, effective_date=None, *,
                      only_moved: bool = False, access=None) -> pd.DataFrame:
    """The CRM assignment file: one row per account (only moved accounts when ``only_moved``) with
    account_id, account_name, previous_owner_id, previous_owner_name, new_owner_id, new_owner_name,
    effective_date (YYYY-MM-DD; default today), reason. Moved accounts first, then by account id.
    ``access`` (territory_core.store.access.Access): PermissionDenied when the role may not export
    owner files; for a manager, only accounts in ``dataset`` (their team's view) are exported."""
    if access is not None:
        access.require("export")
    if scenario.assignment is None:
        raise ValueError(f"Scenario {scenario.name!r} has no assignment yet: re-solve it before exporting.")
    eff = _iso_date(effective_date)
    asg = scenario.assignment.copy()
    asg[S.account_id] = asg[S.account_id].astype("string")
    acc = dataset.accounts[[c for c in (A.account_id, A.name, A.owner_id) if c in dataset.accounts.columns]].copy()
    acc[A.account_id] = acc[A.account_id].astype("string")
    acc = acc.drop_duplicates(A.account_id).set_index(A.account_id)
    if access is not None and access.team_only:  # a manager exports their team's accounts only
        asg = asg[isin(asg[S.account_id], acc.index)].reset_index(drop=True)
    ids = asg[S.account_id]
    if S.previous_rep_id in asg.columns:
        prev = asg[S.previous_rep_id].astype("string")
        if A.owner_id in acc.columns:
            prev = prev.fillna(pd.Series(acc[A.owner_id].reindex(ids).to_numpy(), index=asg.index, dtype="string"))
    elif A.owner_id in acc.columns:
        prev = pd.Series(acc[A.owner_id].reindex(ids).to_numpy(), index=asg.index, dtype="string")
    else:
        prev = pd.Series(pd.NA, index=asg.index, dtype="string")
    new = asg[S.rep_id].astype("string")
    names = _rep_names(dataset, scenario)
    moved = (new.fillna("") != prev.fillna("")).to_numpy()
    reason = asg[S.reason].astype("string") if S.reason in asg.columns else pd.Series(pd.NA, index=asg.index, dtype="string")
    reason = reason.where(reason.notna() & (reason.str.strip() != ""),
                          pd.Series(np.where(moved, "Owner changes", "Unchanged"), index=asg.index))
    out = pd.DataFrame({
        "account_id": ids.to_numpy(),
        "account_name": pd.Series(acc[A.name].reindex(ids).to_numpy() if A.name in acc.columns else pd.NA, index=asg.index, dtype="string").to_numpy(),
        "previous_owner_id": prev.to_numpy(),
        "previous_owner_name": _owner_names(prev, names),
        "new_owner_id": new.to_numpy(),
        "new_owner_name": _owner_names(new, names),
        "effective_date": eff,
        "reason": reason.astype("string").to_numpy(),
    })
    for c in EXPORT_COLUMNS:
        if c != "effective_date":
            out[c] = out[c].astype("string")
    out["_moved"] = moved
    if only_moved:
        out = out[out["_moved"]]
    out = out.sort_values(["_moved", "account_id"], ascending=[False, True], kind="mergesort")
    return out.drop(columns="_moved").reset_index(drop=True)[EXPORT_COLUMNS]


def _owner_names(ids: pd.Series, names: dict) -> np.ndarray:
    """The name of each owner id (the id itself when unnamed; missing stays missing), looked up once
    per distinct id."""
    codes, uniq = pd.factorize(ids)
    lookup = pd.array([names.get(str(r), str(r)) for r in uniq] + [pd.NA], dtype="string")
    return lookup[codes].to_numpy() if len(codes) else pd.array([], dtype="string").to_numpy()


_SF15 = re.compile(r"^[A-Za-z0-9]{15}$")
_SF_ALPHA = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"


def sf_id_18(value, prefixes: tuple[str, ...]) -> str:
    """A 15-character Salesforce id whose key prefix is one of ``prefixes`` (``001`` accounts,
    ``005`` users, ``00G`` queues) in its case-insensitive 18-character form; anything else
    unchanged. Spreadsheets and Data Loader lookups compare ids case-insensitively."""
    v = "" if value is None or (not isinstance(value, str) and pd.isna(value)) else str(value).strip()
    if not _SF15.match(v) or not v.startswith(prefixes):
        return v
    suffix = ""
    for i in range(3):
        chunk = v[i * 5:(i + 1) * 5]
        suffix += _SF_ALPHA[sum(1 << j for j, ch in enumerate(chunk) if "A" <= ch <= "Z")]
    return v + suffix


class PlaceholderOwners(ValueError):
    """A CRM owner file would name placeholder reps (new hires not yet in the CRM)."""


def apply_owner_map(df: pd.DataFrame, owner_map: Mapping[str, str] | None) -> pd.DataFrame:
    """``df`` (assignment_export's frame) with placeholder owners replaced by the CRM user ids in
    ``owner_map`` ({"TBH-1": "005..."}); ids not mapped stay as they are."""
    mp = {str(k).strip(): str(v).strip() for k, v in (owner_map or {}).items() if str(v or "").strip()}
    if not mp or "new_owner_id" not in df.columns:
        return df
    out = df.copy()
    out["new_owner_id"] = out["new_owner_id"].astype("string").map(lambda r: mp.get(str(r), r) if pd.notna(r) else r)
    return out


def placeholder_owners(df: pd.DataFrame) -> pd.Series:
    """Rows per placeholder new owner (TBH-...) left in an export frame, most rows first."""
    if "new_owner_id" not in df.columns:
        return pd.Series(dtype="int64")
    own = df["new_owner_id"].astype("string").fillna("")
    ph = own[own.map(is_placeholder)]
    return ph.value_counts()


def split_placeholders(df: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(rows ready for the CRM, rows whose new owner is still a placeholder: a "to assign" file)."""
    own = df["new_owner_id"].astype("string").fillna("") if "new_owner_id" in df.columns else pd.Series("", index=df.index)
    ph = own.map(is_placeholder).to_numpy(dtype=bool)
    return df[~ph], df[ph]


def salesforce_loader(df: pd.DataFrame) -> pd.DataFrame:
    """Salesforce Data Loader update file (Id, OwnerId) from :func:`assignment_export`'s frame.
    Rows without a new owner are left out; 15-character account (001...) and user/queue
    (005.../00G...) ids are written in their 18-character form. Refuses (PlaceholderOwners) while a
    new owner is a placeholder: map it with :func:`apply_owner_map`, or write those rows to a
    separate file with :func:`split_placeholders`."""
    if "new_owner_id" not in df.columns or "account_id" not in df.columns:
        raise ValueError("salesforce_loader needs the frame from assignment_export (account_id, new_owner_id).")
    ph = placeholder_owners(df)
    if len(ph):
        which = ", ".join(f"{r} ({n:,} rows)" for r, n in ph.head(5).items())
        raise PlaceholderOwners(
            f"The owner file would name placeholder reps not yet in the CRM: {which}. Map each to its Salesforce "
            "user id (on Compare, tab Export, or --owner-map TBH-1=005... on the command line), or write their rows to a "
            "separate 'to assign' file.")
    keep = (df["new_owner_id"].astype("string").fillna("").str.strip() != "").to_numpy(dtype=bool)
    return pd.DataFrame({
        "Id": pd.array([sf_id_18(v, ("001",)) for v in df.loc[keep, "account_id"]], dtype="string"),
        "OwnerId": pd.array([sf_id_18(v, ("005", "00G")) for v in df.loc[keep, "new_owner_id"]], dtype="string"),
    })


# --------------------------------------------------------------------------------------------
# One-page HTML summary (inline SVG charts; no scripts, no network)
# --------------------------------------------------------------------------------------------

_CSS = """
*{box-sizing:border-box}body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;color:#1f2933;
margin:0;background:#f5f7fa}main{max-width:1040px;margin:24px auto;background:#fff;padding:28px 36px;
border-radius:8px;box-shadow:0 1px 4px rgba(0,0,0,.08)}h1{font-size:26px;margin:0 0 4px}h2{font-size:17px;
margin:26px 0 8px;border-bottom:1px solid #e4e7eb;padding-bottom:4px}.meta{color:#616e7c;font-size:13px}
.cards{display:flex;gap:12px;flex-wrap:wrap;margin-top:16px}.card{flex:1 1 150px;border:1px solid #e4e7eb;
border-radius:6px;padding:10px 14px}.card .v{font-size:24px;font-weight:600}.card .l{font-size:12px;color:#616e7c;
text-transform:uppercase;letter-spacing:.04em}.card .d{font-size:12px;color:#616e7c}table{border-collapse:collapse;
width:100%;font-size:13px}th,td{text-align:left;padding:4px 8px;border-bottom:1px solid #eef0f3}th{background:#f5f7fa}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}.grid{display:grid;grid-template-columns:1fr 1fr;gap:18px}.grid.moves{grid-template-columns:2fr 3fr}
svg text{font-family:inherit}ul{margin:4px 0;padding-left:20px;font-size:13px}.muted{color:#9aa5b1}
@media print{body{background:#fff}main{box-shadow:none;margin:0;max-width:none;padding:0}h2{break-after:avoid}}
@page{size:A4 landscape;margin:12mm}
"""


def _e(v) -> str:
    return html.escape("" if v is None else str(v), quote=True)


def _money(v: float) -> str:
    v = float(v or 0)
    for unit, div in (("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(v) >= div:
            return f"${v / div:,.1f}{unit}"
    return f"${v:,.0f}"


def _svg_bars(rows: pd.DataFrame, title: str, fmt, tolerance: float = 0.1, max_rows: int = 30) -> str:
    """Horizontal bars of value per rep with the target band (target x (1 +- tolerance))."""
    if rows.empty:
        return f"<p class='muted'>{_e(title)}: no data.</p>"
    rows = rows.copy()
    note = ""
    if len(rows) > max_rows:
        rows = rows.reindex(rows["deviation"].abs().sort_values(ascending=False).index[:max_rows])
        note = f" (the {max_rows} furthest from target)"
    rows = rows.sort_values("value", ascending=False)
    label_w, bar_w, row_h, top = 150, 300, 18, 28
    h = top + row_h * len(rows) + 24
    vmax = max(float(rows["value"].max()), float((rows["target"] * (1 + tolerance)).max()), 1e-9)
    sx = bar_w / vmax
    parts = [f"<svg xmlns='http://www.w3.org/2000/svg' width='100%' viewBox='0 0 {label_w + bar_w + 90} {h}' "
             f"role='img' aria-label='{_e(title)}'>",
             f"<text x='0' y='14' font-size='13' font-weight='600'>{_e(title + note)}</text>"]
    for i, r in enumerate(rows.itertuples(index=False)):
        y = top + i * row_h
        lo, hi = r.target * (1 - tolerance), r.target * (1 + tolerance)
        inside = lo - 1e-9 * abs(r.target) <= r.value <= hi + 1e-9 * abs(r.target)
        color = "#3e7cb1" if inside else ("#d64545" if r.value > hi else "#f0b429")
        name = str(r.name)[:22]
        parts.append(f"<text x='{label_w - 6}' y='{y + 12}' font-size='11' text-anchor='end'>{_e(name)}</text>")
        parts.append(f"<rect x='{label_w + lo * sx:.1f}' y='{y}' width='{max(hi - lo, 0) * sx:.1f}' height='{row_h - 3}' "
                     "fill='#e4e7eb'/>")
        parts.append(f"<rect x='{label_w}' y='{y + 3}' width='{max(r.value, 0) * sx:.1f}' height='{row_h - 9}' fill='{color}'/>")
        parts.append(f"<line x1='{label_w + r.target * sx:.1f}' x2='{label_w + r.target * sx:.1f}' y1='{y}' "
                     f"y2='{y + row_h - 3}' stroke='#1f2933' stroke-width='1.5'/>")
        parts.append(f"<text x='{label_w + max(r.value, hi) * sx + 4:.1f}' y='{y + 12}' font-size='10' fill='#52606d'>"
                     f"{_e(fmt(r.value))} ({r.deviation:+.1%})</text>")
    ly = top + row_h * len(rows) + 14
    parts.append(f"<rect x='{label_w}' y='{ly - 9}' width='14' height='9' fill='#e4e7eb'/>"
                 f"<text x='{label_w + 18}' y='{ly}' font-size='10' fill='#52606d'>target band +-{tolerance:.0%}; "
                 "line = target; blue inside, red above, amber below</text>")
    parts.append("</svg>")
    return "".join(parts)


def scenario_summary_html(dataset: Dataset, scenario: Scenario, kpis: Mapping, *, enriched: pd.DataFrame | None = None,
                          baseline: Scenario | None = None, baseline_kpis: Mapping | None = None,
                          tolerance: float = 0.10, title: str | None = None, generated_by: str | None = None,
                          top_moves: int = 15) -> str:
    """One self-contained HTML page (inline CSS and SVG charts; no scripts, no network): headline
    cards, the KPI table (with deltas against ``baseline_kpis`` when given), the what-if events,
    per-rep bars against the target band for ARR and account count, the largest rep-to-rep flows
    and the biggest moves (against ``baseline``, default today's plan). Prints on one landscape page
    for a handful of reps."""
    name = scenario.label
    title = title or f"Scenario summary: {name}"
    now = datetime.now(timezone.utc)
    rep_names = _rep_names(dataset, scenario)
    base = baseline if baseline is not None else (Scenario.today(dataset) if scenario.assignment is not None else None)
    if baseline is not None:
        rep_names = {**_rep_names(dataset, baseline), **rep_names}
    base_label = base.label if base is not None else "today's plan"
    meta = [f"Dataset: {dataset.name}", f"baseline: {base_label}"]
    if scenario.saved_by:
        meta.append(f"saved by {scenario.saved_by}" + (f" on {scenario.saved_at:%Y-%m-%d %H:%M} UTC" if scenario.saved_at else ""))
    meta.append(f"generated {now:%Y-%m-%d %H:%M} UTC" + (f" by {generated_by}" if generated_by else ""))

    def card(label, value, delta=""):
        return (f"<div class='card'><div class='l'>{_e(label)}</div><div class='v'>{_e(value)}</div>"
                f"<div class='d'>{_e(delta)}</div></div>")

    def delta(key, fmt, digits: int = 1):
        if not baseline_kpis or key not in baseline_kpis or key not in kpis:
            return ""
        d = float(kpis[key]) - float(baseline_kpis[key])
        if round(d, digits) == 0:
            return f"no change vs {base_label}"
        return f"{fmt(d)} vs {base_label}"

    cards = "".join([
        card("Balance index", f"{kpis.get('balance_index', 0):.0f}/100", delta("balance_index", lambda d: f"{d:+.1f}")),
        card("Moves", f"{kpis.get('moves', 0):,}", f"{kpis.get('moved_pct', 0):.1%} of accounts"),
        card("ARR moved", _money(kpis.get("arr_moved", 0))),
        card("Coverage", f"{kpis.get('coverage', 0):.1%}", f"{kpis.get('reps', 0)} active reps"),
    ])
    rows = kpi_rows(kpis)
    base_rows = dict(kpi_rows(baseline_kpis)) if baseline_kpis else {}
    head = "<tr><th>KPI</th><th>This scenario</th>" + (f"<th>Baseline: {_e(base_label)}</th>" if base_rows else "") + "</tr>"
    body = "".join(f"<tr><td>{_e(k)}</td><td>{_e(v)}</td>" + (f"<td>{_e(base_rows.get(k, ''))}</td>" if base_rows else "")
                   + "</tr>" for k, v in rows)
    kpi_table = f"<table>{head}{body}</table>"

    ev_items = "".join(f"<li>{_e(describe_event(e, rep_names))}</li>" for e in scenario.events)
    ov = len(scenario.overrides)
    events_html = (f"<ul>{ev_items}</ul>" if ev_items else "<p class='muted'>No what-if events.</p>")
    if ov:
        events_html += f"<p>{ov} manual move(s) or lock(s).</p>"
    notes = (scenario.report or {}).get("explanation") or (scenario.report or {}).get("explanations") or []
    if notes:
        events_html += "<p><b>Solver notes</b></p><ul>" + "".join(f"<li>{_e(n)}</li>" for n in notes[:8]) + "</ul>"

    charts = ""
    try:
        loads = rep_loads(dataset, scenario, enriched)
        svgs = []
        for metric, fmt in ((A.arr, _money), (X.potential, _money), (X.account_count, lambda v: f"{v:,.0f}")):
            sub = loads[loads["metric"] == metric]
            if len(sub):
                tol = float(((kpis.get("balance") or {}).get(metric) or {}).get("tolerance", tolerance))
                svgs.append(_svg_bars(sub, f"{METRIC_LABELS.get(metric, metric)} per rep", fmt, tol))
        charts = "<div class='grid'>" + "".join(f"<div>{s}</div>" for s in svgs[:2]) + "</div>"
        if len(svgs) > 2:
            charts += f"<div class='grid'><div>{svgs[2]}</div><div></div></div>"
    except ValueError as exc:
        charts = f"<p class='muted'>{_e(exc)}</p>"

    moves_html = ""
    if base is not None and scenario.assignment is not None:
        d = diff_scenarios(base, scenario, dataset.accounts, names=rep_names)
        if len(d):
            flows = (d.assign(n=1).groupby(["from_rep_id", "to_rep_id"], dropna=False)
                     .agg(accounts=("n", "sum"), arr=("arr", "sum")).reset_index()
                     .sort_values(["arr", "accounts"], ascending=False).head(10))
            ft = "".join(f"<tr><td>{_e(rep_names.get(str(r.from_rep_id), r.from_rep_id) if pd.notna(r.from_rep_id) else '(none)')}</td>"
                         f"<td>{_e(rep_names.get(str(r.to_rep_id), r.to_rep_id) if pd.notna(r.to_rep_id) else '(none)')}</td>"
                         f"<td class='n'>{int(r.accounts):,}</td><td class='n'>{_e(_money(r.arr))}</td></tr>"
                         for r in flows.itertuples(index=False))
            mt = "".join(f"<tr><td>{_e(r.name)}</td><td>{_e(rep_names.get(str(r.from_rep_id), r.from_rep_id))}</td>"
                         f"<td>{_e(rep_names.get(str(r.to_rep_id), r.to_rep_id))}</td><td class='n'>{_e(_money(r.arr))}</td>"
                         f"<td>{_e(r.reason if pd.notna(r.reason) else '')}</td></tr>"
                         for r in d.head(top_moves).itertuples(index=False))
            moves_html = (
                "<div class='grid moves'><div><h2>Largest flows between reps</h2><table><tr><th>From</th><th>To</th>"
                f"<th class='n'>Accounts</th><th class='n'>ARR</th></tr>{ft}</table></div>"
                f"<div><h2>Biggest moves against {_e(base_label)} (of {len(d):,})</h2><table><tr><th>Account</th><th>From</th><th>To</th>"
                f"<th class='n'>ARR</th><th>Reason</th></tr>{mt}</table></div></div>")
        else:
            moves_html = f"<h2>Moves</h2><p class='muted'>No account changes owner against {_e(base.label)}.</p>"

    cost_html = ""
    if base is not None and scenario.assignment is not None and base.assignment is not None:
        try:
            cost = change_cost(dataset, base, scenario, enriched)
        except ValueError:
            cost = None
        if cost:
            crow = "".join(f"<tr><td>{_e(k)}</td><td>{_e(v)}</td></tr>" for k, v in cost_rows(cost))
            cost_html = f"<h2>Cost of this change</h2><table>{crow}</table>"
            ph = [h for h in cost.get("hires") or [] if h.get("placeholder")]
            if ph:
                cost_html += ("<p><b>Placeholders:</b> " + _e(", ".join(f"{h['name']} ({h['rep_id']})" for h in ph))
                              + " are hires not yet in the CRM; their accounts need a CRM owner before the upload.</p>")

    desc = f"<p>{_e(scenario.description)}</p>" if scenario.description else ""
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body><main>"
        f"<h1>{_e(title)}</h1><div class='meta'>{_e(' · '.join(meta))}</div>{desc}"
        f"<div class='cards'>{cards}</div>"
        f"{cost_html}"
        f"<div class='grid'><div><h2>KPIs</h2>{kpi_table}</div><div><h2>What-if events</h2>{events_html}</div></div>"
        f"<h2>Books against target</h2>{charts}{moves_html}"
        "</main></body></html>"
    )


def export_bytes(fmt: str, df: pd.DataFrame) -> tuple[bytes, str, str]:
    """(bytes, mime type, file extension) for ``fmt`` in csv | xlsx | salesforce."""
    if fmt == "csv":
        return to_csv_bytes(df), "text/csv", "csv"
    if fmt == "xlsx":
        return to_excel_bytes(df), "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx"
    if fmt == "salesforce":
        return to_csv_bytes(salesforce_loader(df)), "text/csv", "csv"
    raise ValueError(f"Unknown export format {fmt!r}; use csv, xlsx or salesforce.")


__all__: Iterable[str] = ("assignment_export", "to_csv_bytes", "to_excel_bytes", "salesforce_loader",
                          "scenario_summary_html", "make_inert", "inert_text", "export_bytes", "EXPORT_COLUMNS")
