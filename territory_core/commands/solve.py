"""``python -m territory_core solve --accounts A --reps R [options]``

Balances the books: assigns every account to one rep within the balance bands, with minimal
disruption (or distance, or imbalance). Writes assignments.csv (account_id, rep_id,
previous_rep_id, moved, reason) and a JSON report. Exit 0 solved, 1 infeasible or no solution
(or data that cannot be used), 2 bad usage.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import tomllib
from pathlib import Path

HELP = "Rebalance territories: assign every account to one rep within balance bands (PuLP + HiGHS)."


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--accounts", metavar="FILE", help="accounts file (CSV, TSV, .xlsx or .parquet); or --dataset")
    p.add_argument("--reps", metavar="FILE", help="reps file (with --accounts)")
    p.add_argument("--opportunities", "--opps", dest="opportunities", metavar="FILE",
                   help="opportunities file (for holdouts: open opportunities in late stages)")
    p.add_argument("--map", dest="mapping", metavar="SOURCE=canonical", action="append", default=[],
                   help="map a source column to a canonical column, e.g. --map ARR__c=arr (repeatable)")
    p.add_argument("--config", metavar="FILE.toml", help="solver settings in TOML (flags given here override it)")
    p.add_argument("--balance", metavar="METRIC:TOLERANCE", nargs="+", action="append", default=None,
                   help="balance METRIC within +-TOLERANCE of each rep's target, e.g. --balance arr:0.05 "
                        "account_count:0.1 (repeatable; default: potential or annual_revenue, arr, account count at 5%%)")
    p.add_argument("--balance-within", metavar="REP_FIELD[,REP_FIELD]",
                   help="balance inside teams of reps sharing these rep columns (e.g. region,segment: the "
                        "Scenario Editor's default); accounts stay in their owner's team")
    p.add_argument("--scope", metavar="all|affected|REP_FIELD=VALUE",
                   help="which accounts may move: all (a full rebalance, the default); affected (only accounts that "
                        "must change hands: owner inactive, unknown or empty, or not eligible; new reps with no book "
                        "get one from their team); or REP_FIELD=VALUE, e.g. region=West or 'manager=Betty Anderson' "
                        "(only those reps' accounts, among those reps)")
    p.add_argument("--bands", choices=("no-worse", "absolute"),
                   help="no-worse: a rep inside its band stays inside and one outside ends no farther from its "
                        "target than today (the default when --scope is not all); absolute: every rep inside "
                        "target x (1 +- tolerance)")
    p.add_argument("--objective", choices=("disruption", "distance", "balance", "mix"), help="what to minimise (default disruption)")
    p.add_argument("--disruption-weight", metavar="COLUMN", help="weigh each move by this account column (default: count)")
    p.add_argument("--distances", metavar="FILE", help="distance matrix CSV: account_id, rep_id, distance")
    p.add_argument("--keep-families", action=argparse.BooleanOptionalAction, default=None,
                   help="keep every account under one ultimate parent with one rep (default on)")
    p.add_argument("--max-moves", type=int, metavar="N", help="move at most N accounts")
    p.add_argument("--max-moves-per-rep", type=int, metavar="N", help="each rep gains at most N and loses at most N accounts")
    p.add_argument("--max-arr-moved", type=float, metavar="X", help="move at most X of arr")
    p.add_argument("--holdout-stage", dest="holdout_stages", action="append", metavar="STAGE",
                   help="accounts with an open opportunity in this stage keep their owner (repeatable)")
    p.add_argument("--eligible", action="append", metavar="ACCOUNT_FIELD=REP_FIELD[:contains]",
                   help="eligibility rule, e.g. --eligible segment=segment or --eligible industry=specialties:contains")
    p.add_argument("--max-radius-km", type=float, metavar="KM", help="never assign an account farther than this from the rep")
    p.add_argument("--use-distance", action="store_true", default=None, help="add distance to a disruption objective")
    p.add_argument("--no-locks", action="store_true", help="ignore locked / named / holdout flags")
    p.add_argument("--time-limit", type=float, metavar="SECONDS", help="stop after this many seconds (default 60)")
    p.add_argument("--mip-gap", type=float, metavar="FRACTION", help="stop when proven within this relative gap (default 0.0001)")
    p.add_argument("--solver", choices=("highs", "cbc"), help="MIP solver (default highs)")
    p.add_argument("--seed", type=int, help="random seed (default 0)")
    p.add_argument("--out", metavar="FILE", help="write the assignment CSV here")
    p.add_argument("--report", metavar="FILE", help="write the JSON report here")
    p.add_argument("--quiet", action="store_true", help="print only the status line")
    stored = p.add_argument_group("the store (datasets and scenarios)")
    stored.add_argument("--dataset", metavar="NAME[@VERSION]",
                        help="solve on a saved dataset (see `data list`; default its latest version) instead of files")
    stored.add_argument("--save-scenario", metavar="NAME",
                        help="save the plan as a scenario version (a new version when NAME exists); needs --dataset")
    stored.add_argument("--db", metavar="URL", help="database URL (default: $TERRITORY_DB_URL, else .territory/scenarios.db)")


class Usage(Exception):
    pass


def parse_balance(groups) -> list[tuple[str, float]]:
    out = []
    for group in groups or []:
        for item in group:
            for part in str(item).split(","):
                part = part.strip()
                if not part:
                    continue
                if ":" not in part:
                    raise Usage(f"--balance {part!r}: write METRIC:TOLERANCE, e.g. arr:0.05")
                name, tol = part.rsplit(":", 1)
                try:
                    t = float(tol.rstrip("%")) / (100 if tol.endswith("%") else 1)
                except ValueError:
                    raise Usage(f"--balance {part!r}: the tolerance {tol!r} is not a number (e.g. 0.05 or 5%)")
                if not name or not math.isfinite(t) or t < 0:
                    raise Usage(f"--balance {part!r}: need a metric name and a tolerance of 0 or more")
                out.append((name.strip(), t))
    return out


def parse_eligible(items):
    from ..solve.model import EligibilityRule
    rules = []
    for it in items or []:
        mode = "equal"
        s = it
        if s.endswith(":contains"):
            mode, s = "contains", s[: -len(":contains")]
        elif s.endswith(":equal"):
            s = s[: -len(":equal")]
        if "=" not in s:
            raise Usage(f"--eligible {it!r}: write ACCOUNT_FIELD=REP_FIELD, e.g. segment=segment")
        a, r = s.split("=", 1)
        rules.append(EligibilityRule(a.strip(), r.strip(), mode))
    return rules


# Flags with a range: (attribute, flag, lowest allowed, lowest is allowed itself, highest allowed)
_RANGES = (
    ("max_moves", "--max-moves", 0, True, None),
    ("max_moves_per_rep", "--max-moves-per-rep", 0, True, None),
    ("max_arr_moved", "--max-arr-moved", 0, True, None),
    ("max_radius_km", "--max-radius-km", 0, False, None),
    ("time_limit", "--time-limit", 0, False, None),
    ("mip_gap", "--mip-gap", 0, True, 1),
)


def check_ranges(values: dict) -> None:
    """Numbers out of range (from flags or the config file) are bad usage (exit 2), not an
    infeasible problem (exit 1). ``values``: settings keys -> values."""
    for key, flag, low, low_ok, high in _RANGES:
        raw = values.get(key)
        if raw is None:
            continue
        try:
            v = float(raw)
        except (TypeError, ValueError):
            raise Usage(f"{flag} {raw!r}: must be a number")
        bad = not math.isfinite(v) or v < low or (v == low and not low_ok) or (high is not None and v > high)
        if bad:
            want = (f"between {low} and {high}" if high is not None
                    else f"{'0 or more' if low_ok else 'more than 0'}")
            raise Usage(f"{flag} {raw}: must be {want} (config key {key})")


def check_metric_columns(settings, accounts) -> None:
    """Every balanced metric is a numeric account column (or account_count). Raises Usage."""
    import pandas as pd

    from ..contract import X

    numeric = [c for c in accounts.columns if pd.api.types.is_numeric_dtype(accounts[c])
               and not pd.api.types.is_bool_dtype(accounts[c])]
    for m in settings.metrics:
        if m.column == X.account_count:
            continue
        if m.column not in accounts.columns:
            raise Usage(f"--balance {m.column}: the accounts have no column {m.column!r}. "
                        f"Numeric columns: {', '.join(numeric)}")
        if m.column not in numeric:
            raise Usage(f"--balance {m.column}: {m.column!r} is not a numeric column, so it cannot be balanced. "
                        f"Numeric columns: {', '.join(numeric)}")


def settings_from(args):
    """Config file first, then flags on top. Raises Usage."""
    from ..solve.model import Metric, SolverSettings
    d: dict = {}
    if args.config:
        path = Path(args.config)
        if not path.is_file():
            raise Usage(f"config file not found: {args.config}")
        try:
            cfg = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise Usage(f"config file {args.config} is not valid TOML: {exc}")
        cfg = cfg.get("solver", cfg)
        bal = cfg.pop("balance", None)
        d.update(cfg)
        if bal is not None:
            if not isinstance(bal, dict):
                raise Usage("config: 'balance' must be a table of METRIC = TOLERANCE")
            d["metrics"] = [{"column": k, "tolerance": float(v)} for k, v in bal.items()]
    bal = parse_balance(args.balance)
    if bal:
        d["metrics"] = [{"column": c, "tolerance": t} for c, t in bal]
    flag_map = {"objective": "objective", "disruption_weight": "disruption_weight_column",
                "keep_families": "keep_families", "max_moves": "max_moves", "max_moves_per_rep": "max_moves_per_rep",
                "max_arr_moved": "max_arr_moved", "max_radius_km": "max_radius_km", "use_distance": "use_distance",
                "time_limit": "time_limit", "mip_gap": "mip_gap", "solver": "solver", "seed": "seed",
                "holdout_stages": "holdout_stages", "scope": "scope", "bands": "bands"}
    for a, k in flag_map.items():
        v = getattr(args, a, None)
        if v is not None:
            d[k] = v
    if args.no_locks:
        d["respect_locks"] = False
    if getattr(args, "balance_within", None) is not None:
        d["balance_within"] = [c.strip() for c in args.balance_within.split(",") if c.strip()]
    if args.eligible:
        d["eligibility"] = [r.to_dict() for r in parse_eligible(args.eligible)]
    if d.get("objective") == "distance" and not args.distances and "max_radius_km" not in d:
        pass  # distances may come from lat/lon; solve() says so if neither exists
    check_ranges(d)
    try:
        return SolverSettings.from_dict(d)
    except (TypeError, ValueError, KeyError) as exc:
        raise Usage(f"bad solver settings: {exc}")


def _load(args):
    """Dataset through the importer (with --map) when it exists, else plain CSV reading."""
    files = {"accounts": args.accounts, "reps": args.reps, "opportunities": args.opportunities}
    for key, path in files.items():
        if path is None:
            continue
        p = Path(path)
        if not p.is_file():
            raise Usage(f"{key} file not found: {path}")
    try:
        from ..ingest.importer import load_files
        from ..ingest.mapping import parse_map_args
    except ImportError:
        load_files = None
    if load_files is not None:
        mapping, errors = parse_map_args(args.mapping)
        if errors:
            raise Usage("; ".join(errors))
        res = load_files(**files, mapping=mapping)
        if res.dataset is None:
            msgs = [f"{i.table}{'' if i.row is None else f' row {i.row}'}{'' if not i.column else f' column {i.column}'}: "
                    f"{i.message} {i.fix or ''}".strip() for i in res.report.errors][:20]
            raise ValueError("the input files cannot be used:\n  " + "\n  ".join(msgs))
        return res.dataset.accounts, res.dataset.reps, res.dataset.opportunities
    import pandas as pd
    from ..contract import ACCOUNTS, OPPORTUNITIES, REPS
    from ..dataset import coerce_types
    ren = {}
    for m in args.mapping:
        if "=" not in m:
            raise Usage(f"--map {m!r}: write SOURCE=canonical")
        a, b = m.split("=", 1)
        ren[a] = b
    def read(path, table):
        if path is None:
            return None
        return coerce_types(pd.read_csv(path).rename(columns=ren), table)
    return read(args.accounts, ACCOUNTS), read(args.reps, REPS), read(args.opportunities, OPPORTUNITIES)


def _check_scope(scope: str, reps) -> None:
    """--scope REP_FIELD=VALUE must name a rep column and a value some active rep has (exit 2)."""
    from ..solve.settings import parse_scope
    kind, fld, val = parse_scope(scope)
    if kind != "reps":
        return
    if fld not in reps.columns:
        raise Usage(f"--scope {scope}: the reps have no column {fld!r}. Rep columns: {', '.join(map(str, reps.columns))}")
    have = reps[fld].astype("string").str.strip()
    if not have.str.casefold().eq(val.casefold()).fillna(False).any():
        known = sorted(set(have.dropna()))[:12]
        raise Usage(f"--scope {scope}: no rep has {fld} = {val!r}. Values: {', '.join(known) or 'none'}")


def run(args) -> int:
    import pandas as pd

    from ..contract import D, X
    from ..solve.model import solve
    from .data import stored_dataset

    try:
        settings = settings_from(args)
        if args.distances and not Path(args.distances).is_file():
            raise Usage(f"distances file not found: {args.distances}")
        dataset = stored_dataset(args, Usage)
        accounts, reps, opps = (dataset.accounts, dataset.reps, dataset.opportunities) if dataset else _load(args)
        check_metric_columns(settings, accounts)
        _check_scope(settings.scope, reps)
        if settings.disruption_weight_column and settings.disruption_weight_column not in accounts.columns \
                and settings.disruption_weight_column not in ("count", X.account_count):
            raise Usage(f"--disruption-weight {settings.disruption_weight_column}: the accounts have no such column")
    except Usage as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    dist = dataset.distances if dataset is not None and dataset.distances is not None and len(dataset.distances) else None
    if args.distances:
        dist = pd.read_csv(args.distances, dtype={D.account_id: str, D.rep_id: str})
        missing = [c for c in (D.account_id, D.rep_id, D.distance) if c not in dist.columns]
        if missing:
            print(f"error: distances file {args.distances} needs columns account_id, rep_id, distance "
                  f"(missing {', '.join(missing)})", file=sys.stderr)
            return 2
    if settings.objective == "distance" and dist is None:
        pass
    res = solve(accounts, reps, settings, distances=dist, opportunities=opps)
    rep = res.to_report_dict()
    if args.report:
        Path(args.report).write_text(json.dumps(rep, indent=2), encoding="utf-8")
    if args.out and res.ok:
        res.assignment.to_csv(args.out, index=False)
    print(res.status_text)
    if not args.quiet:
        if res.ok:
            print(f"objective {res.objective:.6g}   bound {('-' if res.bound is None else f'{res.bound:.6g}')}   "
                  f"gap {('-' if res.gap is None else f'{res.gap:.3%}')}   moves {res.moves}   arr moved {res.arr_moved:,.0f}")
            print(f"build {res.build_seconds:.2f} s   solve {res.solve_seconds:.2f} s   solver {res.solver}")
            for k, v in res.max_deviation.items():
                print(f"worst deviation {k}: {v:.2%}")
            if len(res.rep_metrics) and res.rep_metrics["rep_id"].nunique() <= 60:
                piv = res.rep_metrics.pivot(index="rep_id", columns="metric", values="value")
                print(piv.to_string(float_format=lambda v: f"{v:,.4f}" if abs(v) < 100 else f"{v:,.0f}"))
        for n in res.notes:
            print(f"note: {n}")
    if args.save_scenario and res.ok:
        from .data import save_scenario

        if save_scenario(args, dataset, settings, res, rep) != 0:
            return 1
    if not res.ok:
        for e in res.explanations:
            print(f"- {e}", file=sys.stderr)
        for f in res.fixes:
            print(f"  fix: {f.get('why', json.dumps(f))}", file=sys.stderr)
        return 1
    return 0
