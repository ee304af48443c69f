"""tuner.connect and tuner.ConnectionPool against a real PostgreSQL server: per-session settings
on every connection, readers and writers from 8 threads, exhaustion, leaked transactions,
close, and the errors a user can fix."""

from __future__ import annotations

import logging
import sys
import threading
from contextlib import ExitStack
from pathlib import Path

import pytest

import tuner
from tuner.engines.postgres.runtime import PgPool
from tuner.errors import EngineError, ProfileError, TunerError

ROOT = Path(__file__).resolve().parents[2]
SETTINGS = """\
settings:
  work_mem: 65536kB          # user context: per session; the server shows it as 64MB
  random_page_cost: 1.1
  jit: false
  log_min_duration_statement: 250   # superuser context: per session too
  shared_buffers: 256MB      # postmaster context: not per session, left to tuner apply
"""
WANTED = {"work_mem": "64MB", "random_page_cost": "1.1", "jit": "off",
          "log_min_duration_statement": "250ms"}


def write_profile(tmp_path: Path, settings: str = SETTINGS, pool: str = "{size: 4, timeout: 5}"
                  ) -> Path:
    path = tmp_path / "pg.yaml"
    path.write_text(f"profile: pg\nversion: 1\nengine: postgresql\n{settings}"
                    f"runtime:\n  pool: {pool}\n")
    return path


def session(conn) -> dict[str, str]:  # noqa: ANN001 - a psycopg connection
    return {name: conn.execute("SELECT current_setting(%s)", (name,)).fetchone()[0]
            for name in WANTED}


@pytest.fixture
def profile(tmp_path: Path) -> Path:
    return write_profile(tmp_path)


def test_every_pooled_connection_gets_the_session_settings(pg_url: str, profile: Path) -> None:
    with tuner.ConnectionPool(pg_url, profile=profile) as pool, ExitStack() as stack:
        assert isinstance(pool, PgPool) and pool.size == 4
        assert set(pool.settings) == set(WANTED)             # shared_buffers skipped
        conns = [stack.enter_context(pool.reader() if i % 2 else pool.writer())
                 for i in range(4)]
        pids = {c.execute("SELECT pg_backend_pid()").fetchone()[0] for c in conns}
        assert len(pids) == 4                                # four distinct sessions
        for conn in conns:
            assert session(conn) == WANTED
    import psycopg

    with psycopg.connect(pg_url) as plain:                   # really per session
        assert session(plain)["work_mem"] != "64MB"


def test_connect_returns_a_configured_psycopg_connection(pg_url: str, profile: Path) -> None:
    conn = tuner.connect(pg_url, profile=profile)
    try:
        assert session(conn) == WANTED
        assert conn.autocommit is False
        conn.rollback()
        assert session(conn) == WANTED                       # session-level: survives rollback
    finally:
        conn.close()
    with tuner.connect(pg_url, profile=tuner.load_profile(profile), autocommit=True) as conn:
        assert conn.autocommit is True and session(conn)["jit"] == "off"
    import psycopg

    with tuner.connect(pg_url, profile=profile, readonly=True) as conn:
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            conn.execute("CREATE TABLE nope (x int)")


def test_kwargs_override_the_profile_and_no_profile_means_no_settings(pg_url: str,
                                                                      profile: Path) -> None:
    with tuner.ConnectionPool(pg_url, profile=profile, size=2, timeout=1.5) as pool:
        assert (pool.size, pool.timeout) == (2, 1.5)
    with tuner.ConnectionPool(pg_url) as pool:
        assert (pool.size, pool.timeout, pool.settings) == (8, 30.0, {})


def test_readers_and_writers_from_eight_threads(pg_url: str, profile: Path) -> None:
    with tuner.connect(pg_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE hits (thread int, n int, PRIMARY KEY (thread, n))")
    errors: list[BaseException] = []
    seen: list[int] = []

    def work(thread: int) -> None:
        try:
            for n in range(25):
                with pool.writer() as conn:
                    conn.execute("INSERT INTO hits VALUES (%s, %s)", (thread, n))
                    conn.commit()
                with pool.reader() as conn:
                    seen.append(conn.execute("SELECT count(*) FROM hits WHERE thread = %s",
                                             (thread,)).fetchone()[0])
                    assert conn.execute("SHOW work_mem").fetchone()[0] == "64MB"
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    with tuner.ConnectionPool(pg_url, profile=profile) as pool:
        threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        stats = pool.stats()
    assert errors == []
    assert len(seen) == 200 and min(seen) >= 1              # each saw its own commits
    with tuner.connect(pg_url) as conn:
        rows = set(conn.execute("SELECT thread, n FROM hits").fetchall())
    assert rows == {(t, n) for t in range(8) for n in range(25)}
    assert stats["borrowed"] == 400 and 1 <= stats["created"] <= 4
    assert stats["rolled_back"] == 0 and stats["timeouts"] == 0


def test_an_exhausted_pool_raises_pool_timeout_with_size_and_wait(pg_url: str,
                                                                  profile: Path) -> None:
    with tuner.ConnectionPool(pg_url, profile=profile, size=2, timeout=0.3) as pool:
        with pool.writer(), pool.reader():
            with pytest.raises(tuner.PoolTimeout) as exc:
                with pool.reader():
                    pass
        message = str(exc.value)
        assert "pool size 2" in message and "after waiting 0.3" in message
        assert "\n" not in message
        with pool.reader() as conn:                          # free again once given back
            assert conn.execute("SELECT 1").fetchone() == (1,)
        assert pool.stats()["timeouts"] == 1


def test_a_leaked_writer_transaction_is_rolled_back_and_logged(
        pg_url: str, profile: Path, caplog: pytest.LogCaptureFixture) -> None:
    with tuner.connect(pg_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE t (x int)")
    with tuner.ConnectionPool(pg_url, profile=profile, size=1) as pool:
        with caplog.at_level(logging.WARNING, logger="tuner.runtime"):
            with pool.writer() as conn:
                conn.execute("INSERT INTO t VALUES (1)")     # never committed
            with pool.reader() as conn:                      # a reader's open SELECT is normal
                assert conn.execute("SELECT count(*) FROM t").fetchone() == (0,)
        warnings = [r for r in caplog.records if "rolled back" in r.getMessage()]
        assert len(warnings) == 1
        with pool.writer() as conn:
            assert conn.info.transaction_status == 0         # IDLE: the next borrower is clean
            assert conn.execute("SELECT count(*) FROM t").fetchone() == (0,)
            conn.commit()
        assert pool.stats()["rolled_back"] == 1


def test_a_reader_cannot_write(pg_url: str, profile: Path) -> None:
    import psycopg

    with tuner.ConnectionPool(pg_url, profile=profile, size=1) as pool:
        with pool.reader() as conn, pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            conn.execute("CREATE TABLE nope (x int)")
        with pool.writer() as conn:                          # same connection, writable again
            conn.execute("CREATE TABLE yes (x int)")
            conn.commit()


def test_close_refuses_new_borrowers_and_closes_lent_connections_on_return(
        pg_url: str, profile: Path) -> None:
    pool = tuner.ConnectionPool(pg_url, profile=profile, size=2)
    with pool.writer() as lent:
        pool.close()
        assert lent.execute("SELECT 1").fetchone() == (1,)  # still usable until given back
        with pytest.raises(tuner.PoolClosed, match="closed"):
            with pool.reader():
                pass
    assert lent.closed
    pool.close()                                             # a second close is harmless


def test_user_errors_are_one_line(pg_url: str, tmp_path: Path) -> None:
    unknown = write_profile(tmp_path, "settings:\n  work_mem: 8MB\n  no_such_thing: 1\n")
    with pytest.raises(ProfileError) as exc:
        tuner.ConnectionPool(pg_url, profile=unknown)
    assert "pg.yaml:6: settings.no_such_thing: unknown PostgreSQL setting" in str(exc.value)
    bad = write_profile(tmp_path, "settings:\n  work_mem: lots\n")
    for open_it in (tuner.ConnectionPool, tuner.connect):
        with pytest.raises(TunerError, match='work_mem') as exc:  # caught by the profile
            open_it(pg_url, profile=bad)
        assert "\n" not in str(exc.value)
    with pytest.raises(TunerError, match="is for engine sqlite, not postgresql"):
        tuner.ConnectionPool(pg_url, profile=ROOT / "profiles" / "telegram-bot.yaml")
    with pytest.raises(TunerError, match="at least 1"):
        tuner.ConnectionPool(pg_url, size=0)


def test_without_psycopg_a_url_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "psycopg", None)        # `import psycopg` now fails
    for open_it in (tuner.ConnectionPool, tuner.connect):
        with pytest.raises(EngineError) as exc:
            open_it("postgresql://postgres@127.0.0.1:5432/test")
        assert "pip install 'psycopg[binary]>=3.1' 'psycopg-pool>=3.2'" in str(exc.value)
        assert "\n" not in str(exc.value)


def test_the_batch_writer_refuses_postgresql_in_one_line(pg_url: str, profile: Path) -> None:
    with tuner.ConnectionPool(pg_url, profile=profile, size=1) as pool:
        with pytest.raises(TunerError, match="pool= must be an SQLite pool, not PgPool"):
            tuner.BatchWriter(pool=pool)
    with pytest.raises(TunerError, match="is a PostgreSQL database; the batch writer is SQLite"):
        tuner.BatchWriter(pg_url)
