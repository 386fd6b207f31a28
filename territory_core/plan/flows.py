"""Plans at scale, by area and by rep: what Compare draws when a book has too many accounts for one
dot each.

- :func:`plan_areas`: per state or county, the accounts and ARR of a plan, who leads there (the
  rep holding the most ARR, then the most accounts) and with what share; with a baseline, how many
  accounts and how much ARR change hands there and who receives the most.
- :func:`rep_flows`: the moves between two plans as flows from rep to rep, with the accounts and
  ARR of each flow (largest ARR first).

Plain frames in and out; no Streamlit.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np
import pandas as pd

from ..contract import A, S

LEVELS = {"state": A.state, "county": A.county}
AREA_COLUMNS = ["area", "accounts", "arr", "lead_rep_id", "lead_accounts", "lead_arr", "lead_share", "reps",
                "moved", "moved_arr", "top_receiver", "top_receiver_arr"]
FLOW_COLUMNS = ["from_rep_id", "to_rep_id", "from_name", "to_name", "accounts", "arr"]


def _owner_codes(ids: pd.Index, assignment: pd.DataFrame, rep_ids: pd.Index) -> np.ndarray:
    """Each account's owner in ``assignment`` (its first row per account) as a position in
    ``rep_ids``; -1 when the plan gives it no owner."""
    a = assignment[[S.account_id, S.rep_id]].drop_duplicates(S.account_id)
    pos = pd.Index(a[S.account_id].astype("string").to_numpy()).get_indexer(ids)
    codes = rep_ids.get_indexer(a[S.rep_id].astype("string"))
    return np.where(pos >= 0, codes[np.clip(pos, 0, None)], -1) if len(codes) else np.full(len(ids), -1)


def _first_per_area(area: np.ndarray, rep: np.ndarray, n_reps: int,
                    weight: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Accounts and ``weight`` per (area, rep), then per area the rep with the most weight, then the
    most accounts, then the first rep code (codes follow rep id order). Returns (area, rep,
    accounts, weight) per area, areas ascending."""
    pair, inv = np.unique(area * n_reps + rep, return_inverse=True)
    n = np.bincount(inv, minlength=len(pair))
    v = np.bincount(inv, weights=weight, minlength=len(pair))
    p_area, p_rep = pair // n_reps, pair % n_reps
    order = np.lexsort((p_rep, -n, -v, p_area))
    if len(order):
        order = order[np.r_[True, p_area[order][1:] != p_area[order][:-1]]]
    return p_area[order], p_rep[order], n[order], v[order]


def plan_areas(accounts: pd.DataFrame, assignment: pd.DataFrame, level: str = "county",
               baseline: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per area (state code or county FIPS) holding accounts of ``assignment``: ``accounts``,
    ``arr``; ``lead_rep_id`` (the owner with the most ARR there, ties by accounts, then rep id),
    ``lead_accounts``, ``lead_arr``, ``lead_share`` (the lead's share of the area's accounts) and
    ``reps`` (distinct owners). With ``baseline`` (another plan's assignment): ``moved`` and
    ``moved_arr``, the accounts owned by someone else than in the baseline, and ``top_receiver``
    (the rep receiving the most of that ARR) with ``top_receiver_arr``; without, those are 0 / NA.
    Accounts without an area or an owner in the plan are left out. Raises ValueError when the
    accounts have no column for ``level``."""
    if level not in LEVELS:
        raise ValueError(f"level must be one of {', '.join(LEVELS)}, not {level!r}")
    col = LEVELS[level]
    if col not in accounts.columns:
        raise ValueError(f"the accounts have no {col} column")
    ids = pd.Index(accounts[A.account_id].astype("string").to_numpy())
    arr = pd.to_numeric(accounts[A.arr], errors="coerce").fillna(0.0).to_numpy(dtype=float) \
        if A.arr in accounts.columns else np.zeros(len(accounts))
    # integer codes: areas in sorted order (blank = none), reps of both plans in id order
    area_txt = accounts[col].astype("string").str.strip()
    area_code, areas = pd.factorize(area_txt.where(area_txt != ""), sort=True)
    areas = np.asarray(areas, dtype=object)
    plans = [assignment] + ([baseline] if baseline is not None else [])
    reps = pd.Index(pd.concat([p[S.rep_id].astype("string") for p in plans]).dropna().unique()).sort_values()
    rep_ids, n_reps = reps.to_numpy(dtype=object), max(len(reps), 1)
    rep = _owner_codes(ids, assignment, reps)
    keep = (area_code >= 0) & (rep >= 0)
    if not keep.any():
        return pd.DataFrame(columns=AREA_COLUMNS)
    k_area, k_rep, k_arr = area_code[keep], rep[keep], arr[keep]
    present = np.unique(k_area)
    _, l_rep, l_n, l_v = _first_per_area(k_area, k_rep, n_reps, k_arr)  # one row per present area
    out = pd.DataFrame({
        "area": pd.array(areas[present], dtype="string"),
        "accounts": np.bincount(k_area)[present],
        "arr": np.bincount(k_area, weights=k_arr)[present],
        "reps": np.bincount(np.unique(k_area * n_reps + k_rep) // n_reps)[present],
        "lead_rep_id": pd.array(rep_ids[l_rep], dtype="string"),
        "lead_accounts": l_n.astype(int),
        "lead_arr": l_v.astype(float),
    })
    out["lead_share"] = out["lead_accounts"] / out["accounts"]
    if baseline is not None:
        base = _owner_codes(ids, baseline, reps)[keep]
        blank = reps.get_loc("") if "" in reps else -1  # an owner given as "" is no owner, as in the baseline's gaps
        moved = np.where(k_rep == blank, -1, k_rep) != np.where(base == blank, -1, base)
        slot = np.searchsorted(present, k_area[moved])
        out["moved"] = np.bincount(slot, minlength=len(present)).astype(int)
        out["moved_arr"] = np.bincount(slot, weights=k_arr[moved], minlength=len(present)).astype(float)
        t_area, t_rep, _, t_v = _first_per_area(k_area[moved], k_rep[moved], n_reps, k_arr[moved])
        at = np.searchsorted(present, t_area)
        top = np.full(len(present), None, dtype=object)
        top[at] = rep_ids[t_rep]
        top_arr = np.zeros(len(present))
        top_arr[at] = t_v
        out["top_receiver"], out["top_receiver_arr"] = pd.array(top, dtype="string"), top_arr
    else:
        out["moved"], out["moved_arr"] = 0, 0.0
        out["top_receiver"], out["top_receiver_arr"] = pd.array([pd.NA] * len(out), dtype="string"), 0.0
    return out[AREA_COLUMNS]


def rep_flows(moves: pd.DataFrame) -> pd.DataFrame:
    """The moves of :func:`territory_core.plan.scenarios.diff_scenarios` summed per (from rep, to
    rep): accounts and ARR, largest ARR first (then most accounts). Names come from the moves'
    ``from_name``/``to_name`` when present, else the ids."""
    if moves is None or moves.empty:
        return pd.DataFrame(columns=FLOW_COLUMNS)
    fr = moves["from_rep_id"].astype("string").fillna("")
    to = moves["to_rep_id"].astype("string").fillna("")
    m = pd.DataFrame({"from_rep_id": fr, "to_rep_id": to,
                      "from_name": (moves["from_name"] if "from_name" in moves else fr).astype("string").fillna("(no owner)"),
                      "to_name": (moves["to_name"] if "to_name" in moves else to).astype("string").fillna("(no owner)"),
                      "arr": pd.to_numeric(moves["arr"], errors="coerce").fillna(0.0).to_numpy(dtype=float)})
    g = m.groupby(["from_rep_id", "to_rep_id"], sort=False).agg(
        from_name=("from_name", "first"), to_name=("to_name", "first"), accounts=("arr", "size"), arr=("arr", "sum"))
    g = g.reset_index().sort_values(["arr", "accounts", "from_rep_id", "to_rep_id"],
                                    ascending=[False, False, True, True], kind="mergesort")
    g["accounts"] = g["accounts"].astype(int)
    g["from_rep_id"] = g["from_rep_id"].replace("", pd.NA)
    g["to_rep_id"] = g["to_rep_id"].replace("", pd.NA)
    return g[FLOW_COLUMNS].reset_index(drop=True)


def area_centroids(level: str) -> pd.DataFrame:
    """(area, lat, lon) of each state or county (its largest polygon's centroid), from the shipped
    boundaries (computed once per process)."""
    return _area_centroids(level).copy()


@lru_cache(maxsize=4)
def _area_centroids(level: str) -> pd.DataFrame:
    from ..geo import zips as geo

    if level == "state":
        c = geo.state_centroids()
        return pd.DataFrame({"area": list(c), "lat": [v[0] for v in c.values()], "lon": [v[1] for v in c.values()]})
    rows = []
    for f in geo.counties_geojson()["features"]:
        g = f["geometry"]
        polys = [g["coordinates"]] if g["type"] == "Polygon" else g["coordinates"]
        best = max((geo._ring_centroid(p) for p in polys), key=lambda t: t[0])  # noqa: SLF001
        rows.append((f["id"], best[2], best[1]))
    return pd.DataFrame(rows, columns=["area", "lat", "lon"]).astype({"lat": float, "lon": float})


__all__ = ["plan_areas", "rep_flows", "area_centroids", "AREA_COLUMNS", "FLOW_COLUMNS", "LEVELS"]
