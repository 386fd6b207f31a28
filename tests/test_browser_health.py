"""Real-browser test of the Territory Health page: filter by a manager, drill into a rep."""
from __future__ import annotations

import re

import pytest

from conftest import assert_no_exception, goto, plotly_shape_count, shot, wait_idle
from territory_core.contract import R
from territory_core.dataset import load_sample
from territory_core.analyse.kpis import K, Period, data_as_of, rep_kpis


def _shot_at(page, locator, name: str) -> None:
    """Scroll ``locator`` to the top of Streamlit's scrolling main area, then screenshot."""
    locator.first.evaluate("e => e.scrollIntoView({block: 'start'})")
    page.wait_for_timeout(500)
    shot(page, name)


def _pick(page, label: str, option: str) -> None:
    """Choose ``option`` in the selectbox or multiselect labelled ``label``."""
    box = page.locator('[data-testid="stSelectbox"], [data-testid="stMultiSelect"]').filter(
        has=page.get_by_text(label, exact=True)).first
    box.evaluate("e => e.scrollIntoView({block: 'center'})")
    page.wait_for_timeout(300)
    box.locator('input').first.click()
    page.locator('[role="option"]').filter(has_text=option).first.click()
    wait_idle(page)


@pytest.mark.browser
def test_health_page_filter_by_manager_and_drill_into_rep(page, app_url):
    ds = load_sample()
    k = rep_kpis(ds.accounts, ds.reps, ds.opportunities, Period("quarter", data_as_of(ds.opportunities)))
    mgr = sorted(ds.reps[R.manager].dropna().unique())[1]
    team = k[(k[K.manager] == mgr) & (k[K.active] | (k[K.accounts] > 0))]

    goto(page, app_url, "health")
    assert_no_exception(page)
    page.get_by_text("Territory Health", exact=True).first.wait_for()
    page.locator('[data-testid="stMetric"]').first.wait_for()
    page.locator(".js-plotly-plot").first.wait_for()
    page.wait_for_timeout(800)
    assert plotly_shape_count(page) > 20  # histogram bars, scatter points, coverage bars, trend
    shot(page, "health-1-team")
    _shot_at(page, page.get_by_text("click a header to sort", exact=False), "health-1b-table")
    _shot_at(page, page.locator(".js-plotly-plot"), "health-1c-charts")

    _pick(page, "Manager", mgr)
    assert_no_exception(page)
    page.get_by_text(f"Filtered team: {len(team)} reps", exact=False).first.wait_for(timeout=30_000)
    page.keyboard.press("Escape")
    page.get_by_text("Territory Health", exact=True).last.click()
    page.wait_for_timeout(600)
    shot(page, "health-2-manager")
    page.get_by_text("Rollups by manager, segment and region", exact=False).first.click()
    page.wait_for_timeout(800)
    _shot_at(page, page.get_by_text("Rollups by manager, segment and region", exact=False), "health-2b-rollups")
    page.get_by_text("Rollups by manager, segment and region", exact=False).first.click()

    rep = team.sort_values(K.won_revenue).iloc[-1]
    page.get_by_role("tab", name="Rep drill-down").click()
    _pick(page, "Rep", f"{rep[K.name]} · {rep[K.region]}, {rep[K.segment]} ({rep[K.rep_id]})")  # name, region, segment
    assert_no_exception(page)
    page.get_by_text(re.compile(rf"^Accounts \({int(rep[K.accounts])}\)")).first.wait_for(timeout=30_000)
    page.get_by_text(f"Manager {mgr}", exact=False).first.wait_for()
    page.wait_for_timeout(800)
    _shot_at(page, page.get_by_role("tab", name="Rep drill-down"), "health-3-drill")
    _shot_at(page, page.get_by_text("Top whitespace accounts of", exact=False), "health-3b-drill-charts")

    page.get_by_role("tab", name="Balance").click()
    page.wait_for_timeout(600)
    assert_no_exception(page)
    _shot_at(page, page.get_by_role("tab", name="Balance"), "health-4-balance")
    page.get_by_role("tab", name="Quota suggestion").click()
    page.wait_for_timeout(600)
    _shot_at(page, page.get_by_role("tab", name="Quota suggestion"), "health-5-quota")
    page.get_by_role("tab", name="Thresholds").click()
    page.wait_for_timeout(600)
    _shot_at(page, page.get_by_role("tab", name="Thresholds"), "health-6-thresholds")
    assert_no_exception(page)
    assert page.get_by_text("could not be shown", exact=False).count() == 0
