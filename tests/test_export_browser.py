"""The HTML scenario summary in a real browser: it draws its charts with no network at all."""
from __future__ import annotations

import pytest

from conftest import shot
from territory_core.dataset import load_sample
from territory_core.plan.export import scenario_summary_html
from territory_core.plan.scenarios import Scenario, scenario_kpis

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def summary_html():
    ds = load_sample()
    today = Scenario.today(ds)
    a = today.assignment.copy()
    leaver = str(ds.reps["rep_id"].iloc[3])
    others = [str(r) for r in ds.reps["rep_id"] if str(r) != leaver]
    book = a["rep_id"] == leaver
    a.loc[book, "rep_id"] = [others[i % len(others)] for i in range(int(book.sum()))]
    a.loc[book, "reason"] = f"moved: owner {leaver} is inactive"
    a["moved"] = a["rep_id"] != a["previous_rep_id"]
    sc = today.with_(name="Leaver redistributed", assignment=a, version=1, saved_by="tester",
                     events=({"type": "rep_leaves", "rep_id": leaver},))
    return scenario_summary_html(ds, sc, scenario_kpis(ds, sc), baseline_kpis=scenario_kpis(ds, today)), int(book.sum())


def test_summary_renders_offline_with_charts(page, summary_html):
    html, moved = summary_html
    page.set_content(html, wait_until="load")  # the page fixture fails the test on any outside request
    assert page.locator("h1").inner_text().startswith("Scenario summary: Leaver redistributed v1")
    charts = page.locator("main svg")
    assert charts.count() >= 2
    box = charts.first.bounding_box()
    assert box and box["width"] > 300 and box["height"] > 200
    # Bars are drawn with a real width, and each chart has its target lines.
    widths = page.evaluate("() => Array.from(document.querySelectorAll('main svg rect')).map(r => r.getBBox().width)")
    assert sum(1 for w in widths if w > 2) >= 40
    assert page.locator("main svg line").count() >= 40
    assert page.get_by_text(f"Biggest moves against Today's plan (of {moved:,})").count() == 1
    shot(page, "export_summary")
