"""Real browser (headless Chromium, offline): the Territory Map designs territories, draws their
shapes (coloured pixels in a screenshot), and a box selection + assign changes a territory."""
from __future__ import annotations

import pytest

from conftest import assert_no_exception, goto, shot, wait_idle
from test_browser_maps import coloured_fraction, map_element, metric_value

pytestmark = pytest.mark.browser


def test_design_draw_and_carve(page, app_url):
    page.set_viewport_size({"width": 1500, "height": 1000})
    goto(page, app_url, "territory_map")
    assert_no_exception(page)
    # states, a number of territories, loose tolerance, heuristic, short time
    page.get_by_role("combobox", name="Units").click()
    page.get_by_role("option", name="States", exact=True).click()
    page.get_by_text("A number", exact=True).click()
    page.get_by_role("button", name="Design territories").click()
    wait_idle(page, timeout=180_000)
    assert_no_exception(page)
    plot = map_element(page)
    frac = coloured_fraction(plot.screenshot())
    assert frac > 0.05, f"territory map looks blank ({frac:.1%} coloured pixels)"
    shot(page, "territory_map_designed")
    assert metric_value(page, "Carves") == "0"

    # box-select across the middle of the map, then assign the selection
    plot.hover()
    page.locator('.js-plotly-plot .modebar-btn[data-title="Box Select"]').first.click()
    box = plot.bounding_box()
    x0, y0 = box["x"] + box["width"] * 0.25, box["y"] + box["height"] * 0.30
    page.mouse.move(x0, y0)
    page.mouse.down()
    page.mouse.move(x0 + box["width"] * 0.25, y0 + box["height"] * 0.30, steps=12)
    page.mouse.up()
    wait_idle(page)
    sel = page.get_by_text("unit(s) selected").first.inner_text()
    assert not sel.startswith("0"), sel
    page.get_by_role("button", name="Assign selected units").click()
    page.get_by_text("Moved ", exact=False).first.wait_for(timeout=120_000)
    wait_idle(page)
    assert_no_exception(page)
    assert metric_value(page, "Carves") == "1"
    assert page.get_by_text("Moved").count() >= 1
    plot = map_element(page)
    assert coloured_fraction(plot.screenshot()) > 0.05
    shot(page, "territory_map_carved")
