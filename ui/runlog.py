"""How long each script run takes on the server, for benchmarks: with ``TERRITORY_RUN_LOG=path``
set, every run of a page appends ``start end page`` (epoch seconds) to that file. Off by default."""
from __future__ import annotations

import os
import threading
import time
from contextlib import contextmanager

_LOCK = threading.Lock()


@contextmanager
def timed_run(page: str, t0: float | None = None):
    """Log the run of ``page`` begun at ``t0`` (default: now) when the block ends."""
    path = os.environ.get("TERRITORY_RUN_LOG")
    if not path:
        yield
        return
    t0 = time.time() if t0 is None else t0
    try:
        yield
    finally:  # st.rerun / st.stop end a run with an exception: still a run that took this long
        with _LOCK, open(path, "a", encoding="utf-8") as f:
            f.write(f"{t0:.3f} {time.time():.3f} {page}\n")
