"""Shared fixtures."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

# The shared helpers (helpers.py, pg_helpers.py, pg_plans.py) sit beside this file, above the
# groups' folders: make them importable from every group.
sys.path.insert(0, str(Path(__file__).resolve().parent))

HOLDER = """
import sqlite3, sys
con = sqlite3.connect(sys.argv[1], isolation_level=None)
con.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
sys.stdin.read()  # hold the write lock until the test closes our stdin
con.execute("ROLLBACK")
"""


@pytest.fixture
def write_lock() -> Iterator[Callable[[Path], None]]:
    """`write_lock(path)` makes another process hold the database's write lock until the
    test ends."""
    procs: list[subprocess.Popen] = []

    def hold(path: Path) -> None:
        proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(path)], text=True,
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        procs.append(proc)
        assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"

    yield hold
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait(timeout=30)


# --- PostgreSQL -----------------------------------------------------------------------------
# The PostgreSQL tests run against a real server: TUNER_TEST_PG_URL, or by default the local
# one (127.0.0.1:5432, trust auth, user postgres, database test). Each test gets a scratch
# database of its own, dropped afterwards. Where no server answers the tests skip, saying how
# to start one; .ci/run sets TUNER_REQUIRE_POSTGRES=1, which turns that skip into a failure.

PG_ADMIN_URL = os.environ.get("TUNER_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
PG_HINT = ("no PostgreSQL server at {url} ({why}); start one with `pg_ctlcluster "
           "--skip-systemctl-redirect $(ls /etc/postgresql) main start`, or point "
           "TUNER_TEST_PG_URL at a server where the user may CREATE DATABASE")


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + name))


@pytest.fixture(scope="session")
def pg_admin_url() -> str:
    """A URL to a reachable PostgreSQL server's maintenance database, or skip (fail in CI)."""
    try:
        import psycopg

        with psycopg.connect(PG_ADMIN_URL, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except Exception as exc:  # noqa: BLE001 - any failure means "no usable server"
        why = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        message = PG_HINT.format(url=PG_ADMIN_URL, why=why)
        if os.environ.get("TUNER_REQUIRE_POSTGRES") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return PG_ADMIN_URL


@contextlib.contextmanager
def scratch_database(admin_url: str) -> Iterator[str]:
    """A fresh, empty scratch database; dropped (with its sessions) on leaving."""
    import psycopg
    from psycopg import sql

    name = f"tuner_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield _with_database(admin_url, name)
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
                         .format(sql.Identifier(name)))


@pytest.fixture
def pg_url(pg_admin_url: str) -> Iterator[str]:
    """A fresh, empty scratch database for one test; dropped (with its sessions) afterwards."""
    with scratch_database(pg_admin_url) as url:
        yield url


@pytest.fixture
def pg_url2(pg_admin_url: str) -> Iterator[str]:
    """A second scratch database, for tests over several databases."""
    with scratch_database(pg_admin_url) as url:
        yield url


# HypoPG (hypothetical indexes) is what `tuner advise` uses on PostgreSQL. Where the server
# lacks it the advise tests skip with the install hint; .ci/run installs it and sets
# TUNER_REQUIRE_HYPOPG=1, which turns that skip into a failure.
HYPOPG_HINT = ("the PostgreSQL server at {url} has no hypopg extension; install it with "
               "`apt-get install postgresql-$(ls /etc/postgresql | head -1)-hypopg`")


@pytest.fixture(scope="session")
def hypopg_available(pg_admin_url: str) -> bool:
    """True when the server offers hypopg; otherwise skip (fail in CI)."""
    import psycopg

    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        found = conn.execute("SELECT count(*) FROM pg_available_extensions "
                             "WHERE name = 'hypopg'").fetchone()[0]
    if not found:
        message = HYPOPG_HINT.format(url=pg_admin_url)
        if os.environ.get("TUNER_REQUIRE_HYPOPG") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return True


@pytest.fixture
def pg_hypopg_url(pg_url: str, hypopg_available: bool) -> str:
    """A fresh scratch database with the hypopg extension created in it."""
    import psycopg

    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION hypopg")
    return pg_url



def _auto_conf_value(conn, name: str) -> str | None:
    """`name`'s line in postgresql.auto.conf (what ALTER SYSTEM wrote), or None."""
    row = conn.execute("SELECT setting FROM pg_file_settings WHERE name = %s AND sourcefile "
                       "LIKE '%%postgresql.auto.conf' ORDER BY seqno DESC LIMIT 1",
                       [name]).fetchone()
    return row[0] if row else None


@pytest.fixture
def keep_auto_conf(pg_admin_url: str) -> Iterator[Callable[[str], None]]:
    """`keep(name)` before a test writes `name` with ALTER SYSTEM: afterwards, however the test
    ends, postgresql.auto.conf gets back the line it had for it (or none), and the server
    reloads. The file is shared by everyone using the server."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        before: dict[str, str | None] = {}

        def keep(name: str) -> None:
            before.setdefault(name, _auto_conf_value(conn, name))

        try:
            yield keep
        finally:
            for name, value in before.items():
                if value is None:
                    conn.execute(sql.SQL("ALTER SYSTEM RESET {}").format(sql.Identifier(name)))
                else:
                    conn.execute(sql.SQL("ALTER SYSTEM SET {} = {}").format(
                        sql.Identifier(name), sql.Literal(value)))
            conn.execute("SELECT pg_reload_conf()")


def _wait_pending(url: str, name: str) -> None:
    """Until new sessions see `name` as pending restart (the postmaster reloads on SIGHUP
    asynchronously)."""
    import time

    import psycopg

    for _ in range(100):
        with psycopg.connect(url) as conn:
            if conn.execute("SELECT pending_restart FROM pg_settings WHERE name = %s",
                            [name]).fetchone()[0]:
                return
        time.sleep(0.05)
    raise AssertionError(f"{name} did not become pending restart after pg_reload_conf()")


@pytest.fixture
def pending_shared_buffers(pg_admin_url: str, keep_auto_conf: Callable[[str], None]) -> str:
    """shared_buffers written with ALTER SYSTEM but waiting for a restart (what `tuner apply
    --server-settings` of the bundled profile leaves behind), as on a server where someone ran
    it before the tests. Returns the written value; keep_auto_conf puts the file back."""
    import psycopg
    from psycopg import sql

    keep_auto_conf("shared_buffers")
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        running = conn.execute("SELECT current_setting('shared_buffers')").fetchone()[0]
        value = "130MB" if running == "129MB" else "129MB"
        conn.execute(sql.SQL("ALTER SYSTEM SET shared_buffers = {}").format(sql.Literal(value)))
        conn.execute("SELECT pg_reload_conf()")
    _wait_pending(pg_admin_url, "shared_buffers")
    return value
