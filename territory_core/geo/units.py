"""Geographic units for territory design: states, counties, ZIP areas or the user's own polygons,
their adjacency from shared boundaries, and per-unit measures aggregated from accounts.

Everything is offline. States and counties come from the shipped boundaries in ``data/geo``.
ZIP code tabulation areas are not shipped, so a ZIP area is built as the Voronoi cell of the ZIP's
centroid (``zipcodes`` package) clipped to its county; ZIPs that share one point (PO boxes at the
post office) form one area, listed in ``zips``. User polygons (GeoJSON, GeoPackage, zipped
shapefile) need a column with a unique unit id.

A units frame is a GeoDataFrame in EPSG:4326 with ``unit_id`` (str), ``name``, ``state``,
``lat``/``lon`` (the centroid, computed in an equal-area projection) and, for ZIP areas,
``county`` and ``zips`` (the ZIPs in the area, ``;``-separated).
"""
from __future__ import annotations

import zipfile
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from ..contract import A
from .zips import GEO_DIR, state_code, zip_table

LEVELS = ("state", "county", "zip")
UNIT_ID = "unit_id"
EQUAL_AREA = "EPSG:5070"  # CONUS Albers: centroids and areas
# Shipped boundaries are simplified feature by feature, so neighbours' edges no longer coincide
# exactly: two units are adjacent when they come within this many degrees (about 500 m).
SHIPPED_TOLERANCE = 0.005


class UnitsError(ValueError):
    """Units or their input cannot be used; the message says what, where and how to fix it."""


def _gpd():
    import geopandas as gpd  # imported lazily: the rest of the core does not need it

    return gpd


def _with_centroids(gdf):
    proj = gdf.geometry.to_crs(EQUAL_AREA)
    cen = proj.centroid.to_crs("EPSG:4326")
    gdf = gdf.copy()
    gdf["lat"] = cen.y.to_numpy()
    gdf["lon"] = cen.x.to_numpy()
    return gdf


def _norm_states(states) -> list[str] | None:
    if states is None:
        return None
    out = []
    for s in states:
        code = state_code(s)
        if code is None:
            raise UnitsError(f"Unknown state {s!r}: use a 2-letter code such as 'CA' or a state name.")
        out.append(code)
    return sorted(set(out))


@lru_cache(maxsize=2)
def _shipped(level: str):
    gpd = _gpd()
    path = GEO_DIR / ("states.geojson" if level == "state" else "counties.geojson")
    gdf = gpd.read_file(path)
    gdf = gdf.set_crs("EPSG:4326", allow_override=True)
    if level == "state":
        gdf = gdf.rename(columns={"id": UNIT_ID})
        gdf["state"] = gdf[UNIT_ID]
    else:
        gdf = gdf.rename(columns={"id": UNIT_ID})
    gdf[UNIT_ID] = gdf[UNIT_ID].astype(str)
    gdf = gdf[[UNIT_ID, "name", "state", "geometry"]]
    gdf["geometry"] = gdf.geometry.make_valid()
    return _with_centroids(gdf).reset_index(drop=True)


def state_units(states=None):
    """The shipped US states (unit_id = 2-letter code), optionally only ``states``."""
    gdf = _shipped("state")
    keep = _norm_states(states)
    return (gdf[gdf["state"].isin(keep)] if keep is not None else gdf).reset_index(drop=True).copy()


def county_units(states=None):
    """The shipped US counties (unit_id = 5-digit FIPS), optionally only those in ``states``."""
    gdf = _shipped("county")
    keep = _norm_states(states)
    return (gdf[gdf["state"].isin(keep)] if keep is not None else gdf).reset_index(drop=True).copy()


def zip_units(states=None):
    """ZIP areas: Voronoi cells of the ZIP centroids clipped to their county (see module doc).

    A county with no ZIP point of its own becomes one area with id ``county:<FIPS>``. Returns
    the units; ``zip_units_report(states)`` says what was merged."""
    return _zip_units(tuple(_norm_states(states) or ()))[0].copy()


def zip_units_report(states=None) -> dict:
    """What building the ZIP areas did: ZIPs used, ZIPs sharing a point, ZIPs without
    coordinates (not mapped), counties without a ZIP of their own."""
    return dict(_zip_units(tuple(_norm_states(states) or ()))[1])


@lru_cache(maxsize=4)
def _zip_units(states: tuple[str, ...]):
    import shapely

    gpd = _gpd()
    counties = county_units(list(states) or None)
    zt = zip_table()
    if states:
        zt = zt[zt["state"].isin(states)]
    no_xy = zt[zt["lat"].isna() | zt["county"].isna()]
    zt = zt.dropna(subset=["lat", "lon", "county"])
    zt = zt[zt["county"].isin(set(counties[UNIT_ID]))]
    # one area per distinct point in a county: its first ZIP names it
    zt = zt.reset_index(drop=True).sort_values("zip")
    grp = zt.groupby(["county", "lat", "lon"], sort=False)
    pts = grp.agg(zip=("zip", "first"), zips=("zip", ";".join), state=("state", "first"),
                  city=("city", "first")).reset_index()
    cgeom = dict(zip(counties[UNIT_ID], counties.geometry))
    rows_id, rows_geom = [], []
    for fips, sub in pts.groupby("county", sort=False):
        poly = cgeom[fips]
        xy = sub[["lon", "lat"]].to_numpy()
        if len(sub) == 1:
            cells = [poly]
        else:
            mp = shapely.multipoints(xy)
            vor = shapely.voronoi_polygons(mp, extend_to=poly, ordered=True)
            cells = [shapely.intersection(c, poly) for c in shapely.get_parts(vor)]
        rows_id.extend(sub.index.tolist())
        rows_geom.extend(cells)
    geoms = pd.Series(rows_geom, index=rows_id).reindex(pts.index)
    pts["geometry"] = geoms.to_numpy()
    empty = pts["geometry"].map(lambda g: g is None or g.is_empty)
    # a point outside its (simplified) county whose cell misses it: merge into the nearest area
    merged = 0
    if empty.any():
        ok = pts[~empty]
        for i in np.flatnonzero(empty.to_numpy()):
            row = pts.iloc[i]
            same = ok[ok["county"] == row["county"]]
            if same.empty:
                continue
            d = (same["lat"] - row["lat"]) ** 2 + (same["lon"] - row["lon"]) ** 2
            j = d.idxmin()
            pts.at[j, "zips"] = pts.at[j, "zips"] + ";" + row["zips"]
            merged += 1
        pts = pts[~empty]
    gdf = gpd.GeoDataFrame(pts, geometry="geometry", crs="EPSG:4326")
    gdf = gdf.rename(columns={"zip": UNIT_ID, "city": "name"})
    covered = set(gdf["county"])
    lone = counties[~counties[UNIT_ID].isin(covered)]
    if len(lone):
        extra = gpd.GeoDataFrame({
            UNIT_ID: ["county:" + f for f in lone[UNIT_ID]], "name": lone["name"].to_numpy(),
            "state": lone["state"].to_numpy(), "county": lone[UNIT_ID].to_numpy(), "zips": "",
        }, geometry=lone.geometry.to_numpy(), crs="EPSG:4326")
        gdf = pd.concat([gdf, extra], ignore_index=True)
    gdf = _with_centroids(gdf[[UNIT_ID, "name", "state", "county", "zips", "geometry"]]).reset_index(drop=True)
    report = {
        "zips": int(len(zt)), "areas": int(len(gdf)),
        "zips_sharing_a_point": int(len(zt) - len(pts) - merged),
        "zips_merged_into_neighbour": int(merged),
        "zips_without_coordinates": int(len(no_xy)),
        "counties_without_zip": int(len(lone)),
    }
    return gdf, report


def read_polygons(path, id_column: str, name_column: str | None = None):
    """The user's own polygons: GeoJSON, GeoPackage or a zipped shapefile, with ``id_column``
    holding a unique unit id. Reprojected to EPSG:4326 (a layer without a CRS is taken as
    EPSG:4326 when its coordinates look like degrees, else refused)."""
    gpd = _gpd()
    path = Path(path)
    if not path.exists():
        raise UnitsError(f"{path}: no such file.")
    try:
        if path.suffix.lower() == ".zip":
            with zipfile.ZipFile(path) as z:
                if not any(n.lower().endswith(".shp") for n in z.namelist()):
                    raise UnitsError(f"{path.name}: the zip holds no .shp file; zip the shapefile's "
                                     ".shp, .shx, .dbf and .prj together.")
        gdf = gpd.read_file(path)
    except UnitsError:
        raise
    except Exception as exc:  # pyogrio/GDAL errors: say which file and what is accepted
        raise UnitsError(f"{path.name}: cannot read polygons ({exc}). Use GeoJSON, GeoPackage (.gpkg) "
                         "or a zipped shapefile (.zip).") from None
    return polygons_frame(gdf, id_column, name_column, source=path.name)


def polygons_frame(gdf, id_column: str, name_column: str | None = None, source: str = "polygons"):
    """Check and normalise a GeoDataFrame of user polygons (see :func:`read_polygons`)."""
    if id_column not in gdf.columns:
        cols = ", ".join(c for c in gdf.columns if c != gdf.geometry.name)
        raise UnitsError(f"{source}: no column {id_column!r} for the unit id. Columns: {cols}.")
    if gdf.empty:
        raise UnitsError(f"{source}: no features.")
    ids = gdf[id_column].astype("string").str.strip()
    bad = ids.isna() | (ids == "")
    if bad.any():
        rows = ", ".join(str(i + 1) for i in np.flatnonzero(bad.to_numpy())[:5])
        raise UnitsError(f"{source}: feature(s) {rows} have no {id_column!r}; every polygon needs a unit id.")
    dup = ids[ids.duplicated()]
    if len(dup):
        raise UnitsError(f"{source}: unit id {dup.iloc[0]!r} appears more than once in {id_column!r}; "
                         "ids must be unique (dissolve the parts into one feature first).")
    geom = gdf.geometry
    if geom.isna().any() or geom.is_empty.any():
        i = int(np.flatnonzero((geom.isna() | geom.is_empty).to_numpy())[0])
        raise UnitsError(f"{source}: feature {i + 1} ({ids.iloc[i]}) has no geometry.")
    kinds = set(geom.geom_type)
    if not kinds <= {"Polygon", "MultiPolygon"}:
        raise UnitsError(f"{source}: units must be polygons, found {', '.join(sorted(kinds))}.")
    if gdf.crs is None:
        minx, miny, maxx, maxy = geom.total_bounds
        if -181 <= minx and maxx <= 181 and -91 <= miny and maxy <= 91:
            gdf = gdf.set_crs("EPSG:4326")
        else:
            raise UnitsError(f"{source}: the layer has no coordinate reference system and its "
                             "coordinates are not degrees; save it with its CRS (a .prj for shapefiles).")
    gdf = gdf.to_crs("EPSG:4326")
    gdf = gdf.assign(**{UNIT_ID: ids.astype(str).to_numpy()})
    gdf["geometry"] = gdf.geometry.make_valid()
    gdf["name"] = gdf[name_column].astype(str) if name_column and name_column in gdf.columns else gdf[UNIT_ID]
    gdf["state"] = ""
    keep = [UNIT_ID, "name", "state"] + [c for c in gdf.columns
                                         if c not in (UNIT_ID, "name", "state", gdf.geometry.name)]
    out = gdf[keep + [gdf.geometry.name]].set_geometry(gdf.geometry.name)
    if out.geometry.name != "geometry":
        out = out.rename_geometry("geometry")
    return _with_centroids(out).reset_index(drop=True)


def build_units(level: str, states=None):
    """Units of a shipped level: "state", "county" or "zip"."""
    if level == "state":
        return state_units(states)
    if level == "county":
        return county_units(states)
    if level == "zip":
        return zip_units(states)
    raise UnitsError(f"level must be one of {', '.join(LEVELS)} or a polygon file (got {level!r}).")


# ------------------------------------------------------------------------------------ adjacency

@dataclass(frozen=True)
class Adjacency:
    """Adjacency of units. ``edges``: unit_a, unit_b, kind ("boundary" shares a boundary,
    "joined" links an island or a detached group to its nearest unit). ``joined``: one row per
    added link: unit, joined_to, km, why ("island": no neighbour at all; "detached group of N
    units": a group cut off from the rest). ``enclaves``: units with exactly one neighbour that
    surrounds them (kept as they are; reported)."""

    edges: pd.DataFrame
    joined: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["unit", "joined_to", "km", "why"]))
    enclaves: tuple[str, ...] = ()
    components_before: int = 1

    def summary(self) -> str:
        n_is = int((self.joined["why"] == "island").sum()) if len(self.joined) else 0
        n_grp = len(self.joined) - n_is
        parts = [f"{int((self.edges['kind'] == 'boundary').sum()):,} shared boundaries"]
        if n_is:
            parts.append(f"{n_is} island(s) joined to their nearest unit")
        if n_grp:
            parts.append(f"{n_grp} detached group(s) joined to their nearest unit")
        if self.enclaves:
            parts.append(f"{len(self.enclaves)} enclave(s) inside one neighbour")
        return "; ".join(parts)


def _components(n: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    m = coo_matrix((np.ones(len(a)), (a, b)), shape=(n, n))
    return connected_components(m, directed=False)[1]


def _unit_vectors(lat, lon) -> np.ndarray:
    la, lo = np.radians(np.asarray(lat, float)), np.radians(np.asarray(lon, float))
    return np.column_stack([np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)])


def adjacency(units, tolerance: float | None = None) -> Adjacency:
    """Adjacency from shared boundaries (queen contiguity from libpysal: a shared edge or
    corner). ``tolerance`` (degrees) treats units within that distance as sharing a boundary
    (for simplified boundaries such as the shipped ones). Islands and groups of units cut off
    from the rest are joined to their nearest unit (by boundary distance) and reported, so
    every territory can be contiguous."""
    import warnings

    from libpysal import weights

    ids = units[UNIT_ID].astype(str).to_numpy()
    n = len(ids)
    geo = units.reset_index(drop=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # libpysal warns about islands: we report them ourselves
        if n == 1:
            nb = {0: []}
        elif tolerance:
            w = weights.fuzzy_contiguity(geo[["geometry"]], buffering=True, buffer=float(tolerance),
                                         predicate="intersects")
            nb = w.neighbors
        else:
            w = weights.Queen.from_dataframe(geo[["geometry"]], use_index=False)
            nb = w.neighbors
    a, b = [], []
    for i, js in nb.items():
        for j in js:
            if int(i) < int(j):
                a.append(int(i))
                b.append(int(j))
    a = np.asarray(a, dtype=int)
    b = np.asarray(b, dtype=int)
    deg = np.bincount(np.concatenate([a, b]), minlength=n) if n else np.zeros(0, int)
    enclaves = []
    if len(a):
        one = np.flatnonzero(deg == 1)
        other = {}
        for x, y in zip(a, b):
            if deg[x] == 1:
                other[x] = y
            if deg[y] == 1:
                other[y] = x
        geoms = geo.geometry.to_numpy()
        for i in one:
            j = other[int(i)]
            try:
                if geoms[j].buffer(tolerance or 1e-9).covers(geoms[i].exterior if geoms[i].geom_type == "Polygon" else geoms[i].convex_hull.exterior):
                    enclaves.append(ids[i])
            except Exception:
                pass
    comp = _components(n, a, b) if n else np.zeros(0, int)
    n_comp = int(comp.max() + 1) if n else 0
    joined = []
    extra_a, extra_b = [], []
    if n_comp > 1:
        # Boruvka: every group links to its nearest unit outside it, until one group is left
        pg = geo.geometry.to_crs(EQUAL_AREA).to_numpy()
        xyz = _unit_vectors(geo["lat"].to_numpy(), geo["lon"].to_numpy())
        from scipy.spatial import cKDTree

        tree = cKDTree(xyz)
        label = comp.copy()
        k = min(n, 40)
        while len(np.unique(label)) > 1:
            links = {}
            groups, sizes = np.unique(label, return_counts=True)
            for c in groups[np.argsort(sizes, kind="stable")][:-1]:  # all but the largest
                members = np.flatnonzero(label == c)
                best = (np.inf, -1, -1)
                _, cand = tree.query(xyz[members], k=k)
                for i, row in zip(members, np.atleast_2d(cand)):
                    for j in row:
                        if label[j] == c:
                            continue
                        d = pg[i].distance(pg[j])
                        if d < best[0]:
                            best = (d, int(i), int(j))
                if best[1] < 0:  # no outside unit among the candidates: take the nearest centroid
                    outside = np.flatnonzero(label != c)
                    dd = ((xyz[members][:, None, :] - xyz[outside][None, :, :]) ** 2).sum(-1)
                    ii, jj = np.unravel_index(dd.argmin(), dd.shape)
                    i, j = int(members[ii]), int(outside[jj])
                    best = (pg[i].distance(pg[j]), i, j)
                d, i, j = best
                key = (min(i, j), max(i, j))
                if key not in links:
                    why = "island" if len(members) == 1 and deg[members[0]] == 0 else f"detached group of {len(members)} units"
                    links[key] = (ids[i], ids[j], round(d / 1000.0, 1), why)
            for (i, j), row in links.items():
                extra_a.append(i)
                extra_b.append(j)
                joined.append(row)
            label = _components(n, np.concatenate([a, np.asarray(extra_a, int)]),
                                np.concatenate([b, np.asarray(extra_b, int)]))
    edges = pd.DataFrame({
        "unit_a": ids[np.concatenate([a, np.asarray(extra_a, int)])] if n else [],
        "unit_b": ids[np.concatenate([b, np.asarray(extra_b, int)])] if n else [],
        "kind": ["boundary"] * len(a) + ["joined"] * len(extra_a),
    })
    return Adjacency(edges=edges, joined=pd.DataFrame(joined, columns=["unit", "joined_to", "km", "why"]),
                     enclaves=tuple(enclaves), components_before=n_comp)


# ------------------------------------------------------------------------------------ measures

@dataclass(frozen=True)
class Placement:
    """Which unit each account falls in. ``unit`` is aligned with the accounts (NA where the
    account could not be placed); ``unplaced`` lists those rows with the reason."""

    unit: pd.Series
    unplaced: pd.DataFrame
    how: str


def place_accounts(accounts: pd.DataFrame, level: str, units) -> Placement:
    """The unit of each account: by state code, county FIPS or ZIP (its ZIP area) for the
    shipped levels, else by its lat/lon inside the user's polygons. An account whose ZIP is
    not in any ZIP area but that has coordinates falls into the area that contains them."""
    ids = set(units[UNIT_ID].astype(str))
    unit = pd.Series(pd.NA, index=accounts.index, dtype="string")
    reason = pd.Series("", index=accounts.index, dtype="string")
    if level == "state":
        col = A.state
        if col in accounts.columns:
            unit = accounts[col].astype("string").str.strip().str.upper()
        how = "state code"
    elif level == "county":
        col = A.county
        if col in accounts.columns:
            unit = accounts[col].astype("string").str.strip().str.zfill(5)
        how = "county FIPS"
    elif level == "zip":
        how = "ZIP"
        if A.zip in accounts.columns:
            zmap = {}
            for uid, zs in zip(units[UNIT_ID], units["zips"]):
                for z in str(zs).split(";"):
                    if z:
                        zmap[z] = uid
            unit = accounts[A.zip].astype("string").str.strip().str[:5].map(zmap).astype("string")
    else:
        how = "location"
    unit = unit.where(unit.isin(ids))
    # fall back on coordinates (always, for user polygons)
    miss = unit.isna()
    if miss.any() and A.lat in accounts.columns and A.lon in accounts.columns:
        lat = pd.to_numeric(accounts.loc[miss, A.lat], errors="coerce")
        lon = pd.to_numeric(accounts.loc[miss, A.lon], errors="coerce")
        has = lat.notna() & lon.notna()
        if has.any():
            gpd = _gpd()
            pts = gpd.GeoDataFrame(index=lat[has].index, geometry=gpd.points_from_xy(lon[has], lat[has]), crs="EPSG:4326")
            hit = gpd.sjoin(pts, units[[UNIT_ID, "geometry"]], how="left", predicate="within")
            hit = hit[~hit.index.duplicated()]
            unit.loc[hit.index] = hit[UNIT_ID].astype("string")
        reason.loc[miss & ~(lat.notna() & lon.notna()).reindex(accounts.index, fill_value=False)] = "no location"
    still = unit.isna()
    reason = reason.where(~(still & (reason == "")), f"outside the units (no matching {how})")
    unplaced = pd.DataFrame({
        "row": np.flatnonzero(still.to_numpy()) + 2,  # 1-based with the header line
        "account_id": accounts.loc[still, A.account_id].astype("string").to_numpy() if A.account_id in accounts.columns else "",
        "reason": reason[still].to_numpy(),
    })
    return Placement(unit=unit, unplaced=unplaced, how=how)


def unit_measures(units, accounts: pd.DataFrame | None, columns=(), placement: Placement | None = None,
                  level: str = "county") -> pd.DataFrame:
    """Measures per unit: ``accounts`` (a count) and the sum of each numeric account column in
    ``columns``, with the unit's lat/lon. Units without accounts get zeros."""
    out = pd.DataFrame({UNIT_ID: units[UNIT_ID].astype(str).to_numpy(),
                        "lat": units["lat"].to_numpy(), "lon": units["lon"].to_numpy()})
    out["accounts"] = 0.0
    for c in columns:
        out[c] = 0.0
    if accounts is None or accounts.empty:
        return out
    pl = placement or place_accounts(accounts, level, units)
    frame = pd.DataFrame({"u": pl.unit})
    frame["accounts"] = 1.0
    for c in columns:
        if c not in accounts.columns:
            raise UnitsError(f"The accounts have no column {c!r} to aggregate; numeric columns: "
                             + ", ".join(numeric_columns(accounts)) + ".")
        frame[c] = pd.to_numeric(accounts[c], errors="coerce").fillna(0.0)
    sums = frame.dropna(subset=["u"]).groupby("u")[["accounts", *columns]].sum()
    out = out.set_index(UNIT_ID)
    for c in ["accounts", *columns]:
        out[c] = sums[c].reindex(out.index).fillna(0.0).to_numpy()
    return out.reset_index()


def numeric_columns(accounts: pd.DataFrame) -> list[str]:
    """Numeric account columns that can be balanced (ids and coordinates left out)."""
    skip = {A.lat, A.lon, A.zip, A.county}
    out = []
    for c in accounts.columns:
        if c in skip:
            continue
        if pd.api.types.is_numeric_dtype(accounts[c]) and not pd.api.types.is_bool_dtype(accounts[c]):
            out.append(c)
    return out
