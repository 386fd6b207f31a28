"""Real-browser tests (headless Debian Chromium) of the Whitespace Map and Segment Builder pages:
the maps draw with no internet (canvas not blank, shapes present), a filter and a rule change."""
from __future__ import annotations

import io
import json

import numpy as np
import pytest
from PIL import Image

from conftest import ROOT, assert_no_exception, goto, plotly_shape_count, serve_app, shot, wait_idle

pytestmark = pytest.mark.browser


def coloured_fraction(png: bytes) -> float:
    """Share of pixels that are clearly not white/grey background (the map's fill colours)."""
    img = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
    spread = img.max(axis=2) - img.min(axis=2)  # saturation proxy: greys have ~0 spread
    return float((spread > 40).mean())


def open_page(page, app_url, path):
    goto(page, app_url, path)
    assert page.get_by_text("Page not found").count() == 0
    assert_no_exception(page)


def pick(page, label: str, option: str) -> None:
    """Choose an option in the multiselect with this label."""
    page.get_by_role("combobox", name=label, exact=True).click()
    page.get_by_role("option", name=option, exact=True).click()
    page.keyboard.press("Escape")
    wait_idle(page)


# a map drawn in place (ui.plot_map) has taken its newest figure; the Territory Map's st.plotly_chart has none
MAP_DRAWN = """() => [...document.querySelectorAll('.tm-plotly-map')].every(g => g.getAttribute('data-tm-state') === 'drawn')"""


def map_element(page):
    plot = page.locator(".js-plotly-plot").first
    plot.wait_for(state="visible", timeout=30_000)
    page.wait_for_selector(".js-plotly-plot .maplibregl-canvas", timeout=30_000)
    page.wait_for_function(MAP_DRAWN, timeout=30_000)
    page.wait_for_timeout(2500)  # let MapLibre paint the polygons
    return plot


def metric_value(page, label: str) -> str:
    m = page.locator('[data-testid="stMetric"]').filter(has_text=label).first
    return m.locator('[data-testid="stMetricValue"]').inner_text()


def test_whitespace_map_draws_offline_and_filters(page, app_url):
    open_page(page, app_url, "whitespace_map")
    plot = map_element(page)
    assert plotly_shape_count(page) > 0
    png = plot.screenshot()
    frac = coloured_fraction(png)
    assert frac > 0.05, f"map looks blank ({frac:.1%} coloured pixels)"
    shot(page, "whitespace_map_state")
    # the county boundaries load while the state map is shown (the switch below then waits for no download)
    counties = len(json.loads((ROOT / "static" / "geo" / "counties.geojson").read_text())["features"])
    loaded = page.wait_for_function("""() => { const a = (window.PlotlyGeoAssets || {})['app/static/geo/counties.geojson'];
        return a && a.features ? a.features.length : false; }""", timeout=30_000).json_value()
    assert loaded == counties
    before = metric_value(page, "Accounts")

    # filter: one segment
    pick(page, "Segment", "Enterprise")
    assert_no_exception(page)
    after = metric_value(page, "Accounts")
    assert after != before and int(after.replace(",", "")) < int(before.replace(",", ""))
    plot = map_element(page)
    assert coloured_fraction(plot.screenshot()) > 0.02

    # county level with state outlines, drawn on the same map (ui.plot_map), not on a new one
    # and where the user zoomed it
    page.evaluate("() => { const g = document.querySelector('.tm-plotly-map'); g.__tmTest = 'the first map'; "
                  "g._fullLayout.map._subplot.map.__tmTest = 'its MapLibre map'; }")
    box = plot.bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.6, box["y"] + box["height"] * 0.5)
    for _ in range(3):
        page.mouse.wheel(0, -400)
        page.wait_for_timeout(400)
    page.wait_for_timeout(1000)
    zoom = page.evaluate("() => document.querySelector('.tm-plotly-map')._fullLayout.map.zoom")
    assert zoom > 3.8, f"the wheel did not zoom the map in ({zoom})"
    # count the map's frames and paints from the click until the county figure is drawn
    page.evaluate("""() => { const g = document.querySelector('.tm-plotly-map'); const p = g._fullLayout.map._subplot.map.painter;
        const t = window.__tmFrames = {frames: 0, paints: 0, atDrawn: null, label: null};
        g._fullLayout.map._subplot.map.getLayer('plotly-trace-layer-ws_areas-fill').__tmTest = 'the same layer';
        const render = p.render, paint = p.__tmRender;
        p.render = function (...a) { t.frames++; return render.apply(this, a); };
        p.__tmRender = function (...a) { t.paints++; return paint.apply(this, a); };
        new MutationObserver(() => {
          const state = g.getAttribute('data-tm-state');
          if (state === 'drawing' && t.label === null) t.label = getComputedStyle(g, '::after').content;
          if (state === 'drawn' && !t.atDrawn) t.atDrawn = [t.frames, t.paints, getComputedStyle(g, '::after').content]; })
          .observe(g, {attributes: true}); }""")
    page.get_by_text("County", exact=True).click()
    wait_idle(page)
    assert_no_exception(page)
    plot = map_element(page)
    frames, paints, label_after = page.evaluate("() => window.__tmFrames.atDrawn")
    # MapLibre asks for a frame as each tile comes in; the map paints only once they are all in, and
    # meanwhile the last picture says a new one is coming
    assert frames >= 3 and paints == 1, (frames, paints)
    assert page.evaluate("() => window.__tmFrames.label") == '"Drawing the map\u2026"'
    assert label_after == "none"
    # the areas' layer stays (plotly.js re-adds the layers of traces sharing one `below`, and MapLibre
    # then tiles their sources twice)
    assert page.evaluate("() => document.querySelector('.tm-plotly-map')._fullLayout.map._subplot.map"
                         ".getLayer('plotly-trace-layer-ws_areas-fill').__tmTest") == "the same layer"
    kept = page.evaluate("""() => { const g = document.querySelector('.tm-plotly-map');
        return [document.querySelectorAll('.tm-plotly-map').length, g.__tmTest, g._fullLayout.map._subplot.map.__tmTest,
                g.data[0].geojson, g.layout.map.layers.length, g._fullLayout.map.zoom]; }""")
    assert kept[:5] == [1, "the first map", "its MapLibre map", "app/static/geo/counties.geojson", 1]
    assert kept[5] == pytest.approx(zoom, abs=0.01), "the county map should stay where the user zoomed"
    # the map's own full-screen button (Streamlit's chart had one): the map fills the screen, and back
    size = """() => { const g = document.querySelector('.tm-plotly-map');
        return [document.fullscreenElement === g, g._fullLayout.width, g._fullLayout.height]; }"""
    button = page.locator('.tm-plotly-map .modebar-btn[data-title="Full screen"]')
    button.click(force=True)  # the mode bar shows on hover
    page.wait_for_function("() => document.fullscreenElement !== null", timeout=10_000)
    page.wait_for_timeout(500)
    vw = page.evaluate("() => [window.innerWidth, window.innerHeight]")
    assert page.evaluate(size) == [True, *vw]
    button.click(force=True)
    page.wait_for_function("() => document.fullscreenElement === null", timeout=10_000)
    page.wait_for_timeout(500)
    full, width, height = page.evaluate(size)
    assert not full and height == 580 and width < vw[0]
    frac_c = coloured_fraction(plot.screenshot())
    assert frac_c > 0.01, f"county map looks blank ({frac_c:.1%})"
    shot(page, "whitespace_map_county_enterprise")
    page.get_by_role("tab", name="Industry x size").click()  # below the map, one tab at a time
    wait_idle(page)
    assert_no_exception(page)
    heat = page.locator(".js-plotly-plot").nth(1)
    heat.scroll_into_view_if_needed()
    assert page.locator(".js-plotly-plot .heatmaplayer image, .js-plotly-plot .hm image").count() >= 1
    shot(page, "whitespace_map_heatmap")


# Every frame MapLibre paints starts by clearing its canvas: count the clears of each map's canvas.
COUNT_CLEARS = """(() => { const clear = WebGL2RenderingContext.prototype.clear;
  WebGL2RenderingContext.prototype.clear = function (...a) { const c = this.canvas; c.__tmClears = (c.__tmClears || 0) + 1;
    return clear.apply(this, a); }; })();"""


def test_a_new_map_paints_its_first_figure_once_its_tiles_are_in(page, app_url):
    """A new map paints its empty background, then nothing while its tiles come in, then the figure:
    not a whole-map frame per tile (each as costly as the map in software WebGL). And it is not blank."""
    page.add_init_script(COUNT_CLEARS)
    open_page(page, app_url, "whitespace_map")
    page.wait_for_selector(".tm-plotly-map canvas.maplibregl-canvas", timeout=30_000)
    page.wait_for_function(MAP_DRAWN, timeout=30_000)
    page.wait_for_timeout(1500)  # any frame still to come
    clears = page.evaluate("() => [...document.querySelectorAll('.tm-plotly-map canvas.maplibregl-canvas')]"
                           ".map((c) => c.__tmClears || 0)")
    # its empty background, then the figure (a third frame if the page resizes it meanwhile); 12 before
    assert len(clears) == 1 and clears[0] in (2, 3), clears
    frac = coloured_fraction(map_element(page).screenshot())
    assert frac > 0.05, f"map looks blank ({frac:.1%} coloured pixels)"


def test_segment_builder_rule_change(page, app_url):
    open_page(page, app_url, "segments")
    page.get_by_text("Every rule matches accounts of its own").wait_for(timeout=30_000)
    # Enterprise: min employees 600 -> 100000 in the rules table (a canvas grid)
    grid = page.locator(".st-key-seg_rules_editor")
    grid.scroll_into_view_if_needed()
    # The grid is a canvas: click the first row's Priority cell, then move with the keyboard to
    # row 2 (Enterprise), column "Min employees" (6 to the right) and type over it.
    page.wait_for_timeout(500)
    grid.click(position={"x": 70, "y": 35 + 17})  # relative to the grid, after any scrolling
    page.wait_for_timeout(500)
    page.keyboard.press("ArrowDown")
    for _ in range(6):
        page.keyboard.press("ArrowRight")
    page.keyboard.press("Enter")
    editor = page.locator(".gdg-input, textarea.gdg-input, input.gdg-input").first
    try:
        editor.wait_for(timeout=10_000)
    except Exception:
        shot(page, "segment_builder_editor_not_open")
        raise
    editor.fill("100000")
    page.keyboard.press("Enter")
    page.mouse.click(5, 5)
    wait_idle(page)
    assert_no_exception(page)
    page.get_by_text("matches no account in this data").first.wait_for(timeout=20_000)
    page.get_by_role("button", name="Save to scenario").click()
    wait_idle(page)
    assert page.get_by_text("Saved 4 rules to the active scenario").count() == 1
    shot(page, "segment_builder_rule_changed")

    # the saved rules drive the Whitespace Map's segment filter: no Enterprise accounts now
    page.get_by_role("link", name="Whitespace Map").click()
    wait_idle(page)
    assert_no_exception(page)
    page.get_by_role("combobox", name="Segment", exact=True).click()
    page.get_by_role("option", name="SMB", exact=True).wait_for(timeout=10_000)
    assert page.get_by_role("option", name="Enterprise", exact=True).count() == 0
    page.keyboard.press("Escape")
    map_element(page)
    assert plotly_shape_count(page) > 0


def test_a_map_says_why_it_cannot_draw_when_plotly_js_is_not_served(page, tmp_path):
    """With static serving off (a config that breaks ui.plot_map), the map says what failed and how
    the app serves it; the rest of the page still works."""
    with serve_app(tmp_path, extra_args=["--server.enableStaticServing", "false"]) as url:
        open_page(page, url, "whitespace_map")
        failed = page.locator('.tm-plotly-map[data-tm-state="failed"]')
        failed.wait_for(timeout=60_000)
        assert failed.inner_text() == ("The map could not be drawn: could not load app/static/vendor/plotly.min.js "
                                       "(the app serves it with [server] enableStaticServing = true)")
        assert metric_value(page, "Accounts") == "6,000"
