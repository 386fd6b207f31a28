"""Synthetic instances, a greedy baseline and the solver benchmark (used by
``python -m territory_core benchmark`` and ``scripts/benchmark_solver.py``).

Instances are generated deterministically from a seed: lognormal annual revenue, arr on about
60% of accounts (customers), a few families, and a skewed current plan (the first reps own
far more than their share), so that balancing needs real moves.
"""
from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time

import numpy as np
import pandas as pd

from ..contract import A, R, X
from ..dataset import ROOT

DEFAULT_SIZES = ((1000, 20), (10000, 50), (100000, 200))


def make_instance(n_accounts: int, n_reps: int, seed: int = 7, family_share: float = 0.0,
                  skew: float = 0.6) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    ids = np.array([f"A{i:07d}" for i in range(n_accounts)], dtype=object)
    rev = np.round(rng.lognormal(13.0, 1.0, n_accounts), 0)
    customer = rng.random(n_accounts) < 0.6
    arr = np.where(customer, np.round(rng.lognormal(10.5, 0.9, n_accounts), 0), 0.0)
    rep_ids = np.array([f"R{j:04d}" for j in range(n_reps)], dtype=object)
    # skewed plan: owner probability falls with the rep's index
    w = (np.arange(n_reps) + 1.0) ** (-skew)
    w = w / w.sum()
    owner = rep_ids[rng.choice(n_reps, size=n_accounts, p=w)]
    parent = np.array([None] * n_accounts, dtype=object)
    if family_share > 0:
        kids = np.flatnonzero(rng.random(n_accounts) < family_share)
        heads = rng.integers(0, n_accounts, size=len(kids))
        ok = heads < kids  # parent earlier in the list: no cycles
        parent[kids[ok]] = ids[heads[ok]]
        # children start with the parent's owner (as CRMs usually have it)
        owner[kids[ok]] = owner[heads[ok]]
    accounts = pd.DataFrame({
        A.account_id: pd.array(ids, dtype="string"), A.name: pd.array([f"Account {i}" for i in range(n_accounts)], dtype="string"),
        A.parent_id: pd.array(parent, dtype="string"), A.annual_revenue: rev, A.arr: arr,
        A.owner_id: pd.array(owner, dtype="string"),
        A.locked: pd.array(np.zeros(n_accounts, dtype=bool), dtype="boolean"),
        A.named: pd.array(np.zeros(n_accounts, dtype=bool), dtype="boolean"),
    })
    reps = pd.DataFrame({
        R.rep_id: pd.array(rep_ids, dtype="string"), R.name: pd.array([f"Rep {j}" for j in range(n_reps)], dtype="string"),
        R.capacity: 1.0, R.ramp: 1.0, R.active: pd.array(np.ones(n_reps, dtype=bool), dtype="boolean"),
    })
    return accounts, reps


def greedy_baseline(accounts: pd.DataFrame, reps: pd.DataFrame, metrics, max_iter: int | None = None):
    """What a spreadsheet user does: take the most overloaded rep, give the account that best
    evens things out to the most underloaded rep, repeat while it helps. Returns
    (moves, worst deviation over metrics, per-metric worst deviation)."""
    from .prep import metric_values
    cols = [m.column for m in metrics]
    V = np.column_stack([metric_values(accounts, c) for c in cols])
    rep_ids = reps[R.rep_id].astype(str).to_numpy()
    pos = {r: i for i, r in enumerate(rep_ids)}
    own = np.array([pos.get(str(o), 0) for o in accounts[A.owner_id].astype(str)])
    orig = own.copy()
    nr = len(rep_ids)
    T = V.sum(axis=0)[None, :] / nr
    tol = np.array([m.tolerance for m in metrics])
    load = np.zeros((nr, V.shape[1]))
    for m in range(V.shape[1]):
        load[:, m] = np.bincount(own, weights=V[:, m], minlength=nr)
    by_rep = [list(np.flatnonzero(own == j)) for j in range(nr)]
    max_iter = max_iter or 4 * len(accounts)
    for _ in range(max_iter):
        rel = load / T - 1
        score = np.max(np.abs(rel) / tol, axis=1)
        if score.max() <= 1 + 1e-9:
            break
        o = int(np.argmax(np.max(rel / tol, axis=1)))
        u = int(np.argmin(np.min(rel / tol, axis=1)))
        if o == u or not by_rep[o]:
            break
        idx = np.array(by_rep[o])
        after_o = (load[o][None, :] - V[idx]) / T - 1
        after_u = (load[u][None, :] + V[idx]) / T - 1
        worst = np.maximum(np.max(np.abs(after_o) / tol, axis=1), np.max(np.abs(after_u) / tol, axis=1))
        before = max(score[o], score[u])
        b = int(np.argmin(worst))
        if worst[b] >= before - 1e-12:
            break
        a = idx[b]
        by_rep[o].remove(a)
        by_rep[u].append(a)
        load[o] -= V[a]
        load[u] += V[a]
        own[a] = u
    rel = np.abs(load / T - 1)
    per = {c: float(rel[:, m].max()) for m, c in enumerate(cols)}
    return int((own != orig).sum()), float(rel.max()), per


def bench_one(n: int, r: int, time_limit: float = 300.0, seed: int = 7, tolerance: float = 0.05,
              greedy: bool = True, scope: str = "all", leavers: float = 0.1) -> dict:
    """Solve one synthetic instance; returns a row of the benchmark table. ``scope="affected"``:
    a share ``leavers`` of the reps (chosen with the seed) leave, and only their books move, with
    do-no-harm bands (the stability-first rebalance)."""
    from .model import Metric, SolverSettings, solve
    accounts, reps = make_instance(n, r, seed)
    if scope != "all":
        rng = np.random.default_rng(seed + 1)
        gone = rng.choice(r, size=max(1, int(round(leavers * r))), replace=False)
        act = np.ones(r, dtype=bool)
        act[gone] = False
        reps[R.active] = pd.array(act, dtype="boolean")
    metrics = (Metric(A.annual_revenue, tolerance), Metric(A.arr, tolerance), Metric(X.account_count, tolerance))
    s = SolverSettings(metrics=metrics, objective="disruption", keep_families=False, time_limit=time_limit,
                       seed=seed, scope=scope)
    t = time.monotonic()
    res = solve(accounts, reps, s)
    wall = time.monotonic() - t
    label = f"{n}x{r}" if scope == "all" else f"{n}x{r} {scope} ({int((~reps[R.active].astype(bool)).sum())} leave)"
    row = {"size": label, "build_s": round(res.build_seconds, 2), "solve_s": round(res.solve_seconds, 2),
           "total_s": round(wall, 2), "limit_s": time_limit,
           "limit_ok": bool(wall <= 1.1 * time_limit + 2.0),  # the promise: at most 10% + 2 s over
           "status": res.status,
           "gap": None if res.gap is None else round(res.gap, 5), "moves": res.moves,
           "lp_bound_moves": None if res.lp_bound is None else round(res.lp_bound, 2),
           "worst_dev": round(max(res.max_deviation.values()), 4) if res.max_deviation else None}
    for k, v in res.max_deviation.items():
        row[f"dev_{k}"] = round(v, 4)
    if greedy and scope == "all":
        gm, gw, _ = greedy_baseline(accounts, reps, metrics)
        row["greedy_moves"] = gm
        row["greedy_worst_dev"] = round(gw, 4)
    row["peak_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 0)
    return row


def run_benchmark(sizes=DEFAULT_SIZES, time_limit: float = 300.0, seed: int = 7, isolate: bool = True,
                  echo=None, tolerance: float = 0.05, scope: str = "all", leavers: float = 0.1) -> pd.DataFrame:
    """Each size in its own process (so peak memory is that size's), rows as they finish."""
    rows = []
    for n, r in sizes:
        if isolate:
            cmd = [sys.executable, "-m", "territory_core.solve.bench", str(n), str(r), str(time_limit), str(seed),
                   str(tolerance), scope, str(leavers)]
            env = dict(os.environ)
            root = str(ROOT)
            env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
            out = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=root)
            if out.returncode != 0:
                row = {"size": f"{n}x{r}", "status": "error: " + (out.stderr.strip().splitlines() or ["?"])[-1]}
            else:
                row = json.loads(out.stdout.strip().splitlines()[-1])
        else:
            row = bench_one(n, r, time_limit, seed, tolerance, scope=scope, leavers=leavers)
        rows.append(row)
        if echo:
            echo(row)
    return pd.DataFrame(rows)


if __name__ == "__main__":  # one size, JSON on stdout (used by run_benchmark)
    n_, r_, tl_, seed_ = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
    tol_ = float(sys.argv[5]) if len(sys.argv) > 5 else 0.05
    scope_ = sys.argv[6] if len(sys.argv) > 6 else "all"
    leavers_ = float(sys.argv[7]) if len(sys.argv) > 7 else 0.1
    print(json.dumps(bench_one(n_, r_, tl_, seed_, tol_, scope=scope_, leavers=leavers_)))
