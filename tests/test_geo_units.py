"""Geographic units, adjacency, measures, territory shapes and their exports, assignment rules
(a new account falls into its territory) and the design as a scenario."""
from __future__ import annotations

import zipfile

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import box

from territory_core.contract import S
from territory_core.dataset import load_sample
from territory_core.geo import workflow as W
from territory_core.geo.territories import (TerritoryRouter, assignment_rules, design_scenario, territory_for,
                                            write_boundaries)
from territory_core.geo.units import (UnitsError, adjacency, county_units, place_accounts, polygons_frame,
                                      read_polygons, unit_measures, zip_units, zip_units_report)


def test_new_england_counties_and_their_adjacency():
    c = county_units(["CT", "RI"])
    assert len(c) == 13 and set(c["state"]) == {"CT", "RI"}
    adj = adjacency(c, tolerance=0.005)
    e = set(map(frozenset, zip(adj.edges["unit_a"], adj.edges["unit_b"])))
    assert frozenset({"09003", "09009"}) in e          # Hartford - New Haven share a boundary
    assert frozenset({"44007", "09015"}) in e          # Providence RI - Windham CT, across the state line
    assert frozenset({"44005", "09001"}) not in e      # Newport RI - Fairfield CT are far apart
    assert adj.components_before >= 1


def test_islands_are_joined_to_their_nearest_unit_and_reported():
    c = county_units(["MA"])
    adj = adjacency(c, tolerance=0.005)
    joined = adj.joined.set_index("unit")
    # Nantucket (25019) has no land neighbour: joined to Dukes or Barnstable and reported
    assert "25019" in joined.index or "25019" in set(adj.joined["joined_to"])
    assert (adj.edges["kind"] == "joined").sum() == len(adj.joined) >= 1
    assert "island" in adj.summary()


def test_zip_areas_are_voronoi_cells_clipped_to_their_county():
    z = zip_units(["RI"])
    rep = zip_units_report(["RI"])
    assert rep["areas"] == len(z) > 50
    c = county_units(["RI"]).set_index("unit_id")
    for _, row in z.sample(10, random_state=1).iterrows():
        # a cell lies inside its county (up to the simplification of the shipped boundary)
        assert row.geometry.difference(c.loc[row["county"], "geometry"]).area < 1e-6
    # every ZIP of the state with coordinates is in exactly one area
    all_z = [x for zs in z["zips"] for x in zs.split(";") if x]
    assert len(all_z) == len(set(all_z))
    assert "02903" in all_z  # downtown Providence


def test_accounts_fall_in_their_units_and_the_unplaced_are_listed():
    c = county_units(["RI"])
    acc = pd.DataFrame({"account_id": ["a1", "a2", "a3", "a4"], "county": ["44007", "44007", None, "06037"],
                        "lat": [np.nan, np.nan, 41.49, np.nan], "lon": [np.nan, np.nan, -71.31, np.nan],
                        "arr": [10.0, 5.0, 2.0, 1.0]})
    pl = place_accounts(acc, "county", c)
    assert pl.unit.tolist()[:3] == ["44007", "44007", "44005"]   # a3 by its location (Newport)
    assert list(pl.unplaced["account_id"]) == ["a4"] and pl.unplaced["row"].iloc[0] == 5
    m = unit_measures(c, acc, ["arr"], placement=pl).set_index("unit_id")
    assert m.loc["44007", "arr"] == 15.0 and m.loc["44007", "accounts"] == 2
    assert m["arr"].sum() == 17.0  # a4 is outside the units: reported, not counted


def test_user_polygons_from_geojson_geopackage_and_zipped_shapefile(tmp_path):
    g = gpd.GeoDataFrame({"code": ["W", "E"], "label": ["West", "East"]},
                         geometry=[box(-100, 30, -95, 35), box(-95, 30, -90, 35)], crs="EPSG:4326")
    g.to_file(tmp_path / "p.geojson", driver="GeoJSON")
    g.to_file(tmp_path / "p.gpkg", driver="GPKG")
    g.to_file(tmp_path / "p.shp")
    with zipfile.ZipFile(tmp_path / "p.zip", "w") as z:
        for ext in ("shp", "shx", "dbf", "prj", "cpg"):
            if (tmp_path / f"p.{ext}").exists():
                z.write(tmp_path / f"p.{ext}", f"p.{ext}")
    for name in ("p.geojson", "p.gpkg", "p.zip"):
        u = read_polygons(tmp_path / name, "code", "label")
        assert list(u["unit_id"]) == ["W", "E"] and list(u["name"]) == ["West", "East"]
        adj = adjacency(u)
        assert len(adj.edges) == 1 and adj.edges["kind"].iloc[0] == "boundary"
    with pytest.raises(UnitsError, match="no column 'nope'"):
        read_polygons(tmp_path / "p.geojson", "nope")
    dup = g.assign(code=["W", "W"])
    with pytest.raises(UnitsError, match="unit id 'W' appears more than once"):
        polygons_frame(dup, "code")
    with zipfile.ZipFile(tmp_path / "empty.zip", "w") as z:
        z.writestr("readme.txt", "no shapefile")
    with pytest.raises(UnitsError, match="holds no .shp"):
        read_polygons(tmp_path / "empty.zip", "code")


@pytest.fixture(scope="module")
def ri_design():
    ds = load_sample()
    acc = ds.accounts
    inputs = W.prepare(acc, "county", measures=["arr"], states=["CT", "RI", "MA"])
    model = W.design(inputs, territories=3, balance={"accounts": 0.3}, time_limit=8, method="heuristic")
    return ds, inputs, model


def test_design_on_counties_is_contiguous_and_balanced(ri_design):
    ds, inputs, model = ri_design
    assert model.status_ in ("optimal", "feasible")
    assert model.report_["contiguous"] is True
    chk = W.check_plan(inputs, model.labels_, pd.DataFrame({"territory": ["T1", "T2", "T3"], "share": 1 / 3}),
                       {"accounts": 0.3})
    assert chk["ok"], chk["broken"]


def test_carving_breaks_contiguity_and_balance_and_says_so(ri_design):
    ds, inputs, model = ri_design
    tt = pd.DataFrame({"territory": ["T1", "T2", "T3"], "share": 1 / 3})
    lab = model.labels_.copy()
    t = lab.iloc[0]
    other = [x for x in ["T1", "T2", "T3"] if x != t][0]
    lab[:] = other
    lab.iloc[0] = t
    far = W.unit_frame(inputs, model.labels_).sort_values("lat")
    lab[far["unit_id"].iloc[-1]] = t  # two far-apart units form territory t
    chk = W.check_plan(inputs, lab, tt, {"accounts": 0.3})
    assert not chk["ok"]
    text = " ".join(chk["broken"])
    assert f"Territory {t} is in 2 pieces" in text
    assert "has no units left" in text and "outside +-30%" in text


def test_exports_open_in_geopandas(ri_design, tmp_path):
    ds, inputs, model = ri_design
    shapes = W.shapes(inputs, model.plan())
    assert len(shapes) == 3 and set(shapes["territory"]) == {"T1", "T2", "T3"}
    assert shapes["units"].sum() == len(inputs.units)
    for name in ("t.geojson", "t.gpkg"):
        write_boundaries(shapes, tmp_path / name)
        back = gpd.read_file(tmp_path / name)
        assert len(back) == 3 and back.crs.to_epsg() == 4326
        assert set(back["territory"]) == {"T1", "T2", "T3"}
        assert back.geometry.is_valid.all()
        assert back["accounts"].sum() == pytest.approx(inputs.measures["accounts"].sum())
    with pytest.raises(ValueError, match=r"\.geojson or \.gpkg"):
        write_boundaries(shapes, tmp_path / "t.shp")


def test_rules_route_a_new_account_to_its_territory(ri_design):
    ds, inputs, model = ri_design
    rules = assignment_rules(inputs.units, model.plan(), "county")
    lab = model.labels_
    providence = lab["44007"]
    assert territory_for(rules, zip="02903") == providence          # a ZIP in Providence county
    assert territory_for(rules, county="44007") == providence
    assert territory_for(rules, zip="2903") == providence            # a lost leading zero
    assert territory_for(rules, zip="90210") is None                 # Beverly Hills: outside
    r = TerritoryRouter(rules).route(pd.DataFrame({"account_id": ["n1", "n2"], "zip": ["06103", "99999"],
                                                   "state": ["CT", "ZZ"]}))
    assert r["territory"].iloc[0] == lab["09003"] and r["how"].iloc[0] == "zip"
    assert pd.isna(r["territory"].iloc[1]) and "no rule" in r["how"].iloc[1]


def test_design_as_a_scenario(ri_design):
    ds, inputs, model = ri_design
    plan = model.plan()
    scope = ds.accounts.index.isin(ds.accounts.index[inputs.placement.unit.notna()])
    scn = design_scenario(ds, plan, inputs.placement, name="NE design", scope=pd.Series(scope, index=ds.accounts.index),
                          territory_rep={"T1": "R021", "T2": "R022", "T3": "R023"}, report=model.report_)
    a = scn.assignment
    assert list(a.columns) == [S.account_id, S.rep_id, S.previous_rep_id, S.moved, S.reason]
    assert len(a) == len(ds.accounts)
    inside = a[scope]
    locked = ds.accounts[scope]["locked"].fillna(False).to_numpy() | ds.accounts[scope]["named"].fillna(False).to_numpy()
    assert set(inside.loc[~locked, S.rep_id]) <= {"R021", "R022", "R023"}
    out = a[~scope]
    assert (out[S.rep_id].fillna("") == out[S.previous_rep_id].fillna("")).all() and not out[S.moved].any()
    assert scn.report["moves"] == int(a[S.moved].sum()) > 0
