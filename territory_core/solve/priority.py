"""Solver processes run in the background of the machine: whatever else wants a core gets it first.

``os.nice`` alone is not enough on Linux. With the scheduler's autogroups (on by default on most
distributions: ``/proc/sys/kernel/sched_autogroup_enabled``), the CPU is shared fairly between
*sessions* first, and a process's nice value only counts against the processes of its own session.
A solver at nice 19 then still takes half the machine from a browser or any other program started in
another session (measured here: a user opening Territory Health during a 50k re-solve waited 16-31%
longer than on an idle server). So a solver process also starts a session of its own and puts that
session's autogroup at the same nice value: it yields to the server and to every other session.

A solver process also ends with the process that started it (it watches for its parent's end): a
server killed outright, or stopped with Ctrl-C (which a process in another session does not
receive), leaves no solver running.

Solver processes start from :func:`spawn_context`: a ``spawn`` child otherwise runs the parent's
main script first, and in the app that script is the page being run (Streamlit puts it in
``sys.modules["__main__"]`` during a run). The solver process ran the whole app before its first
line of solver code: 1.8 s of CPU at normal priority (before it could lower it) and 206 MB held.
"""
from __future__ import annotations

import multiprocessing as mp
import os
import threading
import time

# 19, the lowest priority. Environment: TERRITORY_SOLVER_NICE.
NICE = int(os.environ.get("TERRITORY_SOLVER_NICE", "19"))


def run_in_background(nice: int = NICE) -> dict[str, bool]:
    """Call first thing in a solver process. Lowers its priority (``nice``), moves it to a session
    of its own whose autogroup runs at that priority (Linux with autogroups), and has it end with
    its parent. Each step is best effort: where one is not allowed or not available the process
    runs on without it. Returns which steps took effect."""
    done = {"nice": False, "autogroup": False, "ends_with_parent": False}
    if nice > 0:
        try:
            os.nice(nice)
            done["nice"] = True
        except OSError:  # not allowed here: the normal priority
            pass
        done["autogroup"] = _own_autogroup(nice)
    done["ends_with_parent"] = _end_with_parent()
    return done


def _own_autogroup(nice: int) -> bool:
    """A new session, its autogroup at ``nice``; False where autogroups are off or not allowed."""
    try:
        with open("/proc/sys/kernel/sched_autogroup_enabled", encoding="ascii") as f:
            if f.read().strip() != "1":
                return False
    except OSError:  # not Linux, or a kernel without autogroups: nice alone is what counts
        return False
    try:
        if os.getsid(0) != os.getpid():
            os.setsid()
        with open("/proc/self/autogroup", "w", encoding="ascii") as f:
            f.write(str(nice))
        return True
    except OSError:
        return False


def _end_with_parent(period: float = 0.5) -> bool:
    """Exit when the parent process is gone: a watch thread that looks every ``period`` seconds
    whether this process was handed to another parent (POSIX). Not PR_SET_PDEATHSIG: that signal
    comes when the *thread* that started the process ends, and the server starts solver processes
    from threads that end (a page's run, the send-ahead, a Re-solve's job): it killed the solver
    process, with the book it was sent ahead, as soon as the sending thread was done."""
    if not hasattr(os, "getppid"):
        return False
    parent = os.getppid()
    if parent <= 1:  # the parent was gone already
        os._exit(0)

    def watch():
        while True:
            time.sleep(period)
            if os.getppid() != parent:
                os._exit(0)

    threading.Thread(target=watch, name="end-with-parent", daemon=True).start()
    return True


_MAIN_LOCK = threading.Lock()


def spawn_context():
    """The ``spawn`` context for solver processes: their children do not run the parent's main
    script (in the app, the page a session is running: see the module's docstring). Every target
    they run is a function of an importable module, so nothing is lost. multiprocessing reads
    ``spawn.get_preparation_data`` at each start, so this wraps it once for the whole process: every
    spawn child started after the first call skips the main script, which suits the app, the CLI
    and the tests (none runs a function defined in a main script in a child)."""
    from multiprocessing import spawn

    with _MAIN_LOCK:
        if not getattr(spawn.get_preparation_data, "without_main", False):
            original = spawn.get_preparation_data

            def get_preparation_data(name):
                data = original(name)
                data.pop("init_main_from_path", None)
                data.pop("init_main_from_name", None)
                return data

            get_preparation_data.without_main = True
            spawn.get_preparation_data = get_preparation_data
    return mp.get_context("spawn")


def autogroup_nice(pid: int | str = "self") -> int | None:
    """The nice value of a process's autogroup (Linux), None where there is none to read."""
    try:
        with open(f"/proc/{pid}/autogroup", encoding="ascii") as f:
            return int(f.read().split("nice")[1])
    except (OSError, IndexError, ValueError):
        return None


__all__ = ["NICE", "run_in_background", "spawn_context", "autogroup_nice"]
