"""Stored injection through names, in a real browser: data and a scenario whose names are Markdown
and HTML (images, links, colour directives, maths, plotly tags) are loaded, saved and shown on every
page; no <img> or <a> may come from them, no request may leave localhost (the page fixture's guard)
and a local beacon server must get no hit. The user name comes from the trusted proxy header."""
from __future__ import annotations

import csv
import http.server
import io
import threading

import pytest
from playwright.sync_api import expect

from conftest import _free_port, assert_no_exception, open_tab, serve_app, shot, wait_idle

pytestmark = pytest.mark.browser

HEADER = "X-Forwarded-Email"


@pytest.fixture(scope="module")
def beacon():
    """A local HTTP server that records every path asked of it (a fetched image, a followed link)."""
    hits: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            hits.append(self.path)
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", _free_port()), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_port, hits
    server.shutdown()


def evil(tag: str, port: int) -> str:
    base = f"http://127.0.0.1:{port}"
    return (f"MDX-{tag} ![b]({base}/{tag}.png) [click]({base}/{tag}-link) :red[x] $x$ **b** "
            f"<img src={base}/{tag}-img.png> <a href='{base}/{tag}-a'>A</a> http://evil.example/{tag}")


def _csv(df) -> bytes:
    buf = io.StringIO()
    df.to_csv(buf, index=False, quoting=csv.QUOTE_NONNUMERIC)
    return buf.getvalue().encode("utf-8")


@pytest.fixture(scope="module")
def evil_files(beacon):
    """The sample's West region with a rep, their manager, an account and an industry renamed."""
    from territory_core.contract import A, R
    from test_scenario_editor_page import west

    port, _ = beacon
    ds = west()
    reps, acc = ds.reps.copy(), ds.accounts.copy()
    rep_id = str(reps[R.rep_id].iloc[0])
    reps.loc[reps.index[0], R.name] = evil("rep", port)
    reps.loc[reps[R.manager] == reps[R.manager].iloc[0], R.manager] = evil("mgr", port)
    own = acc.index[acc[A.owner_id].astype(str) == rep_id]
    top = acc.loc[own, A.arr].astype(float).idxmax()
    acc.loc[top, A.name] = evil("acc", port)
    acc.loc[acc[A.industry] == acc.loc[top, A.industry], A.industry] = evil("ind", port)
    return {
        "accounts": (f"MDX-file ![b](http:127.0.0.1:{port}-file.png) [c](x) :red[x].csv", _csv(acc)),
        "reps": ("reps.csv", _csv(reps)),
        "opportunities": ("opportunities.csv", _csv(ds.opportunities)),
    }


@pytest.fixture(scope="module")
def header_app(tmp_path_factory):
    """The app behind a (pretend) same-host proxy: bound to 127.0.0.1, user from a header."""
    work = tmp_path_factory.mktemp("inject")
    with serve_app(work, env={"TERRITORY_TRUSTED_USER_HEADER": HEADER, "TERRITORY_ROLES": None}) as url:
        yield url


LEAKS = """(port) => {
  const bad = [];
  for (const img of document.querySelectorAll('img')) {
    const src = img.getAttribute('src') || '';
    if (src.includes(String(port)) || src.includes('evil') || /\\.png$/.test(src) && !src.startsWith('data:'))
      bad.push('img ' + src);
  }
  for (const a of document.querySelectorAll('a')) {
    const href = a.getAttribute('href') || a.getAttribute('xlink:href') || '';
    if (href.startsWith('#')) continue;  // a heading's own anchor on this page
    if (href.includes(String(port)) || href.includes('evil') || href.startsWith('mailto:')
        || /^https?:/.test(href) && !href.startsWith(location.origin))
      bad.push('a ' + href + ' ' + a.textContent);
  }
  return bad;
}"""


def _check(page, port: int, where: str) -> str:
    """No element from the names; the names show as text, without visible escapes."""
    wait_idle(page)
    assert_no_exception(page)
    page.wait_for_timeout(800)  # let plotly finish drawing
    leaks = page.evaluate(LEAKS, port)
    assert not leaks, f"{where}: {leaks}"
    text = page.locator('[data-testid="stApp"]').inner_text().replace("\u2060", "")
    assert "\\[" not in text and "\\(" not in text and "\\*" not in text, f"{where}: a backslash escape shows"
    return text


def _nav(page, title: str) -> None:
    """Open a page through the sidebar (a new URL would start a new session without the data)."""
    page.locator('[data-testid="stSidebar"]').get_by_role("link", name=title).click()
    wait_idle(page)


def test_names_with_markup_stay_text_on_every_page(page, header_app, beacon, evil_files):
    port, hits = beacon
    user = evil("user", port)
    page.set_extra_http_headers({HEADER: user})

    # ---- Data: upload the three files (one with a Markdown file name) and load them
    page.goto(header_app)
    wait_idle(page)
    open_tab(page, "Import files")
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(
        [{"name": n, "mimeType": "text/csv", "buffer": b} for n, b in evil_files.values()])
    wait_idle(page)
    page.get_by_role("button", name="Load this data").click()
    wait_idle(page)
    page.get_by_text("Loaded 1,493 accounts").wait_for(timeout=30_000)
    text = _check(page, port, "data")
    assert "MDX-file ![b](http:127.0.0.1" in text  # the dataset's name, shown as typed
    shot(page, "inject_data", full=False)

    # ---- Segment Builder: rename the first rule's segment, save it to the scenario settings
    _nav(page, "Segment Builder")
    grid = page.locator(".st-key-seg_rules_editor")
    grid.scroll_into_view_if_needed()
    page.wait_for_timeout(500)
    grid.click(position={"x": 70, "y": 35 + 17})
    page.keyboard.press("ArrowRight")
    page.keyboard.press("Enter")
    editor = page.locator(".gdg-input, textarea.gdg-input, input.gdg-input").first
    editor.wait_for(timeout=10_000)
    editor.fill(evil("seg", port))
    page.keyboard.press("Enter")
    page.mouse.click(5, 5)
    wait_idle(page)
    page.get_by_role("button", name="Save to scenario").click()
    text = _check(page, port, "segments")
    assert "MDX-seg" in text
    shot(page, "inject_segments")

    # ---- Scenario Editor: the evil rep leaves, then save under an evil name as the header's user
    _nav(page, "Scenario Editor")
    page.get_by_role("combobox", name="Rep who leaves").click()
    page.keyboard.type("MDX-rep")
    page.keyboard.press("Enter")
    page.get_by_role("button", name="Add event").click()
    wait_idle(page)
    # the event starts a solve: wait until it is over (Re-solve is disabled while it runs)
    expect(page.get_by_role("button", name="Re-solve")).to_be_enabled(timeout=180_000)
    wait_idle(page)
    open_tab(page, "Save & history")
    box = page.get_by_label("Scenario name")
    box.fill(evil("scn", port))
    box.press("Enter")
    wait_idle(page)
    expect(page.get_by_label("Scenario name")).to_have_value(evil("scn", port))
    save = page.get_by_role("button", name="Save", exact=True)
    expect(save).to_be_enabled(timeout=60_000)
    save.click()
    wait_idle(page)
    main = page.locator('[data-testid="stMain"]')
    expect(main).to_contain_text("saved v1 by MDX-user", timeout=30_000)
    text = _check(page, port, "editor")
    shot(page, "inject_editor_saved")
    assert "Saving as MDX-user ![b](http://127.0.0.1" in text  # the header's value, as text
    assert "MDX-scn" in text
    for name in ("What-if events", "Result"):
        open_tab(page, name)
        text = _check(page, port, f"editor {name}")
        assert "MDX-rep" in text
    shot(page, "inject_editor")

    # ---- Compare: the saved scenario against today's plan, then the presentation view
    _nav(page, "Compare")
    page.get_by_role("combobox", name="Scenario 2").click()
    page.get_by_role("option").filter(has_text="MDX-scn").first.click()
    wait_idle(page)
    text = _check(page, port, "compare")
    assert "MDX-scn" in text
    shot(page, "inject_compare")
    for tab in ("What changes hands", "Maps", "Export"):  # one drawn at a time
        open_tab(page, tab)
        _check(page, port, f"compare, {tab}")
    page.get_by_text("Presentation view", exact=True).click()
    wait_idle(page)
    _check(page, port, "compare presentation")
    page.get_by_text("Presentation view", exact=True).click()
    wait_idle(page)

    # ---- Health (rep drill-down on the renamed rep) and the Whitespace Map
    _nav(page, "Territory Health")
    open_tab(page, "Rep drill-down")
    text = _check(page, port, "health")
    assert "MDX-mgr" in text
    shot(page, "inject_health")
    _nav(page, "Whitespace Map")
    text = _check(page, port, "whitespace map")
    shot(page, "inject_whitespace")
    for tab in ("Under- and over-served", "Corporate families", "Industry x size"):  # one drawn at a time
        open_tab(page, tab)
        _check(page, port, f"whitespace map, {tab}")

    assert hits == [], f"the beacon was asked for {hits}"
