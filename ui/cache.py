"""One process-wide cache for what the pages derive from the data (scored accounts, KPIs, plans'
loads and diffs, routers), shared by every session.

- Keys name the data by :func:`data_token`: a saved dataset version is ``stored:<db>:<id>@<v>`` and the
  built-in sample ``sample:...``, whichever session (or Python object) holds it, so two users on the
  same saved dataset share every entry; data that was never saved gets a token of its own per object.
  The rest of a key is the settings that change the result (scoring, segment rules, period, ...).
- Bounded: at most ``TERRITORY_CACHE_ENTRIES`` entries (default 256) and ``TERRITORY_CACHE_MB``
  megabytes (default 384) of frames; the least recently used entry goes first. Entries of unsaved
  data go as soon as that data is no longer held by any session.
- A result being computed for one session is awaited, not recomputed, by another asking for it.
- DataFrames come back as shallow copies (pandas copy-on-write): a caller that adds or changes a
  column changes its own copy, never the shared entry.

``enriched()`` is the one scoring cache every page uses (issue 9: there were four). The module
also starts the janitor that gives memory back once sessions close (:func:`start_janitor`).
"""
from __future__ import annotations

import dataclasses
import gc
import itertools
import json
import os
import threading
import time
import weakref
from collections import OrderedDict, deque
from typing import Any, Callable, TypeVar

import numpy as np
import pandas as pd

T = TypeVar("T")


# ----------------------------------------------------------------------------------- data tokens
_TOKENS: dict[int, tuple[weakref.ref, str]] = {}
_TOKEN_LOCK = threading.Lock()
_COUNTER = itertools.count(1)


# Datasets the garbage collector took: (id, weakref, token), handled by _forget_gone. A weakref
# callback runs wherever the collector happens to run, inside this module's locks included (a
# frame copied under the cache's lock once collected a dataset, and its callback waited forever for
# that lock): it only notes the dataset here, lock-free.
_GONE: deque = deque()


def register(ds, token: str) -> None:
    """Name ``ds`` (a Dataset object) ``token`` for every cache key: a stored version, the sample, a
    team's view of one of those."""
    def gone(ref, key=id(ds), tok=token):
        _GONE.append((key, ref, tok))

    with _TOKEN_LOCK:
        _TOKENS[id(ds)] = (weakref.ref(ds, gone), token)


def _forget_gone() -> None:
    """Forget the datasets the collector took, and drop the cache entries of unsaved data no session
    holds any more (called where no lock of this module is held)."""
    while True:
        try:
            key, ref, tok = _GONE.popleft()
        except IndexError:
            return
        with _TOKEN_LOCK:
            rec = _TOKENS.get(key)
            if rec is not None and rec[0] is ref:
                del _TOKENS[key]
        if tok.startswith("data:"):  # unsaved data no session holds: its entries are garbage
            CACHE.drop(lambda k, t=tok: t in k)


def data_token(ds) -> str:
    """The cache name of a Dataset object (see the module's docstring)."""
    _forget_gone()
    with _TOKEN_LOCK:
        rec = _TOKENS.get(id(ds))
        if rec is not None and rec[0]() is ds:
            return rec[1]
    token = f"data:{next(_COUNTER)}"
    register(ds, token)
    return token


# ----------------------------------------------------------------------------------- the cache
def nbytes(v: Any, _depth: int = 0) -> int:
    """About how many bytes ``v`` holds (frames, arrays and containers of them)."""
    if isinstance(v, pd.DataFrame):
        return int(v.memory_usage(index=True, deep=False).sum())
    if isinstance(v, (pd.Series, pd.Index)):
        return int(v.memory_usage(deep=False))
    if isinstance(v, np.ndarray):
        return int(v.nbytes)
    if _depth > 3:
        return 64
    if isinstance(v, (tuple, list, set, frozenset)):
        return 64 + sum(nbytes(x, _depth + 1) for x in v)
    if isinstance(v, dict):
        return 64 + sum(nbytes(x, _depth + 1) for x in v.values())
    if dataclasses.is_dataclass(v) and not isinstance(v, type):
        return 64 + sum(nbytes(getattr(v, f.name, None), _depth + 1) for f in dataclasses.fields(v))
    if isinstance(v, (str, bytes)):
        return len(v)
    return 64


def _fresh(v: Any) -> Any:
    """What a caller gets: frames as shallow copies (copy-on-write), containers of them likewise."""
    if isinstance(v, (pd.DataFrame, pd.Series)):
        return v.copy(deep=False)
    if type(v) is tuple:
        return tuple(_fresh(x) for x in v)
    return v


class SharedCache:
    """A thread-safe LRU cache bounded in entries and bytes, computing each key once."""

    def __init__(self, max_entries: int, max_bytes: int):
        self.max_entries, self.max_bytes = int(max_entries), int(max_bytes)
        self._data: OrderedDict[tuple, tuple[Any, int]] = OrderedDict()
        self._busy: dict[tuple, threading.Event] = {}
        self._lock = threading.Lock()
        self.bytes = 0
        self.hits = self.misses = 0

    def get(self, key: tuple, default=None):
        with self._lock:
            if key in self._data:
                self._data.move_to_end(key)
                self.hits += 1
                return _fresh(self._data[key][0])
        return default

    def __contains__(self, key: tuple) -> bool:
        with self._lock:
            return key in self._data

    def get_or_compute(self, key: tuple, compute: Callable[[], T], *, on_miss: Callable | None = None) -> T:
        """The cached value of ``key``, else ``compute()`` (once, however many threads ask);
        ``on_miss``: a context manager factory wrapped around the computation (a spinner)."""
        while True:
            with self._lock:
                if key in self._data:
                    self._data.move_to_end(key)
                    self.hits += 1
                    return _fresh(self._data[key][0])
                ev = self._busy.get(key)
                if ev is None:
                    ev = self._busy[key] = threading.Event()
                    mine = True
                else:
                    mine = False
            if not mine:  # another session computes it: wait, then read it (or compute it, if it failed)
                if on_miss is not None:
                    with on_miss():
                        ev.wait(600)
                else:
                    ev.wait(600)
                continue
            try:
                if on_miss is not None:
                    with on_miss():
                        value = compute()
                else:
                    value = compute()
                self.put(key, value)
                return _fresh(value)
            finally:
                with self._lock:
                    self.misses += 1
                    self._busy.pop(key, None)
                ev.set()

    def put(self, key: tuple, value: Any) -> None:
        size = nbytes(value)
        with self._lock:
            old = self._data.pop(key, None)
            if old is not None:
                self.bytes -= old[1]
            if size > self.max_bytes:
                return  # larger than the whole budget: computed for this caller, not kept
            self._data[key] = (value, size)
            self.bytes += size
            while self._data and (len(self._data) > self.max_entries or self.bytes > self.max_bytes):
                _, (_, s) = self._data.popitem(last=False)
                self.bytes -= s

    def drop(self, pred: Callable[[tuple], bool]) -> int:
        """Remove the entries whose key satisfies ``pred``; returns how many."""
        with self._lock:
            gone = [k for k in self._data if pred(k)]
            for k in gone:
                self.bytes -= self._data.pop(k)[1]
        return len(gone)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()
            self.bytes = 0

    def stats(self) -> dict:
        with self._lock:
            kinds: dict[str, int] = {}
            for k in self._data:
                kinds[str(k[0])] = kinds.get(str(k[0]), 0) + 1
            return {"entries": len(self._data), "mb": round(self.bytes / 1e6, 1), "hits": self.hits,
                    "misses": self.misses, "kinds": kinds}


CACHE = SharedCache(int(os.environ.get("TERRITORY_CACHE_ENTRIES", "256")),
                    int(float(os.environ.get("TERRITORY_CACHE_MB", "384")) * 1e6))
# Whole datasets (saved versions, the sample): few, each shared by every session on it.
DATASETS = SharedCache(int(os.environ.get("TERRITORY_DATASETS_KEPT", "4")), 1 << 62)


def _spinner(text: str | None):
    """A spinner with the elapsed time while a missing entry is computed (in a script run only)."""
    if not text:
        return None
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    if get_script_run_ctx(suppress_warning=True) is None:
        return None
    import streamlit as st

    return lambda: st.spinner(text, show_time=True)


def shared(kind: str, key: tuple, compute: Callable[[], T], *, spinner: str | None = None) -> T:
    """The process-wide cached result of ``compute()`` under (``kind``, *``key``). ``key`` must name
    the data (a :func:`data_token`) and every setting the result depends on. ``spinner``: what the
    user reads while it is computed (e.g. "Scoring 50,000 accounts...")."""
    _forget_gone()
    return CACHE.get_or_compute((kind, *key), compute, on_miss=_spinner(spinner))


_POOL = None
_POOL_LOCK = threading.Lock()


def background(kind: str, key: tuple, compute: Callable[[], T]) -> tuple[bool, T | None]:
    """(ready, value): the cached result, else start ``compute()`` in a background thread (once,
    however many sessions ask) and return (False, None) at once, so a page draws everything else
    and fills this part in when it is done. ``compute`` must not touch Streamlit."""
    global _POOL
    full = (kind, *key)
    if full in CACHE:
        return True, CACHE.get(full)
    with _POOL_LOCK:
        if _POOL is None:
            from concurrent.futures import ThreadPoolExecutor

            _POOL = ThreadPoolExecutor(max_workers=1, thread_name_prefix="territory-background")
        with CACHE._lock:  # noqa: SLF001 - the same in-flight set as get_or_compute
            busy = full in CACHE._busy  # noqa: SLF001
        if not busy:
            _POOL.submit(CACHE.get_or_compute, full, compute)
    return False, None


def settings_key(d: Any) -> str:
    """A stable text for a settings dict (or None) in a cache key."""
    return json.dumps(d if d is not None else {}, sort_keys=True, default=str)


# ----------------------------------------------------------------------------------- scoring
def enriched_frame(ds, scoring: dict | None, rules: dict | None) -> pd.DataFrame:
    """The accounts of ``ds`` scored and segmented with these settings (dicts; None or empty: the
    defaults), family roll-ups included: the one scoring cache of every page. Raises what the
    scorer raises (bad settings, data it cannot use); callers say it on the page."""
    key, compute = _enriched_job(ds, scoring, rules)
    n = len(ds.accounts)
    return shared(*key, compute, spinner=f"Scoring and segmenting {n:,} accounts..." if n >= 2000 else None)


def prefetch_enriched(ds, scoring: dict | None, rules: dict | None) -> None:
    """Start scoring ``ds`` in the background (just loaded: the first page that needs the scores
    finds them ready, or waits only for what is left). A failure is not cached: the page that asks
    computes again and says why."""
    key, compute = _enriched_job(ds, scoring, rules)
    if len(ds.accounts) >= 2000:
        background(*key, compute)


def _enriched_job(ds, scoring, rules):
    def compute():
        from territory_core.analyse.enrich import enrich_accounts
        from territory_core.analyse.scoring import ScoringConfig
        from territory_core.analyse.segments import SegmentRules

        sc = ScoringConfig.from_dict(scoring) if scoring else None
        rs = SegmentRules.from_dict(rules) if rules else None
        return enrich_accounts(ds, sc, rs)

    return ("enriched", (data_token(ds), settings_key(scoring or None), settings_key(rules or None))), compute


# ----------------------------------------------------------------------------------- memory
_JANITOR: threading.Thread | None = None
_JANITOR_LOCK = threading.Lock()
_LIBC = None


def _libc():
    global _LIBC
    if _LIBC is None:
        try:
            import ctypes

            _LIBC = ctypes.CDLL("libc.so.6")
            _LIBC.malloc_trim  # noqa: B018 - glibc only
        except Exception:  # not glibc (macOS, musl): nothing to trim
            _LIBC = False
    return _LIBC


def tune_malloc() -> None:
    """Blocks of 128 KB and more (a column of 16,000 rows or more) that the heap has no free room for
    come from a mapping of their own and go back to the OS when freed, instead of growing the heap;
    few malloc arenas for Streamlit's many script threads, and Arrow's buffers from malloc too (not
    mimalloc, which keeps what it freed): freed frames give their memory back instead of staying in
    the process for good (glibc only for the malloc settings). With 1 MB instead of 128 KB, the
    50,000-account columns (200-800 KB) grew the heap and left it fragmented: an in-process walk
    of every page at 50k ended at 340-344 MB, now 310-312 MB (no CPU difference measured: page runs
    0.57 / 0.60 s, an import check 2.5-3.2 / 2.6-3.1 s)."""
    try:  # Arrow's buffers (pandas' text columns) from the same malloc, so that trimming frees them too
        import pyarrow as pa

        pa.set_memory_pool(pa.system_memory_pool())
    except Exception:
        pass
    libc = _libc()
    if not libc:
        return
    M_TRIM_THRESHOLD, M_MMAP_THRESHOLD, M_ARENA_MAX = -1, -3, -8
    libc.mallopt(M_MMAP_THRESHOLD, 128 << 10)
    libc.mallopt(M_TRIM_THRESHOLD, 32 << 20)
    libc.mallopt(M_ARENA_MAX, 4)


def release_memory() -> None:
    """Collect garbage and hand freed heap pages back to the OS."""
    gc.collect()
    trim_memory()


def trim_memory() -> None:
    """Hand freed heap pages back to the OS (no garbage collection: no pause for other sessions),
    after a burst of short-lived buffers: a book sent to the solver process, a plan received."""
    libc = _libc()
    if libc:
        libc.malloc_trim(0)


def _expire_closed_sessions() -> int:
    """Streamlit keeps a closed browser tab's session (and its session state) for a reconnect,
    2 minutes, but only drops it when another session comes or goes. Drop the ones past that time
    now. Returns how many sessions are kept for a reconnect after that."""
    try:
        from streamlit.runtime import Runtime

        storage = Runtime.instance()._session_mgr._session_storage  # noqa: SLF001 - no public hook
        cache = getattr(storage, "_cache", None)
        if cache is None:
            return 0
        for _sid, info in cache.expire():
            try:  # what Streamlit does when a session closes for good: its uploaded files go too
                info.session.shutdown()
            except Exception:
                pass
        return len(cache)
    except Exception:  # another Streamlit version: memory is released on its own schedule
        return 0


def _janitor(period: float) -> None:
    kept = None
    while True:
        time.sleep(period)
        _forget_gone()
        now = _expire_closed_sessions()
        if now != kept:  # a session closed for good, or one came: give the freed memory back
            release_memory()
            kept = now


def start_janitor(period: float = 15.0) -> None:
    """Once per process: tune malloc, and every ``period`` seconds drop sessions closed for longer
    than Streamlit's reconnect window and return the memory they held."""
    global _JANITOR
    with _JANITOR_LOCK:
        if _JANITOR is not None:
            return
        tune_malloc()
        _JANITOR = threading.Thread(target=_janitor, args=(period,), name="territory-janitor", daemon=True)
        _JANITOR.start()


_WARMED = threading.Event()


def warm_static() -> None:
    """Once per process, in the background: the static data pages draw from (county centres for
    Compare's area view, area names, the rep palette) and the chart and table modules that load on
    first use, so no user's first open pays for them."""
    if _WARMED.is_set():
        return
    _WARMED.set()

    def run():
        try:
            from territory_core.geo.zips import area_names
            from territory_core.plan.flows import area_centroids

            area_centroids("county")
            area_names("county")
            import ui.colors  # noqa: F401 - the rep palette
            # plotly reads pandas columns through narwhals, whose pandas modules load on first use, and
            # pandas' Styler loads jinja2: 0.2-0.3 s of Territory Health's first open at 50k, paid here
            import plotly.graph_objects as go

            go.Figure(go.Bar(x=pd.Series(["a"]), y=pd.Series([1.0]))).to_dict()
            pd.DataFrame({"a": [1.0]}).style.format({"a": "{:.1f}"}).map(lambda v: "", subset=["a"]).to_html()
        except Exception:  # a warm-up only: the pages compute what they need anyway
            pass
    threading.Thread(target=run, name="territory-warm-up", daemon=True).start()
