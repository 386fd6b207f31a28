"""Benchmark of territory design (python scripts/bench_design.py [--quick] [--zip] [--time-limit S]).

Prints one row per instance: instance, units, territories, objective, bound, gap, seconds,
contiguous, worst deviation. Instances:
- the Pfizer Turkey case (../shared/benchmarks, when present): 22 bricks x 4 and 100 x 10, the
  offices as fixed centres, workload within [0.8, 1.2] of the mean, no adjacency file (contiguity
  not applicable); compactness (sum of distances to the office) and minimal disruption;
- generated Rios-Mercado-style instances (territory_core.geo.instances, fixed seeds): units on a
  500 x 500 plane, Delaunay adjacency, 3 measures within +-5% of the mean, contiguity, p-median;
- scale: the mainland's 3,108 counties into 50 territories, and (--zip) its ZIP areas into 200,
  two synthetic measures per unit (seed 7) within +-5%.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from territory_core.geo.design import CompactTerritories, LeastDisruptionTerritories  # noqa: E402
from territory_core.geo.instances import MEASURES, rios_mercado_instance  # noqa: E402

BENCH = ROOT.parent / "shared" / "benchmarks"
FAR = ("AK", "HI", "PR", "GU", "VI", "AS", "MP")


def row(name, m, t):
    r = m.report_
    return {"instance": name, "units": r["units"], "territories": r["territories"], "status": m.status_,
            "objective": m.objective_, "bound": m.bound_, "gap": m.gap_, "seconds": round(t, 1),
            "contiguous": r.get("contiguous"), "worst_deviation": r.get("worst_deviation"), "method": m.method_}


def pfizer(time_limit):
    out = []
    for case in ("pfizer_22x4", "pfizer_100x10"):
        if not (BENCH / case / "accounts.csv").exists():
            print(f"(skipped {case}: ../shared/benchmarks not present)")
            continue
        acc = pd.read_csv(BENCH / case / "accounts.csv").rename(columns={"account_id": "unit_id"})
        reps = pd.read_csv(BENCH / case / "reps.csv")
        d = pd.read_csv(BENCH / case / "distances.csv").rename(columns={"account_id": "unit_id"})
        d["centre"] = d["rep_id"].map(dict(zip(reps.rep_id, reps.office_account_id)))
        terr = pd.DataFrame({"territory": reps.rep_id, "centre": reps.office_account_id})
        t = time.time()
        m = CompactTerritories.from_cost_matrix(acc, d, territories=terr, balance={"workload_index": 0.2}) \
            .solve(time_limit=time_limit, method="exact")
        out.append(row(f"{case} distance", m, time.time() - t))
        t = time.time()
        m = LeastDisruptionTerritories.from_cost_matrix(acc, d, territories=terr, balance={"workload_index": 0.2},
                                                        current=dict(zip(acc.unit_id, acc.owner_id)),
                                                        moved_weight="workload_index").solve(time_limit=time_limit, method="exact")
        out.append(row(f"{case} disruption", m, time.time() - t))
    return out


def generated(time_limit, quick):
    cases = [(24, 2, 1), (40, 2, 4), (60, 3, 1)] if quick else [(24, 2, 1), (40, 2, 4), (60, 3, 1), (60, 4, 1), (80, 4, 2)]
    out = []
    for n, p, seed in cases:
        inst = rios_mercado_instance(n, p, seed)
        t = time.time()
        m = CompactTerritories.from_frames(inst.units, inst.edges, territories=p,
                                           balance={k: inst.tolerance for k in MEASURES}).solve(time_limit=time_limit, method="exact")
        out.append(row(inst.name, m, time.time() - t))
    return out


def scale(level, p, time_limit):
    from territory_core.geo import units as U

    states = [s for s in U.state_units()["state"] if s not in FAR]
    t0 = time.time()
    u = U.build_units(level, states)
    adj = U.adjacency(u, tolerance=U.SHIPPED_TOLERANCE)
    prep = time.time() - t0
    rng = np.random.default_rng(7)
    meas = pd.DataFrame({"unit_id": u["unit_id"], "lat": u["lat"], "lon": u["lon"],
                         "workload": rng.integers(15, 101, len(u)), "sales": rng.integers(15, 401, len(u))})
    t = time.time()
    m = CompactTerritories.from_frames(meas, adj.edges, territories=p, balance={"workload": 0.05, "sales": 0.05}) \
        .solve(time_limit=time_limit, method="heuristic")
    r = row(f"{level} scale (units built in {prep:.0f} s)", m, time.time() - t)
    return [r]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small instances only")
    ap.add_argument("--zip", action="store_true", help="add the ZIP-area scale row (slow)")
    ap.add_argument("--time-limit", type=float, default=240.0)
    a = ap.parse_args()
    rows = pfizer(a.time_limit) + generated(a.time_limit, a.quick)
    if not a.quick:
        rows += scale("county", 50, 120)
        if a.zip:
            rows += scale("zip", 200, 300)
    df = pd.DataFrame(rows)
    pd.set_option("display.width", 200)
    print(df.to_string(index=False, float_format=lambda v: f"{v:,.6g}"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
