"""territory_core.geo.zips: shipped boundaries, offline ZIP lookup with county FIPS, state codes, distances."""
import numpy as np
import pytest

from territory_core.geo import zips as geo
from territory_core.dataset import GEO_DIR


def test_boundary_files_are_small_and_keyed_by_code_and_fips():
    assert (GEO_DIR / "states.geojson").stat().st_size < 1_000_000
    assert (GEO_DIR / "counties.geojson").stat().st_size < 4_000_000
    states = geo.states_geojson()
    ids = {f["id"] for f in states["features"]}
    assert {"CA", "NY", "TX", "DC", "AK", "HI"} <= ids and len(ids) == 56
    ca = next(f for f in states["features"] if f["id"] == "CA")
    assert ca["properties"]["name"] == "California"
    counties = geo.counties_geojson()
    assert len(counties["features"]) > 3000
    la = next(f for f in counties["features"] if f["id"] == "06037")
    assert la["properties"]["state"] == "CA" and "Los Angeles" in la["properties"]["name"]
    assert all(len(f["id"]) == 5 and f["id"].isdigit() for f in counties["features"])


def test_zip_lookup_fills_state_county_fips_and_coordinates_in_input_order():
    out = geo.zip_lookup(["02139", "10001", "99999", "60606"])
    assert list(out["zip"]) == ["02139", "10001", "99999", "60606"]
    assert list(out["state"].fillna("?")) == ["MA", "NY", "?", "IL"]
    assert list(out["county"].fillna("?")) == ["25017", "36061", "?", "17031"]
    assert abs(out.loc[0, "lat"] - 42.36) < 0.1 and abs(out.loc[0, "lon"] + 71.10) < 0.1
    assert np.isnan(out.loc[2, "lat"])


def test_almost_every_us_zip_gets_a_county_fips():
    t = geo.zip_table()
    us = t[t["state"].isin(list(geo.STATES)[:51]) & t["lat"].notna()]
    assert us["county"].notna().mean() > 0.999


@pytest.mark.parametrize("state,name,fips", [
    ("MD", "Baltimore city", "24510"), ("MD", "Baltimore County", "24005"),
    ("MO", "Saint Louis County", "29189"), ("MO", "St. Louis city", "29510"),
    ("LA", "Orleans Parish", "22071"), ("NV", "Carson City", "32510"),
    ("VA", "James City County", "51095"), ("AK", "Municipality of Anchorage", "02020"),
])
def test_county_names_match_fips(state, name, fips):
    assert geo.county_fips(state, name) == fips


@pytest.mark.parametrize("text,code", [("California", "CA"), ("california", "CA"), ("ca", "CA"), (" NY ", "NY"),
                                       ("Calif.", "CA"), ("District of Columbia", "DC"), ("Texas", "TX"),
                                       ("Ontario", None), ("", None), (None, None), (float("nan"), None)])
def test_state_code(text, code):
    assert geo.state_code(text) == code


def test_haversine_is_vectorised_and_right():
    # New York to Los Angeles ~ 3,940 km
    d = geo.haversine_km(40.7128, -74.0060, 34.0522, -118.2437)
    assert 3900 < float(d) < 3990
    m = geo.distance_matrix_km([40.7, 34.05], [-74.0, -118.24], [40.7, 41.88, 34.05], [-74.0, -87.63, -118.24])
    assert m.shape == (2, 3) and m[0, 0] < 1 and m[1, 2] < 1 and 1100 < m[0, 1] < 1200


def test_state_centroids_fall_inside_the_country():
    c = geo.state_centroids()
    lat, lon = c["KS"]
    assert 37 < lat < 40 and -102 < lon < -94


def test_shipped_zip_table_is_the_package_built_one_and_small():
    """data/geo/zips.parquet (read instead of the zipcodes package's 140 MB of dicts) is current:
    exactly what scripts/build_zips.py builds from the installed package and boundaries."""
    import pandas as pd

    assert geo.ZIPS_FILE.is_file() and geo.ZIPS_FILE.stat().st_size < 2_000_000
    shipped = geo.zip_table()
    pd.testing.assert_frame_equal(shipped, geo.build_zip_table())
    assert len(shipped) > 42_000 and shipped.loc["02139", "county"] == "25017"
