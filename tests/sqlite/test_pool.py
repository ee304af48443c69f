"""tuner.connect and ConnectionPool against real SQLite files: pragmas read back, bounded
borrowing, leaked transactions, broken connections, and 16 threads on a pool of 4."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest
from helpers import wal_demo_db

import tuner
from tuner.engines.sqlite import runtime as pool_module
from tuner.engines.sqlite.conn import configure
from tuner.errors import DatabaseError, TunerError
from tuner.model import CONNECTION, Setting

ROOT = Path(__file__).resolve().parents[2]
BOT = ROOT / "profiles" / "telegram-bot.yaml"
WANTED = {"synchronous": 1, "cache_size": -65536, "temp_store": 2, "mmap_size": 268435456,
          "busy_timeout": 5000, "foreign_keys": 1}


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return wal_demo_db(tmp_path / "bot.db", 300)


def pragmas(conn: sqlite3.Connection) -> dict[str, int]:
    return {name: conn.execute(f"PRAGMA {name}").fetchone()[0] for name in WANTED}


def test_connect_applies_and_reads_back_every_connection_pragma(db: Path) -> None:
    conn = tuner.connect(db, profile=BOT)
    assert pragmas(conn) == WANTED
    plain = sqlite3.connect(db)
    assert pragmas(plain) != WANTED          # they really are per connection
    conn.close()
    plain.close()


def test_connect_takes_a_loaded_profile_and_refuses_a_missing_file(db: Path,
                                                                   tmp_path: Path) -> None:
    conn = tuner.connect(str(db), profile=tuner.load_profile(BOT))
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    conn.close()
    with pytest.raises(DatabaseError, match="no such database file"):
        tuner.connect(tmp_path / "missing.db", profile=BOT)
    assert not (tmp_path / "missing.db").exists()


def test_a_pragma_that_reads_back_differently_is_an_error(db: Path, tmp_path: Path) -> None:
    # SQLite caps worker threads at SQLITE_MAX_WORKER_THREADS (8): 100 reads back lower.
    # Validation refuses it in a profile; a library caller's setting is still read back.
    profile = tmp_path / "p.yaml"
    profile.write_text("profile: p\nversion: 1\nengine: sqlite\npragmas: {threads: 100}\n")
    with pytest.raises(TunerError, match="threads: 100 is above the maximum 8"):
        tuner.connect(db, profile=profile)
    conn = sqlite3.connect(db)
    try:
        with pytest.raises(TunerError, match="pragma threads reads back"):
            configure(conn, [Setting("threads", 100, CONNECTION)], str(db))
    finally:
        conn.close()


def test_pool_sizes_come_from_the_profile_and_keywords_override(db: Path) -> None:
    pool = tuner.ConnectionPool(db, profile=BOT)
    assert (pool.size, pool.timeout) == (4, 30.0)      # runtime.pool in the bundled profile
    pool.close()
    pool = tuner.ConnectionPool(db, profile=BOT, size=2, timeout=0.5)
    assert (pool.size, pool.timeout) == (2, 0.5)
    pool.close()


def test_every_pooled_connection_has_the_pragmas(db: Path) -> None:
    with tuner.ConnectionPool(db, profile=BOT, size=2) as pool:
        with pool.reader() as a, pool.reader() as b, pool.writer() as w:
            for conn in (a, b, w):
                assert pragmas(conn) == WANTED


def test_readers_are_read_only(db: Path) -> None:
    with tuner.ConnectionPool(db, profile=BOT, size=1) as pool, pool.reader() as conn:
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            conn.execute("DELETE FROM users")


def test_exhaustion_raises_pool_timeout_saying_size_and_wait(db: Path) -> None:
    with tuner.ConnectionPool(db, profile=BOT, size=2, timeout=0.2) as pool:
        with pool.reader(), pool.reader():
            started = time.monotonic()
            with pytest.raises(tuner.PoolTimeout) as exc:
                with pool.reader():
                    pass
            assert time.monotonic() - started >= 0.19
        assert "pool size 2" in str(exc.value) and "waiting 0.2" in str(exc.value)
        with pool.writer():
            with pytest.raises(tuner.PoolTimeout):
                with pool.writer():
                    pass
        assert pool.stats()["timeouts"] == 2


def test_a_leaked_transaction_is_rolled_back(db: Path,
                                             caplog: pytest.LogCaptureFixture) -> None:
    with tuner.ConnectionPool(db, profile=BOT, size=1) as pool:
        with pool.writer() as conn:
            conn.execute("INSERT INTO users(username) VALUES ('leaky')")
            assert conn.in_transaction
        with pool.writer() as conn:
            assert not conn.in_transaction
            assert conn.execute("SELECT count(*) FROM users WHERE username = 'leaky'"
                                ).fetchone()[0] == 0
        assert pool.stats()["rolled_back"] == 1
    assert "rolled back" in caplog.text


def test_a_broken_connection_is_replaced(db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pool_module, "VALIDATE_AFTER", 0.0)
    with tuner.ConnectionPool(db, profile=BOT, size=1) as pool:
        with pool.reader() as conn:
            conn.close()                               # breaks it behind the pool's back
        with pool.reader() as conn:
            assert conn.execute("SELECT count(*) FROM users").fetchone()[0] > 0
            assert pragmas(conn) == WANTED
        with pool.writer() as conn:
            conn.close()
        with pool.writer() as conn:
            conn.execute("INSERT INTO users(username) VALUES ('after')")
            conn.commit()
        stats = pool.stats()
    assert stats["replaced"] == 2 and stats["created"] == 4


def test_close_drains_and_refuses_further_borrowing(db: Path) -> None:
    pool = tuner.ConnectionPool(db, profile=BOT, size=2)
    with pool.reader() as kept:
        pool.close()
        assert kept.execute("SELECT 1").fetchone() == (1,)   # still usable until returned
    with pytest.raises(sqlite3.ProgrammingError):
        kept.execute("SELECT 1")                               # closed once given back
    with pytest.raises(tuner.PoolClosed):
        with pool.reader():
            pass
    with pytest.raises(tuner.PoolClosed):
        with pool.writer():
            pass


def test_sixteen_threads_on_a_pool_of_four(db: Path) -> None:
    errors: list[BaseException] = []
    written: list[int] = []
    lock = threading.Lock()
    stop = time.monotonic() + 3.0
    with tuner.ConnectionPool(db, profile=BOT, size=4, timeout=30) as pool:
        def work(n: int) -> None:
            i = 0
            try:
                while time.monotonic() < stop:
                    i += 1
                    if i % 3 == 0:
                        with pool.writer() as conn:
                            cur = conn.execute(
                                "INSERT INTO messages(event_id, user_id, text, timestamp) "
                                "VALUES (1, 1, ?, ?)", (f"t{n}-{i}", i))
                            conn.commit()
                            with lock:
                                written.append(int(cur.lastrowid or 0))
                    else:
                        with pool.reader() as conn:
                            conn.execute("SELECT count(*) FROM participants WHERE event_id = 1"
                                         ).fetchone()
            except BaseException as exc:  # collected and asserted below
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(n,)) for n in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        stats = pool.stats()
    assert errors == []
    assert len(written) > 100
    conn = sqlite3.connect(db)
    present = {r[0] for r in conn.execute("SELECT id FROM messages WHERE text LIKE 't%-%'")}
    conn.close()
    assert set(written) <= present and len(present) == len(written)
    assert stats["readers_open"] <= 4 and stats["borrowed"] > len(written)
    assert stats["waits"] > 0
