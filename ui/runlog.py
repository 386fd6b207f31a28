"""How long the server works on each script run, for benchmarks (scripts/bench_browser.py): with
``TERRITORY_RUN_LOG=path`` set, every run (a page, or a fragment of one) appends ``start end``
(epoch seconds) and the memory after it (resident MB, the shared cache's and the datasets' MB) to
that file; with ``TERRITORY_RUN_PROFILE=dir`` also, each run is profiled (cProfile, in the script's
thread) into ``dir/<start>-<end>.pstats``, so a benchmark can say where a step's server time went.
Off by default: nothing is patched then."""
from __future__ import annotations

import os
import threading
import time

_LOCK = threading.Lock()
_INSTALLED = False


def _memory() -> str:
    """After a run: the process's resident MB, and the MB held by the shared cache and by datasets."""
    try:
        from ui.cache import CACHE, DATASETS

        with open("/proc/self/statm") as f:
            rss = int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6
        return f"rss={rss:.0f} cache={CACHE.bytes / 1e6:.0f} datasets={DATASETS.bytes / 1e6:.0f}"
    except Exception:  # not Linux, or no cache yet: the times alone
        return ""


def install() -> None:
    """Once per process, when TERRITORY_RUN_LOG is set: log every script run's start and end."""
    global _INSTALLED
    path = os.environ.get("TERRITORY_RUN_LOG")
    prof_dir = os.environ.get("TERRITORY_RUN_PROFILE")
    with _LOCK:
        if _INSTALLED or not path:
            return
        _INSTALLED = True
    from streamlit.runtime.scriptrunner.script_runner import ScriptRunner

    original = ScriptRunner._run_script  # noqa: SLF001 - benchmarks only

    def timed(self, *args, **kwargs):
        t0 = time.time()
        prof = None
        if prof_dir:
            import cProfile

            prof = cProfile.Profile()
            prof.enable()
        try:
            return original(self, *args, **kwargs)
        finally:
            t1 = time.time()
            if prof is not None:
                prof.disable()
                final = os.path.join(prof_dir, f"{t0:.3f}-{t1:.3f}.pstats")
                prof.dump_stats(final + ".part")  # whole or not at all for a reader globbing *.pstats
                os.replace(final + ".part", final)
            with _LOCK, open(path, "a", encoding="utf-8") as f:
                f.write(f"{t0:.3f} {t1:.3f} {_memory()}\n")

    ScriptRunner._run_script = timed  # noqa: SLF001
