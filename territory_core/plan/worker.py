"""Solve scenarios in a separate process at a lower CPU priority (the Scenario Editor's Re-solve).

A solve is seconds to minutes of CPU work. Run inside the app's server process, it holds the
interpreter lock and a core, and every other user's page waits behind it. Here it runs in a worker
process (``spawn``) at the machine's background priority (``solve.priority``: nice 19 in a session
of its own): the operating system serves the server and the browsers first and gives the solver what
is left. The teams of a decomposed model (books balanced within
teams) are solved side by side by the worker's own pool of ``TEAM_WORKERS`` processes (same lower
priority): on two cores, about twice as fast.

The worker stays up for the next solve (no start-up cost after the first: :func:`warm` starts it
ahead) and keeps the last dataset and scored accounts it was sent, so re-solving on the same data
sends only the scenario. Progress comes back through a pipe, cancel goes the other way; a worker
that dies is replaced at the next solve, and the solve it was running fails with a message. Solves
are queued: one at a time per worker (``WORKERS``), so two users' solves never fight over the cores.
"""
from __future__ import annotations

import os
import queue
import threading
import time
from typing import Callable

WORKERS = max(1, int(os.environ.get("TERRITORY_SOLVER_WORKERS", "1")))
TEAM_WORKERS = max(1, int(os.environ.get("TERRITORY_SOLVER_TEAM_WORKERS", str(min(4, os.cpu_count() or 1)))))


# ------------------------------------------------------------------------------------ parcels
PARCEL_PREFIX, PARCEL_SUFFIX = "territory-solver-", ".pickle"
PARCEL_MAX_AGE_S = 3600.0


class _Parcel:
    """A big object (a book, its scoring) handed to the solver process as a temporary file rather
    than through the pipe: ``Connection.send`` pickles into one bytes object first, and at 50k that
    was 41 MB of pickle on top of the objects (the server's RSS rose by 126 MB for a moment; through
    a file, by 27 MB). The file is the server user's alone (``mkstemp``: mode 0600) in the temp
    folder; the solver process reads and deletes it."""

    __slots__ = ("path",)

    def __init__(self, obj):
        import pickle
        import tempfile

        fd, self.path = tempfile.mkstemp(prefix=PARCEL_PREFIX, suffix=PARCEL_SUFFIX)
        try:
            with os.fdopen(fd, "wb") as f:
                pickle.dump(obj, f, protocol=pickle.HIGHEST_PROTOCOL)
        except BaseException:
            self.discard()
            raise

    def open(self):
        """In the solver process: the object, the file deleted."""
        import pickle

        try:
            with open(self.path, "rb") as f:
                return pickle.load(f)
        finally:
            self.discard()

    def discard(self) -> None:
        try:
            os.unlink(self.path)
        except OSError:
            pass


def _parcel(obj):
    return None if obj is None else _Parcel(obj)


def clear_stale_parcels(max_age_s: float = PARCEL_MAX_AGE_S) -> int:
    """Delete this user's parcel files older than ``max_age_s``: a server killed outright between
    writing a parcel and its process reading it leaves one behind (a process reads its parcel within
    seconds of its writing). Returns how many were deleted."""
    import glob
    import tempfile

    gone, now, uid = 0, time.time(), os.getuid()
    for path in glob.glob(os.path.join(tempfile.gettempdir(), f"{PARCEL_PREFIX}*{PARCEL_SUFFIX}")):
        try:
            st = os.stat(path)
            if st.st_uid == uid and now - st.st_mtime > max_age_s:
                os.unlink(path)
                gone += 1
        except OSError:  # read and deleted meanwhile, or not ours to delete
            continue
    return gone


def _unparcel(obj):
    return obj.open() if isinstance(obj, _Parcel) else obj


# ------------------------------------------------------------------------------------ worker side
def _lower_priority() -> None:
    """In a solver or team process: the machine's background priority (its own session's autogroup
    at nice 19, see solve.priority), and an end with the process that started it."""
    from ..solve.priority import run_in_background

    run_in_background()


def _team_process_start() -> None:
    """A team process's start: low priority, and the solver imported now rather than by the first
    team it is given (at 50k, the first Re-solve waited about a second longer for those imports)."""
    _lower_priority()
    from ..solve import model  # noqa: F401


def _warm_team_pool(n: int):
    """The worker's pool for solving teams side by side, its processes started now (spawned
    processes import the solver: a second or two each, paid once)."""
    from concurrent.futures import ProcessPoolExecutor

    if n < 2:
        return None
    from ..solve.priority import spawn_context

    pool = ProcessPoolExecutor(max_workers=n, mp_context=spawn_context(), initializer=_team_process_start)
    for f in [pool.submit(time.sleep, 0.2) for _ in range(n)]:
        f.result()
    return pool


def _kill_pool(pool) -> None:
    """Stop a team pool now, teams still solving included (after a cancel)."""
    if pool is None:
        return
    procs = list(getattr(pool, "_processes", {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for p in procs:
        try:
            p.terminate()
        except Exception:
            pass


def _worker_main(conn, team_workers: int) -> None:
    """The worker process: solve what the parent sends, one at a time, until the pipe closes."""
    _lower_priority()
    from ..solve import model
    from .scenarios import solve_scenario

    jobs: queue.Queue = queue.Queue()
    current: dict = {"cancel": None}
    send_lock = threading.Lock()

    def send(msg) -> None:
        with send_lock:
            conn.send(msg)

    def listen() -> None:  # the only reader of the pipe: jobs go to the queue, cancels to the solve
        while True:
            try:
                msg = conn.recv()
            except (EOFError, OSError):
                jobs.put(None)
                return
            if msg[0] == "cancel":
                ev = current["cancel"]
                if ev is not None and msg[1] == current.get("id"):
                    ev.set()
            else:
                jobs.put(msg)

    threading.Thread(target=listen, name="solver-listen", daemon=True).start()
    model.TEAM_POOL = _warm_team_pool(team_workers)
    send(("ready",))
    held: dict = {"data": (None, None), "enriched": (None, None)}
    while True:
        msg = jobs.get()
        if msg is None:
            break
        if msg[0] == "hold":  # the book sent ahead of a solve (hold_in_worker)
            _, data_key, dataset, enriched_key, enriched = msg
            held.update(data=(data_key, _unparcel(dataset)), enriched=(enriched_key, _unparcel(enriched)))
            continue
        _, job_id, data_key, dataset, enriched_key, enriched, scenario, sent = msg
        dataset, enriched = _unparcel(dataset), _unparcel(enriched)
        if "data" in sent:
            held["data"] = (data_key, dataset)
        if "enriched" in sent:
            held["enriched"] = (enriched_key, enriched)
        dataset, enriched = held["data"][1], held["enriched"][1]
        cancel = threading.Event()
        current.update(cancel=cancel, id=job_id)

        def progress(phase, frac=None, _id=job_id):
            send(("progress", _id, str(phase), None if frac is None else float(frac)))

        try:
            res = solve_scenario(dataset, scenario, enriched=enriched, progress=progress, cancel=cancel)
            send(("done", job_id, res))
        except Exception as exc:  # said on the page; a ValueError is a problem with the data or settings
            send(("error", job_id, isinstance(exc, ValueError), str(exc)))
        finally:
            current.update(cancel=None, id=None)
            if cancel.is_set() and model.TEAM_POOL is not None:  # teams may still be solving: stop them
                _kill_pool(model.TEAM_POOL)
                model.TEAM_POOL = _warm_team_pool(team_workers)
    _kill_pool(model.TEAM_POOL)


# ------------------------------------------------------------------------------------ server side
class WorkerError(RuntimeError):
    """The solver process stopped before it answered."""


class _Worker:
    def __init__(self):
        self.lock = threading.Lock()  # one solve at a time
        self.proc = None
        self.conn = None
        self.ready = False
        self.held: tuple = (None, None)  # (data key, enriched key) the process holds
        self.parcels: list[_Parcel] = []  # files sent: deleted by the process, or here if it died first
        self._ids = iter(range(1, 1 << 62))

    def alive(self) -> bool:
        return self.proc is not None and self.proc.is_alive()

    def start(self) -> None:
        """Start the process (not waiting for it to be ready)."""
        if self.alive():
            return
        from ..solve.priority import spawn_context

        clear_stale_parcels()
        ctx = spawn_context()
        parent, child = ctx.Pipe(duplex=True)
        self.proc = ctx.Process(target=_worker_main, args=(child, TEAM_WORKERS), name="territory-solver",
                                daemon=False)
        self.proc.start()
        _stop_at_exit()
        child.close()
        self.conn, self.ready, self.held = parent, False, (None, None)

    def _parcels(self, *objs) -> list:
        """Each object as a parcel for the process (None stays None), remembered until the process
        has read it (it deletes the file), so that a process that died first leaves no file."""
        self.parcels = [p for p in self.parcels if os.path.exists(p.path)]
        out = [_parcel(o) for o in objs]
        self.parcels += [p for p in out if p is not None]
        return out

    def _clear_parcels(self) -> None:
        """The process is gone: delete the files it did not read."""
        for p in self.parcels:
            p.discard()
        self.parcels = []

    def stop(self) -> None:
        if self.proc is not None and self.proc.pid is not None:
            try:
                self.conn.close()
            except Exception:
                pass
            self.proc.join(5)
            if self.proc.is_alive():
                self.proc.terminate()
        self._clear_parcels()
        self.proc = self.conn = None
        self.ready = False

    def _recv(self, timeout: float):
        if not self.conn.poll(timeout):
            return None
        try:
            return self.conn.recv()
        except (EOFError, OSError) as exc:
            raise WorkerError("the solver process stopped unexpectedly") from exc

    def _started(self, say, cancel) -> bool:
        """Start the process if it is not running and wait until it is ready; False when cancelled
        meanwhile."""
        if not self.alive():
            self.stop()
            self.start()
        while not self.ready:
            say("Starting the solver", 0.0)
            if not self.alive():
                raise WorkerError("the solver process could not start")
            msg = self._recv(0.2)
            if msg and msg[0] == "ready":
                self.ready = True
            if cancel is not None and cancel.is_set():
                return False
        return True

    def hold(self, dataset, enriched, data_key: str, enriched_key: str) -> None:
        """Send the book (and its scoring) now; the next solve with the same keys sends only the
        scenario."""
        if self.alive() and self.held == (data_key, enriched_key):
            return
        if self._started(lambda phase, frac=None: None, None):
            data, enr = self._parcels(dataset, enriched)
            self.conn.send(("hold", data_key, data, enriched_key, enr))
            self.held = (data_key, enriched_key)

    def solve(self, dataset, scenario, *, enriched, data_key, enriched_key, progress, cancel):
        say = progress or (lambda phase, frac=None: None)
        if not self._started(say, cancel):
            return None
        job_id = next(self._ids)
        send_data = data_key is None or self.held[0] != data_key
        send_enr = enriched_key is None or send_data or self.held[1] != enriched_key
        data, enr = self._parcels(dataset if send_data else None, enriched if send_enr else None)
        self.conn.send(("solve", job_id, data_key, data, enriched_key, enr, scenario,
                        ("data",) * send_data + ("enriched",) * send_enr))
        self.held = (data_key, enriched_key)
        cancelled = False
        while True:
            if cancel is not None and cancel.is_set() and not cancelled:
                self.conn.send(("cancel", job_id))
                cancelled = True
            msg = self._recv(0.1)
            if msg is None:
                if not self.alive():
                    raise WorkerError("the solver process stopped unexpectedly")
                continue
            if msg[1] != job_id:
                continue
            if msg[0] == "progress":
                say(msg[2], msg[3])
            elif msg[0] == "done":
                return msg[2]
            elif msg[0] == "error":
                raise (ValueError if msg[2] else RuntimeError)(msg[3])


_POOL: list[_Worker] = []
_POOL_LOCK = threading.Lock()


def _workers() -> list[_Worker]:
    with _POOL_LOCK:
        while len(_POOL) < WORKERS:
            _POOL.append(_Worker())
        return list(_POOL)


def warm() -> None:
    """Start the solver process now (in the background), so the first Re-solve does not wait for it."""
    for w in _workers():
        if w.lock.acquire(blocking=False):
            try:
                w.start()
            finally:
                w.lock.release()


def hold_in_worker(dataset, *, enriched=None, data_key: str, enriched_key: str,
                   done: Callable | None = None) -> threading.Thread | None:
    """Send ``dataset`` and ``enriched`` to a free solver process ahead of a solve, in the background
    (a page calls it while the user reads it): the next :func:`solve_in_worker` with the same keys
    sends only the scenario (at 50k, 41 MB pickled and unpickled: about 0.4 s of the first
    Re-solve). Nothing when a process holds them already or every process is busy. ``done``: called
    after sending (e.g. to hand the pickling's memory back). Returns the thread, or None."""
    workers = _workers()
    if any(w.alive() and w.held == (data_key, enriched_key) for w in workers):
        return None

    def run():
        for w in workers:
            if not w.lock.acquire(blocking=False):
                continue
            try:
                w.hold(dataset, enriched, data_key, enriched_key)
            except Exception:  # a head start only: the solve sends the data itself
                w.held = (None, None)
            finally:
                w.lock.release()
            break
        if done is not None:
            done()

    th = threading.Thread(target=run, name="solver-send-ahead", daemon=True)
    th.start()
    return th


def solve_in_worker(dataset, scenario, *, enriched=None, progress: Callable | None = None, cancel=None,
                    data_key: str | None = None, enriched_key: str | None = None):
    """:func:`territory_core.plan.scenarios.solve_scenario` in a solver process: same arguments, same
    result (a Scenario with its assignment and report). ``data_key``/``enriched_key``: names of
    ``dataset`` and ``enriched`` (the same name, the same data): when the worker already holds
    them, they are not sent again. Waits for a free worker, saying so through ``progress``.
    Raises ValueError for bad data or settings (as solve_scenario), :class:`WorkerError` when the
    process dies; returns None when cancelled before the solve started."""
    say = progress or (lambda phase, frac=None: None)
    workers = _workers()
    while True:
        for w in workers:
            if w.lock.acquire(blocking=False):
                try:
                    res = w.solve(dataset, scenario, enriched=enriched, data_key=data_key, enriched_key=enriched_key,
                                  progress=progress, cancel=cancel)
                    if res is None and not (cancel is not None and cancel.is_set()):
                        raise WorkerError("the solver process gave no answer")
                    return res
                except WorkerError:
                    w.stop()
                    raise
                finally:
                    w.lock.release()
        if cancel is not None and cancel.is_set():
            return None
        say("Waiting for another solve to finish", 0.0)
        time.sleep(0.2)


def shutdown() -> None:
    """Stop every solver process (tests, interpreter exit)."""
    with _POOL_LOCK:
        for w in _POOL:
            w.stop()
        _POOL.clear()


_AT_EXIT = threading.Event()


def _stop_at_exit() -> None:
    """Stop the solver processes when the interpreter exits, before multiprocessing joins them (it
    waits for non-daemon processes, and a solver process waits for its pipe to close: registered
    after multiprocessing's own exit hook, which exists once a process was started, this runs first)."""
    if not _AT_EXIT.is_set():
        import atexit

        _AT_EXIT.set()
        atexit.register(shutdown)
