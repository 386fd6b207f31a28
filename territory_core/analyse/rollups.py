"""Corporate family roll-ups: value a family as its whole corporate tree.

Families come from :func:`territory_core.analyse.hierarchy.resolve_hierarchy` (ultimate parent and depth;
accounts in a parent cycle, or whose parent is missing from the data, head their own family).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..contract import A, O, X
from .hierarchy import resolve_hierarchy
from .scoring import TOTAL_ARR

FAMILY_SUMS = ("arr", "potential", "whitespace", "employees", "opportunities", "open_pipeline_opps", "won_amount")


def _with_hierarchy(accounts: pd.DataFrame) -> pd.DataFrame:
    if X.ultimate_parent_id in accounts.columns and X.depth in accounts.columns:
        return accounts
    h = resolve_hierarchy(accounts)
    out = accounts.copy()
    for c in h.columns:
        out[c] = h[c]
    return out


def _opp_counts(accounts: pd.DataFrame, opportunities: pd.DataFrame | None) -> pd.DataFrame:
    """Per account (aligned): opportunities (count), open amount and won amount."""
    n = len(accounts)
    res = pd.DataFrame({"opportunities": np.zeros(n), "open_pipeline_opps": np.zeros(n), "won_amount": np.zeros(n)},
                       index=accounts.index)
    if opportunities is None or opportunities.empty:
        return res
    o = opportunities
    amount = pd.to_numeric(o[O.amount], errors="coerce").fillna(0.0) if O.amount in o.columns else pd.Series(0.0, index=o.index)
    closed = o[O.is_closed].fillna(False).astype(bool) if O.is_closed in o.columns else pd.Series(False, index=o.index)
    won = o[O.is_won].fillna(False).astype(bool) if O.is_won in o.columns else pd.Series(False, index=o.index)
    from .scoring import account_positions

    pos = account_positions(accounts, o[O.account_id])
    ok = pos >= 0
    amt = amount.to_numpy(dtype=float)
    cl = closed.to_numpy(dtype=bool)
    wn = won.to_numpy(dtype=bool)
    res["opportunities"] = np.bincount(pos[ok], minlength=n).astype(float)
    res["open_pipeline_opps"] = np.bincount(pos[ok], weights=np.where(cl, 0.0, amt)[ok], minlength=n)
    res["won_amount"] = np.bincount(pos[ok], weights=np.where(wn, amt, 0.0)[ok], minlength=n)
    return res


def _values(df: pd.DataFrame, opportunities: pd.DataFrame | None) -> pd.DataFrame:
    def num(c):
        return pd.to_numeric(df[c], errors="coerce").fillna(0.0) if c in df.columns else pd.Series(0.0, index=df.index)

    arr = num(TOTAL_ARR) if TOTAL_ARR in df.columns else num(A.arr)
    v = pd.DataFrame({"arr": arr, "potential": num(X.potential), "whitespace": num(X.whitespace),
                      "employees": num(A.employees)}, index=df.index)
    return pd.concat([v, _opp_counts(df, opportunities)], axis=1)


def family_rollups(accounts: pd.DataFrame, opportunities: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per family (ultimate parent): ultimate_parent_id, parent_name, family_size,
    max_depth, states (distinct), owners (distinct), in_cycle / orphans (counts), and the sums
    of arr, potential, whitespace, employees, opportunities (count), open_pipeline_opps and
    won_amount over the whole tree. Sorted by potential, largest first.

    ``accounts`` may be raw (hierarchy is resolved here) or enriched (X.potential and
    X.whitespace are then summed too)."""
    df = _with_hierarchy(accounts)
    v = _values(df, opportunities)
    v[X.ultimate_parent_id] = df[X.ultimate_parent_id].astype("string").to_numpy()
    agg = v.groupby(X.ultimate_parent_id, sort=False).sum()
    extra = pd.DataFrame({
        X.ultimate_parent_id: df[X.ultimate_parent_id].astype("string").to_numpy(),
        X.depth: pd.to_numeric(df[X.depth], errors="coerce").to_numpy(),
        "state": df[A.state].astype("string").to_numpy() if A.state in df.columns else pd.NA,
        "owner": df[A.owner_id].astype("string").to_numpy() if A.owner_id in df.columns else pd.NA,
        "in_cycle": df["in_cycle"].to_numpy(dtype=bool) if "in_cycle" in df.columns else False,
        "orphan": df["orphan"].to_numpy(dtype=bool) if "orphan" in df.columns else False,
    }).groupby(X.ultimate_parent_id, sort=False).agg(
        family_size=(X.depth, "size"), max_depth=(X.depth, "max"), states=("state", "nunique"),
        owners=("owner", "nunique"), in_cycle=("in_cycle", "sum"), orphans=("orphan", "sum"))
    out = extra.join(agg)
    names = pd.Series(df[A.name].astype("string").to_numpy() if A.name in df.columns else pd.NA,
                      index=df[A.account_id].astype("string").to_numpy())
    names = names[~names.index.duplicated()]
    out.insert(0, "parent_name", out.index.map(names))
    out = out.sort_values("potential", ascending=False, kind="stable")
    out.index.name = X.ultimate_parent_id
    return out.reset_index()


def add_family_columns(accounts: pd.DataFrame, opportunities: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per account, aligned with ``accounts``: family_arr, family_potential, family_whitespace,
    family_employees, family_opportunities (the roll-up of the account's whole family)."""
    df = _with_hierarchy(accounts)
    v = _values(df, opportunities)[["arr", "potential", "whitespace", "employees", "opportunities"]]
    codes, uniq = pd.factorize(df[X.ultimate_parent_id].astype("string"))
    out = {}
    for c in v.columns:
        tot = np.bincount(codes, weights=v[c].to_numpy(dtype=float), minlength=len(uniq))
        out[f"family_{c}"] = tot[codes]
    return pd.DataFrame(out, index=accounts.index)
