"""ConnectionPool: N read-only readers and one serialized writer, sized by the profile.

SQLite in WAL mode runs many readers beside one writer (https://www.sqlite.org/wal.html). The
pool is built around that: `reader()` lends one of `size` read-only connections, `writer()`
lends the single writer connection to one thread at a time, so the application's own threads
never fight over the write lock and never see SQLITE_BUSY storms from each other. Every
connection gets the profile's per-connection pragmas, read back (see tuner.engines.sqlite.conn).
With a `recorder` (capture), every connection reports the statements run through it to that
one Recorder (tuner.engines.sqlite.capture), which `close()` flushes.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from tuner.capture.recorder import Recorder
from tuner.engines.sqlite.conn import connect
from tuner.errors import PoolClosed, PoolTimeout, TunerError
from tuner.model import Profile

log = logging.getLogger("tuner.runtime")

#: A connection idle longer than this is checked with a cheap query before it is lent.
VALIDATE_AFTER = 1.0


class _Slot:
    """A pooled connection and when it was last given back."""

    __slots__ = ("conn", "idle_since")

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn
        self.idle_since = time.monotonic()


class _Lease:
    """The context manager `reader()`/`writer()` return: borrow on enter, give back on exit.
    A small class rather than @contextmanager keeps the per-query overhead low."""

    __slots__ = ("pool", "reader", "slot")

    def __init__(self, pool: ConnectionPool, reader: bool):
        self.pool = pool
        self.reader = reader
        self.slot: _Slot | None = None

    def __enter__(self) -> sqlite3.Connection:
        self.slot = self.pool._take_reader() if self.reader else self.pool._take_writer()
        return self.slot.conn

    def __exit__(self, *exc: object) -> None:
        if self.slot is not None:
            self.pool._give_back(self.slot, reader=self.reader)
            self.slot = None


class ConnectionPool:
    """A thread-safe, bounded pool for one SQLite database.

    `size` counts the readers (opened read-only); there is always one writer on top.
    `size` and `timeout` come from the profile's `runtime.pool`; keyword arguments override.
    `recorder`: the capture Recorder every connection reports to (None: no capture)."""

    def __init__(self, path: str | Path, profile: Profile | None = None, *,
                 size: int | None = None, timeout: float | None = None,
                 recorder: Recorder | None = None):
        self.path = Path(path)
        self.profile = profile
        self.recorder = recorder
        settings = (self.profile.runtime.get("pool", {}) if self.profile else {})
        self.size = int(size if size is not None else settings.get("size", 8))
        self.timeout = float(timeout if timeout is not None else settings.get("timeout", 30))
        if self.size < 1:
            raise TunerError(f"pool size must be at least 1, got {self.size}")
        self._lock = threading.Lock()        # the fast path takes the bare lock (C-level)
        self._cond = threading.Condition(self._lock)
        self._idle: list[_Slot] = []
        self._open_readers = 0
        self._waiting = 0
        self._writer: _Slot | None = None
        self._writer_busy = False
        self._closed = False
        self._borrowed = 0
        self._counts = {"waits": 0, "wait_time": 0.0, "created": 0, "replaced": 0,
                        "rolled_back": 0, "timeouts": 0}
        # Fail at construction, not at first use, if the database or profile is wrong.
        self._writer = _Slot(self._open(readonly=False))

    # -- borrowing ------------------------------------------------------------------------
    def reader(self) -> _Lease:
        """Lend one of the read-only connections (`with pool.reader() as conn:`); blocks up to
        the timeout, then raises PoolTimeout."""
        return _Lease(self, True)

    def writer(self) -> _Lease:
        """Lend the single writer connection to this thread alone (`with pool.writer() as
        conn:`); blocks up to the timeout. Commit or roll back before leaving: an open
        transaction is rolled back and logged."""
        return _Lease(self, False)

    def _take_reader(self) -> _Slot:
        with self._lock:
            if self._closed:
                raise PoolClosed(f"{self.path}: the connection pool is closed")
            if not self._idle and self._open_readers >= self.size:
                self._wait(lambda: bool(self._idle) or self._open_readers < self.size)
            self._borrowed += 1
            if self._idle:
                slot = self._idle.pop()
            else:
                self._open_readers += 1
                slot = None
        if slot is None:
            try:
                return _Slot(self._open(readonly=True))
            except BaseException:
                with self._cond:
                    self._open_readers -= 1
                    self._cond.notify()
                raise
        if time.monotonic() - slot.idle_since >= VALIDATE_AFTER:
            return self._validated(slot, readonly=True)
        return slot

    def _take_writer(self) -> _Slot:
        with self._lock:
            if self._closed:
                raise PoolClosed(f"{self.path}: the connection pool is closed")
            if self._writer_busy:
                self._wait(lambda: not self._writer_busy)
            self._writer_busy = True
            self._borrowed += 1
            slot = self._writer
        assert slot is not None
        if time.monotonic() - slot.idle_since < VALIDATE_AFTER:
            return slot
        try:
            slot = self._validated(slot, readonly=False)
        except BaseException:
            with self._cond:
                self._writer_busy = False
                self._cond.notify_all()
            raise
        self._writer = slot
        return slot

    def _wait(self, ready: Any) -> None:
        """Wait (holding the condition) until `ready()`; PoolTimeout after the timeout."""
        started = time.monotonic()
        self._counts["waits"] += 1
        self._waiting += 1
        try:
            ok = self._cond.wait_for(lambda: self._closed or ready(), timeout=self.timeout)
        finally:
            self._waiting -= 1
        waited = time.monotonic() - started
        self._counts["wait_time"] += waited
        if self._closed:
            raise PoolClosed(f"{self.path}: the connection pool is closed")
        if not ok:
            self._counts["timeouts"] += 1
            raise PoolTimeout(f"{self.path}: no connection free after waiting {waited:.2f} s "
                              f"(pool size {self.size} readers + 1 writer, timeout "
                              f"{self.timeout:g} s)")

    def _validated(self, slot: _Slot, *, readonly: bool) -> _Slot:
        """A cheap check for a connection idle a while; a broken one is replaced."""
        try:
            # the base class's execute: the pool's own check is not the application's statement
            sqlite3.Connection.execute(slot.conn, "SELECT 1").fetchone()
            return slot
        except (sqlite3.ProgrammingError, sqlite3.DatabaseError) as exc:
            log.warning("tuner pool: replacing a broken connection to %s: %s", self.path, exc)
            try:
                slot.conn.close()
            except sqlite3.Error:
                pass
            with self._cond:
                self._counts["replaced"] += 1
            return _Slot(self._open(readonly=readonly))

    def _give_back(self, slot: _Slot, *, reader: bool) -> None:
        conn = slot.conn
        try:
            if conn.in_transaction:
                conn.rollback()
                with self._lock:
                    self._counts["rolled_back"] += 1
                log.warning("tuner pool: a connection to %s came back with an open "
                            "transaction; it was rolled back", self.path)
        except sqlite3.Error:
            pass  # a broken connection is replaced when next borrowed
        slot.idle_since = time.monotonic()
        with self._lock:
            if reader:
                if self._closed:
                    self._open_readers -= 1
                    conn.close()
                else:
                    self._idle.append(slot)
            else:
                self._writer_busy = False
                if self._closed:
                    conn.close()
            if self._waiting:
                self._cond.notify_all()

    def _open(self, *, readonly: bool) -> sqlite3.Connection:
        conn = connect(self.path, self.profile, readonly=readonly, check_same_thread=False,
                       recorder=self.recorder)
        with self._cond:
            self._counts["created"] += 1
        return conn

    # -- the rest -------------------------------------------------------------------------
    def stats(self) -> dict[str, Any]:
        """A snapshot: borrowed, waits, wait_time (s), created, replaced, rolled_back,
        timeouts, and the readers open and idle now."""
        with self._cond:
            snap: dict[str, Any] = {"borrowed": self._borrowed, **self._counts}
            snap["wait_time"] = round(snap["wait_time"], 6)
            snap["readers_open"] = self._open_readers
            snap["readers_idle"] = len(self._idle)
            snap["writer_busy"] = self._writer_busy
            return snap

    def close(self) -> None:
        """Close the idle connections now and borrowed ones when they come back; borrowing
        afterwards raises PoolClosed. A capture's statements so far are flushed to its file."""
        with self._cond:
            if self._closed:
                return
            self._closed = True
            idle, self._idle = self._idle, []
            self._open_readers -= len(idle)
            writer = None if self._writer_busy else self._writer
            self._cond.notify_all()
        for slot in idle:
            slot.conn.close()
        if writer is not None:
            writer.conn.close()
        if self.recorder is not None:
            self.recorder.flush_quietly()

    def __enter__(self) -> ConnectionPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
