"""What a territory design gives the rest of the product: territory shapes (dissolved units) and
their GeoJSON / GeoPackage export, ZIP -> territory and county -> territory assignment rules with
the lookup that routes a new account, and the accounts -> territory -> rep result as a
:class:`~territory_core.plan.scenarios.Scenario` (so Compare, KPIs and the CRM export treat it as
any plan)."""
from __future__ import annotations

from pathlib import Path
from typing import Mapping

import numpy as np
import pandas as pd

from ..contract import ASSIGNMENT, A, R, S
from ..dataset import Dataset, coerce_types
from .units import UNIT_ID, EQUAL_AREA, Placement, place_accounts
from .zips import zip_table

RULE_COLUMNS = ("key_type", "key", "territory", "rule")


def team_territories(reps: pd.DataFrame, rep_ids=None) -> pd.DataFrame:
    """One territory per active rep with capacity (x ramp): territory (= rep_id), name, share
    (capacity share), home_zip. ``rep_ids`` narrows to a team."""
    rp = reps.copy()
    if rep_ids is not None:
        rp = rp[rp[R.rep_id].astype(str).isin([str(r) for r in rep_ids])]
    cap = pd.to_numeric(rp[R.capacity], errors="coerce").fillna(1.0) if R.capacity in rp.columns else pd.Series(1.0, index=rp.index)
    ramp = pd.to_numeric(rp[R.ramp], errors="coerce").fillna(1.0) if R.ramp in rp.columns else 1.0
    fte = cap * ramp
    active = rp[R.active].fillna(True).astype(bool) if R.active in rp.columns else pd.Series(True, index=rp.index)
    keep = active & (fte > 0)
    rp, fte = rp[keep], fte[keep]
    return pd.DataFrame({
        "territory": rp[R.rep_id].astype(str).to_numpy(),
        "name": rp[R.name].astype(str).to_numpy() if R.name in rp.columns else rp[R.rep_id].astype(str).to_numpy(),
        "share": (fte / fte.sum()).to_numpy() if len(fte) else [],
        "home_zip": rp[R.home_zip].astype("string").to_numpy() if R.home_zip in rp.columns else pd.NA,
    })


def home_units(territories: pd.DataFrame, units, level: str) -> pd.Series:
    """The unit holding each territory's home ZIP (a rep's home), NA when unknown."""
    out = pd.Series(pd.NA, index=territories.index, dtype="string")
    if "home_zip" not in territories.columns:
        return out
    fake = pd.DataFrame({A.account_id: territories["territory"].astype(str),
                         A.zip: territories["home_zip"].astype("string").str[:5]})
    zt = zip_table()
    look = zt.reindex(fake[A.zip].fillna("").to_numpy())
    fake[A.state] = look["state"].to_numpy()
    fake[A.county] = look["county"].to_numpy()
    fake[A.lat] = look["lat"].to_numpy()
    fake[A.lon] = look["lon"].to_numpy()
    pl = place_accounts(fake, level, units)
    return pl.unit.set_axis(territories.index)


def current_map(placement: Placement, owners: pd.Series, territories) -> pd.DataFrame:
    """Today's unit -> territory: the territory (rep) owning the most accounts in each unit,
    among ``territories``. Units without such accounts have no current territory."""
    t = set(str(x) for x in territories)
    df = pd.DataFrame({"unit_id": placement.unit, "territory": owners.astype("string")}).dropna()
    df = df[df["territory"].isin(t)]
    if df.empty:
        return pd.DataFrame(columns=["unit_id", "territory"])
    cnt = df.groupby(["unit_id", "territory"]).size().rename("n").reset_index()
    cnt = cnt.sort_values(["unit_id", "n", "territory"], ascending=[True, False, True])
    return cnt.drop_duplicates("unit_id")[["unit_id", "territory"]].reset_index(drop=True)


# ------------------------------------------------------------------------------ shapes

def dissolve(units, plan: pd.DataFrame, measures: pd.DataFrame | None = None):
    """Territory polygons: units dissolved by territory, with centre, units and the sums of the
    measure columns in ``measures`` (unit_id + numbers)."""
    gdf = units[[UNIT_ID, "geometry"]].merge(plan[["unit_id", "territory", "centre"]], left_on=UNIT_ID,
                                            right_on="unit_id", how="inner")
    if measures is not None:
        num = [c for c in measures.columns if c not in (UNIT_ID, "lat", "lon") and pd.api.types.is_numeric_dtype(measures[c])]
        gdf = gdf.merge(measures[[UNIT_ID, *num]], on=UNIT_ID, how="left")
    else:
        num = []
    agg = {"centre": "first", UNIT_ID: "count", **{c: "sum" for c in num}}
    out = gdf.dissolve(by="territory", aggfunc=agg).rename(columns={UNIT_ID: "units"}).reset_index()
    out["geometry"] = out.geometry.make_valid()
    cen = out.geometry.to_crs(EQUAL_AREA).representative_point().to_crs("EPSG:4326")
    out["label_lat"] = cen.y.to_numpy()
    out["label_lon"] = cen.x.to_numpy()
    return out


def write_boundaries(territories_gdf, path) -> Path:
    """Territory boundaries as GeoJSON (.geojson/.json) or GeoPackage (.gpkg), by suffix."""
    path = Path(path)
    suf = path.suffix.lower()
    if suf in (".geojson", ".json"):
        driver = "GeoJSON"
    elif suf == ".gpkg":
        driver = "GPKG"
    else:
        raise ValueError(f"{path.name}: boundaries are written as .geojson or .gpkg (got {suf or 'no suffix'}).")
    gdf = territories_gdf.copy()
    for c in gdf.columns:
        if c != "geometry" and gdf[c].dtype == object:
            gdf[c] = gdf[c].astype(str)
    if path.exists():
        path.unlink()
    gdf.to_file(path, driver=driver, layer="territories" if driver == "GPKG" else None)
    return path


def boundaries_bytes(territories_gdf, fmt: str) -> bytes:
    """The boundaries file's bytes (for a download button): fmt "geojson" or "gpkg"."""
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        p = write_boundaries(territories_gdf, Path(d) / f"territories.{fmt}")
        return p.read_bytes()


# ------------------------------------------------------------------------------ assignment rules

def assignment_rules(units, plan: pd.DataFrame, level: str) -> pd.DataFrame:
    """Rules that route any account to a territory: key_type ("zip", "county", "state" or
    "unit"), key, territory and rule (how it was derived). ZIP rules come from the ZIP areas (or,
    at county level, every ZIP of the county); county rules from the counties (or, at ZIP level,
    the territory holding most of the county's ZIP areas); state rules the same way."""
    lab = dict(zip(plan["unit_id"].astype(str), plan["territory"].astype(str)))
    rows = []
    if level == "zip":
        for uid, zs, county in zip(units[UNIT_ID], units["zips"], units["county"]):
            t = lab.get(str(uid))
            if t is None:
                continue
            for z in str(zs).split(";"):
                if z:
                    rows.append(("zip", z, t, "ZIP area"))
        u = units[[UNIT_ID, "county", "state"]].assign(territory=units[UNIT_ID].map(lab)).dropna(subset=["territory"])
        for key_type, col in (("county", "county"), ("state", "state")):
            cnt = u.groupby([col, "territory"]).size().rename("n").reset_index()
            cnt = cnt.sort_values([col, "n", "territory"], ascending=[True, False, True]).drop_duplicates(col)
            rows.extend((key_type, k, t, "most of its ZIP areas") for k, t in zip(cnt[col], cnt["territory"]))
    elif level == "county":
        zt = zip_table()
        z = zt[zt["county"].isin(list(lab))]
        rows.extend(("county", c, lab[c], "county") for c in lab)
        rows.extend(("zip", zz, lab[c], "ZIP's county") for zz, c in zip(z["zip"], z["county"]))
        u = units[[UNIT_ID, "state"]].assign(territory=units[UNIT_ID].map(lab)).dropna(subset=["territory"])
        cnt = u.groupby(["state", "territory"]).size().rename("n").reset_index()
        cnt = cnt.sort_values(["state", "n", "territory"], ascending=[True, False, True]).drop_duplicates("state")
        rows.extend(("state", k, t, "most of its counties") for k, t in zip(cnt["state"], cnt["territory"]))
    elif level == "state":
        zt = zip_table()
        rows.extend(("state", s, t, "state") for s, t in lab.items())
        z = zt[zt["state"].isin(list(lab))]
        rows.extend(("zip", zz, lab[s], "ZIP's state") for zz, s in zip(z["zip"], z["state"]))
        zc = z.dropna(subset=["county"]).drop_duplicates("county")
        rows.extend(("county", c, lab[s], "county's state") for c, s in zip(zc["county"], zc["state"]))
    else:
        rows.extend(("unit", u, t, "polygon") for u, t in lab.items())
    out = pd.DataFrame(rows, columns=list(RULE_COLUMNS)).drop_duplicates(["key_type", "key"])
    return out.reset_index(drop=True)


class TerritoryRouter:
    """Routes an account to its territory with the assignment rules: its ZIP first, then its
    county, then its state (and, for user polygons, its location)."""

    def __init__(self, rules: pd.DataFrame, units=None):
        self.rules = rules
        self._by = {kt: dict(zip(g["key"].astype(str), g["territory"].astype(str)))
                    for kt, g in rules.groupby("key_type")}
        self.units = units

    def territory_for(self, zip: str | None = None, county: str | None = None, state: str | None = None,
                      lat: float | None = None, lon: float | None = None) -> tuple[str | None, str]:
        """(territory, how) for one account; (None, reason) when no rule covers it."""
        z = str(zip).strip()[:5] if zip is not None and not pd.isna(zip) and str(zip).strip() else None
        if z and z.isdigit() and len(z) < 5:
            z = z.zfill(5)
        if z and z in self._by.get("zip", {}):
            return self._by["zip"][z], "zip"
        c = county
        if (c is None or pd.isna(c)) and z:
            look = zip_table().reindex([z])
            c = look["county"].iloc[0] if len(look) else None
        if c is not None and not pd.isna(c):
            c = str(c).strip().zfill(5)
            if c in self._by.get("county", {}):
                return self._by["county"][c], "county"
        if state is not None and not pd.isna(state):
            s = str(state).strip().upper()
            if s in self._by.get("state", {}):
                return self._by["state"][s], "state"
        if "unit" in self._by and self.units is not None and lat is not None and lon is not None \
                and not pd.isna(lat) and not pd.isna(lon):
            import geopandas as gpd

            pt = gpd.points_from_xy([float(lon)], [float(lat)], crs="EPSG:4326")[0]
            hit = self.units[self.units.geometry.contains(pt)]
            if len(hit):
                u = str(hit[UNIT_ID].iloc[0])
                if u in self._by["unit"]:
                    return self._by["unit"][u], "location"
        return None, "no rule covers this account's ZIP, county or state"

    def route(self, accounts: pd.DataFrame) -> pd.DataFrame:
        """account_id, territory, how for every account (territory NA where no rule applies)."""
        get = lambda c: accounts[c] if c in accounts.columns else pd.Series([None] * len(accounts), index=accounts.index)
        out = [self.territory_for(z, c, s, la, lo) for z, c, s, la, lo in
               zip(get(A.zip), get(A.county), get(A.state), get(A.lat), get(A.lon))]
        return pd.DataFrame({"account_id": get(A.account_id).astype("string").to_numpy(),
                             "territory": pd.array([t for t, _ in out], dtype="string"),
                             "how": [h for _, h in out]})


def territory_for(rules: pd.DataFrame, zip: str | None = None, county: str | None = None,
                  state: str | None = None) -> str | None:
    """The territory a (new) account with this ZIP / county / state falls into, or None."""
    return TerritoryRouter(rules).territory_for(zip, county, state)[0]


# ------------------------------------------------------------------------------ as a scenario

def design_scenario(dataset: Dataset, plan: pd.DataFrame, placement: Placement, *, name: str,
                    territory_rep: Mapping[str, str] | None = None, report: dict | None = None,
                    scope: pd.Series | None = None, description: str = ""):
    """Accounts -> territory -> rep as a Scenario. ``territory_rep`` maps territory -> rep_id
    (identity when territories are reps). Accounts outside ``scope`` (a boolean mask over the
    accounts) or in no unit keep their owner, with the reason said."""
    from ..plan.scenarios import Scenario, dataset_fingerprint

    acc = dataset.accounts
    tr = dict(territory_rep or {})
    lab = dict(zip(plan["unit_id"].astype(str), plan["territory"].astype(str)))
    unit = placement.unit.reindex(acc.index)
    terr = unit.map(lab).astype("string")
    owner = acc[A.owner_id].astype("string") if A.owner_id in acc.columns else pd.Series(pd.NA, index=acc.index, dtype="string")
    rep = terr.map(lambda t: tr.get(t, t) if not pd.isna(t) else pd.NA).astype("string")
    in_scope = scope.reindex(acc.index).fillna(False).astype(bool) if scope is not None else pd.Series(True, index=acc.index)
    locked = acc[A.locked].fillna(False).astype(bool) if A.locked in acc.columns else pd.Series(False, index=acc.index)
    named = acc[A.named].fillna(False).astype(bool) if A.named in acc.columns else pd.Series(False, index=acc.index)
    keep = ~in_scope | rep.isna() | locked | named
    new = rep.where(~keep, owner)
    moved = (new.fillna("") != owner.fillna("")) & ~keep
    reason = np.where(~in_scope, "Outside the designed team",
              np.where(rep.isna() & in_scope, "Not placed in any unit: keeps its owner",
              np.where(locked | named, "Locked or named: keeps its owner",
              np.where(moved, "Territory " + terr.fillna("").astype(str) + " (unit " + unit.fillna("").astype(str) + ")",
                       "Stays: its unit is in its owner's territory"))))
    assignment = pd.DataFrame({
        S.account_id: acc[A.account_id].astype("string").to_numpy(),
        S.rep_id: new.to_numpy(),
        S.previous_rep_id: owner.to_numpy(),
        S.moved: moved.to_numpy(),
        S.reason: reason,
    })
    assignment = coerce_types(assignment, ASSIGNMENT)
    rep_json = dict(report or {})
    rep_json.update({"status": (report or {}).get("status", "feasible"), "moves": int(moved.sum()),
                     "source": "territory design"})
    if A.arr in acc.columns:
        rep_json["arr_moved"] = float(pd.to_numeric(acc.loc[moved.to_numpy(), A.arr], errors="coerce").fillna(0).sum())
    rep_json.pop("per_territory", None)
    return Scenario(name=name, assignment=assignment, report=rep_json, description=description,
                    settings={"territory_design": {k: v for k, v in (report or {}).items()
                                                   if k in ("objective_kind", "measures", "method", "territories", "units")}},
                    input_fingerprint=dataset_fingerprint(dataset))
