"""Compare's maps on a book beyond 8,000 accounts, in a real browser: a bubble per county, drawn in
place (ui.plot_map), and a click on a county lists its accounts that change hands."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT, assert_no_exception, goto, open_tab, select_option, serve_app, shot, wait_idle

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def bubbles_url(tmp_path_factory):
    """The app on a 9,000-account book (scripts/make_sample.py) with the two saved plans."""
    from browser_seed import seed
    from territory_core.dataset import load_dir

    work = Path(tmp_path_factory.mktemp("bubbles"))
    book = work / "book"
    subprocess.run([sys.executable, str(ROOT / "scripts" / "make_sample.py"), "--accounts", "9000", "--out", str(book)],
                   check=True, capture_output=True)
    db = f"sqlite:///{work / 'bubbles.db'}"
    seed(db, load_dir(book))
    with serve_app(work, env={"TERRITORY_DB_URL": db, "TERRITORY_SAMPLE_DIR": str(book)}) as url:
        yield url


def test_click_a_county_bubble_lists_its_moves(page, bubbles_url):
    goto(page, bubbles_url, "compare")
    select_option(page, "Scenario 2", "No backfill, wider bands (v1)")
    open_tab(page, "Maps")
    page.wait_for_function("""() => { const g = document.querySelectorAll('.tm-plotly-map');
        return g.length === 2 && [...g].every(x => x.getAttribute('data-tm-state') === 'drawn'); }""", timeout=60_000)
    moved = page.locator(".tm-plotly-map").last
    moved.scroll_into_view_if_needed()
    page.wait_for_timeout(1500)  # the map settles where it scrolled to
    # the largest bubble of the moves map (the county where the most ARR changes hands), in page pixels
    x, y, text = page.evaluate("""() => { const g = [...document.querySelectorAll('.tm-plotly-map')].pop();
        const t = g._fullData[0]; const sizes = Array.from(t.marker.size); const k = sizes.indexOf(Math.max(...sizes));
        const sp = g._fullLayout.map._subplot; const p = sp.map.project([t.lon[k], t.lat[k]]);
        const r = sp.map.getCanvas().getBoundingClientRect(); return [r.left + p.x, r.top + p.y, t.text[k]]; }""")
    county = text.split("<br>")[0].replace("<b>", "").replace("</b>", "")
    n = int(text.split("<br>")[1].split(" of ")[0].replace(",", ""))
    assert page.get_by_text(f"accounts change hands in {county}").count() == 0
    page.mouse.move(x, y)
    page.wait_for_timeout(300)
    page.mouse.click(x, y)
    wait_idle(page)
    assert_no_exception(page)
    heading = page.get_by_text(f"{n:,} accounts change hands in {county}")
    heading.wait_for(timeout=30_000)
    shot(page, "compare_bubble_clicked", full=False)
    # a double click on the map clears the pick
    page.mouse.dblclick(x, y)
    wait_idle(page)
    page.wait_for_timeout(500)
    wait_idle(page)
    assert page.get_by_text(f"accounts change hands in {county}").count() == 0
