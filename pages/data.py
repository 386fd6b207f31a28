"""Data: import CRM exports (upload, map columns, validate, load) and see what is loaded.

Everything comes from territory_core.ingest.importer (read_table, load_files), territory_core.ingest.mapping
(guess_table, guess_mapping) and the validation report; the page holds the widget state.
The active dataset only changes when the user presses Load on a report without errors, so a
failed upload never loses what was loaded before.
"""
from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import streamlit as st

from territory_core.contract import TABLES, A, O, R, describe_markdown
from territory_core.dataset import load_sample
from territory_core.ingest.importer import MAX_BYTES, ReadResult, load_files, read_table
from territory_core.ingest.mapping import combined_columns, guess_mapping, guess_table
from territory_core.ingest.normalize import is_numeric_column
from territory_core.ingest.owners import add_reps_for_owners, rep_coverage
from ui import format as fmt
from ui.format import md as fmt_md
from ui.state import dataset_version, get_dataset, set_dataset

KINDS = ["accounts", "reps", "opportunities", "account_products"]
KIND_LABELS = {"accounts": "Accounts", "reps": "Reps (users)", "opportunities": "Opportunities",
               "account_products": "Account products"}
IGNORE = "(ignore)"


def money(x) -> str:
    return fmt.money(x, digits=2)  # the overview's headline figures carry two decimals


# --------------------------------------------------------------------------------------------
# Import
def _file_key(f) -> str:
    """Stable per file content and name (widget keys derive from it: 'Account.csv:1a2b3c4d')."""
    return f"{getattr(f, 'name', 'file')}:{hashlib.sha1(f.getvalue()).hexdigest()[:8]}"


def _unique_files(files) -> tuple[list, list[tuple[str, str]]]:
    """The uploads without repeats (same content, whatever the name), and (copy, original) names."""
    seen: dict[str, str] = {}
    out, twins = [], []
    for f in files:
        digest = hashlib.sha1(f.getvalue()).hexdigest()
        name = getattr(f, "name", "file")
        if digest in seen:
            twins.append((name, seen[digest]))
            continue
        seen[digest] = name
        out.append(f)
    return out, twins


def _read_cached(f) -> ReadResult:
    """Parse each uploaded file once per session (reruns reuse the parse)."""
    cache = st.session_state.setdefault("_data_reads", {})
    key = _file_key(f)
    if key not in cache:
        if len(cache) > 8:
            cache.clear()
        cache[key] = read_table(f)
    return cache[key]


# Files with more columns than this show dropdowns only for the columns that matter (recognised,
# mapped by you, joined into a field, or picked in "Map more columns"): a 500-column export never
# draws 500 dropdowns.
SHOW_ALL_COLUMNS_UP_TO = 40


def _widget_key(fkey: str, kind: str, h: str) -> str:
    return f"map::{fkey}::{kind}::{h}"


def _current_mapping(fkey: str, kind: str, headers: list[str]) -> dict[str, str | None]:
    """The mapping as it stands: the user's choice where a dropdown was set, else the guess. Read
    before the dropdowns draw, so counts and labels above them are never one step behind."""
    guess = guess_mapping(headers, kind)
    out = {}
    for h in headers:
        v = st.session_state.get(_widget_key(fkey, kind, h))
        out[h] = guess.get(h) if v is None else (None if v == IGNORE else v)
    return out


def _mapping_widgets(fkey: str, kind: str, headers: list[str], frame: pd.DataFrame) -> dict[str, str | None]:
    """One selectbox per file column that matters, preset to the guess; returns {header: canonical
    or None} for every column (the ones without a dropdown stay ignored). Columns joined into one
    field (First name + Last name -> name) say so in their dropdown."""
    guess = guess_mapping(headers, kind)
    now = _current_mapping(fkey, kind, headers)
    joined = {h: canon for canon, parts in combined_columns(headers, now, kind).items() for h in parts}
    options = [IGNORE] + TABLES[kind].names
    shown = list(headers)
    if len(headers) > SHOW_ALL_COLUMNS_UP_TO:
        keep = [h for h in headers if now.get(h) or h in joined]
        rest = [h for h in headers if h not in keep]
        more = st.multiselect(
            f"Map more columns ({len(rest):,} not shown)", rest, key=f"mapmore::{fkey}::{kind}",
            placeholder="Pick a column to map, e.g. a custom field such as ARR__c",
            help=f"This file has {len(headers):,} columns; dropdowns are shown for the {len(keep)} recognised "
                 "ones. Pick any other column here to map it.")
        shown = [h for h in headers if h in keep or h in more]
    chosen: dict[str, str | None] = {h: None for h in headers}
    cols = st.columns(3)
    for i, h in enumerate(shown):
        key = _widget_key(fkey, kind, h)
        default = guess.get(h) or IGNORE
        sample = frame[h].dropna().astype(str).str.strip()
        sample = sample[sample != ""].head(3).tolist()
        part_of = joined.get(h)
        with cols[i % 3]:
            val = st.selectbox(
                h, options, index=options.index(default) if default in options else 0, key=key,
                format_func=(lambda o, c=part_of: f"(joined into {c})" if o == IGNORE else o) if part_of else str,
                help=("e.g. " + ", ".join(s[:30] for s in sample)) if sample else "empty column",
            )
        chosen[h] = None if val == IGNORE else val
    combined = combined_columns(headers, chosen, kind)
    for canon, parts in combined.items():
        ex = frame[parts].fillna("").astype(str).agg(" ".join, axis=1).str.strip()
        ex = next((v for v in ex if v), "")
        st.caption(fmt.md(f"{canon} is built by joining {' + '.join(parts)} (e.g. '{ex}'). To use one column "
                          f"instead, map it to {canon}."))
    return chosen


def _import_section(current) -> None:
    st.markdown(
        "Upload your CRM exports: accounts (required), and optionally reps/users, opportunities and "
        "account products. CSV (any delimiter, UTF-8 or Latin-1), Excel .xlsx or Parquet. "
        "Salesforce Data Loader and HubSpot export headers are recognised; map custom fields "
        "(e.g. `ARR__c` to `arr`) below. See docs/IMPORTING.md."
    )
    files = st.file_uploader(
        "CRM export files", accept_multiple_files=True, key="data_upload",
        type=["csv", "tsv", "txt", "xlsx", "xlsm", "parquet"],
        max_upload_size=max(1, MAX_BYTES // 1_000_000),  # the importer's own limit, so the two never disagree
    )
    if not files:
        st.caption("No files uploaded yet. The active dataset stays as it is until you load new data.")
        return
    files, twins = _unique_files(files)
    for dup, first in twins:
        st.warning(fmt.md(f"{dup} has the same content as {first}, which is already uploaded: the copy is "
                          "ignored. Remove it from the list above."), icon=":material/content_copy:")

    reads: dict[str, tuple] = {}  # fkey -> (file, ReadResult)
    unreadable = []
    for f in files:
        r = _read_cached(f)
        reads[_file_key(f)] = (f, r)
        if r.frame is None:
            unreadable.append(r)
    for r in unreadable:
        for sev, _row, _col, msg, fix in r.issues:
            st.error(f"**{fmt.md(r.name)}**: {fmt.md(msg)}  \n**How to fix:** {fmt.md(fix)}", icon=":material/error:")

    readable = {k: v for k, v in reads.items() if v[1].frame is not None}
    if not readable:
        st.warning("None of the uploaded files could be read, so nothing changed: the active dataset is "
                   f"still **{current.name}**.")
        return

    st.subheader("1. Map the columns", divider="gray")
    kinds_used: dict[str, list[str]] = {}
    preread: dict[str, ReadResult] = {}
    mappings: dict[str, dict] = {}
    for fkey, (f, r) in readable.items():
        headers = [c for c in r.frame.columns if c != "_row"]
        guess = guess_table(headers)
        info = r.info
        with st.container(border=True):
            c1, c2 = st.columns([2, 1])
            with c1:
                st.markdown(f"**{fmt.md(r.name)}**")
                desc = f"{info.get('rows', 0):,} rows · {info.get('columns', 0)} columns · {info.get('format', '')}"
                if info.get("format") == "csv":
                    desc += f" · {info.get('encoding')} · {info.get('delimiter')}-separated"
                st.caption(desc)
            with c2:
                kind = st.selectbox("This file holds", KINDS, index=KINDS.index(guess), key=f"kind::{fkey}",
                                    format_func=lambda k: KIND_LABELS[k])
            for sev, _row, _col, msg, fix in r.issues:
                show = {"error": st.error, "warning": st.warning}.get(sev, st.caption)
                show(fmt.md(f"{msg} {fix}".strip()))
            now = _current_mapping(fkey, kind, headers)
            n_joined = sum(len(p) for p in combined_columns(headers, now, kind).values())
            n_used = sum(1 for c in now.values() if c) + n_joined
            with st.expander(f"Column mapping ({n_used} of {len(headers)} columns used)", expanded=True):
                mp = _mapping_widgets(fkey, kind, headers, r.frame)
                if kind == "accounts":
                    kept = [h for h, c in mp.items() if c is None and is_numeric_column(r.frame[h])]
                    if kept:
                        st.caption("Numeric columns left at (ignore) are kept as extra account columns, "
                                   f"so you can balance on them: {', '.join(kept)}")
        kinds_used.setdefault(kind, []).append(r.name)
        preread[kind] = r
        mappings[kind] = mp

    problems = []
    for kind, names in kinds_used.items():
        if len(names) > 1:
            problems.append(f"{len(names)} files are marked as {KIND_LABELS[kind].lower()} ({', '.join(names)}): "
                            "mark each file as a different kind, or upload one file per kind.")
    for kind, mp in mappings.items():
        seen: dict[str, str] = {}
        for h, c in mp.items():
            if c and c in seen:
                problems.append(f"In the {KIND_LABELS[kind].lower()} file both '{seen[c]}' and '{h}' are mapped to "
                                f"'{c}': set one of them to {IGNORE}.")
            elif c:
                seen[c] = h
    missing = [k for k in KINDS if k not in kinds_used and len(getattr(current, k))]
    reuse = False
    if missing:
        what = ", ".join(f"{len(getattr(current, k)):,} {KIND_LABELS[k].lower()}" for k in missing)
        reuse = st.checkbox(
            fmt.md(f"Also use the {what} of the active dataset ({current.name})"), value=False, key="data_reuse",
            help="Off by default: only the files you upload are loaded. Tick it to replace only some tables "
                 "(e.g. a new reps file) and keep the others from the dataset loaded now.")
    if reuse:
        st.info(fmt.md(f"Using the {what} of {current.name} (the active dataset) with the files above; problems "
                       f"in them are reported under the table name with '{current.name}' as the file."),
                icon=":material/merge:")
        for k in missing:
            df = getattr(current, k)
            preread[k] = ReadResult(f"{current.name} ({k})", df.assign(_row=np.arange(len(df)) + 2),
                                    info={"format": "active dataset", "rows": len(df), "columns": len(df.columns)})
    elif "accounts" not in kinds_used:
        problems.append("No file is marked as accounts: upload the accounts export, or tick the box above "
                        "to use the accounts of the active dataset.")

    st.subheader("2. Check", divider="gray")
    for p in problems:
        st.error(p, icon=":material/error:")
    if problems:
        st.info(f"Nothing was loaded: the active dataset is still **{current.name}**.")
        return

    sig = hashlib.sha1(repr((reuse, missing, dataset_version(), current.name)).encode()
                       + repr(sorted((k, r.name, _file_key(f)) for k, (f, r) in readable.items())).encode()
                       + repr(sorted((k, sorted(m.items(), key=str)) for k, m in mappings.items())).encode()).hexdigest()
    if st.session_state.get("_data_result_sig") != sig:
        with st.spinner("Checking the files..."):
            names = " + ".join(r.name for k, r in preread.items() if k in kinds_used)
            if reuse:
                names += f" + {current.name}"
            result = load_files(preread=preread, mapping=mappings, name=names[:80])
        st.session_state["_data_result"] = result
        st.session_state["_data_result_sig"] = sig
    result = st.session_state["_data_result"]
    report = result.report

    c1, c2, c3, c4 = st.columns(4)
    c1.metric("Blocking errors", len(report.errors))
    c2.metric("Warnings", len(report.warnings))
    c3.metric("Fixes made", len(report.infos), help="What the import corrected on the way in (ZIP+4 codes, state "
              "names, id forms...), listed as info lines with counts.")
    c4.metric("Accounts read", f"{len(result.tables['accounts']):,}" if "accounts" in result.tables else "0")
    if report.ok:
        st.success(report.summary(), icon=":material/check_circle:")
    else:
        st.error(report.summary() + ". Fix them in the file (or the mapping above) and upload again.",
                 icon=":material/error:")
    if report.issues:
        frame = report.to_display_frame()[["severity", "table", "row", "column", "message", "fix"]]
        st.dataframe(frame, hide_index=True, width="stretch", key="data_report",
                     column_config={"row": st.column_config.TextColumn("row"),
                                    "message": st.column_config.TextColumn(width="large"),
                                    "fix": st.column_config.TextColumn(width="large")})
        st.download_button("Download the report (CSV)", report.to_frame().to_csv(index=False).encode("utf-8"),
                           file_name="validation_report.csv", mime="text/csv", key="data_report_csv")

    st.subheader("3. Load", divider="gray")
    if st.button("Load this data", type="primary", disabled=not (report.ok and result.dataset is not None),
                 key="data_load", help="Replaces the active dataset. Disabled while errors block."):
        set_dataset(result.dataset)
        st.session_state["_data_loaded_msg"] = (f"Loaded {len(result.dataset.accounts):,} accounts, "
                                                f"{len(result.dataset.reps):,} reps and "
                                                f"{len(result.dataset.opportunities):,} opportunities.")
        st.rerun()


# --------------------------------------------------------------------------------------------
# Overview
@st.cache_data(show_spinner=False, max_entries=4)
def _overview(_ds, version: int, name: str) -> dict:
    acc, reps, opp = _ds.accounts, _ds.reps, _ds.opportunities
    arr = pd.to_numeric(acc[A.arr], errors="coerce").fillna(0) if A.arr in acc else pd.Series(0.0, index=acc.index)
    if len(opp) and O.is_closed in opp:
        open_ = ~opp[O.is_closed].fillna(False).astype(bool)
        pipeline = float(pd.to_numeric(opp.loc[open_, O.amount], errors="coerce").fillna(0).sum())
        n_open = int(open_.sum())
    else:
        pipeline = float(pd.to_numeric(acc.get(A.open_pipeline, pd.Series(dtype=float)), errors="coerce").fillna(0).sum())
        n_open = 0
    active = reps[R.active].fillna(True).astype(bool) if R.active in reps else pd.Series(True, index=reps.index)
    names = dict(zip(reps[R.rep_id].astype(str), reps[R.name].astype(str))) if len(reps) else {}
    book = pd.DataFrame({"owner": acc[A.owner_id].astype("string"), "arr": arr}).groupby("owner", dropna=True).agg(
        accounts=("arr", "size"), arr=("arr", "sum"), customers=("arr", lambda s: int((s > 0).sum())))
    return {
        "accounts": len(acc), "customers": int((arr > 0).sum()), "arr": float(arr.sum()),
        "pipeline": pipeline, "open_opps": n_open, "reps": int(active.sum()), "inactive": int((~active).sum()),
        "opps": len(opp), "names": names, "book": book,
    }


def _overview_section(ds) -> None:
    ov = _overview(ds, dataset_version(), ds.name)
    c = st.columns(6)
    c[0].metric("Accounts", f"{ov['accounts']:,}")
    c[1].metric("Customers", f"{ov['customers']:,}",
                help="Accounts with arr > 0" + (f" ({ov['customers'] / ov['accounts']:.0%})" if ov["accounts"] else ""))
    c[2].metric("ARR", money(ov["arr"]))
    c[3].metric("Open pipeline", money(ov["pipeline"]), help=f"{ov['open_opps']:,} open opportunities")
    c[4].metric("Active reps", f"{ov['reps']:,}", help=f"{ov['inactive']} inactive reps are not counted")
    c[5].metric("Opportunities", f"{ov['opps']:,}")

    acc = ds.accounts
    st.subheader("Accounts", divider="gray")
    f1, f2, f3, f4 = st.columns([2, 1, 1, 1])
    q = f1.text_input("Search by name or id", key="data_q", placeholder="e.g. Summit")
    states = sorted(acc[A.state].dropna().astype(str).unique()) if A.state in acc else []
    inds = sorted(acc[A.industry].dropna().astype(str).unique()) if A.industry in acc else []
    owners = sorted(acc[A.owner_id].dropna().astype(str).unique()) if A.owner_id in acc else []
    f_state = f2.multiselect("State", states, key="data_state")
    f_ind = f3.multiselect("Industry", inds, key="data_ind")
    f_owner = f4.multiselect("Owner", owners, key="data_owner",
                             format_func=lambda r: f"{ov['names'].get(r, r)} ({r})" if r in ov["names"] else r)
    mask = pd.Series(True, index=acc.index)
    if q:
        ql = q.strip().lower()
        mask &= (acc[A.name].astype("string").str.lower().str.contains(ql, regex=False).fillna(False)
                 | acc[A.account_id].astype("string").str.lower().str.contains(ql, regex=False).fillna(False))
    if f_state:
        mask &= acc[A.state].isin(f_state).fillna(False)
    if f_ind:
        mask &= acc[A.industry].isin(f_ind).fillna(False)
    if f_owner:
        mask &= acc[A.owner_id].isin(f_owner).fillna(False)
    view = acc.loc[mask.to_numpy()]
    shown = view.copy()
    if ov["names"]:
        shown.insert(shown.columns.get_loc(A.owner_id) + 1, "owner_name",
                     shown[A.owner_id].astype("string").map(ov["names"]))
    st.caption(f"{len(view):,} of {len(acc):,} accounts"
               + (f" · ARR {money(pd.to_numeric(view[A.arr], errors='coerce').sum())}" if A.arr in view else ""))
    money_cols = {c: st.column_config.NumberColumn(c, format="$%,.0f") for c in (A.annual_revenue, A.arr, A.open_pipeline)}
    st.dataframe(shown, hide_index=True, width="stretch", height=380, key="data_accounts",
                 column_config={**money_cols, A.employees: st.column_config.NumberColumn(format="%,.0f")})

    st.subheader("Reps", divider="gray")
    _missing_reps(ds)
    reps = ds.reps.copy()
    if len(reps):
        book = ov["book"]
        reps["accounts"] = reps[R.rep_id].astype(str).map(book["accounts"]).fillna(0).astype(int)
        reps["customers"] = reps[R.rep_id].astype(str).map(book["customers"]).fillna(0).astype(int)
        reps["book_arr"] = reps[R.rep_id].astype(str).map(book["arr"]).fillna(0.0)
        st.dataframe(reps, hide_index=True, width="stretch", key="data_reps",
                     column_config={"book_arr": st.column_config.NumberColumn("book ARR", format="$%,.0f"),
                                    R.quota: st.column_config.NumberColumn(format="$%,.0f")})
        unowned = acc[A.owner_id].isna().sum() if A.owner_id in acc else len(acc)
        if unowned:
            st.caption(f"{unowned:,} accounts have no owner.")


def _missing_reps(ds) -> None:
    """No reps, or owners that are not reps: say what is missing, and offer reps made from the
    owner names (capacity 1 FTE each) next to uploading a reps file."""
    cov = rep_coverage(ds)
    msg = cov.message(on_data_page=True)
    if msg is None:
        return
    st.warning(fmt.md(msg), icon=":material/group_off:")
    if cov.can_create:
        n = len(cov.unmatched_owners)
        if st.button(f"Create {n:,} rep{'s' if n != 1 else ''} from the owner names (capacity 1 FTE each)",
                     key="data_reps_from_owners", icon=":material/group_add:",
                     help="Adds one active rep per owner that is not a rep yet, with the owner value as rep_id and "
                          "name. Set regions, segments and capacities later with a reps file."):
            new, added = add_reps_for_owners(ds)
            set_dataset(new)
            st.session_state["_data_loaded_msg"] = (f"Created {len(added):,} rep{'s' if len(added) != 1 else ''} "
                                                    "from the owner names, each with capacity 1 FTE.")
            st.rerun()


# --------------------------------------------------------------------------------------------
st.title("Data")
ds = get_dataset()
msg = st.session_state.pop("_data_loaded_msg", None)
if msg:
    st.success(msg, icon=":material/check_circle:")

top = st.columns([4, 1])
with top[0]:
    st.markdown(f"Active dataset: **{ds.name}** · {len(ds.accounts):,} accounts · {len(ds.reps):,} reps · "
                f"{len(ds.opportunities):,} opportunities · {len(ds.account_products):,} product holdings")
with top[1]:
    if st.button("Use the sample data", key="data_use_sample", width="stretch",
                 help="Replace the active dataset with the built-in sample (6,000 accounts)."):
        try:
            set_dataset(load_sample())
            st.session_state["_data_loaded_msg"] = "Loaded the sample data."
        except (OSError, ValueError) as exc:
            st.error(f"The sample data could not be read ({exc}). Run `.venv/bin/python scripts/make_sample.py`.")
        else:
            st.rerun()

tab_overview, tab_import, tab_contract = st.tabs(["What is loaded", "Import files", "Data contract"])
with tab_overview:
    try:
        _overview_section(ds)
    except Exception as exc:  # a malformed dataset must not show a traceback
        st.error(f"The loaded dataset could not be summarised ({fmt_md(exc)}). "
                 "Reload the sample data or import the files again.")
with tab_import:
    try:
        _import_section(ds)
    except Exception as exc:  # last line of defence: the importer reports, this never shows a traceback
        st.error(f"Import failed unexpectedly ({fmt_md(exc)}). Nothing was changed; "
                 f"the active dataset is still **{ds.name}**. Check the file opens in a spreadsheet.")
with tab_contract:
    st.markdown("Canonical columns every page works with. Headers from Salesforce and HubSpot exports are "
                "recognised; other columns can be mapped on import. Extra numeric account columns are kept.")
    with st.expander("The data contract", expanded=True):
        st.markdown(describe_markdown())
