"""What a user waits for in a real browser, walking the app on a large book: issue 16's steps, timed
in headless Chromium on a fresh server, with the server's memory. Prints one table; no assertions.

    .venv/bin/python scripts/bench_browser.py [--sizes 6000 50000] [--size 300000] [--repeat 1]

For each size: a fresh ``streamlit run app.py`` on a free port with its own SQLite store, then

1. user A uploads the book's four CSVs on the Data page and loads them (saved as a dataset);
   the dataset is made active for everyone and two plans are saved on it (a hire takes part of a
   rep's book; the same accounts to another rep);
2. A opens Territory Health, Whitespace Map, Segment Builder, Scenario Editor and Compare from the
   sidebar (one session, as a user clicks through), then Compare's tabs "What changes hands" and
   "Maps" (a page draws only its open tab);
3. on the Whitespace Map: areas State -> County, County -> State, a segment filter, the tab
   "Industry x size";
4. user B opens Territory Health in a browser of its own (a second user on the same saved dataset:
   the memory it adds);
5. A presses Re-solve with the editor's defaults (alone on the server); then, three turns of: a new
   user opens Territory Health on the idle server, and another while A's next solve runs (the
   medians, and how much slower during the solve);
6. A opens Compare: today's plan against the plan just solved, and its Maps tab.

The 6,000-account book is data/sample; larger ones are made by scripts/make_sample.py (--accounts N,
about 20 s for 50,000) into the temp folder once. Every time is from the click (or the file drop) to a
settled page: the script run is over, nothing is stale, every chart element holds its plot, every
map has loaded, and the page stays so for 0.3 s (the time is when that began: a map can look loaded
for a moment and then load again). Beside it: "server s", from the click until the server finished the run (the wait left
when the browser draws in no time), and the CPU seconds of the server and of chromium. Headless
chromium here draws WebGL in software (no GPU), so its share is well above a desktop browser's.
RSS is the server process's resident memory (MB) after the step (solver worker processes apart).
"""
from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT / "tests"))

from bench_browser_controls import processes, wait_settled  # noqa: E402

RUNNING_JS = """() => { const a = document.querySelector('[data-testid="stApp"]');
  const s = a && a.getAttribute('data-test-script-state');
  return ['running', 'rerunRequested'].includes(s) || !!document.querySelector('[data-stale="true"]'); }"""
# Armed before a step: counts the app's script-state changes, so that a run over between two looks
# (a fast page: a few tens of ms) still counts as started; without it settle() waited its whole
# start_ms for a run it had missed, and a quick step read as 1.5 s.
ARM_JS = """() => { window.__tmRuns = 0; if (window.__tmObs) window.__tmObs.disconnect();
  const a = document.querySelector('[data-testid="stApp"]'); if (!a) return false;
  window.__tmObs = new MutationObserver(ms => { window.__tmRuns += ms.length; });
  window.__tmObs.observe(a, {attributes: true, attributeFilter: ['data-test-script-state']}); return true; }"""
# A run started since arm() (or a new document: a page opened by its address starts its own run)
STARTED_JS = """() => { const a = document.querySelector('[data-testid="stApp"]');
  const s = a && a.getAttribute('data-test-script-state');
  return window.__tmRuns === undefined || window.__tmRuns > 0 || ['running', 'rerunRequested'].includes(s)
    || !!document.querySelector('[data-stale="true"]'); }"""
SERVER_DONE_JS = """() => { const a = document.querySelector('[data-testid="stApp"]');
  const s = a && a.getAttribute('data-test-script-state');
  return !!s && !['running', 'rerunRequested', 'initial'].includes(s); }"""


def cpu_seconds() -> dict[str, float]:
    """CPU seconds (user + system) so far of this script's descendants: the server with its solver
    worker processes ("server"), and chromium's processes ("browser")."""
    procs = processes()
    out = {"server": 0.0, "browser": 0.0}
    todo, seen = [(os.getpid(), None)], set()
    while todo:
        p, kind = todo.pop()
        for c, (pp, cpu, cmd) in procs.items():
            if pp != p or c in seen:
                continue
            seen.add(c)
            k = kind or ("browser" if "chrom" in cmd else "server" if "streamlit" in cmd else None)
            if k:
                out[k] += cpu
            todo.append((c, k))
    return out


LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
               "--disable-sync", "--no-first-run", "--disable-quic"]
FILES = ("accounts.csv", "reps.csv", "opportunities.csv", "account_products.csv")


# ------------------------------------------------------------------------------------- the server
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """``streamlit run app.py`` from ``app_dir`` with its own SQLite store; RSS sampled every 0.2 s."""

    def __init__(self, app_dir: Path, work: Path):
        self.db = f"sqlite:///{work / 'bench.db'}"
        self.runlog = work / "runs.log"
        env = dict(os.environ, TERRITORY_DB_URL=self.db, TERRITORY_RUN_LOG=str(self.runlog))
        if PROFILE_DIR:
            self.prof_dir = work / "profiles"
            self.prof_dir.mkdir(exist_ok=True)
            env["TERRITORY_RUN_PROFILE"] = str(self.prof_dir)
        env.pop("TERRITORY_SAMPLE_DIR", None)
        port = _free_port()
        self.log = open(work / "server.log", "w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port), "--server.address",
             "127.0.0.1", "--server.headless", "true", "--server.fileWatcherType", "none"],
            cwd=app_dir, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        self.url = f"http://127.0.0.1:{port}"
        deadline = time.time() + 90
        while True:
            try:
                if urllib.request.urlopen(self.url + "/_stcore/health", timeout=2).status == 200:
                    break
            except OSError:
                if time.time() > deadline or self.proc.poll() is not None:
                    raise RuntimeError(f"streamlit did not start: {(work / 'server.log').read_text()[-2000:]}")
                time.sleep(0.3)
        self.peak = self.step_peak = 0.0
        self._stop = threading.Event()
        self._th = threading.Thread(target=self._sample, daemon=True)
        self._th.start()

    def busy(self, t0: float, t1: float) -> float:
        """Seconds within [t0, t1] (epoch) in which the server was running a page script for
        anyone (app.py logs each run when TERRITORY_RUN_LOG is set; nan when it does not)."""
        try:
            lines = self.runlog.read_text().split("\n")
        except OSError:
            return float("nan")
        spans = sorted((max(float(a), t0), min(float(b), t1)) for a, b, *_ in (ln.split() for ln in lines if ln.strip())
                       if float(b) > t0 and float(a) < t1)
        total, cur = 0.0, None
        for a, b in spans:
            if cur is None or a > cur[1]:
                if cur is not None:
                    total += cur[1] - cur[0]
                cur = [a, b]
            else:
                cur[1] = max(cur[1], b)
        return total + (cur[1] - cur[0] if cur else 0.0)

    def children_rss(self) -> float:
        """Resident MB of the server's child processes (solver workers)."""
        total = 0.0
        for d in Path("/proc").iterdir():
            if not d.name.isdigit():
                continue
            try:
                st = (d / "stat").read_text()
                if int(st.rsplit(")", 1)[1].split()[1]) != self.proc.pid:
                    continue
                for line in (d / "status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) / 1024
            except (OSError, ValueError, IndexError):
                continue
        return total

    def rss(self) -> float:
        try:
            for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        except OSError:
            pass
        return float("nan")

    def _sample(self) -> None:
        while not self._stop.is_set():
            r = self.rss()
            if r == r:
                self.peak = max(self.peak, r)
                self.step_peak = max(self.step_peak, r)
            time.sleep(0.2)

    def close(self) -> None:
        self._stop.set()
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


# ------------------------------------------------------------------------------------- timing
def arm(page) -> None:
    """Before a step's action: from now on, any change of the app's script state counts as a run."""
    try:
        page.evaluate(ARM_JS)
    except Exception:  # no page yet (a new browser context): its first address starts a run anyway
        pass


def settle(page, *, start_ms: float = 1500, timeout_ms: float = 180_000) -> float:
    """Wait for the rerun to start (up to ``start_ms``; seen at once when arm() was called before
    the action and the run has come and gone), for the server to finish it, then for the page to
    settle (charts drawn, maps loaded, for 0.3 s in a row). Returns when it settled (``time.time()``)."""
    try:
        if start_ms:
            page.wait_for_function(STARTED_JS, timeout=start_ms, polling=20)
    except Exception:  # over before the first look
        pass
    page.wait_for_function(SERVER_DONE_JS, timeout=timeout_ms, polling=20)
    return wait_settled(page, timeout_ms)


OPEN_TURNS = 3  # idle / during-a-solve opens, in turns: one open varies by a second between tries

SHOTS: Path | None = None  # --shots DIR: a screenshot of the page after each timed step
PROFILE_DIR: Path | None = None  # --profile DIR: where each step's server time went (cProfile of its runs)


class Bench:
    def __init__(self, server: Server, label: str):
        self.server, self.label = server, label
        self.rows: dict[str, tuple] = {}

    def shot(self, step: str, page) -> None:
        if SHOTS is None:
            return
        SHOTS.mkdir(parents=True, exist_ok=True)
        name = "".join(c if c.isalnum() else "_" for c in f"{self.label}_{step}").strip("_")[:80]
        try:  # the app scrolls inside its main block: make the window as tall as the page for the picture
            size = page.viewport_size
            tall = page.evaluate("() => (document.querySelector('[data-testid=\"stMain\"]') || document.body).scrollHeight")
            page.set_viewport_size({"width": size["width"], "height": int(min(max(tall, size["height"]), 9000))})
            page.wait_for_timeout(1500)
            page.screenshot(path=str(SHOTS / f"{name}.png"))
            page.set_viewport_size(size)
        except Exception as exc:  # a screenshot is a courtesy: the timing stands without it
            print(f"  [{self.label}] no screenshot of {step}: {exc}", file=sys.stderr)

    def time(self, step: str, page, action, *, start_ms: float = 1500, wait=None) -> float:
        """Run ``action`` and time it to a settled page (or to ``wait(page)`` when given)."""
        c0 = cpu_seconds()
        self.server.step_peak = self.server.rss()
        arm(page)
        e0 = time.time()
        try:
            action()
            if wait is not None:
                wait(page)
                t_settled = settle(page, start_ms=0)
            else:
                t_settled = settle(page, start_ms=start_ms)
            wall = t_settled - e0
            time.sleep(0.05)  # the run's log line
            srv_wall = self.server.busy(e0, time.time())
        except Exception as exc:  # a control that could not be found or never settled
            print(f"  [{self.label}] {step}: failed: {str(exc).splitlines()[0]}", file=sys.stderr)
            wall = srv_wall = float("nan")
        c1 = cpu_seconds()
        rss = self.server.rss()
        self.profile(step, e0, time.time())
        self.shot(step, page)
        self.rows[step] = (wall, srv_wall, c1["server"] - c0["server"], c1["browser"] - c0["browser"], rss)
        print(f"  [{self.label}] {step}: {wall:.2f} s (server busy {srv_wall:.2f} s; CPU server "
              f"{c1['server'] - c0['server']:.2f} s, browser {c1['browser'] - c0['browser']:.2f} s), RSS {rss:.0f} MB "
              f"(peak {self.server.step_peak:.0f}), "
              f"load {os.getloadavg()[0]:.1f}", file=sys.stderr)
        return wall

    def profile(self, step: str, e0: float, e1: float) -> None:
        """--profile: the server's script runs within [e0, e1], merged, top functions by cumulative time."""
        if PROFILE_DIR is None:
            return
        import pstats

        files = [f for f in sorted(self.server.prof_dir.glob("*.pstats"))
                 if e0 - 0.05 <= float(f.stem.split("-")[0]) <= e1]
        if not files:
            return
        PROFILE_DIR.mkdir(parents=True, exist_ok=True)
        slug = "".join(ch if ch.isalnum() else "_" for ch in f"{self.label}_{step}")[:90]
        with open(PROFILE_DIR / f"{slug}.txt", "w", encoding="utf-8") as out:
            st = pstats.Stats(*map(str, files), stream=out)
            st.sort_stats("cumulative").print_stats(60)
            st.sort_stats("tottime").print_stats(30)
        st.dump_stats(str(PROFILE_DIR / f"{slug}.pstats"))

    def note(self, step: str, rss: float) -> None:
        nan = float("nan")
        self.rows[step] = (nan, nan, nan, nan, rss)


def _context(browser):
    ctx = browser.new_context(viewport={"width": 1440, "height": 1000})
    ctx.route("**/*", lambda r: r.continue_() if (urlparse(r.request.url).hostname or "") in
              ("127.0.0.1", "localhost") or r.request.url.startswith(("data:", "blob:")) else r.abort())
    page = ctx.new_page()
    page.set_default_timeout(180_000)
    return ctx, page


def _nav(page, title: str):
    return lambda: page.locator('[data-testid="stSidebarNav"] a').filter(has_text=title).first.click()


def _open(page, url: str, path: str):
    def act():
        page.goto(f"{url}/{path}")
        page.wait_for_selector('[data-testid="stApp"]')
    return act


def _seed(db: str) -> None:
    """Make the loaded dataset active for everyone and save two plans on it (hand-made, no solver)."""
    from browser_seed import HIRE, _plan
    from territory_core.store.datasets import DatasetStore, with_dataset
    from territory_core.store.storage import ScenarioStore

    store = ScenarioStore(db)
    try:
        dstore = DatasetStore(store)
        info = dstore.list_datasets().iloc[0]
        ds = dstore.load(info["id"], int(info["version"]))
        dstore.set_active(info["id"], int(info["version"]), user="bench")
        store.save(with_dataset(_plan(ds, "West backfill", "R099", 3, events=[HIRE]), ds), user="bench")
        store.save(with_dataset(_plan(ds, "No backfill, wider bands", "R004", 2), ds), user="bench")
    finally:
        store.close()


def run_size(label: str, data_dir: Path, app_dir: Path) -> dict[str, tuple]:
    from playwright.sync_api import sync_playwright

    work = Path(tempfile.mkdtemp(prefix=f"bench_browser_{label}_"))
    server = Server(app_dir, work)
    b = Bench(server, label)
    b.note("server started (RSS)", server.rss())
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=shutil.which("chromium"), args=LAUNCH_ARGS)
            ctx_a, a = _context(browser)
            a.goto(server.url)
            settle(a)
            # 1. upload and load
            a.get_by_role("tab", name="Import files").click()
            a.wait_for_selector('[data-testid="stFileUploaderDropzoneInput"]', state="attached")
            b.time("Upload 4 files -> checked", a, lambda: a.locator('[data-testid="stFileUploaderDropzoneInput"]')
                   .set_input_files([str(data_dir / f) for f in FILES]),
                   wait=lambda p: p.get_by_text("OK: nothing blocks loading").wait_for())
            b.time("Load the files -> overview", a, lambda: a.get_by_role("button", name="Load this data").click(),
                   wait=lambda p: p.get_by_text("Saved as dataset").first.wait_for())
            _seed(server.db)
            # 2. first opens, one session clicking through the sidebar
            for title in ("Territory Health", "Whitespace Map", "Segment Builder", "Scenario Editor", "Compare"):
                b.time(f"First open: {title}", a, _nav(a, title))
            tab = lambda name: lambda: a.get_by_role("tab", name=name).click()  # noqa: E731
            b.time("Compare: tab What changes hands", a, tab("What changes hands"))
            b.time("Compare: tab Maps", a, tab("Maps"))
            # 3. Whitespace controls
            b.time("Whitespace open again", a, _nav(a, "Whitespace Map"))
            radio = lambda opt: lambda: a.locator('[data-testid="stRadio"] label').filter(has_text=opt).first.click()  # noqa: E731
            b.time("Whitespace: State -> County", a, radio("County"))
            b.time("Whitespace: County -> State", a, radio("State"))

            def seg_filter():
                a.get_by_role("combobox", name="Segment", exact=True).first.click()
                # the first segment (Streamlit lists "Select all" first: that would filter nothing)
                a.get_by_role("option").filter(has_not_text="Select all").first.click()
                a.keyboard.press("Escape")
            b.time("Whitespace: a segment filter", a, seg_filter)
            b.time("Whitespace: tab Industry x size", a, tab("Industry x size"))
            # 4. second users on the same saved dataset
            rss_before = server.rss()
            ctx_b, ub = _context(browser)
            b.time("User B opens Territory Health (first other session)", ub, _open(ub, server.url, "health"))
            b.note("RSS added by user B (MB)", server.rss() - rss_before)
            # 5. re-solve alone; then new users open a page, on an idle server and during A's next solve, in turns
            b.time("Scenario Editor open again", a, _nav(a, "Scenario Editor"))
            resolve = lambda: a.get_by_role("button", name="Re-solve").click()  # noqa: E731

            # the solve's run lasts until the plan is drawn (it polls the solver process): a settled page is a solved one
            b.time("Re-solve with defaults", a, resolve)
            workers = server.children_rss()
            idle, during, contexts = [], [], [ctx_a, ctx_b]
            for turn in range(OPEN_TURNS):
                ctx_c, uc = _context(browser)
                contexts.append(ctx_c)
                t0 = time.time()
                _open(uc, server.url, "health")()
                idle.append(settle(uc, start_ms=1500) - t0)
                ctx_d, ud = _context(browser)
                contexts.append(ctx_d)
                # playwright's sync API is single-threaded: D is driven from this thread between A's polls
                server.step_peak = server.rss()
                a.get_by_role("button", name="Re-solve").click()
                time.sleep(1.0)
                t_d = time.time()
                _open(ud, server.url, "health")()
                solving_at_d = a.evaluate(RUNNING_JS)
                during.append(settle(ud, start_ms=1500) - t_d)
                still = a.evaluate(RUNNING_JS)
                workers = max(workers, server.children_rss())
                print(f"  [{label}] turn {turn + 1}: a new user opens Health idle {idle[-1]:.2f} s, during A's solve "
                      f"{during[-1]:.2f} s (solve running at the open's start: {solving_at_d}, at its end: {still}; "
                      f"server RSS peak {server.step_peak:.0f} MB)", file=sys.stderr)
                settle(a, start_ms=0, timeout_ms=300_000)
                for c in contexts[-2:]:
                    c.close()
            time.sleep(2)  # the closed contexts' processes gone before the next step counts chromium's CPU
            nan = float("nan")
            b.rows[f"A new user opens Territory Health, idle server (median of {OPEN_TURNS})"] = (
                statistics.median(idle), nan, nan, nan, server.rss())
            b.rows[f"A new user opens Territory Health during A's re-solve (median of {OPEN_TURNS})"] = (
                statistics.median(during), nan, nan, nan, server.rss())
            b.rows["... slower during the solve (%)"] = (
                100.0 * (statistics.median(during) / statistics.median(idle) - 1.0), nan, nan, nan, nan)
            b.note("Solver worker processes' RSS during the solve (MB)", workers)
            # 6. compare today's plan with the plan just solved
            b.time("Compare with today's plan after the solve", a, _nav(a, "Compare"))
            b.time("... and its tab Maps", a, tab("Maps"))
            b.note("Peak RSS during the walk (MB)", server.peak)
            for ctx in contexts[:2]:
                ctx.close()
            browser.close()
        time.sleep(5)
        b.note("RSS 5 s after every browser closed", server.rss())
        time.sleep(55)
        b.note("RSS 60 s after every browser closed", server.rss())
    finally:
        server.close()
        if PROFILE_DIR is not None and server.runlog.is_file():  # every run's times and memory, kept
            PROFILE_DIR.mkdir(parents=True, exist_ok=True)
            shutil.copy(server.runlog, PROFILE_DIR / f"{label}_runs.log")
        shutil.rmtree(work, ignore_errors=True)
    return b.rows


def _book(n: int) -> Path:
    if n == 6000:
        return ROOT / "data" / "sample"
    data = Path(tempfile.gettempdir()) / f"territory_book_{n}"
    if not (data / "accounts.csv").is_file():
        print(f"Making a {n:,}-account book in {data} ...", file=sys.stderr)
        subprocess.run([sys.executable, str(ROOT / "scripts" / "make_sample.py"), "--accounts", str(n),
                        "--out", str(data)], check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    return data


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[6000, 50000], help="book sizes (6000 is the sample)")
    ap.add_argument("--size", type=int, help="one more size, e.g. 300000")
    ap.add_argument("--repeat", type=int, default=1, help="runs per size on fresh servers (the median is shown)")
    ap.add_argument("--app-dir", default=str(ROOT), help="the checkout whose app.py to serve (for before/after)")
    ap.add_argument("--shots", help="a folder for a screenshot of the page after each step (taken after the timing)")
    ap.add_argument("--profile", help="a folder for each step's server profile (cProfile of its script runs)")
    args = ap.parse_args(argv)
    global SHOTS, PROFILE_DIR
    SHOTS = Path(args.shots) if args.shots else None
    PROFILE_DIR = Path(args.profile) if args.profile else None
    if not shutil.which("chromium"):
        print("Debian's chromium is needed (apt-get install chromium).", file=sys.stderr)
        return 2
    sizes = list(args.sizes) + ([args.size] if args.size else [])
    results: dict[int, dict] = {}
    for n in sizes:
        data = _book(n)
        runs = [run_size(f"{n}#{i + 1}", data, Path(args.app_dir)) for i in range(args.repeat)]
        keys = list(dict.fromkeys(k for r in runs for k in r))
        results[n] = {k: tuple(statistics.median(r[k][i] for r in runs if k in r) for i in range(5)) for k in keys}
    keys = list(dict.fromkeys(k for r in results.values() for k in r))
    load = os.getloadavg()[0]
    print(f"{os.cpu_count()} CPUs, load average {load:.1f} at the end; median of {args.repeat} run(s); "
          "s = seconds to a drawn page (server s: until the server finished the run), CPU = server + chromium")
    print("| step | " + " | ".join(f"{n:,}: s | server s | CPU s | RSS MB" for n in sizes) + " |")
    print("|---|" + "---|---|---|---|" * len(sizes))

    def f(v, fmt):
        return "" if v != v else format(v, fmt)
    for k in keys:
        cells = []
        for n in sizes:
            w, srv, cs, cb, rss = results[n].get(k, (float("nan"),) * 5)
            cpu = "" if cs != cs else f"{cs:.1f} + {cb:.1f}"
            cells.append(f"{f(w, '.2f')} | {f(srv, '.2f')} | {cpu} | {f(rss, ',.0f')}")
        print(f"| {k} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
