"""The balance / disruption trade-off curve: for each tolerance, the fewest moves that bring every
book within it (epsilon-constraint), the points solved in parallel on the machine's cores.

Each point is an ordinary :func:`territory_core.solve.model.solve` with every balance metric at
that tolerance and the disruption objective (:func:`point_settings`), so a point solved on the
curve and the same settings solved alone give the same plan. Points run in worker processes (a
``spawn`` pool: safe inside a threaded server), report progress as they finish, and stop at once
on cancel (the pool is terminated).
"""
from __future__ import annotations

import os
import threading
import time
from dataclasses import replace
from typing import Callable, Mapping

import pandas as pd

from .priority import run_in_background, spawn_context
from .settings import SolverSettings, default_metrics

CURVE_COLUMNS = ["tolerance", "status", "moves", "objective", "bound", "gap", "arr_moved", "max_deviation", "seconds"]


def point_settings(settings: SolverSettings, accounts: pd.DataFrame, tolerance: float,
                   time_limit: float) -> SolverSettings:
    """The settings of one curve point: every balance metric at +-``tolerance``, fewest moves."""
    metrics = settings.metrics or default_metrics(accounts)
    return replace(settings, metrics=tuple(replace(m, tolerance=float(tolerance)) for m in metrics),
                   objective="disruption", time_limit=float(time_limit), verify_fixes=False)


def _row(tolerance: float, res, seconds: float) -> dict:
    return {"tolerance": float(tolerance), "status": res.status, "moves": int(res.moves) if res.ok else None,
            "objective": res.objective, "bound": res.bound, "gap": res.gap,
            "arr_moved": float(res.arr_moved) if res.ok else None,
            "max_deviation": max(res.max_deviation.values()) if res.ok and res.max_deviation else None,
            "seconds": round(seconds, 2)}


def _point(job: tuple) -> dict:
    """Worker: solve one point (module level, so a spawned process can import it)."""
    from .model import solve

    tol, accounts, reps, sdict, distances, opportunities, fixed = job
    t0 = time.monotonic()
    res = solve(accounts, reps, SolverSettings.from_dict(sdict), distances=distances,
                opportunities=opportunities, fixed=fixed)
    return _row(tol, res, time.monotonic() - t0)


def tradeoff_curve(accounts: pd.DataFrame, reps: pd.DataFrame, settings: SolverSettings | None = None,
                   tolerances=(0.02, 0.05, 0.1, 0.15, 0.2, 0.3), *, distances=None, opportunities=None,
                   fixed: Mapping[str, str] | None = None, time_limit_each: float | None = None,
                   workers: int | None = None, progress: Callable[[str, float], None] | None = None,
                   cancel: threading.Event | None = None) -> pd.DataFrame:
    """One row per tolerance (ascending): tolerance, status, moves, objective, bound, gap, arr_moved,
    max_deviation, seconds. ``workers``: processes (default: the machine's cores; 1 solves in this
    process). Cancelled: the rows finished so far, the rest with status "cancelled"."""
    settings = settings or SolverSettings()
    tols = sorted({float(t) for t in tolerances})
    tl = float(time_limit_each or max(2.0, settings.time_limit / max(1, len(tols))))
    jobs = [(t, accounts, reps, point_settings(settings, accounts, t, tl).to_dict(), distances, opportunities,
             dict(fixed) if fixed else None) for t in tols]
    say = progress or (lambda phase, frac: None)
    n = max(1, min(len(jobs), workers or os.cpu_count() or 1))
    rows: dict[float, dict] = {}
    say(f"0 of {len(jobs)} points", 0.0)
    if n == 1:
        for job in jobs:
            if cancel is not None and cancel.is_set():
                break
            rows[job[0]] = _point(job)
            say(f"{len(rows)} of {len(jobs)} points", len(rows) / len(jobs))
    else:
        # curve points at the machine's background priority: other users' pages stay quick meanwhile
        pool = spawn_context().Pool(processes=n, initializer=run_in_background)
        try:
            pending = [pool.apply_async(_point, (job,)) for job in jobs]
            while pending:
                if cancel is not None and cancel.is_set():
                    pool.terminate()
                    break
                left = []
                for ar in pending:
                    if ar.ready():
                        row = ar.get()
                        rows[row["tolerance"]] = row
                        say(f"{len(rows)} of {len(jobs)} points", len(rows) / len(jobs))
                    else:
                        left.append(ar)
                pending = left
                if pending:
                    time.sleep(0.1)
        finally:
            pool.terminate()
            pool.join()
    out = [rows.get(t) or {"tolerance": t, "status": "cancelled", "moves": None, "objective": None, "bound": None,
                           "gap": None, "arr_moved": None, "max_deviation": None, "seconds": None} for t in tols]
    return pd.DataFrame(out, columns=CURVE_COLUMNS)
