"""Build the simplified US state and county boundaries shipped under data/geo/.

Source: the Census cartographic boundary shapefiles (2016, 1:500k) that the ``plotly-geo``
package ships as package data. They have no .prj; their coordinate system is NAD83
(EPSG:4269, longitude/latitude in degrees), which plotly's maps draw as is.

    .venv/bin/python scripts/build_boundaries.py [--tolerance-states 0.01] [--tolerance-counties 0.01]

Writes data/geo/states.geojson (feature id = 2-letter state code; properties name, fips) and
data/geo/counties.geojson (feature id = 5-digit county FIPS; properties name, state, lsad), and
the same two files under static/geo/, which the app serves to the browser (the maps fetch them once).
Needs the dev requirements (plotly-geo, pyshp, shapely); the app only reads the output.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "data" / "geo"
STATIC = ROOT / "static" / "geo"  # same files, served to the browser at app/static/geo/

# Census LSAD codes of county-level areas -> the word that follows the name.
LSAD_SUFFIX = {
    "03": "City and Borough", "04": "Borough", "05": "Census Area", "06": "County", "07": "District",
    "12": "Municipality", "13": "Municipio", "15": "Parish", "25": "city",
}


def _source_dir() -> Path:
    try:
        import _plotly_geo  # noqa: F401  (installed by the plotly-geo distribution)
    except ImportError:
        sys.exit("plotly-geo is not installed: .venv/bin/pip install -r requirements-dev.txt")
    return Path(_plotly_geo.__file__).resolve().parent / "package_data"


def _round_coords(obj, nd: int):
    if isinstance(obj, (list, tuple)):
        if obj and isinstance(obj[0], (int, float)):
            return [round(float(v), nd) for v in obj]
        return [_round_coords(o, nd) for o in obj]
    return obj


def _features(shp_path: Path, tolerance: float, props_fn, id_fn, digits: int) -> list[dict]:
    import shapefile
    from shapely.geometry import mapping, shape

    reader = shapefile.Reader(str(shp_path))
    names = [f[0] for f in reader.fields[1:]]
    feats = []
    for sr in reader.iterShapeRecords():
        rec = dict(zip(names, sr.record))
        geom = shape(sr.shape.__geo_interface__)
        simple = geom.simplify(tolerance, preserve_topology=True)
        if simple.is_empty:
            simple = geom
        gj = mapping(simple)
        feats.append({
            "type": "Feature",
            "id": id_fn(rec),
            "properties": props_fn(rec),
            "geometry": {"type": gj["type"], "coordinates": _round_coords(gj["coordinates"], digits)},
        })
    feats.sort(key=lambda f: f["id"])
    return feats


def build(tol_states: float = 0.01, tol_counties: float = 0.01, out: Path = OUT) -> dict[str, int]:
    src = _source_dir()
    out.mkdir(parents=True, exist_ok=True)
    states = _features(
        src / "cb_2016_us_state_500k.shp", tol_states,
        lambda r: {"name": r["NAME"], "fips": r["STATEFP"]},
        lambda r: r["STUSPS"], 3,
    )
    fips_to_state = {f["properties"]["fips"]: f["id"] for f in states}
    counties = _features(
        src / "cb_2016_us_county_500k.shp", tol_counties,
        lambda r: {
            "name": f"{r['NAME']} {LSAD_SUFFIX[r['LSAD']]}" if r["LSAD"] in LSAD_SUFFIX else r["NAME"],
            "state": fips_to_state.get(r["STATEFP"], ""),
            "lsad": r["LSAD"],
        },
        lambda r: r["GEOID"], 3,
    )
    sizes = {}
    for name, feats in (("states", states), ("counties", counties)):
        path = out / f"{name}.geojson"
        text = json.dumps({"type": "FeatureCollection", "features": feats}, separators=(",", ":"))
        path.write_text(text, encoding="utf-8")
        if out == OUT:  # the copy the browser fetches once (server.enableStaticServing): static/geo/
            STATIC.mkdir(parents=True, exist_ok=True)
            (STATIC / f"{name}.geojson").write_text(text, encoding="utf-8")
        sizes[name] = len(text)
        print(f"{path.relative_to(ROOT)}: {len(feats):,} features, {len(text) / 1e6:.2f} MB")
    return sizes


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tolerance-states", type=float, default=0.01)
    ap.add_argument("--tolerance-counties", type=float, default=0.01)
    a = ap.parse_args(argv)
    build(a.tolerance_states, a.tolerance_counties)
    return 0


if __name__ == "__main__":
    sys.exit(main())
