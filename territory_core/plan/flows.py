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

import pandas as pd

from ..contract import A, S

LEVELS = {"state": A.state, "county": A.county}
AREA_COLUMNS = ["area", "accounts", "arr", "lead_rep_id", "lead_accounts", "lead_arr", "lead_share", "reps",
                "moved", "moved_arr", "top_receiver", "top_receiver_arr"]
FLOW_COLUMNS = ["from_rep_id", "to_rep_id", "from_name", "to_name", "accounts", "arr"]


def _owners(assignment: pd.DataFrame) -> pd.Series:
    a = assignment[[S.account_id, S.rep_id]].drop_duplicates(S.account_id)
    return pd.Series(a[S.rep_id].astype("string").to_numpy(), index=a[S.account_id].astype("string").to_numpy())


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
    ids = accounts[A.account_id].astype("string")
    arr = pd.to_numeric(accounts[A.arr], errors="coerce").fillna(0.0) if A.arr in accounts.columns else \
        pd.Series(0.0, index=accounts.index)
    b = pd.DataFrame({"area": accounts[col].astype("string").str.strip().to_numpy(),
                      "rep": ids.map(_owners(assignment)).to_numpy(), "arr": arr.to_numpy(dtype=float)})
    if baseline is not None:
        b["base"] = ids.map(_owners(baseline)).to_numpy()
    b = b[(b["area"].fillna("") != "").to_numpy() & b["rep"].notna().to_numpy()]
    if b.empty:
        return pd.DataFrame(columns=AREA_COLUMNS)
    tot = b.groupby("area", sort=True).agg(accounts=("arr", "size"), arr=("arr", "sum"), reps=("rep", "nunique"))
    per = b.groupby(["area", "rep"], sort=False).agg(n=("arr", "size"), v=("arr", "sum")).reset_index()
    per = per.sort_values(["area", "v", "n", "rep"], ascending=[True, False, False, True], kind="mergesort")
    lead = per.drop_duplicates("area").set_index("area")
    out = tot.assign(lead_rep_id=lead["rep"], lead_accounts=lead["n"].astype(int), lead_arr=lead["v"])
    out["lead_share"] = out["lead_accounts"] / out["accounts"]
    if baseline is not None:
        mv = b[(b["rep"].astype("string").fillna("") != b["base"].astype("string").fillna("")).to_numpy()]
        out["moved"] = mv.groupby("area").size().reindex(out.index).fillna(0).astype(int)
        out["moved_arr"] = mv.groupby("area")["arr"].sum().reindex(out.index).fillna(0.0)
        rc = mv.groupby(["area", "rep"], sort=False)["arr"].agg(["sum", "size"]).reset_index()
        rc = rc.sort_values(["area", "sum", "size", "rep"], ascending=[True, False, False, True], kind="mergesort")
        top = rc.drop_duplicates("area").set_index("area")
        out["top_receiver"] = top["rep"].reindex(out.index).astype("string")
        out["top_receiver_arr"] = top["sum"].reindex(out.index).fillna(0.0)
    else:
        out["moved"], out["moved_arr"] = 0, 0.0
        out["top_receiver"], out["top_receiver_arr"] = pd.NA, 0.0
    out = out.reset_index()
    out["lead_rep_id"] = out["lead_rep_id"].astype("string")
    out["top_receiver"] = out["top_receiver"].astype("string")
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
