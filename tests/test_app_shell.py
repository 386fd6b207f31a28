"""The app shell: navigation, the active dataset in the sidebar, deep links, no external requests."""
import pytest
from streamlit.testing.v1 import AppTest

from conftest import APP_PATH, assert_no_exception, goto, shot

PAGES = {
    "": "Data",
    "health": "Territory Health",
    "whitespace": "Whitespace Map",
    "segments": "Segment Builder",
    "scenarios": "Scenario Editor",
    "compare": "Compare",
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
def test_deep_link_shows_our_navigation_not_the_automatic_page_list(page, app_url):
    goto(page, app_url, "segments")
    nav = page.locator('[data-testid="stSidebarNav"]')
    text = nav.inner_text()
    for title in PAGES.values():
        assert title in text
    # The automatic pages/ list would show file names such as "scenario editor" / "whitespace map".
    assert "scenario editor" not in text and "whitespace map" not in text
    assert page.locator('[data-testid="stSidebarNavItems"] a').count() == len(PAGES)
    # the deep-linked page is the one shown (the first run after a server start is the risky one)
    assert "Segment" in page.locator('[data-testid="stSidebarNavLink"][aria-current="page"]').inner_text()
