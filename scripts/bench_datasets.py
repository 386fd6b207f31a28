"""How long saving and loading a dataset version takes, and how much it stores, by size: the
sample replicated to N accounts (names made unique and money columns jittered per copy, so the
copies do not compress better than real data), saved with territory_core.store.datasets into a
fresh database and read back. Prints a table; no assertions.

    .venv/bin/python scripts/bench_datasets.py [--sizes 30000 100000 300000] [--db URL ...] [--pg-local]

``--db`` adds a database (SQLAlchemy URL; a fresh one: the benchmark creates datasets in it);
``--pg-local`` starts a throwaway local PostgreSQL (as the tests do). Default: a temporary SQLite file.
"""
from __future__ import annotations

import argparse
import gc
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from bench_pages import scale_dataset  # noqa: E402
from territory_core.contract import A, O  # noqa: E402
from territory_core.dataset import Dataset, load_sample  # noqa: E402
from territory_core.plan.scenarios import dataset_fingerprint  # noqa: E402
from territory_core.store.datasets import DatasetStore  # noqa: E402


def realistic(ds: Dataset, n: int, seed: int = 11) -> Dataset:
    """The sample scaled to ``n`` accounts with unique names and per-copy noise on the numbers."""
    big = scale_dataset(ds, n)
    rng = np.random.default_rng(seed)
    acc = big.accounts.copy()
    acc[A.name] = acc[A.name] + " #" + pd.Series(np.arange(len(acc)), index=acc.index).astype(str)
    for c in (A.annual_revenue, A.arr, A.employees, A.open_pipeline):
        if c in acc:
            acc[c] = (acc[c] * rng.uniform(0.8, 1.2, len(acc))).round(2)
    opp = big.opportunities.copy()
    opp[O.amount] = (opp[O.amount] * rng.uniform(0.8, 1.2, len(opp))).round(2)
    return big.with_(accounts=acc, opportunities=opp, name=f"{n:,} accounts")


def mem_mb(ds: Dataset) -> float:
    return sum(getattr(ds, t).memory_usage(deep=True).sum() for t in ("accounts", "reps", "opportunities",
                                                                        "account_products")) / 1e6


def csv_mb(ds: Dataset) -> float:
    return sum(len(getattr(ds, t).to_csv(index=False).encode()) for t in ("accounts", "reps", "opportunities",
                                                                           "account_products")) / 1e6


def bench_one(url: str, ds: Dataset, name: str) -> dict:
    with DatasetStore(url) as store:
        gc.collect()
        t = time.perf_counter()
        info = store.create(ds, name=name, user="bench")
        save_s = time.perf_counter() - t
        gc.collect()
        t = time.perf_counter()
        back = store.load(info.id, info.version)
        load_s = time.perf_counter() - t
        same = dataset_fingerprint(back) == info.fingerprint
    return {"save_s": save_s, "load_s": load_s, "stored_mb": info.stored_bytes / 1e6,
            "bytes_per_account": info.stored_bytes / max(1, len(ds.accounts)), "round_trip": "exact" if same else "DIFFERS"}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[30_000, 100_000, 300_000])
    ap.add_argument("--db", action="append", default=[], metavar="URL", help="a database to measure (repeatable)")
    ap.add_argument("--pg-local", action="store_true", help="also measure a throwaway local PostgreSQL")
    args = ap.parse_args(argv)

    dbs: list[tuple[str, str]] = []
    tmp = tempfile.mkdtemp(prefix="bench-datasets-")
    dbs.append(("sqlite", f"sqlite:///{tmp}/bench.db"))
    for u in args.db:
        dbs.append((u.split(":", 1)[0], u))
    stop = None
    if args.pg_local:
        sys.path.insert(0, str(ROOT / "tests"))
        from conftest_pg import _start_local

        try:
            url, stop = _start_local()
            dbs.append(("postgresql", url))
        except RuntimeError as exc:
            print(f"(PostgreSQL skipped: {exc})")

    sample = load_sample()
    rows = []
    try:
        for n in args.sizes:
            ds = realistic(sample, n)
            base = {"accounts": len(ds.accounts), "opportunities": len(ds.opportunities),
                    "product rows": len(ds.account_products), "in memory MB": mem_mb(ds), "as CSV MB": csv_mb(ds)}
            for label, url in dbs:
                r = bench_one(url, ds, f"bench {n} {time.time_ns()}")
                rows.append({**base, "database": label, **r})
                print(f"  {n:,} accounts on {label}: save {r['save_s']:.2f} s, load {r['load_s']:.2f} s, "
                      f"{r['stored_mb']:.1f} MB", flush=True)
            del ds
    finally:
        if stop:
            stop()

    print()
    print("| accounts | opportunities | product rows | database | save s | load s | stored MB | bytes / account "
          "| as CSV MB | in memory MB | round trip |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['accounts']:,} | {r['opportunities']:,} | {r['product rows']:,} | {r['database']} | "
              f"{r['save_s']:.2f} | {r['load_s']:.2f} | {r['stored_mb']:.1f} | {r['bytes_per_account']:.0f} | "
              f"{r['as CSV MB']:.1f} | {r['in memory MB']:.0f} | {r['round_trip']} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
