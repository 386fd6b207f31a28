"""Territory Map page (AppTest): design on states, the map's single choropleth trace, balance
bars, bad settings with a message, and a carve that the page re-checks."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parent.parent / "app.py")


def open_page():
    at = AppTest.from_file(APP, default_timeout=240).run()
    at.switch_page("pages/territory_map.py").run()
    assert not at.exception
    return at


def arr(v):
    """A plotly array, plain or binary-encoded ({"bdata", "dtype"})."""
    import base64

    import numpy as np

    if isinstance(v, dict) and "bdata" in v:
        return np.frombuffer(base64.b64decode(v["bdata"]), dtype=v["dtype"]).tolist()
    return list(v)


def charts(at):
    return [json.loads(e.proto.spec) for e in at.get("plotly_chart")]


def design(at, **kw):
    at.selectbox(key="tm_level").set_value(kw.get("level", "state"))
    at.radio(key="tm_mode").set_value(kw.get("mode", "A number"))
    at.number_input(key="tm_n").set_value(kw.get("n", 4))
    at.slider(key="tm_tol").set_value(kw.get("tol", 0.35))
    at.slider(key="tm_time").set_value(10)
    at.selectbox(key="tm_method").set_value("heuristic")
    at.button[0].click().run()
    assert not at.exception


def test_design_draws_one_choropleth_and_balance_bars():
    at = open_page()
    assert "Design territories" in at.info[0].value
    design(at)
    assert [m.value for m in at.metric][:2] == ["51", "4"]
    figs = charts(at)
    maps = [f for f in figs if any(t["type"] == "choroplethmap" for t in f["data"])]
    assert len(maps) == 1
    traces = maps[0]["data"]
    assert [t["type"] for t in traces].count("choroplethmap") == 1        # one trace, geojson once
    assert maps[0]["layout"]["map"]["style"] == "white-bg"
    assert maps[0]["layout"]["map"]["layers"][0]["type"] == "line"         # territory outlines
    assert len(traces[0]["locations"]) >= 50 and len(set(arr(traces[0]["z"]))) == 4
    bars = [f for f in figs if f["data"] and f["data"][0]["type"] == "bar"]
    assert len(bars) == 1 and len(arr(bars[0]["data"][0]["x"])) == 4
    assert not at.error


def test_disruption_without_reps_is_refused_with_a_message():
    at = open_page()
    at.radio(key="tm_objective").set_value("disruption")
    design(at)
    assert at.error and "owners" in at.error[0].value and "One per rep" in at.error[0].value


def test_carving_reassigns_units_and_rechecks():
    at = open_page()
    design(at)
    before = charts(at)[0]["data"][0]
    # select California and Oregon in the map's selection state, then assign them
    at.session_state["tm_map"] = {"selection": {"points": [{"customdata": "CA"}, {"customdata": "OR"}],
                                                "point_indices": [], "box": [], "lasso": []}}
    at.run()
    target = [t for t in ["T1", "T2", "T3", "T4"] if t != "T1"][0]
    at.selectbox(key="tm_to").set_value(target)
    at.button(key="tm_assign").click().run()
    assert not at.exception
    after = charts(at)[0]["data"][0]
    za = dict(zip(after["locations"], arr(after["z"])))
    assert za["CA"] == za["OR"] == 1.0
    assert "Moved" in at.info[0].value or any("Moved" in i.value for i in at.info)
    assert [m.value for m in at.metric if m.label == "Carves"] == ["1"]
    assert at.success or at.warning  # the page says whether anything broke
