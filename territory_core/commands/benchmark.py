"""``python -m territory_core benchmark [--sizes 1000x20,10000x50,100000x200] [--time-limit S]``

Solves deterministic synthetic instances (skewed current plan, 3 metrics at +-5%, or
``--tolerance``) and prints a table: size, build and solve seconds, the time limit and whether the
run kept to it, status, gap, moves, the LP lower bound on moves, the
greedy baseline's moves and worst deviation, worst deviation per metric, peak memory.
"""
from __future__ import annotations

import sys

HELP = "Benchmark the optimizer on synthetic instances and print a table (times, gap, moves, LP bound, greedy)."

COLUMNS = ["size", "build_s", "solve_s", "total_s", "limit_s", "limit_ok", "status", "gap", "moves", "lp_bound_moves", "greedy_moves",
           "worst_dev", "greedy_worst_dev", "dev_annual_revenue", "dev_arr", "dev_account_count", "peak_mb"]


def parse_sizes(text: str) -> list[tuple[int, int]]:
    out = []
    for part in text.split(","):
        part = part.strip().lower()
        if not part:
            continue
        if "x" not in part:
            raise ValueError(f"size {part!r}: write ACCOUNTSxREPS, e.g. 1000x20")
        a, r = part.split("x", 1)
        try:
            n, k = int(a.replace("_", "")), int(r)
        except ValueError:
            raise ValueError(f"size {part!r}: write ACCOUNTSxREPS with whole numbers, e.g. 10000x50")
        if n < 1 or k < 1:
            raise ValueError(f"size {part!r}: need at least 1 account and 1 rep")
        out.append((n, k))
    if not out:
        raise ValueError("no sizes given")
    return out


def add_arguments(p) -> None:
    p.add_argument("--sizes", default="1000x20,10000x50", help="comma-separated ACCOUNTSxREPS (default 1000x20,10000x50; "
                   "the issue's full set adds 100000x200)")
    p.add_argument("--time-limit", type=float, default=300.0, help="solver time limit per size in seconds (default 300)")
    p.add_argument("--tolerance", type=float, default=0.05,
                   help="every metric's band, as a fraction (default 0.05 = ±5%%); small bands with a short "
                        "--time-limit show how the solver keeps to its limit (limit_ok: at most 10%% + 2 s over)")
    p.add_argument("--seed", type=int, default=7, help="instance seed (default 7)")
    p.add_argument("--scope", choices=("all", "affected"), default="all",
                   help="all: a full rebalance (default); affected: a share of the reps leave (--leavers) and only "
                        "their books move, with do-no-harm bands")
    p.add_argument("--leavers", type=float, default=0.1, help="with --scope affected: the share of reps who leave (default 0.1)")
    p.add_argument("--csv", metavar="FILE", help="also write the table as CSV")


def format_table(df) -> str:
    cols = [c for c in COLUMNS if c in df.columns]
    return df[cols].to_string(index=False, na_rep="-")


def run(args) -> int:
    from ..solve.bench import run_benchmark
    try:
        sizes = parse_sizes(args.sizes)
    except ValueError as exc:
        print(f"error: --sizes: {exc}", file=sys.stderr)
        return 2
    if not (args.time_limit > 0):
        print("error: --time-limit must be positive", file=sys.stderr)
        return 2
    if not (0 <= args.tolerance <= 1):
        print("error: --tolerance must be between 0 and 1 (0.05 = ±5%)", file=sys.stderr)
        return 2
    def echo(row):
        print("  done " + ", ".join(f"{k}={v}" for k, v in row.items()), file=sys.stderr, flush=True)
    if not (0 < args.leavers < 1):
        print("error: --leavers must be between 0 and 1 (0.1 = a tenth of the reps)", file=sys.stderr)
        return 2
    df = run_benchmark(sizes, time_limit=args.time_limit, seed=args.seed, echo=echo, tolerance=args.tolerance,
                       scope=args.scope, leavers=args.leavers)
    print(format_table(df))
    if args.csv:
        df.to_csv(args.csv, index=False)
    bad = df["status"].astype(str).str.startswith("error").any()
    return 1 if bad else 0
