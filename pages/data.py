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
from territory_core.ingest.importer import ReadResult, load_files, read_table
from territory_core.ingest.mapping import guess_mapping, guess_table
from territory_core.ingest.normalize import is_numeric_column
from ui import format as fmt
from ui.format import md
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


def _read_cached(f) -> ReadResult:
    """Parse each uploaded file once per session (reruns reuse the parse)."""
    cache = st.session_state.setdefault("_data_reads", {})
    key = _file_key(f)
    if key not in cache:
        if len(cache) > 8:
            cache.clear()
        cache[key] = read_table(f)
    return cache[key]


def _mapping_widgets(fkey: str, kind: str, headers: list[str], frame: pd.DataFrame) -> dict[str, str | None]:
    """One selectbox per file column, preset to the guess; returns {header: canonical or None}."""
    guess = guess_mapping(headers, kind)
    options = [IGNORE] + TABLES[kind].names
    chosen: dict[str, str | None] = {}
    cols = st.columns(3)
    for i, h in enumerate(headers):
        key = f"map::{fkey}::{kind}::{h}"
        default = guess.get(h) or IGNORE
        sample = frame[h].dropna().astype(str).str.strip()
        sample = sample[sample != ""].head(3).tolist()
        with cols[i % 3]:
            val = st.selectbox(  # the file's header and cells are the user's text: labels and help read Markdown
                md(h), options, index=options.index(default) if default in options else 0, key=key,
                help=("e.g. " + md(", ".join(s[:30] for s in sample))) if sample else "empty column",
            )
        chosen[h] = None if val == IGNORE else val
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
    )
    if not files:
        st.caption("No files uploaded yet. The active dataset stays as it is until you load new data.")
        return

    reads: dict[str, tuple] = {}  # fkey -> (file, ReadResult)
    unreadable = []
    for f in files:
        r = _read_cached(f)
        reads[_file_key(f)] = (f, r)
        if r.frame is None:
            unreadable.append(r)
    for r in unreadable:
        for sev, _row, _col, msg, fix in r.issues:
            st.error(f"**{md(r.name)}**: {md(msg)}  \n**How to fix:** {md(fix)}", icon=":material/error:")

    readable = {k: v for k, v in reads.items() if v[1].frame is not None}
    if not readable:
        st.warning("None of the uploaded files could be read, so nothing changed: the active dataset is "
                   f"still **{md(current.name)}**.")
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
                st.markdown(f"**{md(r.name)}**")
                desc = f"{info.get('rows', 0):,} rows · {info.get('columns', 0)} columns · {info.get('format', '')}"
                if info.get("format") == "csv":
                    desc += f" · {md(info.get('encoding'))} · {md(info.get('delimiter'))}-separated"
                st.caption(desc)
            with c2:
                kind = st.selectbox("This file holds", KINDS, index=KINDS.index(guess), key=f"kind::{fkey}",
                                    format_func=lambda k: KIND_LABELS[k])
            for sev, _row, _col, msg, fix in r.issues:
                (st.error if sev == "error" else st.warning)(f"{md(msg)} {md(fix)}")
            with st.expander(f"Column mapping ({sum(1 for h in headers if guess_mapping(headers, kind).get(h))} "
                             f"of {len(headers)} recognised)", expanded=True):
                mp = _mapping_widgets(fkey, kind, headers, r.frame)
                if kind == "accounts":
                    kept = [h for h, c in mp.items() if c is None and is_numeric_column(r.frame[h])]
                    if kept:
                        st.caption("Numeric columns left at (ignore) are kept as extra account columns, "
                                   f"so you can balance on them: {md(', '.join(kept))}")
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
        reuse = st.checkbox(
            f"Take the {', '.join(KIND_LABELS[k].lower() for k in missing)} from the active dataset "
            f"({md(current.name)})", value="accounts" not in kinds_used, key="data_reuse",
            help="Replace only the tables you upload (e.g. a new reps file) and keep the rest.")
    if reuse:
        for k in missing:
            df = getattr(current, k)
            preread[k] = ReadResult(f"{current.name} ({k})", df.assign(_row=np.arange(len(df)) + 2),
                                    info={"format": "active dataset", "rows": len(df), "columns": len(df.columns)})
    elif "accounts" not in kinds_used:
        problems.append("No file is marked as accounts: upload the accounts export, or tick the box above "
                        "to keep the accounts of the active dataset.")

    st.subheader("2. Check", divider="gray")
    for p in problems:
        st.error(md(p), icon=":material/error:")  # plain sentences quoting file and column names
    if problems:
        st.info(f"Nothing was loaded: the active dataset is still **{md(current.name)}**.")
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

    c1, c2, c3 = st.columns(3)
    c1.metric("Blocking errors", len(report.errors))
    c2.metric("Warnings", len(report.warnings))
    c3.metric("Accounts read", f"{len(result.tables['accounts']):,}" if "accounts" in result.tables else "0")
    if report.ok:
        st.success(report.summary(), icon=":material/check_circle:")
    else:
        st.error(report.summary() + ". Fix them in the file (or the mapping above) and upload again.",
                 icon=":material/error:")
    if report.issues:
        frame = report.to_frame()[["severity", "table", "row", "column", "message", "fix"]]
        st.dataframe(frame, hide_index=True, width="stretch", key="data_report",
                     column_config={"row": st.column_config.NumberColumn("row", format="%d"),
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
    else:
        st.info("No reps loaded. Upload a reps (users) file to build territories.")


# --------------------------------------------------------------------------------------------
st.title("Data")
ds = get_dataset()
msg = st.session_state.pop("_data_loaded_msg", None)
if msg:
    st.success(msg, icon=":material/check_circle:")

top = st.columns([4, 1])
with top[0]:
    st.markdown(f"Active dataset: **{md(ds.name)}** · {len(ds.accounts):,} accounts · {len(ds.reps):,} reps · "
                f"{len(ds.opportunities):,} opportunities · {len(ds.account_products):,} product holdings")
with top[1]:
    if st.button("Use the sample data", key="data_use_sample", width="stretch",
                 help="Replace the active dataset with the built-in sample (6,000 accounts)."):
        try:
            set_dataset(load_sample())
            st.session_state["_data_loaded_msg"] = "Loaded the sample data."
        except (OSError, ValueError) as exc:
            st.error(f"The sample data could not be read ({md(exc)}). Run `.venv/bin/python scripts/make_sample.py`.")
        else:
            st.rerun()

tab_overview, tab_import, tab_contract = st.tabs(["What is loaded", "Import files", "Data contract"])
with tab_overview:
    try:
        _overview_section(ds)
    except Exception as exc:  # a malformed dataset must not show a traceback
        st.error(f"The loaded dataset could not be summarised ({type(exc).__name__}: {md(exc)}). "
                 "Reload the sample data or import the files again.")
with tab_import:
    try:
        _import_section(ds)
    except Exception as exc:  # last line of defence: the importer reports, this never shows a traceback
        st.error(f"Import failed unexpectedly ({type(exc).__name__}: {md(exc)}). Nothing was changed; "
                 f"the active dataset is still **{md(ds.name)}**. Check the file opens in a spreadsheet.")
with tab_contract:
    st.markdown("Canonical columns every page works with. Headers from Salesforce and HubSpot exports are "
                "recognised; other columns can be mapped on import. Extra numeric account columns are kept.")
    with st.expander("The data contract", expanded=True):
        st.markdown(describe_markdown())
