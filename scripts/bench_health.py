"""Timings of the core calls behind the Territory Health page (territory_core.analyse.kpis), at the
sample's size (6k accounts) and at 50k (the sample replicated, as in scripts/bench_pages.py).
Prints a table; no assertions.

    .venv/bin/python scripts/bench_health.py [--sizes 6000 50000] [--repeat 3]
"""
from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from territory_core.contract import A  # noqa: E402
from territory_core.dataset import Dataset  # noqa: E402
from territory_core.analyse.enrich import enrich_accounts  # noqa: E402
from territory_core.analyse.kpis import (  # noqa: E402
    HealthThresholds, K, Period, data_as_of, health_flags, kpi_balance, periods_available, quarterly_trend,
    rep_accounts, rep_kpis, rep_pipeline, rollup_kpis, suggest_quotas, team_summary,
)


def bench(ds: Dataset, repeat: int) -> dict[str, tuple[float, float]]:
    enriched = enrich_accounts(ds)
    as_of = data_as_of(ds.opportunities)
    q = Period("quarter", as_of)
    t12 = Period("t12m", as_of)
    k = rep_kpis(ds.accounts, ds.reps, ds.opportunities, q, enriched=enriched)
    rid = k.sort_values(K.accounts)[K.rep_id].iloc[-1]
    owner = pd.Series(ds.accounts[A.owner_id].to_numpy(), index=ds.accounts[A.account_id]).sample(frac=1.0, random_state=1)
    owner.index = ds.accounts[A.account_id].to_numpy()  # a shuffled "scenario"
    calls = {
        "periods_available": lambda: periods_available(ds.opportunities),
        "rep_kpis (quarter, enriched)": lambda: rep_kpis(ds.accounts, ds.reps, ds.opportunities, q, enriched=enriched),
        "rep_kpis (t12m, no enrichment)": lambda: rep_kpis(ds.accounts, ds.reps, ds.opportunities, t12),
        "rep_kpis (scenario owner)": lambda: rep_kpis(ds.accounts, ds.reps, ds.opportunities, q, owner=owner,
                                                      enriched=enriched),
        "health_flags": lambda: health_flags(k, HealthThresholds()),
        "team_summary + rollup by manager": lambda: (team_summary(k), rollup_kpis(k, ds.reps, by="manager")),
        "kpi_balance (arr)": lambda: kpi_balance(k, K.arr),
        "suggest_quotas": lambda: suggest_quotas(ds.reps, k, 30e6),
        "quarterly_trend (team, 8 q)": lambda: quarterly_trend(ds.opportunities, ds.accounts),
        "drill-down: rep_accounts + rep_pipeline": lambda: (
            rep_accounts(ds.accounts, rid, ds.opportunities, enriched=enriched, period=q),
            rep_pipeline(ds.opportunities, ds.accounts, rid)),
    }
    from scripts.bench_pages import time_calls

    return time_calls(calls, repeat)


def main(argv=None) -> int:
    from scripts.bench_pages import run_benchmark

    return run_benchmark(bench, __doc__.splitlines()[0], "core call", "", argv)


if __name__ == "__main__":
    sys.exit(main())
