"""Territory design from loaded accounts and reps, end to end: units of a level (or the user's
polygons), adjacency, per-unit measures, territories (one per rep, or a number), today's map, the
solve, and the shapes. Used by ``python -m territory_core design --geo ...`` and the Territory
Map page, so both give the same answer."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..contract import A
from .design import MODELS, DesignError
from .territories import current_map, dissolve, home_units, team_territories
from .units import (LEVELS, SHIPPED_TOLERANCE, UNIT_ID, Adjacency, Placement, adjacency, build_units,
                    place_accounts, read_polygons, unit_measures)


@dataclass(frozen=True)
class GeoInputs:
    """Units with their adjacency and measures, and where each account fell."""

    level: str                 # "state" | "county" | "zip" | "polygons"
    units: object              # GeoDataFrame
    adjacency: Adjacency
    measures: pd.DataFrame     # unit_id, lat, lon, accounts, <measure columns>
    placement: Placement
    notes: tuple = field(default_factory=tuple)


def scope_states(accounts: pd.DataFrame) -> list[str]:
    """States where the accounts are (the default extent of a shipped level)."""
    if A.state not in accounts.columns:
        return []
    s = accounts[A.state].dropna().astype(str).str.strip().str.upper()
    return sorted(set(s[s.str.len() == 2]))


def prepare(accounts: pd.DataFrame, geo: str, *, measures=(), states=None, id_column: str | None = None,
            name_column: str | None = None) -> GeoInputs:
    """``geo``: "state", "county", "zip" or a polygon file path (then ``id_column`` names the
    unit id). Shipped levels cover ``states`` (default: the accounts' states)."""
    notes = []
    if geo in LEVELS:
        st = states if states is not None else scope_states(accounts)
        if not st:
            raise DesignError("The accounts have no state to draw units for: load accounts with a state or ZIP, "
                              "or name the states.")
        units = build_units(geo, st)
        adj = adjacency(units, tolerance=SHIPPED_TOLERANCE)
        level = geo
    else:
        if not id_column:
            raise DesignError(f"{Path(geo).name}: name the polygons' unit id column (--id-column).")
        units = read_polygons(geo, id_column, name_column)
        adj = adjacency(units)
        level = "polygons"
    pl = place_accounts(accounts, level if level != "polygons" else "polygons", units)
    meas = unit_measures(units, accounts, list(measures), placement=pl, level=level)
    if len(pl.unplaced):
        notes.append(f"{len(pl.unplaced):,} account(s) fall in no unit (no state/county/ZIP or location "
                     "inside the units) and are left out of the measures.")
    if len(adj.joined):
        notes.append("Adjacency: " + adj.summary() + ".")
    return GeoInputs(level, units, adj, meas, pl, tuple(notes))


def design(inputs: GeoInputs, *, territories, balance, objective: str = "compactness",
           current: pd.DataFrame | None = None, time_limit: float = 60.0, method: str = "auto",
           weight: str | None = None, seed: int = 0):
    """Solve a design on prepared inputs; returns the solved model."""
    if objective not in MODELS:
        raise DesignError(f"objective must be compactness or disruption (got {objective!r}).")
    model = MODELS[objective].from_frames(inputs.measures, inputs.adjacency.edges, territories=territories,
                                          balance=balance, current=current, weight=weight)
    return model.solve(time_limit=time_limit, method=method, seed=seed)


def rep_territories(reps: pd.DataFrame, inputs: GeoInputs, rep_ids=None, fix_centres: bool = False) -> pd.DataFrame:
    """Territories of a team: one per active rep with capacity, share = capacity x ramp share,
    centre = the rep's home unit when ``fix_centres``."""
    tt = team_territories(reps, rep_ids)
    if tt.empty:
        raise DesignError("No active rep with capacity in this team: add reps or pick another team.")
    if fix_centres:
        home = home_units(tt, inputs.units, inputs.level)
        if home.isna().any():
            who = tt.loc[home.isna(), "territory"].tolist()
            raise DesignError(f"No home unit for rep(s) {', '.join(who[:5])}: their home ZIP is missing or "
                              "outside the units. Fill home_zip or design without fixed centres.")
        if home.duplicated().any():
            dup = home[home.duplicated()].iloc[0]
            who = tt.loc[home == dup, "territory"].tolist()
            raise DesignError(f"Reps {', '.join(who)} share the home unit {dup}: a unit can centre one territory; "
                              "use a finer level or design without fixed centres.")
        tt["centre"] = home.to_numpy()
    return tt


def today_map(accounts: pd.DataFrame, inputs: GeoInputs, territories) -> pd.DataFrame:
    """unit_id, territory: each unit's majority owner among the territories today."""
    owners = accounts[A.owner_id] if A.owner_id in accounts.columns else pd.Series(pd.NA, index=accounts.index)
    return current_map(inputs.placement, owners, territories)


def shapes(inputs: GeoInputs, plan: pd.DataFrame):
    """Territory polygons with the summed measures."""
    return dissolve(inputs.units, plan, inputs.measures)


def unit_frame(inputs: GeoInputs, labels: pd.Series) -> pd.DataFrame:
    """unit_id, name, territory, measures: one row per unit (for tables and the map)."""
    out = inputs.measures.copy()
    out.insert(1, "name", inputs.units["name"].astype(str).to_numpy())
    out["territory"] = out[UNIT_ID].map(labels).astype("string")
    return out


def check_plan(inputs: GeoInputs, labels: pd.Series, territories: pd.DataFrame, balance: dict) -> dict:
    """Re-check a plan (after carving): per territory its measures against target bands and
    its number of pieces, and a list of what broke, in plain words."""
    from .graph import Graph

    ids = inputs.measures[UNIT_ID].astype(str).to_numpy()
    pos = {u: i for i, u in enumerate(ids)}
    e = inputs.adjacency.edges
    g = Graph(len(ids), e["unit_a"].map(pos).to_numpy(dtype=int), e["unit_b"].map(pos).to_numpy(dtype=int))
    names = territories["territory"].astype(str).tolist()
    share = territories["share"].to_numpy(dtype=float) if "share" in territories.columns else np.full(len(names), 1 / len(names))
    share = share / share.sum()
    tidx = {t: i for i, t in enumerate(names)}
    lab = labels.reindex(ids).map(tidx).fillna(-1).to_numpy(dtype=int)
    rows, broke = [], []
    for t, name in enumerate(names):
        mem = lab == t
        pieces = len(g.pieces(lab, t)) if mem.any() else 0
        r = {"territory": name, "units": int(mem.sum()), "pieces": pieces}
        if pieces == 0:
            broke.append(f"Territory {name} has no units left.")
        elif pieces > 1:
            broke.append(f"Territory {name} is in {pieces} pieces: it is no longer contiguous.")
        for m, tol in balance.items():
            v = inputs.measures[m].to_numpy(dtype=float)
            total = v.sum()
            val = float(v[mem].sum())
            target = share[t] * total
            dev = val / target - 1 if target > 0 else 0.0
            r[m] = val
            r[f"{m}_target"] = target
            r[f"{m}_deviation"] = dev
            if abs(dev) > tol + 1e-9:
                broke.append(f"Territory {name}: {m} is {dev:+.1%} from its target, outside +-{tol:.0%}.")
        rows.append(r)
    unassigned = int((lab < 0).sum())
    if unassigned:
        broke.append(f"{unassigned} unit(s) belong to no territory.")
    return {"table": pd.DataFrame(rows), "broken": broke, "ok": not broke}
