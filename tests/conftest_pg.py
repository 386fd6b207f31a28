"""PostgreSQL for tests. Import the fixtures into a test module:

    from conftest_pg import pg_server, pg_url  # noqa: F401

``pg_server`` (session): the admin URL of a PostgreSQL server. ``TERRITORY_TEST_PG_URL`` when set
(e.g. ``postgresql+psycopg://user:pw@host:5432/postgres``); else a throwaway local server started
from ``/usr/lib/postgresql/*/bin`` (initdb + pg_ctl in a temp dir on a free port; as root through
``runuser -u postgres``), stopped and deleted at the end. Skips with the reason when neither works.
``pg_url`` (function): a fresh, empty database on that server for one test (dropped afterwards).
"""
from __future__ import annotations

import atexit
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid

import pytest

ENV = "TERRITORY_TEST_PG_URL"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _bin_dir() -> str | None:
    cands = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]) if p.split("/")[4].isdigit() else 0)
    if cands:
        return os.path.dirname(cands[-1])
    initdb = shutil.which("initdb")
    return os.path.dirname(initdb) if initdb else None


def _start_local():
    """(admin_url, stop) for a fresh local server, or raise RuntimeError(reason)."""
    bindir = _bin_dir()
    if not bindir:
        raise RuntimeError("no PostgreSQL server binaries (initdb) under /usr/lib/postgresql/*/bin; "
                           f"install the Debian 'postgresql' package or set {ENV}")
    prefix: list[str] = []
    if os.geteuid() == 0:
        runuser = shutil.which("runuser")
        try:
            import pwd

            pw = pwd.getpwnam("postgres")
        except KeyError:
            raise RuntimeError("running as root but there is no 'postgres' user to run the server as") from None
        if not runuser:
            raise RuntimeError("running as root and 'runuser' is missing, so the server cannot drop privileges")
        prefix = [runuser, "-u", "postgres", "--"]
    base = tempfile.mkdtemp(prefix="territory-pg-")
    data, sock, log = os.path.join(base, "data"), os.path.join(base, "sock"), os.path.join(base, "server.log")
    os.makedirs(sock)
    if prefix:
        for p in (base, sock):
            os.chown(p, pw.pw_uid, pw.pw_gid)
    port = _free_port()

    def run(*cmd, timeout=120):
        res = subprocess.run(prefix + list(cmd), capture_output=True, text=True, timeout=timeout)
        if res.returncode != 0:
            raise RuntimeError(f"{os.path.basename(cmd[0])} failed: {(res.stderr or res.stdout).strip()[-400:]}")
        return res

    try:
        run(os.path.join(bindir, "initdb"), "-D", data, "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8",
            "--locale=C")
        run(os.path.join(bindir, "pg_ctl"), "-D", data, "-l", log, "-w", "-t", "60", "-o",
            f"-p {port} -k {sock} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off "
            "-c full_page_writes=off -c max_connections=40", "start")
    except (RuntimeError, subprocess.TimeoutExpired, OSError) as exc:
        shutil.rmtree(base, ignore_errors=True)
        raise RuntimeError(f"could not start a local PostgreSQL ({exc})") from None

    def stop():
        if not os.path.isdir(base):
            return  # already stopped
        try:
            subprocess.run(prefix + [os.path.join(bindir, "pg_ctl"), "-D", data, "-m", "immediate", "-w", "stop"],
                           capture_output=True, timeout=60)
        finally:
            shutil.rmtree(base, ignore_errors=True)

    atexit.register(stop)  # also when pytest is interrupted before the fixture's teardown
    return f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres", stop


@pytest.fixture(scope="session")
def pg_server():
    url = os.environ.get(ENV, "").strip()
    if url:
        yield url
        return
    try:
        url, stop = _start_local()
    except RuntimeError as exc:
        pytest.skip(f"PostgreSQL tests skipped: {exc}")
    try:
        yield url
    finally:
        stop()


@pytest.fixture
def pg_url(pg_server):
    """A fresh empty database for one test; falls back to the server's own database (tables
    dropped afterwards) when the user may not create databases."""
    import sqlalchemy as sa
    from sqlalchemy.engine import make_url

    admin = sa.create_engine(pg_server, isolation_level="AUTOCOMMIT")
    name = f"territory_test_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as c:
            c.exec_driver_sql(f'CREATE DATABASE "{name}"')
        created = True
    except Exception:
        created = False
    url = make_url(pg_server).set(database=name).render_as_string(hide_password=False) if created else pg_server
    try:
        yield url
    finally:
        try:
            if created:
                with admin.connect() as c:
                    c.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            else:
                with admin.connect() as c:
                    for t in ("scenario_version", "scenario", "territory_schema_version"):
                        c.exec_driver_sql(f'DROP TABLE IF EXISTS "{t}" CASCADE')
        finally:
            admin.dispose()
