"""Shared fixtures.

Browser tests (marker ``browser``): ``app_url`` is the app served on localhost by a real
``streamlit run`` (one server for the session); ``page`` is a pytest-playwright page in Debian's
headless Chromium that refuses (and records) every request leaving localhost. Use
``goto(page, app_url, "health")`` to open a page and wait until it has finished running, and
``shot(page, "name")`` to save a screenshot under test-artifacts/.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

import pytest

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"
SHARED = ROOT.parent / "shared"
sys.path.insert(0, str(ROOT))

CHROMIUM = shutil.which("chromium")
APP_PATH = str(ROOT / "app.py")  # AppTest.from_file(APP_PATH): relative paths resolve against the test file


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serve_app(workdir: Path, *, port: int | None = None, extra_args=(), env: dict | None = None):
    """``streamlit run app.py`` on a free localhost port with its own SQLite scenario store;
    yields the base URL and stops the server afterwards. ``port``, ``extra_args`` (more
    ``streamlit run`` options) and ``env`` (variables added or, with None, removed) for servers
    set up differently."""
    port = port or _free_port()
    env_ = dict(os.environ)
    env_["TERRITORY_DB_URL"] = env_.get("TERRITORY_TEST_DB_URL") or f"sqlite:///{workdir / 'browser.db'}"
    for k, v in (env or {}).items():
        if v is None:
            env_.pop(k, None)
        else:
            env_[k] = v
    env = env_
    log = open(workdir / "server.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
         "--server.address", "127.0.0.1", "--server.headless", "true", "--server.fileWatcherType", "none",
         *extra_args],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 60
        while True:
            try:
                if urllib.request.urlopen(url + "/_stcore/health", timeout=2).status == 200:
                    break
            except OSError:
                if time.time() > deadline or proc.poll() is not None:
                    pytest.fail(f"streamlit did not start: {(workdir / 'server.log').read_text()[-2000:]}")
                time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture(scope="session")
def app_url(tmp_path_factory):
    with serve_app(tmp_path_factory.mktemp("app")) as url:
        yield url


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    if not CHROMIUM:
        pytest.skip("Debian's chromium is not installed (scripts/test.sh installs it as root)")
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"],
    }


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": {"width": 1440, "height": 1000}, "accept_downloads": True}


@pytest.fixture
def external_requests():
    return []


@pytest.fixture
def page(page, external_requests):
    """A page whose requests to anything but localhost are aborted and recorded; the test fails
    at teardown if there were any."""

    def guard(route):
        host = urlparse(route.request.url).hostname or ""
        if route.request.url.startswith(("data:", "blob:")) or host in ("127.0.0.1", "localhost", "::1"):
            route.continue_()
        else:
            external_requests.append(route.request.url)
            route.abort()

    page.context.route("**/*", guard)
    yield page
    assert not external_requests, f"requests left localhost: {external_requests[:5]}"


def wait_idle(page, timeout: float = 60_000) -> None:
    """Wait until the Streamlit script run is over and nothing on the page is stale."""
    page.wait_for_selector('[data-testid="stApp"]', timeout=timeout)
    page.wait_for_timeout(300)
    page.wait_for_function(
        """() => { const a = document.querySelector('[data-testid="stApp"]');
                   const s = a && a.getAttribute('data-test-script-state');
                   return s && !['running', 'rerunRequested', 'initial'].includes(s)
                          && !document.querySelector('[data-stale="true"]')
                          && !document.querySelector('[data-testid="stSkeleton"]'); }""",
        timeout=timeout,
    )


def select_option(page, label: str, option: str) -> None:
    """Choose ``option`` in the selectbox with this label, as a user does: scroll to it first (a list
    opened while the page scrolls to it closes again at once), then pick, then wait for the run."""
    box = page.get_by_role("combobox", name=label, exact=True).first
    box.scroll_into_view_if_needed()
    page.wait_for_timeout(200)
    box.click()
    page.get_by_role("option", name=option, exact=True).first.click()
    wait_idle(page)


def page_figures(at) -> list[dict]:
    """An AppTest page's plotly figures as JSON: its maps drawn in place (ui.plot_map), then its charts."""
    import json

    from ui.plot_map import figure_of

    return [figure_of(el) for el in at.get("bidi_component")] + [json.loads(el.proto.spec) for el in at.get("plotly_chart")]


def open_tab(page, name: str) -> None:
    """Click a tab and wait for its run: the pages draw only their open tab."""
    page.get_by_role("tab", name=name).click()
    wait_idle(page)
    assert_no_exception(page)


def goto(page, app_url: str, path: str = "") -> None:
    page.goto(f"{app_url}/{path}")
    wait_idle(page)


def assert_no_exception(page) -> None:
    n = page.locator('[data-testid="stException"]').count()
    assert n == 0, page.locator('[data-testid="stException"]').first.inner_text()


def shot(page, name: str, full: bool = True) -> Path:
    """Save a screenshot under test-artifacts/. ``full``: the whole page (Streamlit scrolls inside
    its main container, so the viewport is stretched to its height for the shot)."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    vp = page.viewport_size
    if full and vp:
        h = page.evaluate("""() => { const m = document.querySelector('[data-testid="stMain"]');
                                     return m ? m.scrollHeight : document.body.scrollHeight; }""")
        page.set_viewport_size({"width": vp["width"], "height": min(max(int(h) + 40, vp["height"]), 9000)})
        page.wait_for_timeout(800)
    page.screenshot(path=str(path), full_page=True)
    if full and vp:
        page.set_viewport_size(vp)
        page.wait_for_timeout(200)
    return path


def plotly_shape_count(page) -> int:
    """Number of drawn plotly marks (map polygons, scatter points, bars) on the page."""
    return page.evaluate(
        """() => document.querySelectorAll(
            '.js-plotly-plot path.js-fill, .js-plotly-plot .point, .js-plotly-plot .bars path, '
            + '.js-plotly-plot .maplibregl-canvas, .js-plotly-plot .scatterlayer path').length"""
    )


@pytest.fixture
def app_shell_mode(monkeypatch):
    """AppTest resets PagesManager.uses_pages_directory before every run, so a switched-to page
    would run without app.py. A real server switches to st.navigation mode once per process:
    model that, so app.py (and its sidebar) runs as in the browser. Use with
    ``pytestmark = pytest.mark.usefixtures("app_shell_mode")``."""
    from streamlit.runtime.pages_manager import PagesManager

    orig = PagesManager.__init__

    def init(self, *args, **kwargs):
        orig(self, *args, **kwargs)
        PagesManager.uses_pages_directory = False

    monkeypatch.setattr(PagesManager, "__init__", init)


@pytest.fixture(autouse=True)
def isolated_store(request, monkeypatch):
    """No test reads or writes the developer's .territory/scenarios.db: unless TERRITORY_DB_URL is
    set for the run, each test gets its own empty SQLite store (a test may still set its own)."""
    if not os.environ.get("TERRITORY_DB_URL"):
        path = request.getfixturevalue("tmp_path") / "isolated-store.db"
        monkeypatch.setenv("TERRITORY_DB_URL", f"sqlite:///{path}")
    yield


@pytest.fixture
def server_address():
    """Set Streamlit's server.address for AppTests in this process (``server_address("127.0.0.1")``);
    restored afterwards. The trusted-header mode depends on it."""
    from streamlit import config

    before = config.get_option("server.address")
    yield lambda address: config.set_option("server.address", address)
    config.set_option("server.address", before)


@pytest.fixture
def loopback_server(server_address):
    """The server bound to 127.0.0.1: the trusted header counts behind a same-host proxy only."""
    server_address("127.0.0.1")


def shown(markdown_source: str) -> str:
    """What a Markdown source made with ui.format.md shows: backslash escapes resolved and the
    invisible word joiners gone (AppTest's ``.value`` is the source)."""
    import re

    return re.sub(r"\\(.)", r"\1", str(markdown_source)).replace("\u2060", "")
