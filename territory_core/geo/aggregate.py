"""Aggregations behind the Whitespace Map: by state, county, segment or industry x size.

Input is an enriched account frame (see :func:`territory_core.analyse.enrich.enrich_accounts`), already
filtered the way the user wants. Coverage counts the reps who own accounts in an area in two
ways: ``covering_reps`` (distinct owners) and ``rep_fte``, each owner's capacity (FTE x ramp)
split across the areas in proportion to the number of their accounts there, so a rep with one
account in a state does not count as a full rep there. ``coverage`` is potential per covering rep
FTE; the under/over-served table compares it against the median.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..contract import A, R, X
from ..analyse.scoring import SIZE_BAND, SIZE_BAND_NAMES, TOTAL_ARR

LEVELS = {"state": A.state, "county": A.county}
METRICS = {
    "whitespace": "Whitespace (USD)",
    "potential": "Potential (USD)",
    "penetration": "Penetration (ARR / potential)",
    "coverage": "Potential per covering rep FTE (USD)",
}


def _num(df: pd.DataFrame, col: str) -> pd.Series:
    if col not in df.columns:
        return pd.Series(0.0, index=df.index)
    return pd.to_numeric(df[col], errors="coerce").fillna(0.0)


def rep_capacity(reps: pd.DataFrame | None) -> pd.Series:
    """FTE per rep_id: capacity x ramp (1 when missing; inactive reps 0)."""
    if reps is None or reps.empty or R.rep_id not in reps.columns:
        return pd.Series(dtype=float)
    cap = _num(reps, R.capacity).where(reps[R.capacity].notna(), 1.0) if R.capacity in reps.columns else pd.Series(1.0, index=reps.index)
    ramp = pd.to_numeric(reps[R.ramp], errors="coerce").fillna(1.0) if R.ramp in reps.columns else 1.0
    fte = cap * ramp
    if R.active in reps.columns:
        fte = fte.where(reps[R.active].fillna(True).astype(bool), 0.0)
    s = pd.Series(fte.to_numpy(dtype=float), index=reps[R.rep_id].astype("string").to_numpy())
    return s[~s.index.duplicated()]


def _base(df: pd.DataFrame, keys: list[pd.Series]) -> pd.DataFrame:
    arr_col = TOTAL_ARR if TOTAL_ARR in df.columns else A.arr
    b = pd.DataFrame({f"k{i}": k.astype("string").fillna("(none)").to_numpy() for i, k in enumerate(keys)})
    b["potential"] = _num(df, X.potential).to_numpy()
    b["whitespace"] = _num(df, X.whitespace).to_numpy()
    b["arr"] = _num(df, arr_col).to_numpy()
    b["owner"] = df[A.owner_id].astype("string").to_numpy() if A.owner_id in df.columns else pd.NA
    return b


def _group(df: pd.DataFrame, keys: list[pd.Series], reps: pd.DataFrame | None,
           book: pd.DataFrame | None = None) -> pd.DataFrame:
    """Sums and rep coverage per key combination. ``book`` (default ``df``) is the whole book
    used to split each rep's FTE: a filter narrows the areas, not the reps' books."""
    b = _base(df, keys)
    kcols = [c for c in b.columns if c.startswith("k")]
    g = b.groupby(kcols, sort=False, dropna=False).agg(
        accounts=("potential", "size"), arr=("arr", "sum"), potential=("potential", "sum"),
        whitespace=("whitespace", "sum"), covering_reps=("owner", "nunique"))
    cap = rep_capacity(reps)
    bk = book if book is not None else df
    total_per_rep = (bk[A.owner_id].astype("string").value_counts() if A.owner_id in bk.columns
                     else pd.Series(dtype=float))
    own = b.dropna(subset=["owner"])
    if len(own):
        cnt = own.groupby(kcols + ["owner"], sort=False).size().rename("n").reset_index()
        fte = cnt["owner"].map(cap).fillna(1.0)  # an owner missing from the reps counts as 1 FTE
        cnt["fte"] = fte * cnt["n"] / cnt["owner"].map(total_per_rep).astype(float)
        g["rep_fte"] = cnt.groupby(kcols, sort=False)["fte"].sum().reindex(g.index).fillna(0.0)
    else:
        g["rep_fte"] = 0.0
    g["penetration"] = g["arr"] / g["potential"].replace(0, np.nan)
    g["coverage"] = g["potential"] / g["rep_fte"].replace(0, np.nan)
    return g


def area_metrics(accounts: pd.DataFrame, level: str = "state", reps: pd.DataFrame | None = None,
                 book: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per state (2-letter code) or county (5-digit FIPS): area, accounts, arr,
    potential, whitespace, covering_reps, rep_fte, penetration (arr / potential) and coverage
    (potential per covering rep FTE; missing where no rep covers the area)."""
    if level not in LEVELS:
        raise ValueError(f"level must be one of {', '.join(LEVELS)} (got {level!r})")
    col = LEVELS[level]
    if col not in accounts.columns:
        raise ValueError(f"the accounts have no {col!r} column, needed for a {level} map")
    key = accounts[col].astype("string").str.strip()
    if level == "state":
        key = key.str.upper()
    else:
        key = key.str.zfill(5)
    g = _group(accounts, [key], reps, book)
    g.index = g.index.get_level_values(0) if isinstance(g.index, pd.MultiIndex) else g.index
    g.index.name = "area"
    g = g[g.index != "(none)"]
    return g.reset_index()


def service_table(accounts: pd.DataFrame, by: str = "state", reps: pd.DataFrame | None = None,
                  band: float = 0.25, book: pd.DataFrame | None = None) -> pd.DataFrame:
    """Under- and over-served areas or segments: potential per covering rep FTE against the
    median of the groups that have reps.

    ``by``: "state", "county", "segment" or "industry". Columns: group, accounts, potential,
    whitespace, arr, rep_fte, covering_reps, coverage, vs_median (coverage / median), status
    ("under-served": more than (1 + band) x the median potential per rep, or potential with no
    rep; "over-served": under (1 - band) x; else "balanced"). Most under-served first."""
    cols = {"state": A.state, "county": A.county, "segment": X.segment, "industry": A.industry}
    if by not in cols:
        raise ValueError(f"by must be one of {', '.join(cols)} (got {by!r})")
    if cols[by] not in accounts.columns:
        raise ValueError(f"the accounts have no {cols[by]!r} column")
    g = _group(accounts, [accounts[cols[by]]], reps, book)
    g.index = g.index.get_level_values(0) if isinstance(g.index, pd.MultiIndex) else g.index
    g.index.name = "group"
    g = g.reset_index()
    med = float(g.loc[g["rep_fte"] > 0, "coverage"].median()) if (g["rep_fte"] > 0).any() else np.nan
    g["vs_median"] = g["coverage"] / med if med and not np.isnan(med) else np.nan
    status = np.where(g["vs_median"] > 1 + band, "under-served",
                      np.where(g["vs_median"] < 1 - band, "over-served", "balanced"))
    status = np.where((g["rep_fte"] <= 0) & (g["potential"] > 0), "under-served (no rep)", status)
    g["status"] = status
    g["sort"] = g["vs_median"].fillna(np.inf)
    g = g.sort_values("sort", ascending=False, kind="stable").drop(columns="sort")
    return g[["group", "status", "accounts", "potential", "whitespace", "arr", "covering_reps", "rep_fte",
              "coverage", "vs_median"]].reset_index(drop=True)


def heatmap_data(accounts: pd.DataFrame, reps: pd.DataFrame | None = None,
                 book: pd.DataFrame | None = None) -> pd.DataFrame:
    """Industry x employee size band, long form: industry, size_band, accounts, whitespace,
    potential, arr, rep_fte and whitespace_per_rep, size bands in ascending order.

    ``whitespace_per_rep`` is whitespace per covering rep FTE, with a cell covered by less than one
    FTE counted as one (a rep with 2 of their 200 accounts in a cell covers 0.01 FTE there; dividing
    by that would show 100 times the cell's whitespace). So no cell exceeds its own whitespace, and
    a cell no rep covers shows all of it."""
    from ..analyse.scoring import size_band

    ind = accounts[A.industry] if A.industry in accounts.columns else pd.Series("(none)", index=accounts.index)
    band = accounts[SIZE_BAND] if SIZE_BAND in accounts.columns else size_band(accounts[A.employees])
    g = _group(accounts, [ind, band], reps, book)
    g.index.names = ["industry", SIZE_BAND]
    g = g.reset_index()
    g["whitespace_per_rep"] = g["whitespace"] / np.maximum(g["rep_fte"].to_numpy(dtype=float), 1.0)
    order = {b: i for i, b in enumerate((*SIZE_BAND_NAMES, "unknown"))}
    g["_o"] = g[SIZE_BAND].map(order)
    return g.sort_values(["industry", "_o"]).drop(columns="_o").reset_index(drop=True)
