"""BatchWriter: owns an application's writes to one SQLite database, made by ONE thread in
batched transactions.

Callers submit operations (insert, insert_many, upsert, update, delete) to a bounded queue and
get a Ticket at once. The writer thread drains the queue in order, runs each run of consecutive
operations with the same SQL through `executemany`, and commits one `BEGIN IMMEDIATE ... COMMIT`
per batch (`runtime.batch.size` rows, or what arrived within `flush_interval` seconds). Only
then are the batch's tickets resolved. A failed batch is rolled back and retried row by row,
each row under a SAVEPOINT: good rows commit, each bad row's ticket raises its SQLite error.

Durability: a ticket resolves after COMMIT returned. With `synchronous=normal` in WAL mode an
acknowledged row survives a crash of the process (kill -9) but not a power loss or an OS crash;
`synchronous: full` buys that, for an fsync per batch
(https://www.sqlite.org/pragma.html#pragma_synchronous).

Names are checked against the live schema (pragma_table_xinfo) at the call and each statement
shape is compiled once (EXPLAIN): a typo or a hostile name raises there, never later.

Capture (`capture=PATH`, the pool's capture, or $TUNER_CAPTURE): each statement of a batch is
one record of `calls=n` (its rows), timed around its executemany; the writer's own BEGIN,
SAVEPOINT and COMMIT, and its schema checks, are not recorded. close() flushes the capture.
"""

from __future__ import annotations

import atexit
import logging
import sqlite3
import threading
import time
import weakref
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from contextlib import nullcontext, suppress
from operator import itemgetter
from pathlib import Path
from typing import Any

from tuner.capture.recorder import CaptureArg, Recorder, recorder_for
from tuner.engines.lookup import engine_for, engine_named
from tuner.errors import PoolTimeout, TunerError
from tuner.render import render
from tuner.runtime.targets import ProfileLike, connect, resolve_profile
from tuner.runtime.tickets import (
    BatchError,
    Failure,
    ManyTicket,
    QueueFull,
    Rejected,
    Taken,
    Ticket,
    UnknownName,
    WriterClosed,
    WriterFailed,
    _Many,
    _Run,
)

BEGIN, SAVEPOINT = "BEGIN IMMEDIATE", "SAVEPOINT tuner_row"
RELEASE, ROLLBACK_TO = "RELEASE tuner_row", "ROLLBACK TO tuner_row"
_now = time.monotonic
_perf = time.perf_counter
# The base class's methods: the writer's statements are recorded per batch, by the writer, and
# its transaction control not at all, even on a pool's capturing connection.
_execute = sqlite3.Connection.execute
_executemany = sqlite3.Connection.executemany
log = logging.getLogger("tuner.runtime")


class BatchWriter:
    """The one writer of a database: queued operations, batched transactions, tickets.

    `pool=`: write through `pool.writer()`, held for one batch at a time, so the application
    never has two writers. Otherwise open a connection with `connect(path, profile)`. Batch
    size, flush interval and queue size (rows; default 10 x batch size) come from the
    profile's `runtime.batch`; keyword arguments override. A full queue blocks a submit up to
    `submit_timeout` seconds, then raises QueueFull: nothing is ever dropped silently.
    `capture=PATH` records each batch's statements (default: the pool's capture, else
    $TUNER_CAPTURE; False: off), `sample=` of the batches.
    """

    def __init__(self, path: str | Path | None = None, profile: ProfileLike = None, *,
                 pool: Any = None, batch_size: int | None = None,
                 flush_interval: float | None = None, queue_size: int | None = None,
                 submit_timeout: float = 30.0, capture: CaptureArg = None,
                 sample: float = 1.0):
        if pool is not None:
            if path is not None or profile is not None:
                raise BatchError("BatchWriter: give pool= or path/profile, not both")
            pool_type: Any = engine_named("sqlite").pool_type
            if not isinstance(pool, pool_type):
                raise BatchError(f"BatchWriter: pool= must be an SQLite pool, not "
                                 f"{type(pool).__name__}; on PostgreSQL write through "
                                 "pool.writer() (no batch writer yet)")
            path, profile = pool.path, pool.profile
        if path is None:
            raise BatchError("BatchWriter: a database path or pool= is required")
        engine = engine_for(str(path))
        if not engine.batch_writes:
            raise BatchError(f"BatchWriter: {engine.display(str(path))} is a PostgreSQL "
                             "database; the batch writer is SQLite's (on PostgreSQL use "
                             "pool.writer())")
        loaded = resolve_profile(profile)
        opts = (loaded.runtime.get("batch") or {}) if loaded else {}
        self.path = str(path)
        self.batch_size = int(batch_size if batch_size is not None else opts.get("size", 1000))
        self.flush_interval = float(flush_interval if flush_interval is not None
                                    else opts.get("flush_interval", 0.5))
        self.queue_size = int(queue_size if queue_size is not None
                              else opts.get("queue_size", 10 * self.batch_size))
        self.submit_timeout = float(submit_timeout)
        if self.batch_size < 1 or self.queue_size < 1 or self.flush_interval <= 0:
            raise BatchError(f"BatchWriter: batch_size {self.batch_size} and queue_size "
                             f"{self.queue_size} must be >= 1, flush_interval > 0")
        self.recorder: Recorder | None = (
            pool.recorder if capture is None and pool is not None
            else recorder_for(capture, "sqlite", sample=sample))
        # Names are checked in the caller's thread, on a read-only connection of their own.
        self._schema: sqlite3.Connection | None = connect(path, loaded, readonly=True,
                                                          check_same_thread=False, capture=False)
        self._own: sqlite3.Connection | None = None
        if pool is None:
            try:
                self._own = connect(path, loaded, check_same_thread=False, capture=False)
            except BaseException:
                self._schema.close()
                raise
        self._writer_cm = pool.writer if pool is not None else (lambda: nullcontext(self._own))
        self._lock = threading.Lock()  # submits take the bare (C-level) lock
        self._not_empty = threading.Condition(self._lock)
        self._not_full = threading.Condition(self._lock)
        self._resolved = threading.Condition(self._lock)
        self._schema_lock = threading.Lock()
        self._queue: deque[_Run] = deque()
        self._tail: _Run | None = None  # the run a single operation with its SQL joins
        self._rows = self._inflight = self._space_waiters = 0
        self._seq = self._done_upto = self._flush_upto = 0
        self._committed = self._failed = self._batches = 0
        self._first_at = self._busy = 0.0
        self._idle = self._closed = self._refusing = False
        self._fatal: BaseException | None = None
        self._errors: dict[int, BaseException] = {}
        self._wake_at = min(self.batch_size, self.queue_size)
        self._low_water = self.queue_size // 2
        self._sql: dict[tuple[Any, ...], str] = {}
        self._columns: dict[str, set[str]] = {}
        self._thread = threading.Thread(target=self._run, name="tuner-batch-writer", daemon=True)
        self._thread.start()
        _LIVE.add(self)

    # -- submitting -----------------------------------------------------------------------
    def insert(self, table: str, row: Mapping[str, Any]) -> Ticket:
        """Queue `INSERT INTO table (keys of row) VALUES (...)`; a Ticket for the row."""
        sql = self._sql.get(("insert", table, *row))  # the hot path: one dict lookup per row
        if sql is None:
            sql = self._prepare(("insert", table, *row), "insert", table, tuple(row))
        params = tuple(row.values())
        # Fast path, the common case under load: the row joins the queue's tail run and no
        # one needs waking or waiting for; anything else takes the general _enqueue.
        lock = self._lock
        lock.acquire()
        tail, rows = self._tail, self._rows
        if (tail is not None and tail.sql is sql and 0 < rows < self.queue_size
                and not self._refusing and (not self._idle or rows + 1 < self._wake_at)):
            self._seq = seq = self._seq + 1
            tail.rows.append(params)
            self._rows = rows + 1
            lock.release()
            return Ticket(self, seq)
        lock.release()
        return Ticket(self, self._enqueue(sql, params))

    def insert_many(self, table: str, rows: Iterable[Any],
                    columns: Sequence[str] | None = None) -> ManyTicket:
        """Queue many inserts as ONE operation (run in batch_size chunks): tuples in the order
        of `columns=`, or dicts with the same keys without it. Its ticket's result is a
        ManyResult: rows committed, and each rejected row's index, row and SQLite error."""
        originals = list(rows)
        if not originals:
            if self._refusing:
                self._refuse()
            return ManyTicket(self, 0, _Many([]))  # sequence 0 is always done
        if columns is not None:
            cols, params = tuple(columns), originals
        else:
            keys = originals[0].keys() if isinstance(originals[0], Mapping) else None
            for i, r in enumerate(originals):
                if keys is None or not isinstance(r, Mapping) or r.keys() != keys:
                    raise BatchError(f"insert_many into {table!r}: row {i} is not a dict with "
                                     "the keys of row 0; pass columns= with tuples")
            cols = tuple(originals[0])
            get = itemgetter(*cols)
            params = [get(r) for r in originals] if len(cols) > 1 else [
                (get(r),) for r in originals]
        key = ("insert", table, *cols)
        sql = self._sql.get(key) or self._prepare(key, "insert", table, cols)
        many = _Many(originals, table)
        return ManyTicket(self, self._enqueue(sql, params, many), many)

    def upsert(self, table: str, row: Mapping[str, Any], key: Sequence[str] | str) -> Ticket:
        """Queue `INSERT ... ON CONFLICT (key) DO UPDATE SET` each non-key column of `row`
        to its new value. `key` must match a PRIMARY KEY or UNIQUE constraint."""
        ck = ("upsert", table, tuple(row), (key,) if isinstance(key, str) else tuple(key))
        sql = self._sql.get(ck) or self._prepare(ck, "upsert", table, ck[2], key=ck[3])
        return Ticket(self, self._enqueue(sql, tuple(row.values())))

    def update(self, table: str, values: Mapping[str, Any],
               where: Mapping[str, Any]) -> Ticket:
        """Queue `UPDATE table SET values WHERE each where-column IS its value`."""
        ck = ("update", table, tuple(values), tuple(where))
        sql = self._sql.get(ck) or self._prepare(ck, "update", table, ck[2], where=ck[3])
        return Ticket(self, self._enqueue(sql, (*values.values(), *where.values())))

    def delete(self, table: str, where: Mapping[str, Any]) -> Ticket:
        """Queue `DELETE FROM table WHERE each where-column IS its value`."""
        ck = ("delete", table, tuple(where))
        sql = self._sql.get(ck) or self._prepare(ck, "delete", table, (), where=ck[2])
        return Ticket(self, self._enqueue(sql, tuple(where.values())))

    def _enqueue(self, sql: str, params: Any, many: _Many | None = None) -> int:
        """One lock, one append: the whole per-row cost of a submit. `many`: params is the
        list of an insert_many's rows, queued as a run of its own."""
        n = 1 if many is None else len(params)
        with self._lock:
            if self._refusing:
                self._refuse()
            if self._rows and self._rows + n > self.queue_size:
                self._wait_space(n)
            if not self._rows:
                self._first_at = _now()
            self._seq = seq = self._seq + 1
            tail = self._tail
            if many is None and tail is not None and tail.sql is sql:
                tail.rows.append(params)
            else:
                run = _Run(sql, [params] if many is None else params, seq, many)
                self._queue.append(run)
                self._tail = run if many is None else None
            self._rows += n
            if self._idle and (self._rows == n or self._rows >= self._wake_at):
                self._not_empty.notify()
            return seq

    def _wait_space(self, n: int) -> None:
        """Holding the lock: wait until n rows fit (an empty queue takes anything)."""
        deadline = _now() + self.submit_timeout
        self._space_waiters += 1
        try:
            while self._rows and self._rows + n > self.queue_size:
                if self._refusing:
                    self._refuse()
                if (left := deadline - _now()) <= 0:
                    raise QueueFull(f"{self.path}: the batch writer's queue stayed full "
                                    f"({self._rows}/{self.queue_size} rows) for "
                                    f"{self.submit_timeout:g} s; not queued")
                self._not_empty.notify()
                self._not_full.wait(left)
        finally:
            self._space_waiters -= 1

    def _refuse(self) -> None:
        if self._fatal is not None:
            raise WriterFailed(f"{self.path}: the batch writer stopped: "
                               f"{self._fatal!r}") from self._fatal
        raise WriterClosed(f"{self.path}: the batch writer is closed")

    def _prepare(self, cache_key: tuple[Any, ...], kind: str, table: str,
                 columns: tuple[Any, ...], **ctx: Any) -> str:
        """On a cache miss only: check the arguments and every name against the live schema,
        render the statement from sql/sqlite/runtime/, compile it (EXPLAIN), cache it."""
        if (not columns and kind != "delete") or ctx.get("where") == ():
            raise BatchError(f"{kind} on {table!r}: no columns given (an empty row, values "
                             "or where)")
        if kind == "upsert":
            lowered = {str(k).lower() for k in ctx["key"]}
            if not lowered or not lowered <= {str(c).lower() for c in columns}:
                raise BatchError(f"upsert into {table!r}: key {list(ctx['key'])} must be a "
                                 f"non-empty subset of the row's columns {list(columns)}")
            ctx["updates"] = [c for c in columns if str(c).lower() not in lowered]
        with self._schema_lock:
            if self._schema is None:
                raise WriterClosed(f"{self.path}: the batch writer is closed")
            known = self._columns.get(table) if isinstance(table, str) else None
            if known is None:
                sql = render("sqlite", "runtime/table_columns")
                rows = (self._schema.execute(sql, (table,)).fetchall()
                        if isinstance(table, str) else [])
                if not rows:
                    raise UnknownName(f"{self.path}: no table named {table!r}", str(table))
                known = self._columns[table] = {r[0].lower() for r in rows}
            for name in (*columns, *ctx.get("key", ()), *ctx.get("where", ())):
                if not isinstance(name, str) or name.lower() not in known:
                    raise UnknownName(f"{self.path}: table {table!r} has no column {name!r}",
                                      table, str(name))
            sql = render("sqlite", f"runtime/{kind}", table=table, columns=columns, **ctx)
            try:
                # fetched to the end so that no statement keeps a read snapshot open
                self._schema.execute(render("sqlite", "runtime/explain", sql=sql),
                                     (None,) * (len(columns) + len(ctx.get("where", ())))
                                     ).fetchall()
            except sqlite3.Error as exc:
                raise BatchError(f"{self.path}: {kind} on {table!r} does not compile: "
                                 f"{exc}") from None
            self._sql[cache_key] = sql
        return sql

    # -- waiting, closing -----------------------------------------------------------------
    def _wait(self, seq: int, timeout: float | None) -> None:
        if seq <= self._done_upto:
            return
        deadline = None if timeout is None else _now() + timeout
        with self._lock:
            while seq > self._done_upto:
                if self._fatal is not None:
                    self._refuse()
                left = None if deadline is None else deadline - _now()
                if left is not None and left <= 0:
                    raise TimeoutError(f"{self.path}: not written after {timeout:g} s")
                self._resolved.wait(left)

    def flush(self, timeout: float | None = None) -> None:
        """Write everything submitted so far now (without waiting for flush_interval) and
        wait until it is committed or rejected; TimeoutError after `timeout` seconds."""
        with self._lock:
            target = self._flush_upto = max(self._flush_upto, self._seq)
            self._not_empty.notify()
        self._wait(target, timeout)

    def close(self) -> None:
        """Flush, stop the writer thread, close this writer's own connections (not the pool's).
        Submitting afterwards raises WriterClosed; closing twice is harmless."""
        with self._lock:
            self._closed = self._refusing = True
            self._not_empty.notify_all()
            self._not_full.notify_all()
        if threading.current_thread() is not self._thread:
            self._thread.join()
        with self._schema_lock:
            for conn in (self._schema, self._own):
                if conn is not None:
                    conn.close()
            self._schema = self._own = None
        _LIVE.discard(self)
        if self.recorder is not None:
            self.recorder.flush_quietly()
        if self._fatal is not None:
            self._refuse()

    def __enter__(self) -> BatchWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def stats(self) -> dict[str, Any]:
        """A snapshot: rows queued (waiting or being written), committed, failed (rejected),
        batches (transactions), and rows_per_second of the writer's busy time."""
        with self._lock:
            return {"queued": self._rows + self._inflight, "committed": self._committed,
                    "failed": self._failed, "batches": self._batches,
                    "rows_per_second": self._committed / self._busy if self._busy else 0.0}

    # -- the writer thread ----------------------------------------------------------------
    def _run(self) -> None:
        try:
            while (batch := self._next_batch()) is not None:
                self._write(*batch)
        except BaseException as exc:  # never die silently: every waiter and submitter is told
            with self._lock:
                self._fatal, self._refusing = exc, True
                self._resolved.notify_all()
                self._not_full.notify_all()

    def _next_batch(self) -> tuple[list[Taken], int, int] | None:
        """Wait for a full batch, the flush interval, flush() or close(); take the batch."""
        with self._lock:
            while True:
                wait: float | None = None
                if self._rows:
                    if (self._rows >= self._wake_at or self._closed or self._space_waiters
                            or self._flush_upto > self._done_upto):
                        break
                    if (wait := self._first_at + self.flush_interval - _now()) <= 0:
                        break
                elif self._closed:
                    return None
                self._idle = True
                self._not_empty.wait(wait)
                self._idle = False
            return self._take()

    def _take(self) -> tuple[list[Taken], int, int]:
        """Holding the lock: take up to batch_size rows from the head of the queue. Returns
        what was taken, the row count, and the last sequence number it completes."""
        q, size, taken, n = self._queue, self.batch_size, [], 0
        while q and n < size:
            run = q[0]
            lo = run.lo
            hi = min(len(run.rows), lo + size - n)
            taken.append((run, run.seq if run.many is None else lo, run.rows[lo:hi]))
            n += hi - lo
            if hi == len(run.rows):
                q.popleft()
                if run is self._tail:
                    self._tail = None
            elif run.many is not None:
                run.lo = hi  # the rest stays at the head
            else:
                del run.rows[:hi]  # a tail run under steady load must not grow forever
                run.seq += hi
        run, first, rows = taken[-1]
        if run.many is None:
            upto = first + len(rows) - 1
        else:
            upto = run.seq if first + len(rows) == len(run.rows) else run.seq - 1
        self._rows -= n
        self._inflight = n
        # Blocked producers wake at half a queue, not per batch: sqlite3 drops the GIL for
        # each row's step, and a running producer is slow to give it back.
        if self._space_waiters and self._rows <= self._low_water:
            self._not_full.notify_all()
        return taken, n, upto

    def _write(self, taken: list[Taken], n: int, upto: int) -> None:
        """One transaction for the batch, else row by row. COMMIT first, THEN resolve."""
        started = time.perf_counter()
        lease, conn = self._lease()
        rec = self.recorder
        try:
            self._begin(conn)
            for run, _lo, rows in taken:
                if rec is None:
                    _executemany(conn, run.sql, rows)
                else:
                    t0 = _perf()
                    changed = _executemany(conn, run.sql, rows).rowcount
                    rec.record(run.sql, rows[0], _perf() - t0, changed, calls=len(rows))
            conn.commit()
            failures: list[Failure] = []
        except Exception:
            _rollback(conn)
            failures = self._write_rows(conn, taken)
        finally:
            lease.__exit__(None, None, None)
        errors: dict[int, BaseException] = {}
        for run, _lo, rows in taken:
            if run.many is not None:
                run.many.result.committed += len(rows)
        for (run, first, _rows), i, exc in failures:
            if run.many is None:
                errors[first + i] = exc
            else:
                run.many.result.committed -= 1
                row = run.many.originals[first + i]
                run.many.result.rejected.append(Rejected(first + i, row, exc))
        for run, first, rows in taken:
            if run.many is not None and first + len(rows) == len(run.rows):
                _warn_rejected(run.many)
        with self._lock:
            self._errors.update(errors)
            self._done_upto = upto
            self._committed += n - len(failures)
            self._failed += len(failures)
            self._batches += 1
            self._busy += time.perf_counter() - started
            self._inflight = 0
            self._resolved.notify_all()

    def _write_rows(self, conn: sqlite3.Connection, taken: list[Taken]) -> list[Failure]:
        """The slow path: each row under its own SAVEPOINT, the good ones committed. If the
        transaction itself fails (BEGIN, COMMIT, I/O), every row of the batch fails with it."""
        failures: list[Failure] = []
        rec = self.recorder
        try:
            self._begin(conn)
            for item in taken:
                t0, changed = _perf(), 0
                for i, params in enumerate(item[2]):
                    _execute(conn, SAVEPOINT)
                    try:
                        changed += _execute(conn, item[0].sql, params).rowcount
                    except Exception as exc:
                        _execute(conn, ROLLBACK_TO)
                        failures.append((item, i, exc))
                    _execute(conn, RELEASE)
                if rec is not None and item[2]:
                    rec.record(item[0].sql, item[2][0], _perf() - t0, changed,
                               calls=len(item[2]))
            conn.commit()
        except Exception as exc:
            _rollback(conn)
            failures = [(item, i, exc) for item in taken for i in range(len(item[2]))]
        return failures

    def _lease(self) -> tuple[Any, Any]:
        """The writer connection for one batch and the lease to give back. A pool writer held
        elsewhere past the pool's timeout is waited for again until close: queued rows do not
        fail because the application held the writer."""
        while True:
            lease = self._writer_cm()
            try:
                return lease, lease.__enter__()
            except PoolTimeout:
                if self._closed:
                    raise

    def _begin(self, conn: sqlite3.Connection) -> None:
        """BEGIN IMMEDIATE; another process's write lock is waited out (each try waits
        busy_timeout) until close, so queued rows do not fail for a lock."""
        while True:
            try:
                _execute(conn, BEGIN)
                return
            except sqlite3.OperationalError as exc:
                if self._closed or not _is_busy(exc):
                    raise


def _warn_rejected(many: _Many) -> None:
    """Once an insert_many is complete: a warning if it rejected rows, for the caller that
    never reads its ticket (the rows are not written, and nothing else would say so)."""
    rejected = many.result.rejected
    if rejected:
        first = rejected[0]
        log.warning("insert_many into %r: %d of %d rows rejected (first: row %d: %s); "
                    "the ticket's result() lists them", many.table, len(rejected),
                    len(many.originals), first.index, first.error)


def _rollback(conn: sqlite3.Connection) -> None:
    with suppress(sqlite3.Error):
        conn.rollback()


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)  # Python >= 3.11
    if code is not None:
        return code & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
    return "locked" in str(exc) or "busy" in str(exc)


_LIVE: weakref.WeakSet[BatchWriter] = weakref.WeakSet()


@atexit.register
def _close_all() -> None:
    """At interpreter exit, flush the writers the application forgot to close (the thread is
    a daemon so that a forgotten writer cannot hang the exit)."""
    for writer in list(_LIVE):
        with suppress(TunerError):
            writer.close()
