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
