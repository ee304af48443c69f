"""PgPool and connect for PostgreSQL: psycopg_pool connections with the profile's
per-session settings, lent as readers and writers.

The pool itself is psycopg_pool's (https://www.psycopg.org/psycopg3/docs/api/pool.html); this
module adds what tuner's runtime promises on top of it, the same as the SQLite pool: the
profile's per-session settings set and read back on every new connection (psycopg_pool's
`configure` hook), sizes from `runtime.pool`, tuner's PoolTimeout and PoolClosed, a leaked
transaction rolled back and logged, and a stats snapshot.

PostgreSQL has no single-writer lock (MVCC: writers block only on the rows they share), so
unlike SQLite there is no dedicated writer connection: readers and writers share `size`
connections. `reader()` lends one in read-only mode, so a write through it fails.

With a capture Recorder, each connection's cursors report to it once the session settings are
set (tuner.engines.postgres.capture); the pool's close() flushes it.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING, Any

from tuner.capture.recorder import Recorder
from tuner.engines.postgres.capture import capture
from tuner.engines.postgres.conn import (
    INSTALL_HINT,
    apply_session,
    driver,
    redact,
    session_settings,
)
from tuner.engines.postgres.conn import connect as pg_connect
from tuner.errors import DatabaseError, EngineError, PoolClosed, PoolTimeout, TunerError
from tuner.model import Profile

if TYPE_CHECKING:
    import psycopg

log = logging.getLogger("tuner.runtime")


def pool_driver() -> Any:
    """The psycopg_pool module, or EngineError saying how to install it."""
    driver()  # psycopg itself first: its error names the extra
    try:
        import psycopg_pool
    except ImportError as exc:  # pragma: no cover - exercised in an env without the extra
        raise EngineError(f"the PostgreSQL pool needs psycopg_pool: {INSTALL_HINT}") from exc
    return psycopg_pool


def connect(url: str, profile: Profile | None = None, *, readonly: bool = False,
            recorder: Recorder | None = None, **kwargs: Any) -> psycopg.Connection:
    """Open a psycopg connection to `url` with the profile's per-session settings (contexts
    `user` and `superuser`) set and read back. `readonly=True` makes its transactions
    read-only. Not autocommit unless `autocommit=True` is passed, like psycopg.connect; other
    keyword arguments go to psycopg.connect. With a `recorder`, the statements run through it
    (not the settings) are reported to it."""
    loaded = profile
    where = redact(url)
    conn = pg_connect(url, autocommit=kwargs.pop("autocommit", False), **kwargs)
    try:
        apply_session(conn, session_settings(conn, loaded, where), where)
    except BaseException:
        conn.close()
        raise
    conn.read_only = readonly
    capture(conn, recorder)
    return conn


class _Lease:
    """The context manager `reader()`/`writer()` return: borrow on enter, give back on exit."""

    __slots__ = ("conn", "pool", "read_only")

    def __init__(self, pool: PgPool, read_only: bool):
        self.pool = pool
        self.read_only = read_only
        self.conn: psycopg.Connection | None = None

    def __enter__(self) -> psycopg.Connection:
        self.conn = self.pool._take(read_only=self.read_only)
        return self.conn

    def __exit__(self, *exc: object) -> None:
        if self.conn is not None:
            self.pool._give_back(self.conn, read_only=self.read_only)
            self.conn = None


class PgPool:
    """A thread-safe, bounded pool for one PostgreSQL database, on psycopg_pool.

    `size` (the most connections open at once) and `timeout` (seconds to wait for one) come
    from the profile's `runtime.pool`; keyword arguments override."""

    def __init__(self, url: str, profile: Profile | None = None, *, size: int | None = None,
                 timeout: float | None = None, recorder: Recorder | None = None):
        psycopg_pool = pool_driver()
        self.url = url
        self.recorder = recorder
        self.where = redact(url)
        self.profile = profile
        options = self.profile.runtime.get("pool", {}) if self.profile else {}
        self.size = int(size if size is not None else options.get("size", 8))
        self.timeout = float(timeout if timeout is not None else options.get("timeout", 30))
        if self.size < 1:
            raise TunerError(f"pool size must be at least 1, got {self.size}")
        # Look the settings' contexts up once, and set them once here, so that a wrong value,
        # a missing privilege or an unreachable server fails now, in the caller's thread,
        # rather than in the pool's background workers (which only log and retry).
        with pg_connect(url) as conn:
            #: The per-session settings every connection gets: name -> value as declared.
            self.settings = session_settings(conn, self.profile, self.where)
            apply_session(conn, self.settings, self.where)
        self._lock = threading.Lock()
        self._rolled_back = 0
        self._pool = psycopg_pool.ConnectionPool(
            url, min_size=1, max_size=self.size, timeout=self.timeout, open=False,
            configure=self._configure, name=self.where, kwargs={"connect_timeout": 10})
        try:
            self._pool.open(wait=True, timeout=self.timeout)
        except psycopg_pool.PoolTimeout:
            self._pool.close()
            raise DatabaseError(self.where, f"the pool opened no connection within "
                                            f"{self.timeout:g} s") from None

    # -- borrowing ------------------------------------------------------------------------
    def reader(self) -> _Lease:
        """Lend a connection whose transactions are read-only (`with pool.reader() as
        conn:`); blocks up to the timeout, then raises PoolTimeout. Its transaction is ended
        when it comes back: nothing to commit, and no snapshot held open while idle."""
        return _Lease(self, True)

    def writer(self) -> _Lease:
        """Lend a connection for writing (`with pool.writer() as conn:`); blocks up to the
        timeout. Commit or roll back before leaving: an open transaction is rolled back and
        logged."""
        return _Lease(self, False)

    def _configure(self, conn: psycopg.Connection) -> None:
        """psycopg_pool's configure hook: runs once on every new connection."""
        apply_session(conn, self.settings, self.where)
        capture(conn, self.recorder)

    def _take(self, *, read_only: bool) -> psycopg.Connection:
        psycopg_pool = pool_driver()
        started = time.monotonic()
        try:
            conn = self._pool.getconn(timeout=self.timeout)
        except psycopg_pool.PoolClosed:
            raise PoolClosed(f"{self.where}: the connection pool is closed") from None
        except psycopg_pool.PoolTimeout:
            waited = time.monotonic() - started
            raise PoolTimeout(f"{self.where}: no connection free after waiting {waited:.2f} s "
                              f"(pool size {self.size}, timeout {self.timeout:g} s)") from None
        # The previous borrower may have changed the modes; each lease starts from the same.
        conn.autocommit = False
        conn.read_only = read_only
        return conn

    def _give_back(self, conn: psycopg.Connection, *, read_only: bool) -> None:
        psycopg = driver()
        status = conn.info.transaction_status
        if status in (psycopg.pq.TransactionStatus.INTRANS,
                      psycopg.pq.TransactionStatus.INERROR):
            # psycopg opens a transaction on the first statement, SELECT included. A reader's
            # is read-only, so ending it loses nothing; a writer's may hold uncommitted rows.
            try:
                conn.rollback()
            except psycopg.Error:
                pass  # psycopg_pool discards a connection that is no longer usable
            if not read_only:
                with self._lock:
                    self._rolled_back += 1
                log.warning("tuner pool: a connection to %s came back with an open "
                            "transaction; it was rolled back", self.where)
        self._pool.putconn(conn)

    # -- the rest -------------------------------------------------------------------------
    def stats(self) -> dict[str, Any]:
        """A snapshot in the SQLite pool's terms: borrowed, waits, wait_time (s), created,
        replaced, rolled_back, timeouts, and the connections open and idle now."""
        s = self._pool.get_stats()
        with self._lock:
            rolled_back = self._rolled_back
        return {"borrowed": s.get("requests_num", 0), "waits": s.get("requests_queued", 0),
                "wait_time": round(s.get("requests_wait_ms", 0) / 1000, 6),
                "created": s.get("connections_num", 0),
                "replaced": s.get("returns_bad", 0) + s.get("connections_lost", 0),
                "rolled_back": rolled_back, "timeouts": s.get("requests_errors", 0),
                "connections_open": s.get("pool_size", 0),
                "connections_idle": s.get("pool_available", 0)}

    def close(self) -> None:
        """Close the idle connections now and borrowed ones when they come back; borrowing
        afterwards raises PoolClosed. A capture's statements so far are flushed to its file."""
        self._pool.close()
        if self.recorder is not None:
            self.recorder.flush_quietly()

    def __enter__(self) -> PgPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
