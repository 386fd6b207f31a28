"""``python -m territory_core validate ACCOUNTS [--reps F] [--opportunities F] [--products F] [--map SRC=canonical ...]``

Prints the validation report. Exit 0 when nothing blocks (warnings allowed), 1 when something
does, 2 on bad usage (a file that does not exist, a malformed --map).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

HELP = "Check CRM export files (accounts, reps, opportunities, products) and print the validation report."


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("accounts", metavar="ACCOUNTS", help="accounts file (CSV, TSV, .xlsx or .parquet)")
    p.add_argument("--reps", metavar="FILE", help="reps / users file")
    p.add_argument("--opportunities", "--opps", dest="opportunities", metavar="FILE", help="opportunities file")
    p.add_argument("--products", dest="account_products", metavar="FILE",
                   help="account products file (account_id, product, arr)")
    p.add_argument("--map", dest="mapping", metavar="SOURCE=canonical", action="append", default=[],
                   help="map a source column to a canonical column, e.g. --map ARR__c=arr "
                        "(repeatable; SOURCE= ignores a column)")
    p.add_argument("--format", choices=("text", "json", "csv"), default="text",
                   help="report format (default text)")
    p.add_argument("--max-issues", type=int, default=200, help="list at most this many issues in text format")


def run(args) -> int:
    from ..ingest.importer import load_files
    from ..ingest.mapping import combined_columns, parse_map_args

    files = {k: getattr(args, k) for k in ("accounts", "reps", "opportunities", "account_products")}
    for key, path in files.items():
        if path is None:
            continue
        p = Path(path)
        if not p.exists():
            print(f"error: {key} file not found: {path}", file=sys.stderr)
            return 2
        if p.is_dir():
            print(f"error: {key} path is a folder, not a file: {path}", file=sys.stderr)
            return 2
    mapping, errors = parse_map_args(args.mapping)
    if errors:
        for e in errors:
            print(f"error: {e}", file=sys.stderr)
        return 2
    from ..contract import TABLES

    known = {c for t in ("accounts", "reps", "opportunities", "account_products") for c in TABLES[t].names}
    unknown = {src: c for src, c in mapping.items() if c is not None and c not in known}
    if unknown:
        for src, c in unknown.items():
            print(f"error: --map {src}={c}: '{c}' is not a canonical column. Known columns: "
                  f"{', '.join(sorted(known))}", file=sys.stderr)
        return 2
    result = load_files(**files, mapping=mapping)
    report = result.report
    if args.format == "json":
        print(json.dumps({"ok": report.ok, "errors": len(report.errors), "warnings": len(report.warnings),
                          "issues": [i.to_dict() for i in report.issues], "mappings": result.mappings,
                          "files": result.info}, indent=2, default=str))
    elif args.format == "csv":
        report.to_frame().to_csv(sys.stdout, index=False)
    else:
        for tname, info in result.info.items():
            rows = info.get("rows")
            desc = ", ".join(f"{k} {v}" for k, v in info.items() if k not in ("file", "rows"))
            print(f"{tname}: {info.get('file')}" + (f" ({rows:,} rows; {desc})" if rows is not None else ""))
            mp = result.mappings.get(tname)
            if mp:
                used = ", ".join(f"{h} -> {c}" for h, c in mp.items() if c)
                combined = combined_columns(list(mp), mp, tname)
                joined = {h for parts in combined.values() for h in parts}
                ignored = [h for h, c in mp.items() if not c and h not in joined]
                print(f"  mapped: {used}")
                for canon, parts in combined.items():
                    print(f"  joined: {' + '.join(parts)} -> {canon}")
                if ignored:
                    print(f"  not mapped: {', '.join(ignored)}")
            if tname == "accounts" and "accounts" in result.tables:
                extra = [c for c in result.tables["accounts"].columns if c not in _canonical() and c != "_row"]
                if extra:
                    print(f"  extra numeric columns kept: {', '.join(extra)}")
        print()
        print(report.to_text(max_issues=args.max_issues))
    return 0 if report.ok else 1


def _canonical() -> set[str]:
    from ..contract import ACCOUNTS

    return set(ACCOUNTS.names)
