"""How long the server works on each script run, for benchmarks (scripts/bench_browser.py): with
``TERRITORY_RUN_LOG=path`` set, every run (a page, or a fragment of one) appends ``start end``
(epoch seconds) to that file. Off by default: nothing is patched then."""
from __future__ import annotations

import os
import threading
import time

_LOCK = threading.Lock()
_INSTALLED = False


def install() -> None:
    """Once per process, when TERRITORY_RUN_LOG is set: log every script run's start and end."""
    global _INSTALLED
    path = os.environ.get("TERRITORY_RUN_LOG")
    with _LOCK:
        if _INSTALLED or not path:
            return
        _INSTALLED = True
    from streamlit.runtime.scriptrunner.script_runner import ScriptRunner

    original = ScriptRunner._run_script  # noqa: SLF001 - benchmarks only

    def timed(self, *args, **kwargs):
        t0 = time.time()
        try:
            return original(self, *args, **kwargs)
        finally:
            with _LOCK, open(path, "a", encoding="utf-8") as f:
                f.write(f"{t0:.3f} {time.time():.3f}\n")

    ScriptRunner._run_script = timed  # noqa: SLF001
