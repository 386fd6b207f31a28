"""``python -m territory_core design ...``: contiguous, compact, balanced territories from units.

Two ways in:

- your units: ``--units units.csv --adjacency edges.csv`` (units: unit_id, x and y or lat and lon,
  measure columns; edges: unit_a, unit_b), ``--territories P``, optional ``--current current.csv``
  (unit_id, territory) for the disruption objective;
- geography: ``--geo county|zip|state|FILE --accounts A [--reps R]`` builds the units and their
  adjacency from the shipped boundaries (or your polygons: GeoJSON, GeoPackage, zipped
  shapefile, with ``--id-column``) and sums the account columns per unit; with ``--reps`` there is
  one territory per active rep, its target its capacity share, and today's map comes from the
  accounts' owners.

Writes plan.csv (unit_id, territory, centre) and a JSON report (status, objective, bound, gap,
per-territory measures and deviations, contiguity). Exit 0 a contiguous plan within every band,
1 bad data or no such plan (infeasible, out of band, nothing in time), 2 bad usage.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

HELP = "Design contiguous, compact, balanced territories from units (counties, ZIP areas, your polygons)."


class Usage(Exception):
    pass


def add_arguments(p: argparse.ArgumentParser) -> None:
    src = p.add_argument_group("units")
    src.add_argument("--units", metavar="FILE", help="units CSV: unit_id, x, y (or lat, lon) and measure columns")
    src.add_argument("--adjacency", metavar="FILE", help="edges CSV: unit_a, unit_b (units that share a boundary)")
    src.add_argument("--current", metavar="FILE", help="today's map CSV: unit_id, territory")
    src.add_argument("--geo", metavar="county|zip|state|FILE",
                     help="build units from the shipped boundaries or a polygon file (GeoJSON, .gpkg, zipped shapefile)")
    src.add_argument("--id-column", metavar="COLUMN", help="with --geo FILE: the column holding the unit id")
    src.add_argument("--accounts", metavar="FILE", help="with --geo: accounts whose columns are summed per unit")
    src.add_argument("--reps", metavar="FILE", help="with --geo: one territory per active rep (capacity-share targets)")
    src.add_argument("--team", metavar="REP_FIELD=VALUE", action="append", default=[],
                     help="with --reps: only reps with this value, e.g. --team region=West --team segment=SMB; "
                          "only their accounts are summed")
    src.add_argument("--states", metavar="CA,NV,...", help="with --geo county|zip|state: only these states (default: the accounts')")
    src.add_argument("--fixed-centres", action="store_true", help="with --reps: each territory is centred on its rep's home unit")
    p.add_argument("--territories", type=int, metavar="P", help="number of territories (default with --reps: one per rep)")
    p.add_argument("--balance", metavar="MEASURE:TOL", nargs="+", action="append", default=None,
                   help="keep MEASURE of each territory within target x (1 +- TOL), e.g. --balance accounts:0.1 arr:0.15 (repeatable)")
    p.add_argument("--objective", choices=("compactness", "disruption"), default="compactness",
                   help="compactness: least sum of distances to each territory's centre unit; disruption: fewest units moved")
    p.add_argument("--weight", metavar="MEASURE", help="compactness: weigh each unit's distance by this measure")
    p.add_argument("--moved-weight", metavar="MEASURE", help="disruption: count moved units by this measure")
    p.add_argument("--method", choices=("auto", "exact", "heuristic"), default="auto",
                   help="exact MIP, heuristic with a lower bound, or auto (exact where it fits)")
    p.add_argument("--time-limit", type=float, default=60.0, metavar="SECONDS", help="stop after this long (default 60)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--out", metavar="FILE", help="write plan.csv (unit_id, territory, centre)")
    p.add_argument("--report", metavar="FILE", help="write the JSON report")
    p.add_argument("--boundaries", metavar="FILE", help="with --geo: territory boundaries as .geojson or .gpkg")
    p.add_argument("--rules", metavar="FILE", help="with --geo: ZIP/county/state -> territory rules CSV")
    p.add_argument("--quiet", action="store_true", help="print only the status line")


def _balance(groups) -> dict[str, float]:
    from .solve import Usage as SolveUsage, parse_balance

    try:
        return dict(parse_balance(groups))
    except SolveUsage as exc:
        raise Usage(str(exc)) from None


def _csv(path: str, what: str, need: tuple[str, ...]):
    import pandas as pd

    p = Path(path)
    if not p.is_file():
        raise Usage(f"{what} file not found: {path}")
    try:
        df = pd.read_csv(p, dtype={c: str for c in ("unit_id", "unit_a", "unit_b", "territory")})
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        raise ValueError(f"{path}: cannot read as CSV ({exc}).") from None
    df.columns = [str(c).strip() for c in df.columns]
    missing = [c for c in need if c not in df.columns]
    if missing:
        raise ValueError(f"{path}: the {what} file needs column(s) {', '.join(missing)}; it has {', '.join(df.columns)}.")
    return df


def _team_mask(reps, team: list[str]):
    import pandas as pd

    mask = pd.Series(True, index=reps.index)
    for t in team:
        if "=" not in t:
            raise Usage(f"--team {t!r}: write REP_FIELD=VALUE, e.g. region=West")
        k, v = t.split("=", 1)
        if k not in reps.columns:
            raise Usage(f"--team {t!r}: the reps have no column {k!r}")
        mask &= reps[k].astype(str).str.strip().str.lower() == v.strip().lower()
    return mask


def run(args) -> int:
    import pandas as pd

    from ..geo.design import MODELS, DesignError

    try:
        balance = _balance(args.balance)
        if not balance:
            raise Usage("say what to balance: --balance MEASURE:TOL (e.g. --balance accounts:0.1)")
        if args.geo and args.units:
            raise Usage("use either --units/--adjacency or --geo, not both")
        if not args.geo and not args.units:
            raise Usage("give the units: --units FILE --adjacency FILE, or --geo county|zip|state|FILE --accounts FILE")
        if args.time_limit <= 0:
            raise Usage("--time-limit must be positive")
        if args.units:
            if not args.territories:
                raise Usage("--territories P is needed with --units")
            for flag in ("accounts", "reps", "boundaries", "rules", "id_column", "states"):
                if getattr(args, flag):
                    raise Usage(f"--{flag.replace('_', '-')} goes with --geo")
            units = _csv(args.units, "units", ("unit_id",))
            edges = _csv(args.adjacency, "adjacency", ("unit_a", "unit_b")) if args.adjacency else None
            current = _csv(args.current, "current", ("unit_id", "territory")) if args.current else None
            if args.objective == "disruption" and current is None:
                raise Usage("--objective disruption needs --current current.csv (unit_id, territory)")
            missing = [m for m in balance if m not in units.columns]
            if missing:
                raise Usage(f"--balance {missing[0]}: the units have no column {missing[0]!r}; columns: {', '.join(units.columns)}")
            territories = args.territories
            if current is not None:
                names = sorted(current["territory"].dropna().astype(str).unique())
                if len(names) == args.territories:
                    territories = names
            model = MODELS[args.objective].from_frames(units, edges, territories=territories, balance=balance,
                                                       current=current, weight=args.weight, moved_weight=args.moved_weight)
            inputs = None
        else:
            if not args.accounts:
                raise Usage("--geo needs --accounts FILE (their columns are summed per unit)")
            if args.adjacency or args.current:
                raise Usage("--adjacency and --current go with --units; --geo builds them")
            if args.geo not in ("county", "zip", "state"):
                if not Path(args.geo).is_file():
                    raise Usage(f"--geo {args.geo}: not county, zip, state or an existing polygon file")
                if not args.id_column:
                    raise Usage("--geo FILE needs --id-column COLUMN (the polygons' unit id)")
            if not args.reps and not args.territories:
                raise Usage("--geo needs --reps FILE (one territory per rep) or --territories P")
            model, inputs = _geo_model(args, balance)
    except Usage as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except DesignError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    model.solve(time_limit=args.time_limit, method=args.method, seed=args.seed)
    rep = dict(model.report_)
    if inputs is not None:
        rep["geo"] = {"level": inputs.level, "units": int(len(inputs.units)),
                      "adjacency": inputs.adjacency.summary(),
                      "joined": inputs.adjacency.joined.to_dict(orient="records"),
                      "accounts_unplaced": int(len(inputs.placement.unplaced)), "notes": list(inputs.notes)}
    ok = model.status_ in ("optimal", "feasible")
    if args.report:
        Path(args.report).write_text(json.dumps(rep, indent=2), encoding="utf-8")
    if args.out and model.labels_ is not None:
        model.plan().to_csv(args.out, index=False)
    if inputs is not None and model.labels_ is not None:
        from ..geo.territories import assignment_rules, write_boundaries
        from ..geo.workflow import shapes

        if args.boundaries:
            write_boundaries(shapes(inputs, model.plan()), args.boundaries)
        if args.rules:
            assignment_rules(inputs.units, model.plan(), inputs.level).to_csv(args.rules, index=False)
    print(f"{rep['status_text']} ({rep['method']})")
    if not args.quiet:
        if model.objective_ is not None:
            b = "-" if model.bound_ is None else f"{model.bound_:.6g}"
            g = "-" if model.gap_ is None else f"{model.gap_:.3%}"
            print(f"objective {model.objective_:.6g}   bound {b}   gap {g}   {model.seconds_:.1f} s   "
                  f"contiguous {rep.get('contiguous')}   worst deviation {rep.get('worst_deviation'):.2%}")
            tab = pd.DataFrame(rep["per_territory"])
            if len(tab) <= 60:
                cols = ["territory", "centre", "units", *[c for m in balance for c in (m, f"{m}_deviation")], "pieces"]
                print(tab[[c for c in cols if c in tab.columns]].to_string(index=False))
        for n in rep.get("notes", []):
            print(f"note: {n}")
        if inputs is not None:
            for n in inputs.notes:
                print(f"note: {n}")
    return 0 if ok else 1


def _geo_model(args, balance):
    from ..contract import A, R
    from ..geo import workflow as W
    from ..geo.design import MODELS, DesignError
    from .solve import _load

    ns = argparse.Namespace(accounts=args.accounts, reps=args.reps,
                            opportunities=None, mapping=[])
    if args.reps:
        accounts, reps, _ = _load(ns)
    else:
        import pandas as pd

        from ..ingest.importer import load_files
        res = load_files(accounts=args.accounts)
        if res.dataset is None:
            msgs = [f"{i.table}{'' if i.row is None else f' row {i.row}'}{'' if not i.column else f' column {i.column}'}: "
                    f"{i.message}" for i in res.report.errors][:20]
            raise ValueError("the accounts file cannot be used:\n  " + "\n  ".join(msgs))
        accounts, reps = res.dataset.accounts, None
    team_ids = None
    if reps is not None and args.team:
        mask = _team_mask(reps, args.team)
        if not mask.any():
            raise Usage(f"no rep matches {' and '.join(args.team)}")
        team_ids = reps.loc[mask, R.rep_id].astype(str).tolist()
        if A.owner_id in accounts.columns:
            accounts = accounts[accounts[A.owner_id].astype(str).isin(team_ids)]
    measures = [m for m in balance if m != "accounts"]
    for extra in (args.weight, args.moved_weight):
        if extra and extra != "accounts" and extra not in measures:
            measures.append(extra)
    for m in measures:
        if m not in accounts.columns:
            from ..geo.units import numeric_columns
            raise Usage(f"--balance {m}: the accounts have no column {m!r}; numeric columns: "
                        f"{', '.join(numeric_columns(accounts))} (or 'accounts' for the count)")
    states = [s.strip() for s in args.states.split(",")] if args.states else None
    inputs = W.prepare(accounts, args.geo, measures=measures, states=states, id_column=args.id_column)
    current = None
    if reps is not None:
        tt = W.rep_territories(reps, inputs, team_ids, fix_centres=args.fixed_centres)
        if args.territories and args.territories != len(tt):
            raise Usage(f"--territories {args.territories} but the reps give {len(tt)} territories (one per active rep)")
        current = W.today_map(accounts, inputs, tt["territory"])
        territories = tt
    else:
        territories = args.territories
        if args.fixed_centres:
            raise Usage("--fixed-centres needs --reps (their home ZIPs)")
    if args.objective == "disruption" and (current is None or current.empty):
        raise DesignError("--objective disruption needs today's owners: give --reps and accounts with owner_id.")
    model = MODELS[args.objective].from_frames(inputs.measures, inputs.adjacency.edges, territories=territories,
                                               balance=balance, current=current, weight=args.weight,
                                               moved_weight=args.moved_weight)
    return model, inputs
