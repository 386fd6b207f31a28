"""``python -m territory_core export``: a saved scenario (or an assignment file) as a CRM upload
file (CSV, Excel, Salesforce Data Loader) or a one-page HTML summary."""
from __future__ import annotations

import argparse
import re
import sys
from datetime import date
from pathlib import Path

import pandas as pd

from territory_core.text import printable

HELP = "Export a saved scenario (or an assignment file) for CRM upload (csv, xlsx, salesforce) or as an HTML summary."

FORMATS = ("csv", "xlsx", "salesforce", "html")


def add_arguments(p: argparse.ArgumentParser) -> None:
    src = p.add_argument_group("what to export (one of)")
    src.add_argument("--scenario", metavar="NAME_OR_ID", help="saved scenario, by name or id")
    src.add_argument("--assignment", metavar="FILE",
                     help="assignment CSV/XLSX instead of a saved scenario (account_id, rep_id; optional "
                          "previous_rep_id, reason; Salesforce Id/OwnerId headers also work)")
    p.add_argument("--version", type=int, metavar="N", help="scenario version (default: the latest)")
    p.add_argument("--db", metavar="URL", help="database URL (default: $TERRITORY_DB_URL, else .territory/scenarios.db)")
    data = p.add_argument_group("the dataset (names of accounts and reps; default: the scenario's own saved "
                                "dataset, else the sample data)")
    data.add_argument("--data", metavar="DIR", help="folder with canonical accounts.csv and reps.csv")
    data.add_argument("--accounts", metavar="FILE", help="accounts CSV/XLSX")
    data.add_argument("--reps", metavar="FILE", help="reps CSV/XLSX")
    p.add_argument("--format", choices=FORMATS, help="output format (default: from --out's extension, else csv)")
    p.add_argument("--effective-date", metavar="YYYY-MM-DD", help="effective date of the new owners (default: today)")
    p.add_argument("--only-moved", action="store_true",
                   help="only accounts whose owner changes (the default for --format salesforce, a CRM upload)")
    p.add_argument("--all-rows", action="store_true",
                   help="every account, unchanged owners too (a full reload), also for --format salesforce")
    p.add_argument("--owner-map", action="append", default=[], metavar="PLACEHOLDER=USER_ID",
                   help="the CRM user id of a placeholder new hire, e.g. --owner-map TBH-1=0055g00000ABCDe (repeatable); "
                        "a Salesforce file refuses placeholder owners that are not mapped")
    p.add_argument("--to-assign", metavar="FILE",
                   help="write the rows whose new owner is still a placeholder to this file (CSV) and leave them out "
                        "of --out, instead of refusing")
    p.add_argument("--out", metavar="FILE", help="file to write (required unless --list)")
    p.add_argument("--list", action="store_true", help="list the saved scenarios (id, name, latest version, who, when) and exit")


def _norm(s) -> str:
    return re.sub(r"[^a-z0-9]", "", str(s).lower())


def _read_table(path: str, table) -> pd.DataFrame:
    from territory_core.dataset import coerce_types

    f = Path(path)
    if not f.is_file():
        raise ValueError(f"{table.name} file {path!r} does not exist.")
    try:
        if f.suffix.lower() in (".xlsx", ".xlsm", ".xls"):
            raw = pd.read_excel(f, dtype=str)
        else:
            raw = pd.read_csv(f, dtype=str, keep_default_na=True, encoding="utf-8-sig")
    except Exception as exc:  # unreadable file: say which
        raise ValueError(f"Cannot read {table.name} file {path!r}: {exc}") from None
    lookup = {}
    for c in table.columns:
        for alias in (c.name, *c.aliases):
            lookup.setdefault(_norm(alias), c.name)
    rename, taken = {}, set()
    for col in raw.columns:
        target = lookup.get(_norm(col))
        if target and target not in taken:
            rename[col] = target
            taken.add(target)
    df = raw.rename(columns=rename)
    missing = [c for c in table.required if c not in df.columns]
    if missing:
        raise ValueError(f"{table.name} file {path!r} has no column for {', '.join(missing)} "
                         f"(found: {', '.join(map(str, raw.columns[:15]))}). Rename the header or use the "
                         "canonical names from the data contract.")
    return coerce_types(df[[c for c in df.columns if c in table.names]], table)


def _dataset(args):
    from territory_core.dataset import load_dir, load_sample

    if args.accounts or args.reps:
        if not (args.accounts and args.reps):
            raise _Usage("--accounts and --reps go together (give both files).")
        try:
            from territory_core.ingest.importer import load_files
        except ImportError:  # import pipeline unavailable: canonical headers only
            return _dataset_plain(args)
        for label, f in (("accounts", args.accounts), ("reps", args.reps)):
            if not Path(f).is_file():
                raise ValueError(f"{label} file {f!r} does not exist.")
        res = load_files(accounts=args.accounts, reps=args.reps, name=Path(args.accounts).stem)
        if res.dataset is None:
            raise ValueError("the accounts/reps files cannot be loaded:\n" + res.report.to_text(max_issues=8))
        return res.dataset
    if args.data:
        d = Path(args.data)
        if not (d / "accounts.csv").is_file() or not (d / "reps.csv").is_file():
            raise ValueError(f"--data {args.data!r} must be a folder with accounts.csv and reps.csv.")
        return load_dir(d)
    return load_sample()


def _dataset_plain(args):
    from territory_core.contract import ACCOUNT_PRODUCTS, ACCOUNTS, OPPORTUNITIES, REPS
    from territory_core.dataset import Dataset, empty_frame

    return Dataset(_read_table(args.accounts, ACCOUNTS), _read_table(args.reps, REPS),
                   empty_frame(OPPORTUNITIES), empty_frame(ACCOUNT_PRODUCTS), name=Path(args.accounts).stem)


def _ids_as_in(assignment: pd.DataFrame, ds) -> pd.DataFrame:
    """The assignment's account and rep ids in the dataset's own form: a plan written with
    15-character ids exports the 18-character ids of an 18-character accounts file."""
    from territory_core.ingest.ids import match_ids

    out = assignment.copy()
    for col, known in (("account_id", ds.accounts["account_id"]), ("rep_id", ds.reps["rep_id"]),
                       ("previous_rep_id", ds.reps["rep_id"])):
        if col in out.columns:
            out[col] = match_ids(out[col], known.dropna().astype(str))[0]
    return out


def _assignment_from_file(path: str):
    from territory_core.contract import ASSIGNMENT
    from territory_core.dataset import coerce_types
    from territory_core.plan.scenarios import Scenario

    f = Path(path)
    if not f.is_file():
        raise ValueError(f"assignment file {path!r} does not exist.")
    try:
        raw = pd.read_excel(f, dtype=str) if f.suffix.lower() in (".xlsx", ".xls") else \
            pd.read_csv(f, dtype=str, encoding="utf-8-sig")
    except Exception as exc:
        raise ValueError(f"Cannot read assignment file {path!r}: {exc}") from None
    names = {_norm(c): c for c in raw.columns}

    def pick(*cands):
        for c in cands:
            if _norm(c) in names:
                return names[_norm(c)]
        return None

    acc = pick("account_id", "Id", "AccountId", "Account ID")
    rep = pick("rep_id", "new_owner_id", "OwnerId", "Owner ID", "owner_id")
    if not acc or not rep:
        raise ValueError(f"assignment file {path!r} needs an account column (account_id or Id) and a rep column "
                         f"(rep_id, new_owner_id or OwnerId); found: {', '.join(map(str, raw.columns[:15]))}.")
    try:  # the same id cleaning as the import (Excel's "123.0"); 15/18 forms are matched to the dataset later
        from territory_core.ingest.normalize import normalize_ids as ids
    except ImportError:
        def ids(x):
            return x.astype("string").str.strip()
    df = pd.DataFrame({"account_id": ids(raw[acc]), "rep_id": ids(raw[rep])})
    prev = pick("previous_rep_id", "previous_owner_id")
    if prev:
        df["previous_rep_id"] = ids(raw[prev])
    why = pick("reason")
    if why:
        df["reason"] = raw[why]
    blank = (df["account_id"].fillna("").eq("") | df["rep_id"].fillna("").eq("")).to_numpy(dtype=bool)
    if blank.any():
        rows = ", ".join(str(i + 2) for i in df.index[blank][:5])
        raise ValueError(f"assignment file {path!r}: blank account or rep id on line(s) {rows}. Fill or delete them.")
    dup = df["account_id"].duplicated()
    if dup.any():
        raise ValueError(f"assignment file {path!r}: account {df['account_id'][dup].iloc[0]!r} appears more than once.")
    return Scenario(name=f.stem, assignment=coerce_types(df, ASSIGNMENT))


class _Usage(Exception):
    pass


def run(args) -> int:
    from territory_core.plan.export import (apply_owner_map, assignment_export, salesforce_loader, scenario_summary_html,
                                            split_placeholders, to_csv_bytes, to_excel_bytes)
    from territory_core.plan.scenarios import dataset_fingerprint, scenario_kpis
    from territory_core.store.storage import ScenarioStore, StorageError

    err = sys.stderr
    owner_map = {}
    for item in args.owner_map or []:
        k, sep, v = str(item).partition("=")
        if not sep or not k.strip() or not v.strip():
            print(f"python -m territory_core export: error: --owner-map {item!r}: write PLACEHOLDER=USER_ID, e.g. "
                  "TBH-1=0055g00000ABCDe", file=err)
            return 2
        owner_map[k.strip()] = v.strip()
    if args.list:
        try:
            store = ScenarioStore(args.db)
            try:
                df = store.list_scenarios()
            finally:
                store.close()
        except StorageError as exc:
            print(f"error: {exc}", file=err)
            return 1
        if df.empty:
            print("No saved scenarios yet.")
            return 0
        show = df[["id", "name", "latest_version", "saved_by", "saved_at", "parent"]].copy()
        show["saved_at"] = show["saved_at"].dt.strftime("%Y-%m-%d %H:%M UTC")
        for c in ("id", "name", "saved_by", "parent"):
            show[c] = show[c].map(lambda v: v if v is None or (isinstance(v, float) and pd.isna(v)) else printable(v))
        print(show.to_string(index=False))
        return 0
    try:
        if not args.out:
            raise _Usage("--out FILE is required (the file to write).")
        if bool(args.scenario) == bool(args.assignment):
            raise _Usage("give exactly one of --scenario NAME_OR_ID or --assignment FILE.")
        if args.version is not None and not args.scenario:
            raise _Usage("--version needs --scenario.")
        if args.only_moved and args.all_rows:
            raise _Usage("--only-moved and --all-rows contradict each other; give one.")
        if args.version is not None and args.version < 1:
            raise _Usage("--version must be 1 or more.")
        fmt = args.format
        out = Path(args.out)
        if not fmt:
            fmt = {".xlsx": "xlsx", ".html": "html", ".htm": "html"}.get(out.suffix.lower(), "csv")
        eff = args.effective_date or date.today().isoformat()
        try:
            eff = date.fromisoformat(eff).isoformat()
        except ValueError:
            raise _Usage(f"--effective-date {args.effective_date!r} is not a date; use YYYY-MM-DD.") from None
    except _Usage as exc:
        print(f"python -m territory_core export: error: {exc}", file=err)
        return 2

    try:
        own = None
        if args.scenario:
            from territory_core.store.datasets import DatasetStore, data_for_scenario

            store = ScenarioStore(args.db)
            try:
                sid = store.resolve(args.scenario)
                sc = store.load(sid, args.version)
                if not (args.accounts or args.reps or args.data):
                    own = data_for_scenario(sc, DatasetStore(store))  # the data it was solved on
            finally:
                store.close()
        ds = own if own is not None else _dataset(args)
        if args.scenario:
            if own is None and sc.input_fingerprint and sc.input_fingerprint != dataset_fingerprint(ds):
                if args.accounts or args.reps or args.data:
                    print(f"warning: {sc.label!r} was solved on a different dataset than {ds.name!r}; "
                          "names and previous owners come from the dataset given here.", file=err)
                else:
                    print(f"warning: {sc.label!r} was solved on data that was never saved in the store, so names and "
                          f"previous owners come from {ds.name!r}; pass --accounts and --reps (or --data) with the "
                          "files it was solved on.", file=err)
        else:
            sc = _assignment_from_file(args.assignment)
        if sc.assignment is None:
            print(f"error: {sc.label!r} has no assignment (it was saved without a solution); re-solve and save it.", file=err)
            return 1
        sc = sc.with_(assignment=_ids_as_in(sc.assignment, ds))
        known = set(ds.accounts["account_id"].astype(str))
        unknown = (~sc.assignment["account_id"].astype(str).isin(known)).sum()
        if unknown:
            print(f"warning: {unknown:,} assigned account(s) are not in the dataset {ds.name!r}; their names are blank.",
                  file=err)
        if fmt == "html":
            from territory_core.plan.scenarios import scenario_enriched

            enriched = scenario_enriched(ds, sc)
            data = scenario_summary_html(ds, sc, scenario_kpis(ds, sc, enriched), enriched=enriched).encode("utf-8")
            rows = None
        else:
            only = args.only_moved or (fmt == "salesforce" and not args.all_rows)  # a CRM upload: the changes
            df = apply_owner_map(assignment_export(sc, ds, eff, only_moved=only), owner_map)
            held = None
            if args.to_assign:
                df, held = split_placeholders(df)
            rows = len(df)
            moved = int((df["previous_owner_id"].fillna("") != df["new_owner_id"].fillna("")).sum())
            if fmt == "xlsx":
                data = to_excel_bytes(df)
            elif fmt == "salesforce":
                df = salesforce_loader(df)
                rows = len(df)
                data = to_csv_bytes(df)
            else:
                data = to_csv_bytes(df)
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(out.name + ".tmp")
        tmp.write_bytes(data)
        tmp.replace(out)
        if fmt != "html" and held is not None:
            Path(args.to_assign).write_bytes(to_csv_bytes(held))
            print(f"Wrote {len(held):,} rows whose new owner is a placeholder to {args.to_assign} (to assign).")
    except StorageError as exc:
        print(f"error: {exc}", file=err)
        return 1
    except _Usage as exc:
        print(f"python -m territory_core export: error: {exc}", file=err)
        return 2
    except (ValueError, OSError) as exc:
        print(f"error: {exc}", file=err)
        return 1
    what = f"{rows:,} rows ({moved:,} moved)" if rows is not None and fmt != "salesforce" else (
        f"{rows:,} rows ({moved:,} owner changes)" if rows is not None else "summary")
    on = f" on dataset {printable(ds.label)}" if getattr(ds, "version", None) else ""
    print(f"Wrote {what} of {printable(sc.label)}{on} to {out} ({fmt}).")
    return 0
