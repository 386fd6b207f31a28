"""The app shell: navigation, the active dataset in the sidebar, deep links, no external requests."""
import pytest
from streamlit.testing.v1 import AppTest

from conftest import APP_PATH, assert_no_exception, goto, serve_app, shot, wait_idle

PAGES = {
    "": "Data",
    "health": "Territory Health",
    "whitespace_map": "Whitespace Map",
    "segments": "Segment Builder",
    "scenario_editor": "Scenario Editor",
    "compare": "Compare",
    "territory_map": "Territory Map",
    "exceptions": "Exceptions queue",
    "disputes": "Disputes",
    "engagement": "Rules of engagement",
}


def test_app_starts_on_the_data_page_with_the_sample_loaded():
    at = AppTest.from_file(APP_PATH, default_timeout=60).run()
    assert not at.exception
    sidebar_text = " ".join(m.value for m in at.sidebar.markdown)
    assert "Sample data" in sidebar_text


@pytest.mark.browser
def test_every_page_opens_without_error_and_screenshots(page, app_url):
    for path, title in PAGES.items():
        goto(page, app_url, path)
        assert_no_exception(page)
        shot(page, f"page-{path or 'data'}")


@pytest.mark.browser
@pytest.mark.parametrize("path", ["segments", "whitespace_map", "scenario_editor"])
def test_deep_link_on_a_fresh_server_runs_through_the_app_shell(page, path, tmp_path):
    """The first session after a server start is the risky one: Streamlit's old pages/ mode would
    run the page alone (no navigation) or show 'Page not found'."""
    with serve_app(tmp_path) as url:
        goto(page, url, path)
        nav = page.locator('[data-testid="stSidebarNav"]')
        # the old mode may flash its list for a moment before the rerun through app.py
        nav.get_by_text("Territory Health").wait_for(timeout=30_000)
        wait_idle(page)
        text = nav.inner_text()
        for title in PAGES.values():
            assert title in text
        # The automatic pages/ list would show file names such as "scenario editor".
        assert "scenario editor" not in text and "whitespace map" not in text
        assert page.locator('[data-testid="stSidebarNavItems"] a').count() == len(PAGES)
        current = page.locator('[data-testid="stSidebarNavLink"][aria-current="page"]').inner_text()
        assert current.split("\n")[-1].strip() == PAGES[path]  # after the icon's ligature name
        assert page.get_by_text("Page not found").count() == 0
        assert_no_exception(page)
