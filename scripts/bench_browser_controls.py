"""How long each control change takes to settle in a real browser, at the sample's size and on a
50,000-account book. Prints a table (page, interaction, seconds per size); no assertions.

    .venv/bin/python scripts/bench_browser_controls.py [--sizes 6000 50000] [--repeat 2] [--data50k DIR]

For each size it starts ``streamlit run app.py`` on a free port with its own SQLite store seeded
with two saved plans (tests/browser_seed.py), opens headless Debian chromium (the browser tests'
flags; every request that leaves localhost is refused) and times each interaction from the click
to the moment the page has settled: the script run is over, nothing is stale, and every plotly
chart has drawn (maps: their boundaries fetched and the map loaded), for 0.3 s in a row (the time is
when that began). 6,000 is data/sample; the
50,000-account book is made once by scripts/make_sample.py --accounts 50000 (about 30 s) unless
--data50k names a folder of canonical CSVs. The time is the median of --repeat runs of the
same change (there and back counts as two interactions).

Two figures per size: wall seconds (what a user waits, and what a busy machine inflates) and the
CPU seconds the server and the browser used (the work itself; on an idle machine with two cores
the wait is about the larger of the two or a little more). Headless chromium here draws WebGL in
software (no GPU), so the browser's share is far above what a desktop browser spends.
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

SETTLED_JS = """() => {
  const app = document.querySelector('[data-testid="stApp"]');
  const s = app && app.getAttribute('data-test-script-state');
  if (!s || ['running', 'rerunRequested', 'initial'].includes(s)) return false;
  if (document.querySelector('[data-stale="true"]') || document.querySelector('[data-testid="stSkeleton"]')) return false;
  // every chart element has its plot (a chart that has just mounted has none yet: a new figure mounts a new one)
  for (const el of document.querySelectorAll('[data-testid="stPlotlyChart"]')) {
    const gd = el.querySelector('.js-plotly-plot');
    if (!gd || !gd._fullLayout) return false;
  }
  // a map drawn in place (ui.plot_map): plotly.js has taken its newest figure
  if (document.querySelector('.tm-plotly-map:not([data-tm-state="drawn"])')) return false;
  for (const gd of document.querySelectorAll('.js-plotly-plot')) {
    const fl = gd._fullLayout;
    if (!fl) return false;
    const maps = (fl._subplots && fl._subplots.map) || [];
    for (const id of maps) {
      const sp = fl[id] && fl[id]._subplot;
      if (!sp || !sp.map || !sp.map.loaded()) return false;
    }
  }
  return true;
}"""
# Settled for STABLE_MS in a row; the time is when that stretch began (epoch ms). A map can look loaded
# for a moment and then load again: Streamlit mounts a new chart for a new figure and then hands it the
# figure once more (its theme), and plotly.js then sets every map source again (each tile reloads).
STABLE_MS = 300
STABLE_JS = "(ms) => { const ok = (" + SETTLED_JS + ")(); const now = Date.now();" + """
  if (!ok) { window.__tmSince = null; return false; }
  if (window.__tmSince == null) window.__tmSince = now;
  return now - window.__tmSince >= ms ? window.__tmSince : false; }"""


def wait_settled(page, timeout_ms: float = 120_000) -> float:
    """Wait until the page has been settled for STABLE_MS in a row; returns the moment it settled
    (``time.time()`` seconds), not the end of the wait."""
    try:
        page.evaluate("() => { window.__tmSince = null; }")
    except Exception:  # a document still loading: its window starts without one
        pass
    since = page.wait_for_function(STABLE_JS, arg=STABLE_MS, timeout=timeout_ms, polling=25).json_value()
    return float(since) / 1000.0


def settle(page, timeout_ms: float = 120_000, start_ms: float = 1500) -> float:
    """Wait up to ``start_ms`` for the rerun to start (it may already be over; 0 for a control that
    reruns nothing, like a tab), then for the page to settle; returns when it settled (``time.time()``)."""
    try:
        if not start_ms:
            raise TimeoutError
        page.wait_for_function(
            """() => { const a = document.querySelector('[data-testid="stApp"]');
                       const s = a && a.getAttribute('data-test-script-state');
                       return ['running', 'rerunRequested'].includes(s) || document.querySelector('[data-stale="true"]'); }""",
            timeout=start_ms, polling=20)
    except Exception:  # the run was over before the first look
        pass
    return wait_settled(page, timeout_ms)


_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def processes() -> dict[int, tuple[int, float, str]]:
    """Every process now: pid -> (parent pid, CPU seconds so far (user + system), command line)."""
    procs = {}
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            stat = (d / "stat").read_text()
            cmd = (d / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="ignore")
        except OSError:
            continue
        f = stat.rsplit(")", 1)[1].split()
        procs[int(d.name)] = (int(f[1]), (int(f[11]) + int(f[12])) / _TICK, cmd)
    return procs


def cpu_seconds() -> dict[str, float]:
    """CPU time (user + system) so far of this process's descendants: the streamlit server and the
    chromium processes (renderer, GPU, utility). Unlike wall time, it hardly depends on what
    else the machine is doing, so it shows the work one interaction costs."""
    procs = processes()
    mine, todo = set(), [os.getpid()]
    while todo:
        p = todo.pop()
        kids = [c for c, (pp, _, _) in procs.items() if pp == p and c not in mine]
        mine.update(kids)
        todo.extend(kids)
    out = {"server": 0.0, "browser": 0.0}
    for pid in mine:
        _, cpu, cmd = procs[pid]
        if "streamlit" in cmd:
            out["server"] += cpu
        elif "chrom" in cmd:
            out["browser"] += cpu
    return out


def timed(page, action, start_ms: float = 1500) -> tuple[float, float, float]:
    """(wall seconds, server CPU seconds, browser CPU seconds) from the action to a settled page."""
    c0 = cpu_seconds()
    t0 = time.time()
    action()
    wall = settle(page, start_ms=start_ms) - t0
    c1 = cpu_seconds()
    return wall, c1["server"] - c0["server"], c1["browser"] - c0["browser"]


def combobox(page, label: str, option: str):
    def act():
        page.get_by_role("combobox", name=label, exact=True).first.click()
        page.get_by_role("option", name=option, exact=True).first.click()
        if page.get_by_role("listbox").count():  # a multiselect stays open (and hides the page from ARIA)
            page.keyboard.press("Escape")
    return act


def radio(page, option: str):
    return lambda: page.locator('[data-testid="stRadio"] label').filter(has_text=option).first.click()


def click_text(page, text: str):
    return lambda: page.get_by_text(text, exact=True).first.click()


def tab(page, name: str):
    return lambda: page.get_by_role("tab", name=name).click()


def interactions(page, url: str, names: list[str]) -> list[tuple[str, str, str, object]]:
    """(page, interaction, path to open first or "", action). Consecutive rows on the same page
    run one after the other without reloading."""
    a, b = names
    return [
        ("Whitespace Map", "open the page", "whitespace_map", None),
        ("Whitespace Map", "areas State -> County", "", radio(page, "County")),
        ("Whitespace Map", "areas County -> State", "", radio(page, "State")),
        ("Whitespace Map", "colour areas by potential", "", combobox(page, "Colour areas by", "Potential (USD)")),
        ("Whitespace Map", "points by segment", "", radio(page, "segment")),
        ("Whitespace Map", "filter: one owner", "", combobox(page, "Owner", None)),
        ("Territory Health", "open the page", "health", None),
        ("Territory Health", "filter: one manager", "", combobox(page, "Manager", "Betty Anderson")),
        ("Territory Health", "period: year", "", combobox(page, "Period", "Year")),
        ("Territory Health", "tab: rep drill-down", "", tab(page, "Rep drill-down")),
        ("Compare", "open the page", "compare", None),
        ("Compare", f"scenario 2 -> {a}", "", combobox(page, "Scenario 2", f"{a} (v1)")),
        ("Compare", f"scenario 2 -> {b}", "", combobox(page, "Scenario 2", f"{b} (v1)")),
        ("Compare", "3 scenarios", "", lambda: page.locator('[data-testid="stButtonGroup"] button', has_text="3").first.click()),
        ("Compare", "presentation view on", "", click_text(page, "Presentation view")),
        ("Compare", "presentation view off", "", click_text(page, "Presentation view")),
        ("Compare", "search moves for a rep", "", None),
    ]


def run_size(label: str, data_dir: Path | None, repeat: int, pages=None) -> dict[tuple[str, str], float]:
    from playwright.sync_api import sync_playwright

    from browser_seed import seed
    from conftest import serve_app
    from territory_core.dataset import load_dir, load_sample

    work = Path(tempfile.mkdtemp(prefix=f"bench_{label}_"))
    db = f"sqlite:///{work / 'bench.db'}"
    ds = load_dir(data_dir) if data_dir else load_sample()
    ids = seed(db, ds)
    names = list(ids)
    env_old = {k: os.environ.get(k) for k in ("TERRITORY_TEST_DB_URL", "TERRITORY_SAMPLE_DIR")}
    os.environ["TERRITORY_TEST_DB_URL"] = db
    if data_dir:
        os.environ["TERRITORY_SAMPLE_DIR"] = str(data_dir)
    else:
        os.environ.pop("TERRITORY_SAMPLE_DIR", None)
    out: dict[tuple[str, str], list[float]] = {}
    try:
        with serve_app(work) as url, sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=shutil.which("chromium"), args=[
                "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run", "--disable-quic"])
            ctx = browser.new_context(viewport={"width": 1440, "height": 1000})
            ctx.route("**/*", lambda r: r.continue_() if (urlparse(r.request.url).hostname or "") in
                      ("127.0.0.1", "localhost") or r.request.url.startswith(("data:", "blob:")) else r.abort())
            page = ctx.new_page()
            owner = ds.reps.sort_values("name")["name"].astype(str).iloc[0]
            rep_id = ds.reps.sort_values("name")["rep_id"].astype(str).iloc[0]
            region = ds.reps.sort_values("name")["region"].astype(str).iloc[0]
            segment = ds.reps.sort_values("name")["segment"].astype(str).iloc[0]
            for rnd in range(repeat):
                for pg, what, path, act in interactions(page, url, names):
                    if pages and pg not in pages:
                        continue
                    if what == "filter: one owner":
                        act = combobox(page, "Owner", f"{owner} · {region}, {segment} ({rep_id})")
                    if what == "search moves for a rep":
                        def act():
                            box = page.get_by_role("textbox", name="Account, rep or reason contains")
                            box.fill("Priya")
                            box.press("Enter")
                    try:
                        if act is None:  # open the page: a fresh load, timed to the first settled page
                            def act(path=path):
                                page.goto(f"{url}/{path}")
                                page.wait_for_selector('[data-testid="stApp"]')
                        secs, srv, brw = timed(page, act, start_ms=0 if what.startswith("tab:") else 1500)
                    except Exception as exc:  # a control that could not be found or never settled
                        print(f"  [{label}] {pg}: {what}: failed: {str(exc).splitlines()[0]}", file=sys.stderr)
                        secs = srv = brw = float("nan")
                    out.setdefault((pg, what), []).append((secs, srv, brw))
                    print(f"  [{label} round {rnd + 1}] {pg}: {what}: {secs:.2f} s wall, CPU {srv:.2f} s server + "
                          f"{brw:.2f} s browser (load {os.getloadavg()[0]:.1f})", file=sys.stderr)
            browser.close()
    finally:
        for k, v in env_old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        shutil.rmtree(work, ignore_errors=True)
    return {k: tuple(statistics.median(x[i] for x in v) for i in range(3)) for k, v in out.items()}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[6000, 50000], help="6000 (the sample) and/or 50000")
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--data50k", help="folder with a 50,000-account book (canonical CSVs); made when missing")
    ap.add_argument("--pages", nargs="+", help="only these pages (e.g. 'Whitespace Map')")
    args = ap.parse_args(argv)
    if not shutil.which("chromium"):
        print("Debian's chromium is needed (apt-get install chromium).", file=sys.stderr)
        return 2
    results: dict[int, dict] = {}
    for n in args.sizes:
        data = None
        if n != 6000:
            data = Path(args.data50k) if args.data50k else Path(tempfile.gettempdir()) / f"territory_book_{n}"
            if not (data / "accounts.csv").is_file():
                print(f"Making a {n:,}-account book in {data} ...", file=sys.stderr)
                subprocess.run([sys.executable, str(ROOT / "scripts" / "make_sample.py"), "--accounts", str(n),
                                "--out", str(data)], check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
        results[n] = run_size(f"{n}", data, args.repeat, args.pages)
    keys = list(dict.fromkeys(k for r in results.values() for k in r))
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"{os.cpu_count()} CPUs, load average {load:.1f} at the end (other work on the machine slows every figure)")
    head = "| page | interaction | " + " | ".join(f"{n:,}: wall s | {n:,}: CPU server + browser s"
                                                  for n in args.sizes) + " |"
    print(head)
    print("|---|---|" + "---|---|" * len(args.sizes))
    nan = (float("nan"),) * 3
    for k in keys:
        cells = []
        for n in args.sizes:
            w, srv, brw = results[n].get(k, nan)
            cells.append(f"{w:.2f} | {srv:.2f} + {brw:.2f}")
        print(f"| {k[0]} | {k[1]} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
