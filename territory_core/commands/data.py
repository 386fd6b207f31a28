"""``python -m territory_core data import|list|activate``: datasets saved in the store.

    data import --name NAME --accounts FILE --reps FILE [--opportunities FILE] [--products FILE]
                [--map SOURCE=canonical ...] [--note TEXT] [--activate]
    data list [NAME]
    data activate NAME[@VERSION] | --sample

``import`` validates the files (each file's remembered mapping applies, ``--map`` on top) and
stores them as the next version of NAME (a new dataset when NAME is new). Exit 0 saved, 1 the
files do not validate (the report is printed) or the store refused, 2 bad usage.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

HELP = "Datasets in the store: import files as a named, versioned dataset; list them; pick the active one."

FILES = (("accounts", "--accounts"), ("reps", "--reps"), ("opportunities", "--opportunities"),
         ("account_products", "--products"))


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="data_command", metavar="ACTION", parser_class=type(p))
    imp = sub.add_parser("import", help="validate files and save them as a dataset version",
                         description="Validate CRM files and save them in the store as the next version of "
                                     "dataset NAME (a new dataset when NAME is new).")
    imp.add_argument("--name", required=True, help="dataset name (e.g. 'FY27 CRM export')")
    imp.add_argument("--accounts", required=True, metavar="FILE", help="accounts file (CSV, TSV, .xlsx or .parquet)")
    imp.add_argument("--reps", required=True, metavar="FILE", help="reps / users file")
    imp.add_argument("--opportunities", "--opps", dest="opportunities", metavar="FILE", help="opportunities file")
    imp.add_argument("--products", dest="account_products", metavar="FILE", help="account products file")
    imp.add_argument("--map", dest="mapping", metavar="SOURCE=canonical", action="append", default=[],
                     help="map a source column to a canonical column, e.g. --map ARR__c=arr (repeatable; "
                          "SOURCE= ignores a column). Wins over the mapping remembered for the file.")
    imp.add_argument("--no-saved-mapping", action="store_true",
                     help="ignore the mappings remembered from earlier imports of the same files")
    imp.add_argument("--note", default="", help="a note stored with the version")
    imp.add_argument("--activate", action="store_true", help="make this version the dataset new app sessions open")
    imp.add_argument("--db", metavar="URL", help="database URL (default: $TERRITORY_DB_URL, else .territory/scenarios.db)")
    imp.add_argument("--max-issues", type=int, default=50, help="print at most this many issues (default 50)")
    lst = sub.add_parser("list", help="list the saved datasets (or the versions of one)",
                         description="List the saved datasets, or the versions of dataset NAME.")
    lst.add_argument("name", nargs="?", metavar="NAME", help="list the versions of this dataset")
    lst.add_argument("--db", metavar="URL", help="database URL")
    act = sub.add_parser("activate", help="make a dataset version the one new app sessions open",
                         description="Make NAME[@VERSION] (default: its latest version) the dataset new app sessions "
                                     "open; --sample goes back to the built-in sample.")
    act.add_argument("ref", nargs="?", metavar="NAME[@VERSION]")
    act.add_argument("--sample", action="store_true", help="open the built-in sample in new sessions")
    act.add_argument("--db", metavar="URL", help="database URL")


def _err(msg: str) -> None:
    print(f"error: {msg}", file=sys.stderr)


def _usage(msg: str) -> int:
    print(f"python -m territory_core data: error: {msg}", file=sys.stderr)
    return 2


def _counts(rows) -> str:
    parts = [f"{rows.get('accounts', 0):,} accounts", f"{rows.get('reps', 0):,} reps"]
    if rows.get("opportunities"):
        parts.append(f"{rows['opportunities']:,} opportunities")
    if rows.get("account_products"):
        parts.append(f"{rows['account_products']:,} product holdings")
    return ", ".join(parts)


def run(args) -> int:
    cmd = getattr(args, "data_command", None)
    if cmd == "import":
        return _import(args)
    if cmd == "list":
        return _list(args)
    if cmd == "activate":
        return _activate(args)
    return _usage("choose an action: import, list or activate (see --help).")


def _import(args) -> int:
    from ..contract import TABLES
    from ..ingest.mapping import parse_map_args
    from ..store.datasets import DatasetStore, clean_name, import_remembered
    from ..store.identity import current_user
    from ..store.storage import StorageError

    files = {t: getattr(args, t) for t, _flag in FILES}
    for (t, flag) in FILES:
        path = files[t]
        if path is not None and not Path(path).is_file():
            return _usage(f"{flag} {path}: no such file.")
    mapping, errors = parse_map_args(args.mapping)
    if errors:
        return _usage("; ".join(errors))
    known = {c for t in ("accounts", "reps", "opportunities", "account_products") for c in TABLES[t].names}
    for src, c in mapping.items():
        if c is not None and c not in known:
            return _usage(f"--map {src}={c}: '{c}' is not a canonical column. Known columns: {', '.join(sorted(known))}")
    try:
        name = clean_name(args.name)
    except StorageError as exc:
        return _usage(f"--name: {exc}")
    user = current_user()
    try:
        store = DatasetStore(args.db)
    except StorageError as exc:
        _err(str(exc))
        return 1
    try:
        imp = import_remembered(files, mapping=mapping, store=store, use_saved=not args.no_saved_mapping)
        for t, saved in imp.used.items():
            print(f"{t}: using your saved mapping from {saved.saved_at:%Y-%m-%d %H:%M} UTC"
                  f" (by {saved.saved_by}{', ' + saved.source if saved.source else ''}).")
        res = imp.result
        if imp.lost:
            for t, pairs in imp.lost.items():
                for canon, header in pairs:
                    _err(f"{t}: '{header}' was loaded as {canon} last time, but nothing feeds {canon} now, so it would "
                         f"load as nothing (0 on every row). Pass --map {header}={canon} to keep it, or --map {header}= "
                         "to load without it.")
            print("Nothing was saved.", file=sys.stderr)
            return 1
        if res.dataset is None or not res.report.ok:
            print(res.report.to_text(max_issues=args.max_issues), file=sys.stderr)
            print(f"Nothing was saved: fix the errors above (the file, or --map) and import again.", file=sys.stderr)
            return 1
        info = store.save(res.dataset, name=name, user=user, mapping=imp.mappings, sources=res.info,
                          validation=res.report, note=args.note)
        for t, mp in imp.mappings.items():
            headers = list(mp)
            store.remember_mapping(t, headers, mp, user=user, source=str(res.info.get(t, {}).get("file") or ""))
        if args.activate:
            store.set_active(info.id, info.version, user=user)
    except StorageError as exc:
        _err(str(exc))
        return 1
    finally:
        store.close()
    warn = len(res.report.warnings)
    print(f"Saved {info.label}: {_counts(info.rows)} from "
          f"{', '.join(s.get('file', '') for s in info.sources)} ({warn} warning{'s' if warn != 1 else ''}; "
          f"{info.stored_bytes / 1e6:.2f} MB stored).")
    if args.activate:
        print(f"{info.label} is now the dataset new app sessions open.")
    return 0


def _list(args) -> int:
    import pandas as pd

    from ..store.datasets import DatasetStore
    from ..store.storage import StorageError

    try:
        with DatasetStore(args.db) as store:
            if args.name:
                did = store.resolve(args.name)
                df = store.versions(did)
                title = store.info(did).name
            else:
                df = store.list_datasets()
                title = None
    except StorageError as exc:
        _err(str(exc))
        return 1
    if df.empty:
        print("No saved datasets yet. Import one: python -m territory_core data import --name NAME "
              "--accounts FILE --reps FILE")
        return 0
    show = df.copy()
    show["saved_at"] = show["saved_at"].dt.strftime("%Y-%m-%d %H:%M UTC")
    show["MB"] = (show["stored_bytes"] / 1e6).map(lambda v: f"{v:.2f}")
    if title is not None:
        print(f"Versions of {title}:")
        cols = ["version", "accounts", "reps", "opportunities", "saved_by", "saved_at", "MB", "sources", "note"]
    else:
        show["active"] = show["active"].map({True: "*", False: ""})
        cols = ["name", "version", "accounts", "reps", "opportunities", "saved_by", "saved_at", "MB", "active"]
    with pd.option_context("display.width", 200, "display.max_colwidth", 60):
        print(show[cols].to_string(index=False))
    if title is None:
        print("* the dataset new app sessions open (none marked: the built-in sample).")
    return 0


def _activate(args) -> int:
    from ..store.datasets import DatasetStore, parse_ref
    from ..store.identity import current_user
    from ..store.storage import StorageError

    if bool(args.ref) == bool(args.sample):
        return _usage("give NAME[@VERSION] or --sample.")
    try:
        with DatasetStore(args.db) as store:
            if args.sample:
                store.set_active(None, user=current_user())
                print("New app sessions open the built-in sample.")
                return 0
            name, version = parse_ref(args.ref)
            did, ver = store.set_active(name, version, user=current_user())
            print(f"New app sessions open {store.info(did, ver).label}.")
    except StorageError as exc:
        _err(str(exc))
        return 1
    return 0


# ------------------------------------------------------------------------------------------------
# Used by `solve --dataset NAME[@VERSION] --save-scenario NAME`
def stored_dataset(args, usage_error):
    """The dataset ``solve --dataset`` names (None when the files are given instead). Raises
    ``usage_error`` for a bad combination of options or an unknown dataset, ValueError when the
    store cannot be read."""
    from ..store.datasets import DatasetNotFound, DatasetStore, parse_ref
    from ..store.storage import StorageError, check_name

    ref = getattr(args, "dataset", None)
    save = getattr(args, "save_scenario", None)
    if save is not None:
        if not save.strip():
            raise usage_error("--save-scenario needs a scenario name.")
        try:
            check_name(save.strip())
        except StorageError as exc:
            raise usage_error(f"--save-scenario: {exc}") from None
    if not ref:
        if not (args.accounts and args.reps):
            raise usage_error("give --accounts FILE and --reps FILE, or --dataset NAME[@VERSION] (see `data list`).")
        if save is not None:
            raise usage_error("--save-scenario needs --dataset, so the plan can be reopened on its data: import the "
                              "files first (python -m territory_core data import --name NAME --accounts ... --reps ...).")
        return None
    if args.accounts or args.reps or args.opportunities or args.mapping:
        raise usage_error("--dataset replaces --accounts/--reps/--opportunities/--map: give one or the other.")
    name, version = parse_ref(ref)
    try:
        with DatasetStore(args.db) as store:
            return store.load(name, version)
    except DatasetNotFound as exc:
        raise usage_error(str(exc)) from None
    except StorageError as exc:
        raise ValueError(str(exc)) from None


def save_scenario(args, dataset, settings, res, report: dict) -> int:
    """Save a CLI solve as a scenario version on its stored dataset; prints what it saved."""
    from ..contract import ASSIGNMENT
    from ..dataset import coerce_types
    from ..plan.scenarios import Scenario, dataset_fingerprint
    from ..store.identity import current_user
    from ..store.storage import ScenarioNotFound, ScenarioStore, StorageError

    name = args.save_scenario.strip()
    sc = Scenario(name=name, settings={"solver": settings.to_dict()},
                  assignment=coerce_types(res.assignment, ASSIGNMENT), report=report,
                  input_fingerprint=dataset_fingerprint(dataset), dataset_id=dataset.dataset_id,
                  dataset_version=dataset.version, description=f"Solved from the command line on {dataset.label}")
    try:
        with ScenarioStore(args.db) as store:
            try:
                prev = store.load(store.resolve(name))
            except ScenarioNotFound:
                prev = None
            if prev is not None:
                sc = sc.with_(id=prev.id, version=prev.version, parent_id=prev.parent_id,
                              parent_version=prev.parent_version)
            saved = store.save(sc, user=current_user(), expected_version=sc.version,
                               note=f"solve --dataset {dataset.label}")
    except StorageError as exc:
        _err(f"the plan was not saved: {exc}")
        return 1
    print(f"Saved scenario {saved.label} on dataset {dataset.label}.")
    return 0
