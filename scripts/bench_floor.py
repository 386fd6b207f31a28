"""The floor of scripts/bench_browser.py: what the same headless Chromium and Streamlit take for the
least a page can do (a title, one plotly bar chart, one map over the shipped boundaries), with none
of the app's work. A step of the app that is close to its floor has little left to win on the
server side; what is left is the browser's drawing. Prints one table; no assertions.

    .venv/bin/python scripts/bench_floor.py [--turns 3]

A fresh ``streamlit run`` of a 40-line app (written to a temp folder, with the app's
.streamlit/config.toml and static/geo boundaries), then per turn a new browser context: open the app,
open the chart page, open the map page (states), State -> County, County -> State. Times are to a
settled page, as in bench_browser.py; the server's RSS after the turns is the import baseline of
Streamlit, pandas and plotly.
"""
from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

from bench_browser import LAUNCH_ARGS, Server, _context, _nav, arm, settle  # noqa: E402

APP = '''
import json
import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st


def home():
    st.title("Home")
    st.write("A page with no chart.")
    st.dataframe(pd.DataFrame({"a": range(41), "b": np.arange(41) * 2.0}))


def chart():
    st.title("Chart")
    fig = go.Figure(go.Bar(x=[f"Rep {i}" for i in range(41)], y=np.random.default_rng(1).random(41)))
    st.plotly_chart(fig, key="c1")


@st.cache_data
def fips():
    with open("static/geo/counties.geojson", encoding="utf-8") as f:
        return [ft["id"] for ft in json.load(f)["features"]]


def map_():
    st.title("Map")
    level = st.radio("Areas", ["State", "County"], horizontal=True, key="lvl")
    if level == "State":
        ids, url = ["CA", "TX", "NY", "FL", "WA", "IL", "OH", "GA"], "app/static/geo/states.geojson"
    else:
        ids, url = fips(), "app/static/geo/counties.geojson"
    z = np.random.default_rng(1).random(len(ids))
    fig = go.Figure(go.Choroplethmap(geojson=url, locations=ids, z=z, marker_line_width=0.3))
    fig.update_layout(map_style="white-bg", map_zoom=2.6, map_center={"lat": 38.5, "lon": -96.5}, height=560,
                      margin=dict(l=0, r=0, t=0, b=0))
    st.plotly_chart(fig, key="m1")


st.navigation([st.Page(home, title="Home", url_path="home", default=True),
               st.Page(chart, title="Chart", url_path="chart"),
               st.Page(map_, title="Map", url_path="map")]).run()
'''


def main() -> int:
    from playwright.sync_api import sync_playwright

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--turns", type=int, default=3, help="new browser contexts, one after another (medians shown)")
    args = ap.parse_args()
    if not shutil.which("chromium"):
        print("Debian's chromium is needed (apt-get install chromium).", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="bench_floor_"))
    app_dir = work / "app"
    (app_dir / ".streamlit").mkdir(parents=True)
    shutil.copy(ROOT / ".streamlit" / "config.toml", app_dir / ".streamlit" / "config.toml")
    shutil.copytree(ROOT / "static" / "geo", app_dir / "static" / "geo")
    (app_dir / "app.py").write_text(APP, encoding="utf-8")
    server = Server(app_dir, work)
    times: dict[str, list[float]] = {}
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=shutil.which("chromium"), args=LAUNCH_ARGS)
            for turn in range(args.turns):
                ctx, page = _context(browser)

                def step(name, action):
                    arm(page)
                    t0 = time.time()
                    action()
                    times.setdefault(name, []).append(settle(page) - t0)

                radio = lambda opt: lambda: page.locator('[data-testid="stRadio"] label').filter(  # noqa: E731
                    has_text=opt).first.click()
                step("Open the app (a table, no chart)", lambda: page.goto(server.url))
                step("First open: a page with one bar chart", _nav(page, "Chart"))
                step("First open: a page with one map (states)", _nav(page, "Map"))
                step("Map: State -> County", radio("County"))
                step("Map: County -> State", radio("State"))
                print(f"  turn {turn + 1}: " + ", ".join(f"{k.split(':')[-1].strip()} {v[-1]:.2f}"
                                                         for k, v in times.items()), file=sys.stderr)
                ctx.close()
            browser.close()
        rss = server.rss()
    finally:
        server.close()
        shutil.rmtree(work, ignore_errors=True)
    print(f"The floor: a 40-line Streamlit app in the same headless Chromium; median of {args.turns} new browser contexts")
    print("| step | s (median) | s (each) |")
    print("|---|---|---|")
    for k, v in times.items():
        print(f"| {k} | {statistics.median(v):.2f} | {' / '.join(f'{x:.2f}' for x in v)} |")
    print(f"| Server RSS after the turns (MB) | {rss:,.0f} | |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
