"""The one process-wide cache of the pages (issue 16): bounded, computed once, keyed by the data's
name so that sessions on the same data share it, and copies that callers can change freely."""
from __future__ import annotations

import gc
import threading
import time

import numpy as np
import pandas as pd
import pytest

from ui import cache as C


def test_bounded_by_entries_least_recently_used_first():
    c = C.SharedCache(max_entries=2, max_bytes=1 << 30)
    c.put(("k", 1), "a")
    c.put(("k", 2), "b")
    assert c.get(("k", 1)) == "a"  # 1 is now the most recent
    c.put(("k", 3), "c")
    assert ("k", 2) not in c and ("k", 1) in c and ("k", 3) in c
    assert c.stats()["entries"] == 2


def test_bounded_by_bytes_and_what_is_larger_than_the_budget_is_not_kept():
    frame = pd.DataFrame({"x": np.zeros(1000)})  # 8,000 bytes of data (+ index)
    c = C.SharedCache(max_entries=100, max_bytes=20_000)
    c.put(("f", 1), frame)
    c.put(("f", 2), frame)
    assert c.stats()["entries"] == 2 and c.bytes == 2 * C.nbytes(frame)
    c.put(("f", 3), frame)  # a third would pass 20,000 bytes: the oldest goes
    assert ("f", 1) not in c and c.bytes <= 20_000
    big = pd.DataFrame({"x": np.zeros(5000)})
    c.put(("big",), big)
    assert ("big",) not in c and ("f", 3) in c


def test_computed_once_however_many_threads_ask():
    c = C.SharedCache(10, 1 << 30)
    calls = []

    def compute():
        calls.append(1)
        time.sleep(0.3)
        return 42

    out = []
    threads = [threading.Thread(target=lambda: out.append(c.get_or_compute(("slow",), compute))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert out == [42] * 4 and len(calls) == 1
    assert (c.hits, c.misses) == (3, 1)


def test_a_failed_computation_is_not_kept_and_the_next_caller_tries_again():
    c = C.SharedCache(10, 1 << 30)

    def boom():
        raise ValueError("bad settings")

    with pytest.raises(ValueError, match="bad settings"):
        c.get_or_compute(("x",), boom)
    assert ("x",) not in c
    assert c.get_or_compute(("x",), lambda: 7) == 7


def test_callers_change_their_own_copy_never_the_shared_entry():
    c = C.SharedCache(10, 1 << 30)
    c.put(("df",), pd.DataFrame({"a": [1, 2]}))
    mine = c.get(("df",))
    mine["a"] = [9, 9]
    mine["b"] = 1
    again = c.get(("df",))
    assert again["a"].tolist() == [1, 2] and "b" not in again


def test_two_objects_of_one_saved_version_share_a_name_and_unsaved_data_is_dropped_when_unheld():
    class Data:  # any object can be named (Dataset in the app)
        pass

    a, b = Data(), Data()
    C.register(a, "stored:db:7@2")
    C.register(b, "stored:db:7@2")
    assert C.data_token(a) == C.data_token(b) == "stored:db:7@2"

    tmp = Data()
    tok = C.data_token(tmp)
    assert tok.startswith("data:") and C.data_token(tmp) == tok
    C.shared("kpis", (tok, "{}"), lambda: "value")
    assert ("kpis", tok, "{}") in C.CACHE
    del tmp
    gc.collect()
    C.data_token(a)  # the next use of the cache, by any page, forgets what the collector took
    assert ("kpis", tok, "{}") not in C.CACHE


def test_a_dataset_collected_while_the_cache_is_locked_does_not_hang_it():
    """A weakref callback runs wherever the collector runs: once it ran while a frame was copied
    under the cache's lock, waited for that lock, and the page hung for good."""
    import threading

    class Data:
        pass

    held = [Data()]
    tok = C.data_token(held[0])
    C.shared("kpis", (tok, "{}"), lambda: "value")

    def collect_under_the_lock():
        with C.CACHE._lock:  # noqa: SLF001 - as get_or_compute holds it while copying a frame
            held.clear()  # the last reference: the callback runs here, in this thread
            gc.collect()

    th = threading.Thread(target=collect_under_the_lock, daemon=True)
    th.start()
    th.join(10)
    assert not th.is_alive(), "the cache's lock was taken again from inside itself"
    C.shared("other", (tok, "x"), lambda: 1)
    assert ("kpis", tok, "{}") not in C.CACHE


def test_settings_key_is_stable_whatever_the_order():
    assert C.settings_key({"b": 1, "a": 2}) == C.settings_key({"a": 2, "b": 1})
    assert C.settings_key(None) == C.settings_key({}) == "{}"


def test_a_prefetched_book_is_scored_once_and_found_ready_by_the_page():
    from territory_core.analyse.scoring import ScoringConfig
    from territory_core.analyse.segments import SegmentRules
    from territory_core.dataset import load_sample

    ds = load_sample()
    C.register(ds, "test:prefetch@1")
    scoring, rules = ScoringConfig().to_dict(), SegmentRules.default().to_dict()
    misses = C.CACHE.misses
    C.prefetch_enriched(ds, scoring, rules)  # in the background; returns at once
    frame = C.enriched_frame(ds, scoring, rules)  # waits for it (or finds it), never scores twice
    assert len(frame) == len(ds.accounts) == 6000
    deadline = time.time() + 30
    while C.CACHE.misses == misses and time.time() < deadline:
        time.sleep(0.05)
    assert C.CACHE.misses == misses + 1  # one computation for the two asks
    key = ("enriched", "test:prefetch@1", C.settings_key(scoring), C.settings_key(rules))
    assert key in C.CACHE
    C.CACHE.drop(lambda k: "test:prefetch@1" in k)


_MMAP_PROBE = """
import ctypes, sys
sys.path.insert(0, sys.argv[1])
from ui.cache import tune_malloc

libc = ctypes.CDLL("libc.so.6")


class MallInfo2(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks",
                                                "fsmblks", "uordblks", "fordblks", "keepcost")]


libc.mallinfo2.restype = MallInfo2
libc.malloc.restype = ctypes.c_void_p
libc.malloc.argtypes = [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]
tune_malloc()
libc.malloc_trim(0)  # the heap's free top handed back: a big block must come from a new mapping or a new top
before = libc.mallinfo2().hblks
block = libc.malloc(50_000 * 8)  # one float64 column of a 50,000-account book: 400 KB
mapped = libc.mallinfo2().hblks - before
libc.free(block)
print(mapped, libc.mallinfo2().hblks - before)
"""


def test_a_50k_column_comes_from_the_os_and_goes_back_to_it():
    """tune_malloc: a block of 128 KB or more (a float column of 16,000+ rows) is its own mapping,
    handed back to the OS when freed, not a piece of the heap that a long-lived neighbour pins. In a
    fresh process: in a long one, glibc serves a big block from free heap space first, whatever the
    threshold."""
    import ctypes
    import subprocess
    import sys
    from pathlib import Path

    try:
        ctypes.CDLL("libc.so.6").mallinfo2  # noqa: B018 - glibc 2.33+
    except (OSError, AttributeError):
        pytest.skip("glibc only")
    root = str(Path(__file__).resolve().parent.parent)
    out = subprocess.run([sys.executable, "-c", _MMAP_PROBE, root], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["1", "0"]  # mapped while held, unmapped once freed


def test_a_scenario_keys_caches_by_its_stored_version_only_while_it_holds_that_plan(tmp_path):
    """Two sessions opening one stored version share its figures ("id@version"); the same version
    re-solved or edited in the editor keeps its id and version (it is saved over them) but is
    another plan, with its own key. It once shared the stored one's, and showed its figures."""
    from territory_core.contract import S
    from territory_core.dataset import load_sample
    from territory_core.plan.scenarios import Scenario
    from territory_core.store.storage import ScenarioStore
    from ui.scenario_widgets import is_stored_plan, mark_stored, scenario_token

    ds = load_sample()
    asg = ds.accounts[["account_id", "owner_id"]].rename(columns={"owner_id": S.rep_id}).head(50)
    store = ScenarioStore(f"sqlite:///{tmp_path / 's.db'}")
    saved = store.save(Scenario(name="Plan", assignment=asg, report={"status": "optimal"}), user="ana")
    one, two = (mark_stored(store.load(saved.id, 1)) for _ in range(2))
    assert scenario_token(one) == scenario_token(two) == f"{saved.id}@1" and is_stored_plan(one)
    moved = asg.assign(**{S.rep_id: asg[S.rep_id].iloc[::-1].to_numpy()})
    resolved = one.with_(assignment=moved)
    edited = one.with_(events=({"type": "rep_leaves", "rep_id": "R001"},))
    unmarked = store.load(saved.id, 1)  # e.g. a manager's cut of it
    tokens = [scenario_token(s) for s in (resolved, edited, unmarked)]
    assert not any(is_stored_plan(s) for s in (resolved, edited, unmarked))
    assert f"{saved.id}@1" not in tokens and len(set(tokens)) == 3
    assert scenario_token(one.with_(name="Renamed")) == f"{saved.id}@1"  # a name changes no figure
    store.close()
