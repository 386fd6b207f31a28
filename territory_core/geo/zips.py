"""Offline US geography: shipped state/county boundaries, ZIP lookup, state codes, distances.

Nothing here touches the network. Boundaries come from ``data/geo`` (built by
``scripts/build_boundaries.py``); ZIP data from the ``zipcodes`` package (42k ZIPs). The
``zipcodes`` package gives a county *name*; it is matched to the 5-digit FIPS code by
(state, normalised name) against the shipped county boundaries.
"""
from __future__ import annotations

import json
import re
import unicodedata
from functools import lru_cache
from typing import Iterable

import numpy as np
import pandas as pd

from ..dataset import GEO_DIR

STATES: dict[str, str] = {
    "AL": "Alabama", "AK": "Alaska", "AZ": "Arizona", "AR": "Arkansas", "CA": "California",
    "CO": "Colorado", "CT": "Connecticut", "DE": "Delaware", "DC": "District of Columbia",
    "FL": "Florida", "GA": "Georgia", "HI": "Hawaii", "ID": "Idaho", "IL": "Illinois",
    "IN": "Indiana", "IA": "Iowa", "KS": "Kansas", "KY": "Kentucky", "LA": "Louisiana",
    "ME": "Maine", "MD": "Maryland", "MA": "Massachusetts", "MI": "Michigan", "MN": "Minnesota",
    "MS": "Mississippi", "MO": "Missouri", "MT": "Montana", "NE": "Nebraska", "NV": "Nevada",
    "NH": "New Hampshire", "NJ": "New Jersey", "NM": "New Mexico", "NY": "New York",
    "NC": "North Carolina", "ND": "North Dakota", "OH": "Ohio", "OK": "Oklahoma", "OR": "Oregon",
    "PA": "Pennsylvania", "RI": "Rhode Island", "SC": "South Carolina", "SD": "South Dakota",
    "TN": "Tennessee", "TX": "Texas", "UT": "Utah", "VT": "Vermont", "VA": "Virginia",
    "WA": "Washington", "WV": "West Virginia", "WI": "Wisconsin", "WY": "Wyoming",
    "PR": "Puerto Rico", "GU": "Guam", "VI": "United States Virgin Islands",
    "AS": "American Samoa", "MP": "Commonwealth of the Northern Mariana Islands",
}
_NAME_TO_CODE = {re.sub(r"[^a-z]", "", v.lower()): k for k, v in STATES.items()}
_NAME_TO_CODE.update({"virginislands": "VI", "usvirginislands": "VI", "northernmarianaislands": "MP",
                      "washingtondc": "DC", "dc": "DC", "districtofcolumbia": "DC"})
# Common abbreviations people type ("Calif.", "Mass.", "Penn.").
_NAME_TO_CODE.update({"calif": "CA", "mass": "MA", "penn": "PA", "wash": "WA", "fla": "FL",
                      "tex": "TX", "ariz": "AZ", "colo": "CO", "conn": "CT", "ill": "IL",
                      "mich": "MI", "minn": "MN", "wisc": "WI", "wis": "WI", "ore": "OR"})

# Lower 48 + DC bounding box (used to sanity check coordinates).
CONUS_BOUNDS = (24.0, 50.0, -125.0, -66.0)


def state_code(name_or_code) -> str | None:
    """'California', 'california', 'CA', 'ca', 'Calif.' -> 'CA'; anything else -> None."""
    if name_or_code is None or (isinstance(name_or_code, float) and np.isnan(name_or_code)):
        return None
    try:
        if pd.isna(name_or_code):
            return None
    except (TypeError, ValueError):
        pass
    s = str(name_or_code).strip()
    if len(s) == 2 and s.upper() in STATES:
        return s.upper()
    key = re.sub(r"[^a-z]", "", s.lower())
    if len(key) == 2 and key.upper() in STATES:  # "C.A."
        return key.upper()
    return _NAME_TO_CODE.get(key)


@lru_cache(maxsize=1)
def states_geojson() -> dict:
    """US states (feature id = 2-letter code; properties name, fips)."""
    return json.loads((GEO_DIR / "states.geojson").read_text(encoding="utf-8"))


def counties_geojson() -> dict:
    """US counties (feature id = 5-digit FIPS; properties name, state, lsad). Read on each call
    (0.2 s, about 19 MB as Python objects): what is derived from it is cached instead
    (:func:`area_names`, :func:`county_index`, the county centres of plan.flows)."""
    return json.loads((GEO_DIR / "counties.geojson").read_text(encoding="utf-8"))


@lru_cache(maxsize=2)
def area_names(level: str) -> dict[str, str]:
    """Area id -> display name: a state's name ("California"), a county's with its state
    ("Travis County, TX")."""
    if level == "state":
        return {f["id"]: f["properties"].get("name", f["id"]) for f in states_geojson()["features"]}
    return {f["id"]: f"{f['properties'].get('name', f['id'])}, {f['properties'].get('state', '')}"
            for f in counties_geojson()["features"]}


def _ring_centroid(coords) -> tuple[float, float, float]:
    """(area, cx, cy) of the largest polygon in a GeoJSON geometry's coordinates."""
    ring = np.asarray(coords[0], dtype=float)
    x, y = ring[:, 0], ring[:, 1]
    a = x[:-1] * y[1:] - x[1:] * y[:-1]
    area = a.sum() / 2
    if abs(area) < 1e-12:
        return 0.0, float(x.mean()), float(y.mean())
    cx = ((x[:-1] + x[1:]) * a).sum() / (6 * area)
    cy = ((y[:-1] + y[1:]) * a).sum() / (6 * area)
    return abs(area), float(cx), float(cy)


@lru_cache(maxsize=1)
def state_centroids() -> dict[str, tuple[float, float]]:
    """Approximate (lat, lon) of each state's largest polygon's centroid."""
    out = {}
    for f in states_geojson()["features"]:
        g = f["geometry"]
        polys = [g["coordinates"]] if g["type"] == "Polygon" else g["coordinates"]
        best = max((_ring_centroid(p) for p in polys), key=lambda t: t[0])
        out[f["id"]] = (best[2], best[1])
    return out


def _norm_county(name: str) -> str:
    s = unicodedata.normalize("NFKD", str(name)).encode("ascii", "ignore").decode().lower()
    s = re.sub(r"\bsaint\b", "st", s)
    s = re.sub(r"\bste\b", "sainte", s)
    s = s.replace("st.", "st ").replace("ste.", "sainte ")
    s = re.sub(r"\b(county|parish|borough|census area|city and borough|municipality|municipio|"
               r"district|island|islands)\b", " ", s)
    s = re.sub(r"[^a-z]", "", s)
    return s


@lru_cache(maxsize=1)
def county_index() -> pd.DataFrame:
    """The shipped counties: fips, name, state, key (normalised name) and is_city."""
    rows = []
    for f in counties_geojson()["features"]:
        p = f["properties"]
        rows.append((f["id"], p["name"], p.get("state", ""), p.get("lsad", "")))
    df = pd.DataFrame(rows, columns=["fips", "name", "state", "lsad"])
    df["is_city"] = df["lsad"] == "25"
    df["key"] = [_norm_county(n[:-5] if c else n) for n, c in zip(df["name"], df["is_city"])]
    return df


def county_fips(state: str, county_name: str) -> str | None:
    """FIPS of a county given its state code and name ('Suffolk County', 'Baltimore city',
    'St. Louis', 'Orleans Parish' ...); None when no county matches."""
    return _match_county(str(state or "").upper(), county_name)


def _match_county(state: str, name) -> str | None:
    lookup = _county_lookup()
    if not name or not str(name).strip():
        return None
    hit = lookup.get((state, *_county_key(name)))
    if hit is None:  # "Carson City", "James City": "city" is part of the name
        hit = lookup.get((state, _norm_county(name), False)) or lookup.get((state, _norm_county(name), True))
    if hit is None:  # a ZIP whose county lies across the state line: a unique name elsewhere
        key = _county_key(name)[0]
        hits = _county_by_key().get(key, [])
        hit = hits[0] if len(hits) == 1 else None
    return hit


@lru_cache(maxsize=1)
def _county_by_key() -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for fips, key in zip(county_index()["fips"], county_index()["key"]):
        out.setdefault(key, []).append(fips)
    return out


def _county_key(name) -> tuple[str, bool]:
    name = str(name or "").strip()
    name = re.sub(r"^(municipality|city and borough|borough|county|parish) of\s+", "", name, flags=re.I)
    is_city = bool(re.search(r"\bcity\b\s*$", name, re.I)) and not re.search(r"county", name, re.I)
    if is_city:
        name = re.sub(r"\s*\bcity\s*$", "", name, flags=re.I)
    return _norm_county(name), is_city


@lru_cache(maxsize=1)
def _county_lookup() -> dict[tuple[str, str, bool], str]:
    idx = county_index()
    out: dict[tuple[str, str, bool], str] = {}
    for fips, state, key, is_city in zip(idx["fips"], idx["state"], idx["key"], idx["is_city"]):
        out[(state, key, bool(is_city))] = fips
    # A "city" name without a matching independent city falls back to the county, and vice versa.
    for (state, key, is_city), fips in list(out.items()):
        out.setdefault((state, key, not is_city), fips)
    return out


ZIPS_FILE = GEO_DIR / "zips.parquet"


@lru_cache(maxsize=1)
def zip_table() -> pd.DataFrame:
    """Every ZIP the ``zipcodes`` package knows: zip, state, county (FIPS), lat, lon, city,
    county_name, type. Indexed by zip. ZIPs without coordinates have NaN lat/lon.

    Read from ``data/geo/zips.parquet`` (``scripts/build_zips.py`` writes it from the package: 1 MB,
    read in 0.05 s into 10 MB), else built from the package (2 s, and the package keeps ~140 MB of
    Python dicts alive for the life of the process)."""
    if ZIPS_FILE.is_file():
        df = pd.read_parquet(ZIPS_FILE)
        return df.set_index("zip", drop=False)
    return build_zip_table()


def build_zip_table() -> pd.DataFrame:
    """:func:`zip_table` built from the ``zipcodes`` package (what ``scripts/build_zips.py`` ships)."""
    import zipcodes

    data = zipcodes.list_all()
    df = pd.DataFrame({
        "zip": [d["zip_code"] for d in data],
        "state": [d["state"] for d in data],
        "county_name": [d.get("county") or "" for d in data],
        "lat": pd.to_numeric([d.get("lat") for d in data], errors="coerce"),
        "lon": pd.to_numeric([d.get("long") for d in data], errors="coerce"),
        "city": [d.get("city") or "" for d in data],
        "type": [d.get("zip_code_type") or "" for d in data],
    })
    zero = (df["lat"] == 0) & (df["lon"] == 0)
    df.loc[zero, ["lat", "lon"]] = np.nan
    pairs = pd.Series(list(zip(df["state"], df["county_name"])))
    uniq = {p: _match_county(*p) for p in set(pairs)}
    df["county"] = pairs.map(uniq).to_numpy()
    df = df.drop_duplicates("zip").reset_index(drop=True)
    _fill_nearest_county(df)
    df = df.set_index("zip", drop=False)
    return df[["zip", "state", "county", "lat", "lon", "city", "county_name", "type"]]


def _fill_nearest_county(df: pd.DataFrame) -> None:
    """ZIPs whose county name is blank or unknown take the county of the nearest ZIP in the
    same state that has one (PO boxes and unique ZIPs often lack a county)."""
    miss = df["county"].isna() & df["lat"].notna()
    known = df["county"].notna() & df["lat"].notna()
    for state in df.loc[miss, "state"].unique():
        m = miss & (df["state"] == state)
        k = known & (df["state"] == state)
        if not k.any():
            continue
        d = distance_matrix_km(df.loc[m, "lat"], df.loc[m, "lon"], df.loc[k, "lat"], df.loc[k, "lon"])
        df.loc[m, "county"] = df.loc[k, "county"].to_numpy()[d.argmin(axis=1)]


def zip_lookup(zips: Iterable[str]) -> pd.DataFrame:
    """Offline lookup of 5-digit ZIPs: a frame with one row per input (same order) and columns
    zip, state, county (5-digit FIPS), lat, lon, city; unknown ZIPs have NA everywhere but zip."""
    zs = pd.Series(list(zips), dtype="object").astype("string").str.strip()
    table = zip_table()
    found = table.reindex(zs.fillna("").to_numpy())
    out = pd.DataFrame({
        "zip": zs.to_numpy(),
        "state": found["state"].to_numpy(),
        "county": found["county"].to_numpy(),
        "lat": found["lat"].to_numpy(dtype=float),
        "lon": found["lon"].to_numpy(dtype=float),
        "city": found["city"].to_numpy(),
    })
    for c in ("zip", "state", "county", "city"):
        out[c] = out[c].astype("string")
    return out


def haversine_km(lat1, lon1, lat2, lon2):
    """Great-circle distance in km; numpy-vectorised (arrays broadcast against each other)."""
    lat1, lon1, lat2, lon2 = (np.radians(np.asarray(v, dtype=float)) for v in (lat1, lon1, lat2, lon2))
    a = np.sin((lat2 - lat1) / 2) ** 2 + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6371.0088 * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def distance_matrix_km(lat_a, lon_a, lat_b, lon_b) -> np.ndarray:
    """len(a) x len(b) matrix of great-circle distances in km."""
    lat_a = np.asarray(lat_a, dtype=float)[:, None]
    lon_a = np.asarray(lon_a, dtype=float)[:, None]
    return haversine_km(lat_a, lon_a, np.asarray(lat_b, dtype=float)[None, :], np.asarray(lon_b, dtype=float)[None, :])
