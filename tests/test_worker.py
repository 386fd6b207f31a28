"""Solves in the solver process (issue 16): the same plan as in the server's own process, teams
solved side by side included; bad settings said as in-process; data held between solves."""
from __future__ import annotations

import pandas as pd
import pytest

from territory_core.contract import S
from territory_core.dataset import load_sample
from territory_core.plan import worker
from territory_core.plan.scenarios import Scenario, solve_scenario


@pytest.fixture(scope="module")
def sample():
    yield load_sample()
    worker.shutdown()


def _owners(sc) -> pd.Series:
    a = sc.assignment
    return a.set_index(S.account_id)[S.rep_id].astype(str).sort_index()


def test_the_worker_finds_the_plan_the_server_would(sample):
    # balanced within teams: the worker solves the teams side by side in its own pool of processes
    scenario = Scenario(name="Priya Ramirez leaves", events=({"type": "rep_leaves", "rep_id": "R004"},))
    phases = []
    got = worker.solve_in_worker(sample, scenario, data_key="sample", progress=lambda p, f=None: phases.append(p))
    here = solve_scenario(sample, scenario)
    assert got.report["status"] == here.report["status"]
    assert got.report["moves"] == here.report["moves"]
    assert _owners(got).equals(_owners(here))
    assert any("of 12 teams solved" in p for p in phases)  # side by side; progress came back through the pipe
    assert got.report["moves"] == 168 and got.report["status"] == "optimal"


def test_the_data_is_sent_once_and_bad_settings_come_back_as_a_value_error(sample):
    sc = Scenario(name="Priya Ramirez leaves", events=({"type": "rep_leaves", "rep_id": "R004"},))
    worker.solve_in_worker(sample, sc, data_key="sample-again")
    w = worker._workers()[0]  # noqa: SLF001
    assert w.held[0] == "sample-again"
    # the same key: only the scenario goes; the worker still answers from the data it holds
    again = worker.solve_in_worker(None, sc, data_key="sample-again")
    assert again.report["moves"] == 168
    bad = Scenario(name="bad", settings={"solver": {"scope": "nickname=Bob"}})
    with pytest.raises(ValueError, match="nickname"):
        worker.solve_in_worker(sample, bad, data_key="sample-again")
    assert w.alive()  # a bad setting does not cost the process


def test_a_book_sent_ahead_is_solved_without_being_sent_again(sample):
    sc = Scenario(name="Priya Ramirez leaves", events=({"type": "rep_leaves", "rep_id": "R004"},))
    sent = []
    th = worker.hold_in_worker(sample, data_key="ahead", enriched_key="ahead|none", done=lambda: sent.append(1))
    assert th is not None
    th.join(120)
    assert sent == [1]
    w = worker._workers()[0]  # noqa: SLF001
    assert w.held == ("ahead", "ahead|none")
    # held already: nothing to send, no thread
    assert worker.hold_in_worker(sample, data_key="ahead", enriched_key="ahead|none") is None
    # no data in the call: the plan can only come from the book the process was sent ahead
    got = worker.solve_in_worker(None, sc, data_key="ahead", enriched_key="ahead|none")
    assert got.report["moves"] == 168 and got.report["status"] == "optimal"


def test_a_cancel_before_the_solve_returns_none(sample):
    import threading

    ev = threading.Event()
    ev.set()
    worker.shutdown()  # a cold start: the cancel lands while the process is starting
    assert worker.solve_in_worker(sample, Scenario(name="x"), data_key="s", cancel=ev) is None


def test_a_killed_solver_process_leaves_no_team_processes_behind(sample):
    import os
    import signal
    import subprocess
    import time

    if worker.TEAM_WORKERS < 2:
        pytest.skip("one core: no team processes")
    worker.solve_in_worker(sample, Scenario(name="warm"), data_key="sample")  # process and team pool up
    w = worker._workers()[0]  # noqa: SLF001
    kids = subprocess.run(["pgrep", "-P", str(w.proc.pid)], capture_output=True, text=True).stdout.split()
    assert len(kids) >= 2, kids
    os.kill(w.proc.pid, signal.SIGKILL)  # a solver process killed outright (out of memory, an operator)
    deadline = time.time() + 10
    while time.time() < deadline and any(os.path.exists(f"/proc/{k}") for k in kids):
        time.sleep(0.1)
    assert not [k for k in kids if os.path.exists(f"/proc/{k}")], "team processes outlived their solver process"
    # the next solve finds the process dead, starts a new one and answers
    sc = Scenario(name="Priya Ramirez leaves", events=({"type": "rep_leaves", "rep_id": "R004"},))
    dead = w.proc.pid
    assert worker.solve_in_worker(sample, sc, data_key="sample").report["moves"] == 168
    assert w.proc.pid != dead


def test_solver_processes_run_in_a_session_of_their_own_at_the_lowest_priority(sample):
    """nice 19 alone counts only within the server's session: with the scheduler's autogroups a
    browser or any program of another session shared the cores half and half with the solve. The
    solver and its team processes are each in a session of their own, that session's autogroup at
    nice 19, and they still end with their parent."""
    import os
    import subprocess

    from territory_core.solve.priority import autogroup_nice

    worker.solve_in_worker(sample, Scenario(name="warm"), data_key="sample")
    w = worker._workers()[0]  # noqa: SLF001
    procs = [w.proc.pid] + [int(k) for k in subprocess.run(["pgrep", "-P", str(w.proc.pid)], capture_output=True,
                                                             text=True).stdout.split()]
    for pid in procs:
        assert os.getpriority(os.PRIO_PROCESS, pid) == 19
        with open(f"/proc/{pid}/stat") as f:
            ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        assert ppid in (os.getpid(), w.proc.pid)
    with open("/proc/sys/kernel/sched_autogroup_enabled") as f:
        if f.read().strip() != "1":
            pytest.skip("this kernel shares the CPU without autogroups: nice alone counts")
    for pid in procs:
        assert os.getsid(pid) == pid != os.getsid(0)
        assert autogroup_nice(pid) == 19
    assert autogroup_nice() != 19  # the server's (this test's) own session keeps its priority


def test_run_in_background_reports_what_took_effect():
    """In a child process: nice, own autogroup (where the kernel has them) and the end with the parent."""
    import multiprocessing as mp

    from territory_core.solve.priority import run_in_background

    with mp.get_context("spawn").Pool(1) as pool:
        done = pool.apply(run_in_background)
    assert done["nice"] is True and done["ends_with_parent"] is True
    with open("/proc/sys/kernel/sched_autogroup_enabled") as f:
        assert done["autogroup"] is (f.read().strip() == "1")


def test_a_solver_process_started_by_a_thread_outlives_that_thread(sample):
    """The send-ahead starts the solver process from a thread that ends once the book is sent; the
    process (and the book it holds) stays for the Re-solve. With PR_SET_PDEATHSIG it was killed
    when that thread ended, and the Re-solve started a new one and sent the book again."""
    import time

    worker.shutdown()
    th = worker.hold_in_worker(sample, data_key="thread", enriched_key="thread|none")
    th.join(120)
    assert not th.is_alive()
    time.sleep(1.5)  # the parent-watch looks every 0.5 s
    w = worker._workers()[0]  # noqa: SLF001
    assert w.alive() and w.held == ("thread", "thread|none")
    pid = w.proc.pid
    sc = Scenario(name="Priya Ramirez leaves", events=({"type": "rep_leaves", "rep_id": "R004"},))
    assert worker.solve_in_worker(None, sc, data_key="thread", enriched_key="thread|none").report["moves"] == 168
    assert w.proc.pid == pid


def test_the_book_goes_to_the_solver_process_as_a_file_that_the_process_deletes(sample):
    """Sent through the pipe, the book was pickled into one bytes object first (at 50k: 41 MB more
    in the server for a moment). It goes as a temporary file; the process reads and deletes it, and a
    process that dies before reading leaves no file behind either."""
    import os
    import signal
    import time

    worker.shutdown()
    th = worker.hold_in_worker(sample, data_key="file", enriched_key="file|none")
    th.join(120)
    w = worker._workers()[0]  # noqa: SLF001
    assert len(w.parcels) == 1  # the book (no scoring sent)
    path = w.parcels[0].path
    deadline = time.time() + 30
    while time.time() < deadline and os.path.exists(path):
        time.sleep(0.05)
    assert not os.path.exists(path), "the solver process did not delete the book's file"
    sc = Scenario(name="Priya Ramirez leaves", events=({"type": "rep_leaves", "rep_id": "R004"},))
    assert worker.solve_in_worker(None, sc, data_key="file", enriched_key="file|none").report["moves"] == 168
    # a process killed before it read the file: the next start deletes it
    os.kill(w.proc.pid, signal.SIGSTOP)
    th = worker.hold_in_worker(sample, data_key="file2", enriched_key="file2|none")
    th.join(120)
    stuck = w.parcels[-1].path
    assert os.path.exists(stuck)
    os.kill(w.proc.pid, signal.SIGKILL)
    w.proc.join(10)
    assert worker.solve_in_worker(sample, sc, data_key="file3").report["moves"] == 168
    assert not os.path.exists(stuck)
    # every file this worker wrote is gone (not a look at the whole temp folder: another test process
    # running the editor writes its own parcels meanwhile)
    assert not [p.path for p in w.parcels if os.path.exists(p.path)]


def test_a_parcel_left_by_a_killed_server_is_deleted_when_a_solver_process_next_starts(sample):
    """A server killed outright (SIGKILL: no stop, no cleanup) can leave a parcel no process will
    read. The next solver process's start deletes this user's parcels older than an hour; a fresh
    one (another server's, in flight) stays."""
    import os
    import tempfile
    import time

    old_fd, old = tempfile.mkstemp(prefix="territory-solver-", suffix=".pickle")
    new_fd, new = tempfile.mkstemp(prefix="territory-solver-", suffix=".pickle")
    os.close(old_fd)
    os.close(new_fd)
    two_hours_ago = time.time() - 2 * 3600
    os.utime(old, (two_hours_ago, two_hours_ago))
    try:
        worker.shutdown()
        worker.warm()
        assert not os.path.exists(old)
        assert os.path.exists(new)
        assert worker.clear_stale_parcels() == 0  # nothing else that old
    finally:
        for p in (old, new):
            if os.path.exists(p):
                os.unlink(p)


def test_solver_processes_do_not_run_the_script_that_started_them(sample, tmp_path, monkeypatch):
    """During a run, Streamlit puts the page being run in sys.modules["__main__"]; a spawn child
    runs that file first. The solver process ran the whole app before its first solver line (1.8 s
    of CPU at normal priority, 206 MB). Here the "page" leaves a mark when run: a solve in a fresh
    solver process and its team processes must leave none."""
    import sys
    import types

    mark = tmp_path / "ran.txt"
    page = tmp_path / "page.py"
    page.write_text(f"open({str(mark)!r}, 'a').write('ran\\n')\n", encoding="utf-8")
    fake_main = types.ModuleType("__main__")
    fake_main.__file__ = str(page)
    fake_main.__spec__ = None
    monkeypatch.setitem(sys.modules, "__main__", fake_main)
    worker.shutdown()
    sc = Scenario(name="Priya Ramirez leaves", events=({"type": "rep_leaves", "rep_id": "R004"},))
    assert worker.solve_in_worker(sample, sc, data_key="main").report["moves"] == 168
    assert not mark.exists(), "a solver process ran the script that started it"
