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
from territory_core.ingest.importer import MAX_BYTES, ReadResult, load_files, read_table
from territory_core.ingest.mapping import combined_columns, guess_table, lost_money_columns, with_saved
from territory_core.ingest.normalize import is_numeric_column
from territory_core.ingest.owners import add_reps_for_owners, rep_coverage
from territory_core.store.storage import StorageError
from ui import format as fmt
from ui.format import md
from ui.state import (dataset_version, get_dataset, get_dataset_store, get_setting, load_stored, sample_dataset,
                      set_dataset, share_stored)

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


def _saved_mapping(kind: str, headers: list[str]):
    """The mapping remembered for this kind of file with these headers (None when there is none or
    the store cannot be read)."""
    try:
        return get_dataset_store().saved_mapping(kind, headers)
    except Exception:
        return None


def _current_mapping(fkey: str, kind: str, headers: list[str], saved=None) -> dict[str, str | None]:
    """The mapping as it stands: the user's choice where a dropdown was set, else the remembered
    mapping (``saved``), else the guess. Read before the dropdowns draw, so counts and labels above
    them are never one step behind."""
    guess = with_saved(headers, kind, saved.mapping if saved else None)
    out = {}
    for h in headers:
        v = st.session_state.get(_widget_key(fkey, kind, h))
        out[h] = guess.get(h) if v is None else (None if v == IGNORE else v)
    return out


def _mapping_widgets(fkey: str, kind: str, headers: list[str], frame: pd.DataFrame,
                     saved=None) -> dict[str, str | None]:
    """One selectbox per file column that matters, preset to the remembered mapping (``saved``) or
    else the guess; returns {header: canonical or None} for every column (the ones without a
    dropdown stay ignored). Columns joined into one field (First name + Last name -> name) say so in
    their dropdown."""
    guess = with_saved(headers, kind, saved.mapping if saved else None)
    now = _current_mapping(fkey, kind, headers, saved)
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
            val = st.selectbox(  # the file's header and cells are the user's text: labels and help read Markdown
                md(h), options, index=options.index(default) if default in options else 0, key=key,
                format_func=(lambda o, c=part_of: f"(joined into {c})" if o == IGNORE else o) if part_of else str,
                help=("e.g. " + md(", ".join(s[:30] for s in sample))) if sample else "empty column",
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
    gen = st.session_state.get("_data_upload_gen", 0)  # a new uploader, empty, after each load
    files = st.file_uploader(
        "CRM export files", accept_multiple_files=True, key="data_upload" if not gen else f"data_upload_{gen}",
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
    remember: dict[str, tuple] = {}  # kind -> (headers, mapping, file name): remembered on Load
    questions: list[bool] = []  # one per money column a saved mapping fed and this one drops: answered?
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
                show = {"error": st.error, "warning": st.warning}.get(sev, st.caption)
                show(fmt.md(f"{msg} {fix}".strip()))
            saved = _saved_mapping(kind, headers)
            if saved is not None:
                st.caption(f"Using your saved mapping from {saved.saved_at:%d %b %Y %H:%M} UTC "
                           f"(saved by {md(saved.saved_by)}).")
            now = _current_mapping(fkey, kind, headers, saved)
            n_joined = sum(len(p) for p in combined_columns(headers, now, kind).values())
            n_used = sum(1 for c in now.values() if c) + n_joined
            with st.expander(f"Column mapping ({n_used} of {len(headers)} columns used)", expanded=True):
                mp = _mapping_widgets(fkey, kind, headers, r.frame, saved)
                if kind == "accounts":
                    kept = [h for h, c in mp.items() if c is None and is_numeric_column(r.frame[h])]
                    if kept:
                        st.caption("Numeric columns left at (ignore) are kept as extra account columns, "
                                   f"so you can balance on them: {md(', '.join(kept))}")
            for canon, header in (lost_money_columns(saved.mapping, mp, kind) if saved else []):
                questions.append(_lost_money_question(fkey, kind, header, canon, saved))
        kinds_used.setdefault(kind, []).append(r.name)
        preread[kind] = r
        mappings[kind] = mp
        remember[kind] = (headers, mp, r.name)

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
                           file_name="validation_report.csv", mime="text/csv", key="data_report_csv", on_click="ignore")

    st.subheader("3. Save and load", divider="gray")
    target = _save_target(current, result, [r.name for k, r in preread.items() if k in kinds_used])
    unanswered = questions.count(False)
    if unanswered:
        st.warning(f"Answer the question{'s' if unanswered > 1 else ''} about the money column"
                   f"{'s' if unanswered > 1 else ''} in step 1 before loading.", icon=":material/help:")
    if st.button("Load this data", type="primary",
                 disabled=not (report.ok and result.dataset is not None) or unanswered > 0 or target is None,
                 key="data_load", help="Saves the data in the store as a dataset version and makes it the active "
                                       "dataset of this session. Disabled while errors block."):
        _save_and_load(result, target, remember)


def _set_mapping(key: str, canon: str) -> None:
    st.session_state[key] = canon


def _lost_money_question(fkey: str, kind: str, header: str, canon: str, saved) -> bool:
    """A blocking question: the remembered mapping loaded ``header`` as the money column ``canon``
    and the mapping now leaves ``canon`` empty. True once answered (load without it)."""
    with st.container(border=True):
        st.warning(f"Last time **{md(header)}** was loaded as **{canon}** (your saved mapping from "
                   f"{saved.saved_at:%d %b %Y}). Now nothing is mapped to {canon}, so it would load as nothing "
                   f"(0 on every row).", icon=":material/help:")
        c1, c2 = st.columns(2)
        c1.button(f"Map {md(header)} to {canon} again", key=f"lost::{fkey}::{canon}::remap",
                  on_click=_set_mapping, args=(f"map::{fkey}::{kind}::{header}", canon))
        return c2.checkbox(f"Load without {canon}", key=f"lost::{fkey}::{canon}::ok",
                           help=f"Load the data with no {canon}; the mapping is remembered that way.")


def _stored_list():
    try:
        return get_dataset_store().list_datasets(), None
    except Exception as exc:
        return None, exc


def _save_target(current, result, file_names: list[str]):
    """The save choice: ("new", name) or ("version", dataset id), or ("memory", None) when the store
    cannot be written; None while the choice is not valid (blank name)."""
    saved, exc = _stored_list()
    if saved is None:
        st.warning(f"The dataset store could not be read ({md(exc)}), so this data can be loaded for this session "
                   "only and is lost when the session ends.", icon=":material/warning:")
        return ("memory", None)
    names = dict(zip(saved["id"], saved["name"]))
    choices = ["new"] + (["version"] if len(saved) else [])
    same_files = bool(current.dataset_id) and current.dataset_id in names and _sources_of(current) == sorted(file_names)
    how = st.radio("Save as", choices, horizontal=True, key="data_save_how", index=1 if same_files else 0,
                   format_func=lambda c: "a new dataset" if c == "new" else "a new version of a saved dataset")
    if how == "version":
        ids = list(saved["id"])
        default = ids.index(current.dataset_id) if current.dataset_id in ids else 0
        did = st.selectbox("Dataset", ids, index=default, key="data_save_of",
                           format_func=lambda i: f"{names[i]} (now version {int(saved.set_index('id').loc[i, 'version'])})")
        st.caption(f"Saves version {int(saved.set_index('id').loc[did, 'version']) + 1} of {md(names[did])}; the "
                   "earlier versions, and the scenarios solved on them, stay as they are.")
        return ("version", did)
    default = result.dataset.name if result.dataset is not None else "Imported data"
    taken = {n.casefold() for n in saved["name"]}
    if default.casefold() in taken:
        i = 2
        while f"{default} ({i})".casefold() in taken:
            i += 1
        default = f"{default} ({i})"
    name = st.text_input("Dataset name", value=default, key=f"data_save_name::{default}", max_chars=200)
    if not name.strip():
        st.error("Give the dataset a name.")
        return None
    if name.strip().casefold() in taken:
        st.error(f"A dataset named {md(name.strip())} already exists: pick another name, or save as a new version of it.")
        return None
    return ("new", name.strip())


def _sources_of(ds) -> list[str]:
    try:
        info = get_dataset_store().info(ds.dataset_id, ds.version)
    except Exception:
        return []
    return sorted(s.get("file", "") for s in info.sources if s.get("file"))


def _loaded() -> None:
    """After a load: the files are in, so the uploader starts empty again and the session lets go of
    their parse and check (at 50,000 accounts, tens of MB, and a second check of the same files
    against the data they just became)."""
    st.session_state["_data_upload_gen"] = st.session_state.get("_data_upload_gen", 0) + 1
    for k in ("_data_reads", "_data_result", "_data_result_sig"):
        st.session_state.pop(k, None)
    # every analysis page starts from the scored accounts: score them now, in the background
    from territory_core.analyse.scoring import ScoringConfig
    from territory_core.analyse.segments import SegmentRules
    from ui.cache import prefetch_enriched, trim_memory

    trim_memory()  # the parse and check just dropped

    prefetch_enriched(get_dataset(), get_setting("scoring", ScoringConfig).to_dict(),
                      get_setting("segment_rules", SegmentRules.default).to_dict())


def _save_and_load(result, target, remember) -> None:
    """Save the checked data as a dataset version, remember each file's mapping, make it active."""
    from ui.scenario_widgets import current_user_name

    ds = result.dataset
    counts = (f"{len(ds.accounts):,} accounts, {len(ds.reps):,} reps and {len(ds.opportunities):,} opportunities")
    kind, arg = target
    if kind == "memory":
        set_dataset(ds)
        st.session_state["_data_loaded_msg"] = f"Loaded {counts} for this session only (not saved in the store)."
        _loaded()
        st.rerun()
    user = current_user_name()
    store = get_dataset_store()
    try:
        kw = dict(user=user, mapping={k: m for k, (_h, m, _n) in remember.items()}, sources=result.info,
                  validation=result.report)
        info = store.create(ds, name=arg, **kw) if kind == "new" else store.add_version(arg, ds, **kw)
    except StorageError as exc:
        st.error(f"Not saved: {md(exc)}", icon=":material/error:")
        return
    for k, (headers, mp, fname) in remember.items():
        try:
            store.remember_mapping(k, headers, mp, user=user, source=fname)
        except StorageError:
            pass  # the data is saved; the mapping is offered again next time at worst
    # the process's copy of the saved version: sessions opening it next share it (no second copy)
    set_dataset(share_stored(ds.with_(name=info.name, dataset_id=info.id, version=info.version)))
    st.session_state["_data_loaded_msg"] = f"Loaded {counts}. Saved as dataset {md(info.label)}."
    _loaded()
    st.rerun()


# --------------------------------------------------------------------------------------------
# Saved datasets
SAMPLE = "__sample__"


def _saved_section(ds) -> None:
    from ui.scenario_widgets import current_user_name

    saved, exc = _stored_list()
    if saved is None:
        st.error(f"The saved datasets could not be read: {md(exc)}")
        return
    try:
        active = get_dataset_store().active()
    except Exception:
        active = None
    st.caption("Every loaded dataset is saved here, versioned. A saved scenario names the dataset version it was "
               "solved on and reopens on it for everyone. The dataset marked active is the one everybody starts on "
               "when they open the app (with none marked, the built-in sample).")
    if saved.empty:
        st.info("No saved datasets yet: load files under Import files and they are saved here.")
    else:
        table = pd.DataFrame({
            "active": saved["active"].map({True: "●", False: ""}),
            "dataset": saved["name"], "version": saved["version"], "accounts": saved["accounts"],
            "reps": saved["reps"], "opportunities": saved["opportunities"], "saved by": saved["saved_by"],
            "saved at": saved["saved_at"].dt.tz_convert(None), "MB": saved["stored_bytes"] / 1e6,
            "files": saved["sources"]})
        st.dataframe(table, hide_index=True, width="stretch", key="data_saved_table",
                     column_config={"saved at": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm"),
                                    "MB": st.column_config.NumberColumn(format="%.2f"),
                                    "accounts": st.column_config.NumberColumn(format="localized"),
                                    "opportunities": st.column_config.NumberColumn(format="localized"),
                                    "active": st.column_config.TextColumn("active", width="small")})
    names = dict(zip(saved["id"], saved["name"]))
    ids = [SAMPLE] + list(saved["id"])
    cur = ds.dataset_id if ds.dataset_id in names else (ids[1] if len(ids) > 1 else SAMPLE)
    c1, c2, c3 = st.columns([3, 1, 2], vertical_alignment="bottom")
    pick = c1.selectbox("Dataset", ids, index=ids.index(cur), key="data_pick",
                        format_func=lambda i: "Sample data (built in)" if i == SAMPLE else names[i])
    version = None
    if pick != SAMPLE:
        vers = get_dataset_store().versions(pick)
        latest = int(vers["version"].iloc[0])
        version = c2.selectbox("Version", list(vers["version"]), key=f"data_pick_v::{pick}::{latest}",
                               format_func=lambda v: f"v{v}" + (" (latest)" if v == latest else ""))
    if c3.button("Make active", type="primary", key="data_make_active", width="stretch",
                 help="Opens it in this session, and everyone who opens the app from now on starts on it. Sessions "
                      "already open keep their data until they switch."):
        try:
            get_dataset_store().set_active(None if pick == SAMPLE else pick, version, user=current_user_name())
            new = sample_dataset() if pick == SAMPLE else load_stored(pick, version)
        except Exception as exc:
            st.error(f"Could not make it active: {md(exc)}")
        else:
            set_dataset(new)
            st.session_state["_data_loaded_msg"] = (f"{md(new.label)} is now the active dataset: everyone who opens "
                                                    "the app from now on starts on it.")
            st.rerun()
    if active is None and not saved.empty:
        st.caption("No dataset is marked active, so new sessions start on the built-in sample.")
    if pick != SAMPLE:
        st.markdown(f"**Versions of {md(names[pick])}**")
        shown = pd.DataFrame({
            "version": vers["version"], "accounts": vers["accounts"], "reps": vers["reps"],
            "opportunities": vers["opportunities"], "product holdings": vers["account_products"],
            "saved by": vers["saved_by"], "saved at": vers["saved_at"].dt.tz_convert(None),
            "files": vers["sources"], "warnings": vers["warnings"], "MB": vers["stored_bytes"] / 1e6,
            "note": vers["note"]})
        if vers["distances"].any():
            shown.insert(5, "distances", vers["distances"])
        st.dataframe(shown, hide_index=True, width="stretch", key="data_versions",
                     column_config={"saved at": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm"),
                                    "MB": st.column_config.NumberColumn(format="%.2f"),
                                    "accounts": st.column_config.NumberColumn(format="localized"),
                                    "opportunities": st.column_config.NumberColumn(format="localized"),
                                    "warnings": st.column_config.NumberColumn(format="%d")})


# --------------------------------------------------------------------------------------------
# Overview
def _active(reps: pd.DataFrame) -> pd.Series:
    """Which reps are active (no active column, or a blank in it: active)."""
    return reps[R.active].fillna(True).astype(bool) if R.active in reps else pd.Series(True, index=reps.index)


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
    active = _active(reps)
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
        _books_chart(reps)


def _books_chart(reps: pd.DataFrame) -> None:
    """Today's books at a glance: ARR per rep (accounts when the data has no ARR), largest first, with
    the average and each book's accounts (on a first import, how uneven the books are is the first thing a planner looks for). It is also
    the app's first chart: the chart library loads with the landing page, not with the first page
    opened after it (about a second in this browser)."""
    import plotly.graph_objects as go

    if reps.empty:
        return
    active = _active(reps)
    b = reps.loc[active.to_numpy()].copy()
    if b.empty:
        return
    ids = b[R.rep_id].astype(str)
    names = (b[R.name].astype("string").fillna(ids) if R.name in b else ids).astype(str)
    dup = names.duplicated(keep=False)
    b["label"] = names.where(~dup, names + " (" + ids + ")").map(fmt.plot_text)
    # ARR when the data has it; otherwise the number of accounts (a chart of zeros says nothing)
    by_arr = float(b["book_arr"].sum()) > 0
    col = "book_arr" if by_arr else "accounts"
    b = b.sort_values([col, "accounts"], ascending=False)
    avg = float(b[col].mean())
    fig = go.Figure(go.Bar(
        x=b["label"].tolist(), y=b[col].to_numpy(dtype=float), marker_color="#2563eb",
        customdata=b[["accounts", "customers", "book_arr"]].to_numpy(dtype=float),
        hovertemplate="%{x}<br>ARR $%{customdata[2]:,.0f}<br>%{customdata[0]:,.0f} accounts, %{customdata[1]:,.0f} "
                      "customers<extra></extra>"))
    fig.add_hline(y=avg, line_dash="dash", line_color="#6b7280",
                  annotation_text=f"average {money(avg) if by_arr else f'{avg:,.0f}'}", annotation_position="top right")
    what = "ARR" if by_arr else "accounts (no ARR in this data)"
    fig.update_layout(title=f"Books today: {what} per active rep ({len(b):,}), largest first", height=340,
                      margin=dict(l=10, r=10, t=50, b=10),
                      yaxis=dict(title="ARR ($)", tickformat="$.2s") if by_arr else dict(title="Accounts"),
                      xaxis=dict(tickangle=-45, tickfont=dict(size=10)))
    st.plotly_chart(fig, key="data_books_chart", config={"displayModeBar": False})


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
    st.markdown(f"Active dataset: **{md(ds.name)}**" + (f" · version {ds.version}" if ds.version else "")
                + f" · {len(ds.accounts):,} accounts · {len(ds.reps):,} reps · "
                f"{len(ds.opportunities):,} opportunities · {len(ds.account_products):,} product holdings")
with top[1]:
    if st.button("Use the sample data", key="data_use_sample", width="stretch",
                 help="Replace the active dataset of this session with the built-in sample (6,000 accounts)."):
        try:
            set_dataset(sample_dataset())
            st.session_state["_data_loaded_msg"] = "Loaded the sample data."
        except (OSError, ValueError) as exc:
            st.error(f"The sample data could not be read ({md(exc)}). Run `.venv/bin/python scripts/make_sample.py`.")
        else:
            st.rerun()

tab_overview, tab_saved, tab_import, tab_contract = st.tabs(["What is loaded", "Saved datasets", "Import files",
                                                             "Data contract"])
with tab_saved:
    try:
        _saved_section(ds)
    except Exception as exc:  # never a traceback: the store's own messages say what to do
        st.error(f"The saved datasets could not be shown: {md(exc)}")
with tab_overview:
    try:
        _overview_section(ds)
    except Exception as exc:  # a malformed dataset must not show a traceback
        st.error(f"The loaded dataset could not be summarised ({md(exc)}). "
                 "Reload the sample data or import the files again.")
with tab_import:
    try:
        _import_section(ds)
    except Exception as exc:  # last line of defence: the importer reports, this never shows a traceback
        st.error(f"Import failed unexpectedly ({md(exc)}). Nothing was changed; "
                 f"the active dataset is still **{md(ds.name)}**. Check the file opens in a spreadsheet.")
with tab_contract:
    st.markdown("Canonical columns every page works with. Headers from Salesforce and HubSpot exports are "
                "recognised; other columns can be mapped on import. Extra numeric account columns are kept.")
    with st.expander("The data contract", expanded=True):
        st.markdown(describe_markdown())
