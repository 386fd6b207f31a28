"""``python -m territory_core route``: give new accounts or leads an owner by the plan's rules.

    python -m territory_core route --plan plan.csv --accounts accounts.csv --reps reps.csv \\
        [--rules rules.toml] --input new.csv --out routed.csv [--exceptions exceptions.csv]
    python -m territory_core route --scenario "FY27 plan" --input leads.csv --out routed.csv

``routed.csv``: record_id, rep_id, team, rule, reason. ``exceptions.csv``: record_id, row, kind,
rule, reason, candidates, segment, team, then the input row's own columns. Every input row is in
one of the two files (default exceptions file: next to --out, ``<out>.exceptions.csv``). Exit 0
routed (exceptions are an outcome, not an error), 1 unusable data, 2 bad usage.

``--rules rules.toml`` (all parts optional)::

    [routing]
    teams = ["region", "segment"]     # rep columns that make a team (default: the plan's, else region + segment)
    name_threshold = 90               # fuzzy company-name match, 0-100
    as_of = "2026-12-01"              # routing date (reps away then are skipped); default today

    [[segment]]                       # segment rules, first match wins (fields as in the Segment Builder)
    name = "Enterprise"
    min_employees = 600

    [[decision]]                      # decision rules: settle what the plan's rules cannot
    field = "domain"                  # domain | company | zip | county | state | industry | country | segment | record_id
    value = "acme.com"
    rep_id = "R005"
    priority = 10

    [[unavailable]]                   # reps away
    rep_id = "R007"
    start = "2026-12-01"
    end = "2026-12-31"
    reason = "Parental leave"
"""
from __future__ import annotations

import argparse
import sys
import tomllib
from pathlib import Path

HELP = "Route new accounts or leads to owners by a plan's rules; what no rule decides goes to an exceptions file."


class Usage(Exception):
    pass


def add_plan_arguments(p: argparse.ArgumentParser) -> None:
    """The plan and its data (shared with ``serve``)."""
    src = p.add_argument_group("the plan (one of)")
    src.add_argument("--plan", metavar="FILE", help="plan file: account_id, rep_id (CSV/TSV/xlsx/Parquet)")
    src.add_argument("--scenario", metavar="NAME_OR_ID", help="a saved scenario, by name or id")
    p.add_argument("--version", type=int, metavar="N", help="scenario version (default: the latest)")
    p.add_argument("--db", metavar="URL", help="database URL (default: $TERRITORY_DB_URL, else .territory/scenarios.db)")
    data = p.add_argument_group("the dataset the plan is on (default: the sample data)")
    data.add_argument("--data", metavar="DIR", help="folder with canonical accounts.csv and reps.csv")
    data.add_argument("--accounts", metavar="FILE", help="accounts file")
    data.add_argument("--reps", metavar="FILE", help="reps file")
    p.add_argument("--rules", metavar="FILE.toml", help="segment rules, teams, decision rules, reps away (see --help of route)")
    p.add_argument("--territories", metavar="FILE", help="geographic territories: a zip or county (or unit_id) column, "
                                                          "territory, optional rep_id")
    p.add_argument("--territory-level", choices=("zip", "county"), default="county",
                   help="what the territory file's units are (default county)")
    p.add_argument("--as-of", metavar="YYYY-MM-DD", help="routing date (reps away on it are skipped; default today)")


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_plan_arguments(p)
    p.add_argument("--input", required=True, metavar="FILE", help="new accounts or leads to route")
    p.add_argument("--kind", choices=("account", "lead"), help="what the input rows are (default: from the headers)")
    p.add_argument("--out", required=True, metavar="FILE", help="routed records CSV")
    p.add_argument("--exceptions", metavar="FILE", help="exceptions CSV (default: <out>.exceptions.csv)")
    p.add_argument("--queue", action="store_true", help="also put the exceptions in the scenario store's queue "
                                                        "(worked on the Exceptions queue page) and log the run")
    p.add_argument("--user", metavar="NAME", help="who routes (for the queue and audit log; default: the OS user)")
    p.add_argument("--quiet", action="store_true", help="print only the summary line")


def read_rules_file(path: str) -> dict:
    """Router options from a rules.toml (see the module docstring). Raises Usage naming the key."""
    from ..analyse.segments import SegmentRules
    from ..route.router import DecisionRule, RoutingError, Unavailability

    f = Path(path)
    if not f.is_file():
        raise Usage(f"rules file not found: {path}")
    try:
        cfg = tomllib.loads(f.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise Usage(f"rules file {path} is not valid TOML: {exc}")
    known = {"routing", "segment", "decision", "unavailable"}
    extra = set(cfg) - known
    if extra:
        raise Usage(f"rules file {path}: unknown section(s) {', '.join(sorted(extra))}; use {', '.join(sorted(known))}")
    out: dict = {}
    routing = cfg.get("routing") or {}
    bad = set(routing) - {"teams", "name_threshold", "as_of"}
    if bad:
        raise Usage(f"rules file {path}: [routing] has unknown key(s) {', '.join(sorted(bad))}")
    if "teams" in routing:
        if not isinstance(routing["teams"], list):
            raise Usage(f"rules file {path}: [routing] teams must be a list of rep columns, e.g. [\"region\", \"segment\"]")
        out["team_columns"] = [str(t) for t in routing["teams"]]
    if "name_threshold" in routing:
        try:
            t = float(routing["name_threshold"])
        except (TypeError, ValueError):
            t = -1
        if not 0 <= t <= 100:
            raise Usage(f"rules file {path}: [routing] name_threshold must be a number from 0 to 100")
        out["name_threshold"] = t
    if "as_of" in routing:
        out["as_of"] = str(routing["as_of"])
    if cfg.get("segment"):
        rules = SegmentRules.from_dict({"rules": cfg["segment"]})
        for i, r in enumerate(rules.rules, start=1):
            if not r.name:
                raise Usage(f"rules file {path}: [[segment]] number {i} has no name")
        out["segment_rules"] = rules
    try:
        out["decision_rules"] = [DecisionRule(str(d.get("field", "")), d.get("value"), d.get("rep_id"),
                                              int(d.get("priority", 100)), str(d.get("note", "")), id=i)
                                 for i, d in enumerate(cfg.get("decision") or [], start=1)]
        out["unavailable"] = [Unavailability(str(u.get("rep_id", "")), u.get("start"), u.get("end"), str(u.get("reason", "")))
                              for u in cfg.get("unavailable") or []]
    except (RoutingError, TypeError, ValueError) as exc:
        raise Usage(f"rules file {path}: {exc}")
    return out


def build_router(args, *, queue_rules: bool = False):
    """(router, plan scenario, dataset, store or None) from the shared arguments. Raises Usage
    (bad arguments), ValueError (data that cannot be used)."""
    import pandas as pd

    from ..plan.scenarios import dataset_fingerprint
    from ..route.router import Router, RoutingError, Territories
    from .export import _dataset, _Usage

    if bool(args.plan) == bool(args.scenario):
        raise Usage("give the plan with --plan FILE or --scenario NAME (one of them)")
    try:
        ds = _dataset(args)
    except _Usage as exc:
        raise Usage(str(exc))
    opts = read_rules_file(args.rules) if args.rules else {}
    if args.as_of:
        opts["as_of"] = args.as_of
    if opts.get("as_of"):
        try:
            pd.Timestamp(opts["as_of"])
        except ValueError:
            raise Usage(f"--as-of / as_of {opts['as_of']!r} is not a date (YYYY-MM-DD)")
    if args.territories:
        f = Path(args.territories)
        if not f.is_file():
            raise Usage(f"territories file not found: {args.territories}")
        try:
            opts["territories"] = Territories.from_frame(pd.read_csv(f, dtype=str), args.territory_level)
        except RoutingError as exc:
            raise ValueError(f"{args.territories}: {exc}") from None
    store = None
    seg = opts.pop("segment_rules", None)
    teams = opts.pop("team_columns", None)
    if args.plan:
        if not Path(args.plan).is_file():
            raise Usage(f"plan file not found: {args.plan}")
        try:
            router = Router.from_plan(ds, args.plan, segment_rules=seg, team_columns=teams, **opts)
        except RoutingError as exc:
            raise ValueError(str(exc)) from None
        from ..plan.scenarios import Scenario

        return router, Scenario(name=Path(args.plan).stem), ds, store
    from ..store.storage import ScenarioStore

    store = ScenarioStore(args.db)
    plan = store.load(store.resolve(args.scenario), args.version)
    if plan.input_fingerprint and plan.input_fingerprint != dataset_fingerprint(ds):
        print(f"note: {plan.label} was made on other data than {ds.name}; accounts it does not know are routed "
              "by its rules.", file=sys.stderr)
    settings = dict(plan.settings or {})
    if seg is not None:
        settings["segment_rules"] = seg.to_dict()
    if teams is not None:
        settings["solver"] = {**(settings.get("solver") or {}), "balance_within": teams}
    if queue_rules:
        from ..store.routing import RoutingStore

        rs = RoutingStore(store)
        opts["decision_rules"] = list(opts.get("decision_rules") or []) + rs.rules()
        opts["unavailable"] = list(opts.get("unavailable") or []) + rs.unavailability()
    try:
        router = Router.from_scenario(ds, plan.with_(settings=settings), **opts)
    except RoutingError as exc:
        raise ValueError(str(exc)) from None
    return router, plan, ds, store


def run(args) -> int:
    import pandas as pd

    from ..route.records import read_records
    from ..store.identity import clean_user

    try:
        if not Path(args.input).is_file():
            raise Usage(f"input file not found: {args.input}")
        router, plan, ds, store = build_router(args, queue_rules=args.queue)
    except Usage as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    rr = read_records(args.input, args.kind)
    errors = [i for i in rr.issues if i[0] == "error"]
    if rr.records is None:
        for sev, row, col, msg, fix in errors or rr.issues:
            where = "".join(f" {k} {v}" for k, v in (("row", row), ("column", col)) if v is not None)
            print(f"error:{where} {msg} {fix or ''}".rstrip(), file=sys.stderr)
        return 1
    for sev, row, col, msg, fix in rr.issues[:20]:
        where = "".join(f" {k} {v}" for k, v in (("row", row), ("column", col)) if v is not None)
        tail = " The row is routed with that value unknown." if sev == "error" else ""
        print(f"warning:{where}: {msg}{tail}", file=sys.stderr)
    if len(rr.issues) > 20:
        print(f"warning: ... and {len(rr.issues) - 20} more.", file=sys.stderr)
    res = router.route(rr.records)
    out = Path(args.out)
    exc_path = Path(args.exceptions) if args.exceptions else out.with_name(out.stem + ".exceptions.csv")
    res.routed.to_csv(out, index=False)
    exc = res.exceptions.copy()
    if len(exc) and rr.raw is not None:
        raw = rr.raw.reset_index(drop=True).drop(columns=["_row"], errors="ignore")
        pos = [i for i, d in enumerate(res.decisions) if not d.routed]
        extra = raw.iloc[pos].reset_index(drop=True)
        extra.columns = [c if c not in exc.columns else f"input_{c}" for c in extra.columns]
        exc = pd.concat([exc.reset_index(drop=True), extra], axis=1)
    exc.to_csv(exc_path, index=False)
    total = res.total
    print(f"Routed {len(res.routed):,} of {total:,} {'leads' if rr.kind == 'lead' else 'accounts'} "
          f"({len(res.routed) / total:.1%}) against {router.label} in {res.seconds:.2f} s; "
          f"{len(res.exceptions):,} exceptions -> {exc_path}" if total else "The input has no rows.")
    if not args.quiet and total:
        for k, n in sorted(res.counts().items(), key=lambda kv: -kv[1]):
            print(f"  {n:>7,}  {k}")
    if args.queue:
        from ..store.routing import RoutingStore
        from ..store.storage import ScenarioStore

        rs = RoutingStore(store if store is not None else ScenarioStore(args.db))
        run_id = rs.log_run(res, rr.records, user=clean_user(args.user) if args.user else clean_user(None),
                            source=Path(args.input).name, plan=plan)
        print(f"Run #{run_id} logged; {len(res.exceptions):,} exceptions in the queue.")
    if len(res.routed) + len(res.exceptions) != total:  # nothing may be lost
        print(f"error: {total} rows in, {len(res.routed)} routed + {len(res.exceptions)} exceptions out.", file=sys.stderr)
        return 1
    return 0
