"""Real-browser tests of the Operate pages: route the sample leads and work the queue, file and
decide a dispute and save it as the plan's next version, read the rules of engagement; and the
routing section at the end of Territory Health. Screenshots go to test-artifacts/."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from conftest import ARTIFACTS, assert_no_exception, goto, shot, wait_idle

pytestmark = pytest.mark.browser
expect.set_options(timeout=60_000)  # routing 2,000 leads on a busy 2-core machine takes a few seconds


def _metric(page, label: str) -> str:
    box = page.locator('[data-testid="stMetric"]', has_text=label).first
    return box.locator('[data-testid="stMetricValue"]').inner_text().strip()


def test_exceptions_queue_in_the_browser(page, app_url):
    page.set_default_timeout(60_000)
    goto(page, app_url, "exceptions")
    assert_no_exception(page)
    page.get_by_role("tab", name="Route records").click()
    page.get_by_role("button", name="Route and queue the exceptions").click()
    expect(page.get_by_text(re.compile(r"1,915 of 2,000 records routed \(95\.8%\), 85 to the queue"))).to_be_visible()
    wait_idle(page)
    page.get_by_role("tab", name="Route records").click()
    expect(page.get_by_text("Last run (#")).to_be_visible()
    shot(page, "route_records")
    page.get_by_role("tab", name="Queue").click()
    assert _metric(page, "Open") == "85"
    form = page.locator('[data-testid="stForm"]', has_text="Assign").first
    form.get_by_label("Note (why)").fill("Known buyer at this company")
    form.get_by_role("button", name="Assign").click()
    expect(page.get_by_text(re.compile(r" assigned to "))).to_be_visible()
    wait_idle(page)
    assert_no_exception(page)
    page.get_by_role("tab", name="Queue").click()
    assert _metric(page, "Open") == "84" and _metric(page, "Assigned") == "1"
    shot(page, "exceptions_queue")
    page.get_by_role("tab", name="Audit log").click()
    expect(page.get_by_text("Audit log").first).to_be_visible()
    shot(page, "exceptions_audit")

    # Territory Health shows the run's exception rate and the drift of today's plan
    goto(page, app_url, "health")
    page.get_by_role("tab", name="Routing").click()
    section = page.get_by_text("Routing: exceptions, disputes and drift")
    section.scroll_into_view_if_needed()
    expect(section).to_be_visible()
    assert _metric(page, "Exception rate (30 days)") == "4.2%"
    assert _metric(page, "Drifted accounts") == "21"
    assert_no_exception(page)
    page.get_by_role("button", name=re.compile("drifted accounts to a recalibration scenario")).scroll_into_view_if_needed()
    page.wait_for_timeout(500)
    page.screenshot(path=str(ARTIFACTS / "health_routing.png"))


def test_disputes_in_the_browser(page, app_url):
    page.set_default_timeout(60_000)
    goto(page, app_url, "disputes")
    assert_no_exception(page)
    find = page.get_by_label("Find the account (name or id)")
    find.fill("A00004")
    find.press("Enter")
    wait_idle(page)
    page.get_by_label("Reason").fill("I sourced the renewal with their CFO")
    page.get_by_role("button", name="File the claim").click()
    expect(page.get_by_text(re.compile(r"Claim #\d+ filed"))).to_be_visible()
    wait_idle(page)
    page.get_by_role("tab", name="Open claims").click()
    page.get_by_label("Note to the rep (why)").fill("Agreed with the owner's manager")
    page.get_by_role("button", name="Accept").click()
    expect(page.get_by_text(re.compile(r"Claim #\d+ accepted"))).to_be_visible()
    wait_idle(page)
    page.get_by_role("tab", name="Accepted: next version").click()
    shot(page, "disputes_accepted")
    page.get_by_role("button", name=re.compile("Save the next version of")).click()
    expect(page.get_by_text(re.compile(r"Saved Today's plan with accepted disputes v1"))).to_be_visible()
    wait_idle(page)
    assert_no_exception(page)
    page.get_by_role("tab", name="History").click()
    shot(page, "disputes_history")


def test_rules_of_engagement_in_the_browser(page, app_url):
    page.set_default_timeout(60_000)
    goto(page, app_url, "engagement")
    assert_no_exception(page)
    doc = page.frame_locator('[data-testid="stIFrame"]').first
    expect(doc.get_by_role("heading", name="How a new account or lead gets its owner")).to_be_visible()
    expect(doc.get_by_role("heading", name="Disputes")).to_be_visible()
    expect(page.get_by_role("button", name="Download Markdown")).to_be_visible()
    shot(page, "rules_of_engagement")
