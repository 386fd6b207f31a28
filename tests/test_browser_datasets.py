"""Datasets in the store, in headless Chromium against real app processes on one database
(PostgreSQL when the machine has it, else a SQLite file):

- a Salesforce export uploaded twice in two sessions loads ARR both times: the second time from
  the remembered mapping;
- a scenario saved on uploaded data in one process opens in Compare and the Scenario Editor of a
  second app process, started afterwards, on the data it was solved on: no "different data".
"""
from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

import pytest
from playwright.sync_api import expect

from conftest import assert_no_exception, goto, serve_app, shot, wait_idle
from conftest_pg import pg_server  # noqa: F401 (fixture)
from test_datasets_pages import team_files

pytestmark = pytest.mark.browser

SF = Path(__file__).parent / "fixtures" / "salesforce"
SOLVE_WAIT = 150_000


@pytest.fixture(scope="module")
def shared_db(request, tmp_path_factory):
    """The database both app processes use: a fresh PostgreSQL database when possible."""
    try:
        return request.getfixturevalue("pg_server_db")
    except pytest.skip.Exception:
        return f"sqlite:///{tmp_path_factory.mktemp('shared') / 'team.db'}"


@pytest.fixture(scope="module")
def pg_server_db(pg_server):
    import uuid

    import sqlalchemy as sa
    from sqlalchemy.engine import make_url

    admin = sa.create_engine(pg_server, isolation_level="AUTOCOMMIT")
    name = f"territory_two_{uuid.uuid4().hex[:10]}"
    with admin.connect() as c:
        c.exec_driver_sql(f'CREATE DATABASE "{name}"')
    yield make_url(pg_server).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as c:
        c.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


@pytest.fixture(scope="module")
def first_app(shared_db, tmp_path_factory):
    """App process 1 on the shared database."""
    mp = pytest.MonkeyPatch()
    mp.setenv("TERRITORY_TEST_DB_URL", shared_db)
    try:
        with serve_app(tmp_path_factory.mktemp("app1")) as url:
            yield url
    finally:
        mp.undo()


def _new_page(browser, browser_context_args, external: list):
    """A page in a fresh browser context (a new session, another person) with the localhost guard."""
    context = browser.new_context(**browser_context_args)

    def guard(route):
        host = urlparse(route.request.url).hostname or ""
        if route.request.url.startswith(("data:", "blob:")) or host in ("127.0.0.1", "localhost", "::1"):
            route.continue_()
        else:
            external.append(route.request.url)
            route.abort()

    context.route("**/*", guard)
    page = context.new_page()
    page.set_default_timeout(60_000)
    return page


def _upload(page, *files) -> None:
    page.get_by_role("tab", name="Import files").click()
    page.wait_for_selector('[data-testid="stFileUploaderDropzoneInput"]', state="attached", timeout=30_000)
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files([str(f) for f in files])
    page.get_by_text("Map the columns").wait_for(timeout=60_000)
    page.get_by_text("OK: nothing blocks loading").wait_for(timeout=60_000)
    wait_idle(page)


def _pick(page, box, option: str) -> None:
    """Choose ``option`` in a Streamlit selectbox (retry: a rerun mid-click closes the list)."""
    for _ in range(3):
        wait_idle(page)
        box.locator("input").click()
        box.locator("input").fill(option)
        try:
            page.get_by_role("option", name=option, exact=True).click(timeout=10_000)
        except Exception:
            page.keyboard.press("Escape")
            continue
        wait_idle(page)
        if _value(box) == option:
            return
    raise AssertionError(f"could not pick {option!r}: {_value(box)!r}")


def _value(box) -> str:
    """The option a Streamlit selectbox shows (the value of its combobox input)."""
    return box.locator("input").input_value()


def _metrics(page) -> str:
    return " ".join(page.locator('[data-testid="stMetric"]').all_inner_texts())


def _sidebar(page) -> str:
    return page.locator('[data-testid="stSidebar"]').inner_text()


def test_an_export_uploaded_twice_loads_arr_both_times(browser, browser_context_args, first_app):
    external: list = []
    # session 1: ARR__c is a custom field, mapped by hand once
    page = _new_page(browser, browser_context_args, external)
    goto(page, first_app, "")
    _upload(page, SF / "Account.csv", SF / "User.csv", SF / "Opportunity.csv")
    box = page.locator('[data-testid="stSelectbox"]').filter(has_text="ARR__c")
    assert _value(box) == "(ignore)" and "saved mapping" not in page.inner_text("body")
    _pick(page, box, "arr")
    page.get_by_role("button", name="Load this data").click()
    page.get_by_text("Loaded 25 accounts").wait_for(timeout=60_000)
    wait_idle(page)
    assert_no_exception(page)
    assert "$1.37M" in _metrics(page) and "version 1" in _sidebar(page)
    page.context.close()

    # session 2 (another day, another browser): the same files, no mapping by hand
    page = _new_page(browser, browser_context_args, external)
    goto(page, first_app, "")
    assert "Sample data" in _sidebar(page)
    _upload(page, SF / "Account.csv", SF / "User.csv", SF / "Opportunity.csv")
    expect(page.get_by_text("Using your saved mapping from").first).to_be_visible()
    assert page.get_by_text("Using your saved mapping from").count() == 3
    box = page.locator('[data-testid="stSelectbox"]').filter(has_text="ARR__c")
    assert _value(box) == "arr"
    page.get_by_text("a new version of a saved dataset").click()
    wait_idle(page)
    shot(page, "datasets-upload-again")
    page.get_by_role("button", name="Load this data").click()
    page.get_by_text("Loaded 25 accounts").wait_for(timeout=60_000)
    wait_idle(page)
    assert_no_exception(page)
    assert "$1.37M" in _metrics(page)  # ARR loaded the second time too
    assert "version 2" in _sidebar(page)
    page.get_by_role("tab", name="Saved datasets").click()
    wait_idle(page)
    shot(page, "datasets-saved-list")
    page.context.close()
    assert not external, external[:5]


def test_a_plan_saved_in_one_process_opens_in_a_second_process(browser, browser_context_args, first_app, shared_db,
                                                               tmp_path, tmp_path_factory):
    external: list = []
    accounts, reps = team_files(tmp_path)
    print(f"both app processes on {shared_db.split(':', 1)[0]}")  # postgresql+psycopg when the machine has it

    # process 1: upload a team's files, build a plan (a rep leaves), save it
    page = _new_page(browser, browser_context_args, external)
    goto(page, first_app, "")
    _upload(page, accounts, reps)
    name = page.get_by_label("Dataset name")
    name.fill("Team CRM")
    name.press("Enter")
    wait_idle(page)
    page.get_by_role("button", name="Load this data").click()
    page.get_by_text("Loaded 240 accounts").wait_for(timeout=60_000)
    wait_idle(page)
    page.locator('[data-testid="stSidebarNav"] a', has_text="Scenario Editor").first.click()
    expect(page.get_by_role("heading", name="Scenario Editor").first).to_be_visible()
    wait_idle(page)
    box = page.get_by_label("Name for a new scenario")
    box.fill("Team plan")
    box.press("Enter")
    wait_idle(page)
    page.get_by_role("button", name="New scenario from it").click()
    expect(page.get_by_role("heading", name="Team plan")).to_be_visible()
    wait_idle(page)
    page.get_by_role("button", name="Add event").click()  # "A rep leaves": Team Rep 1; it re-solves
    page.wait_for_function(
        """() => [...document.querySelectorAll('[data-testid="stMetric"]')].some(m =>
               m.innerText.includes('Solver') && /Optimal|Feasible/.test(m.innerText))""", timeout=SOLVE_WAIT)
    wait_idle(page, SOLVE_WAIT)
    assert_no_exception(page)
    moves = page.locator('[data-testid="stMetric"]', has_text="Moves").locator('[data-testid="stMetricValue"]')
    assert moves.inner_text().strip() == "60"  # a rep leaving moves their book only (scope automatic)
    page.get_by_role("tab", name="Save & history").click()
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_text("Saved Team plan as version 1")).to_be_visible()
    wait_idle(page)
    page.context.close()

    # process 2, started now on the same database; a colleague's first visit
    with serve_app(tmp_path_factory.mktemp("app2")) as second:
        assert second != first_app
        page = _new_page(browser, browser_context_args, external)
        goto(page, second, "compare")
        expect(page.get_by_text("Opened the data Team plan v1 was solved on: Team CRM v1")).to_be_visible()
        wait_idle(page)
        assert_no_exception(page)
        body = page.inner_text("body")
        assert "different data" not in body
        assert "Team plan v1" in body and "60 moves against today" in body
        assert "Team CRM" in _sidebar(page) and "version 1" in _sidebar(page)
        page.wait_for_timeout(1500)
        shot(page, "datasets-second-process-compare")

        page.locator('[data-testid="stSidebarNav"] a', has_text="Scenario Editor").first.click()
        expect(page.get_by_role("heading", name="Scenario Editor").first).to_be_visible()
        wait_idle(page)
        start = page.locator('[data-testid="stSelectbox"]').filter(has_text="Start from")
        _pick(page, start, "Team plan (v1)")
        page.get_by_role("button", name="Open for editing").click()
        expect(page.get_by_role("heading", name="Team plan")).to_be_visible()
        wait_idle(page)
        assert_no_exception(page)
        body = page.inner_text("body")
        assert "different data" not in body and "on dataset Team CRM v1" in body
        value = page.locator('[data-testid="stMetric"]', has_text="Moves").locator('[data-testid="stMetricValue"]')
        assert value.inner_text().strip() == "60"
        shot(page, "datasets-second-process-editor")
        page.context.close()
    assert not external, external[:5]
