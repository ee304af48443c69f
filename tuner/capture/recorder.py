"""The Recorder: what an application's connections report every statement to.

This module owns aggregating statements in memory and flushing them to a capture file
(tuner.capture.store). `record(sql, params, seconds, rows)` costs a normalization-cache
lookup, a lock and a few additions: per statement shape it keeps calls, total and max time,
rows, a log-scale latency histogram and the parameters of the slowest execution (made
JSON-safe). It never writes per statement: it flushes from the recording thread once
`flush_every` seconds have passed since the last flush (no thread of its own), on `flush()`,
on `close()` and at interpreter exit. The write happens outside the lock, so other threads
go on recording meanwhile.

`sample=1/k` times one execution in k, at random, and counts each one timed k times.

A process that forks hands its child no aggregates (they are the parent's to flush), and
a flush that fails keeps its numbers for the next one: capture never breaks the application
(the failure is logged on the `tuner.capture` logger, or raised by an explicit flush()).

The hooks a runtime calls (connect, pool, BatchWriter; see tuner.capture.__init__) are
`recorder_for(capture, engine)` once per connection, `skip()` then `add()` per execution (or
`record()`, which does both) and `record(..., calls=n)` per executemany.
"""

from __future__ import annotations

import atexit
import logging
import os
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from tuner.capture import store
from tuner.capture.normalize import CACHE_SIZE, MAX_PARSE, Shape, normalize
from tuner.capture.store import Aggregate, CaptureError

log = logging.getLogger("tuner.capture")

#: Seconds between flushes, by default.
FLUSH_EVERY = 5.0
#: Longest string parameter kept in a sample (longer ones are cut, with a marker).
MAX_PARAM_TEXT = 200
#: Longest raw text kept as a statement's sample (a bulk INSERT with inlined values is cut).
MAX_SAMPLE_SQL = MAX_PARSE
#: Most items of a sequence kept in a sample.
MAX_PARAM_ITEMS = 100

#: Recorders not closed yet, held so that one dropped without close() is flushed at exit.
_LIVE: set[Recorder] = set()


class Recorder:
    """Aggregates the statements of one process for the capture file at `path`.

    `engine` names the SQL dialect (sqlite, postgresql); `sample` in (0, 1] is rounded to 1/k;
    `seed` makes sampling repeatable; `clock` is the monotonic clock deciding when to flush,
    read once every `check_every` records (reading it costs as much as a tenth of a record)."""

    check_every = 16

    def __init__(self, path: str | Path, *, engine: str = "sqlite", sample: float = 1.0,
                 flush_every: float = FLUSH_EVERY, seed: int | None = None,
                 clock: Callable[[], float] = time.monotonic):
        if not 0 < sample <= 1:
            raise CaptureError(path, f"sample must be in (0, 1], not {sample}")
        if flush_every < 0:
            raise CaptureError(path, f"flush_every must be 0 or more seconds, not {flush_every}")
        self.path = Path(path)
        self.engine = engine
        self.every = max(1, round(1 / sample))
        self.flush_every = flush_every
        self.flushes = 0
        self.failures = 0
        self.last_error: str | None = None
        self._random = random.Random(seed).random
        self._clock = clock
        self._aggs: dict[str, Aggregate] = {}
        #: raw text -> its shape's aggregate in this flush window (emptied at each flush)
        self._by_text: dict[str, Aggregate] = {}
        self._shapes: dict[str, Shape] = {}
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        #: records from finalizers that found the lock held (see later())
        self._later: deque[tuple[str, Any, float, int]] = deque()
        self._closed = False
        self._countdown = 1                         # the clock is read at the first record
        store.prepare(self.path, engine)            # a wrong file fails now, not at a flush
        self._due = clock() + flush_every
        _LIVE.add(self)

    # -- the hot path ------------------------------------------------------------------------
    def record(self, sql: str, params: Any = None, seconds: float = 0.0, rows: int = -1,
               calls: int = 1) -> None:
        """Count one execution of `sql` (or `calls` of them, as executemany runs: `seconds`
        and `rows` are then their totals and `params` one row's). `rows` < 0: unknown.
        With sampling, most calls return at once: `skip()`, then `add()`."""
        if self.every > 1 and self._random() * self.every >= 1.0:
            return
        self.add(sql, params, seconds, rows, calls)

    def skip(self) -> bool:
        """True when sampling leaves the next execution out: a runtime asks before timing it,
        and calls `add()` (not record) for the ones it times. Always False without sampling."""
        return self.every > 1 and self._random() * self.every >= 1.0

    def add(self, sql: str, params: Any = None, seconds: float = 0.0, rows: int = -1,
            calls: int = 1) -> None:
        """record() without the sampling draw: for an execution `skip()` let through (it
        counts 1/sample times). One dict lookup per raw text finds its shape's aggregate."""
        every = self.every
        if calls == 1:
            per_call, weight = seconds, every
        else:                                       # executemany: no single execution timed
            per_call, weight = seconds / calls, calls * every
        bucket = int(per_call * 1e6).bit_length()   # < 64 for any time under 2^63 us
        with self._lock:
            agg = self._by_text.get(sql)
            if agg is None:
                agg = self._aggregate(sql)
            agg.calls += weight
            agg.observed += calls
            agg.total_s += seconds * every
            if rows > 0:
                agg.rows += rows * every
            agg.latency[bucket] += weight
            if per_call > agg.max_s:
                agg.max_s = per_call
                agg.sample_sql = sql[:MAX_SAMPLE_SQL]
                agg.sample_params = jsonable(params)
            self._countdown -= 1
            if self._countdown > 0:
                return
            self._countdown = self.check_every
            due = self._clock() >= self._due and not self._closed
            if due:
                self._due = float("inf")            # one thread flushes; flush() resets it
        if self._later:
            self._drain()
        if due:
            self.flush_quietly()

    def later(self, sql: str, params: Any, seconds: float, rows: int) -> None:
        """add(), from a finalizer (a cursor dropped before its last row): a finalizer may run
        inside add() on this very thread (the garbage collector, at any allocation) while it
        holds the lock, so while anyone holds it the record is queued, for the next add() or
        flush() to take."""
        if self._lock.locked():
            self._later.append((sql, params, seconds, rows))
        else:
            self.add(sql, params, seconds, rows)

    def _drain(self) -> None:
        while True:
            try:
                sql, params, seconds, rows = self._later.popleft()
            except IndexError:
                return
            self.add(sql, params, seconds, rows)

    def _aggregate(self, sql: str) -> Aggregate:
        """Holding the lock: the aggregate of `sql`'s shape in this flush window, remembered
        for the raw text (texts too long to cache are looked up by fingerprint each time). A
        text never seen is normalized with the lock let go: a parse takes half a millisecond."""
        shape = self._shapes.get(sql)
        if shape is None:
            self._lock.release()
            try:
                shape = self._shape(sql)
            finally:
                self._lock.acquire()
        agg = self._aggs.get(shape.fingerprint)
        if agg is None:
            agg = self._aggs[shape.fingerprint] = Aggregate(
                shape.fingerprint, shape.kind, shape.text, shape.reads, shape.writes,
                time.time(), shape.error)
        if len(sql) <= MAX_PARSE and len(self._by_text) < CACHE_SIZE:
            self._by_text[sql] = agg
        return agg

    def _shape(self, sql: str) -> Shape:
        """normalize(), remembered per raw text in this recorder (one dict lookup on the hot
        path), up to MAX_PARSE characters; forgotten all at once when CACHE_SIZE texts are held."""
        shape = normalize(sql, self.engine)
        if len(sql) <= MAX_PARSE:                   # a longer text is not worth its memory
            if len(self._shapes) >= CACHE_SIZE:
                self._shapes = {}
            self._shapes[sql] = shape
        return shape

    # -- flushing ----------------------------------------------------------------------------
    def pending(self) -> int:
        """Statement shapes aggregated since the last flush."""
        with self._lock:
            return len(self._aggs)

    def flush(self) -> int:
        """Write what was aggregated since the last flush, in one transaction; returns the
        number of statement shapes written. CaptureError if the file cannot be written (the
        numbers are kept for the next flush)."""
        with self._flush_lock:
            self._drain()
            with self._lock:
                aggs, self._aggs = self._aggs, {}
                self._by_text = {}
                self._due = self._clock() + self.flush_every
            if not aggs:
                return 0
            try:
                written = store.merge(self.path, self.engine, aggs.values())
            except CaptureError as exc:
                self.failures += 1
                self.last_error = str(exc)
                self._keep(aggs)
                raise
            self.flushes += 1
            return written

    def _keep(self, aggs: dict[str, Aggregate]) -> None:
        """Put the numbers of a failed flush back, under what was recorded meanwhile."""
        with self._lock:
            self._by_text = {}                      # it points at the newer aggregates
            for fp, agg in aggs.items():
                newer = self._aggs.get(fp)
                if newer is not None:
                    agg.absorb(newer)
                self._aggs[fp] = agg

    def flush_quietly(self) -> None:
        """flush(), a failure logged on the `tuner.capture` logger rather than raised: what a
        pool or a batch writer does at close (capture never breaks the application)."""
        try:
            self.flush()
        except CaptureError as exc:
            log.warning("capture flush failed, kept for the next one: %s", exc)

    def close(self) -> None:
        """Flush what is left; later records are still aggregated but only flushed by an
        explicit flush(). Idempotent."""
        self._closed = True
        _LIVE.discard(self)
        self.flush()

    def __enter__(self) -> Recorder:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def _forget_parent(self) -> None:
        """In a forked child: the aggregates so far are the parent's to flush."""
        self._aggs = {}
        self._by_text = {}
        self._later = deque()
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()


class Counted:
    """The parameter rows of an executemany, counted as the driver consumes them, the first
    one kept as the sample: `rows` goes to the driver, then `n` and `first` are known. A list
    or tuple is passed on as it is; any other iterable through a generator."""

    __slots__ = ("first", "n", "rows")

    def __init__(self, seq: Iterable[Any]):
        self.first: Any = None
        self.n = 0
        self.rows: Iterable[Any]
        if isinstance(seq, (list, tuple)):
            self.n = len(seq)
            self.first = seq[0] if seq else None
            self.rows = seq
        else:
            self.rows = self._each(seq)

    def _each(self, seq: Iterable[Any]) -> Iterator[Any]:
        for row in seq:
            if not self.n:
                self.first = row
            self.n += 1
            yield row


def jsonable(value: Any, depth: int = 0) -> Any:
    """`value` as something json.dumps takes: sequences as lists (at most MAX_PARAM_ITEMS),
    mappings with string keys, long strings cut, bytes as a length, anything else as repr."""
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, str):
        return value if len(value) <= MAX_PARAM_TEXT else value[:MAX_PARAM_TEXT] + "..."
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"bytes": len(value)}
    if depth > 3:
        return "..."
    if isinstance(value, dict):
        return {str(k): jsonable(v, depth + 1) for k, v in list(value.items())[:MAX_PARAM_ITEMS]}
    if isinstance(value, (list, tuple)):
        return [jsonable(v, depth + 1) for v in value[:MAX_PARAM_ITEMS]]
    return repr(value)[:MAX_PARAM_TEXT]


# -- process-wide ------------------------------------------------------------------------------
_SHARED: dict[tuple[str, str], Recorder] = {}
_SHARED_LOCK = threading.Lock()
ENV = "TUNER_CAPTURE"


#: What a runtime's `capture=` takes: a capture file's path, a Recorder, None ($TUNER_CAPTURE
#: decides) or False (off, whatever $TUNER_CAPTURE says).
CaptureArg = str | Path | Recorder | bool | None


def recorder_for(capture: CaptureArg, engine: str, *, sample: float = 1.0) -> Recorder | None:
    """The Recorder a connection reports to: `capture` itself if it is one; else one shared
    per (file, engine) in this process, so every connection of a pool aggregates together and
    flushes once (`sample` applies when that one is made); `capture=None` falls back on
    $TUNER_CAPTURE; None when neither is set, or when `capture` is False."""
    if isinstance(capture, Recorder):
        return capture
    if capture is False:
        return None
    if capture is True:
        raise CaptureError("capture=True", "capture= takes a file path (or None, or False)")
    target = capture if capture is not None else os.environ.get(ENV) or None
    if target is None:
        return None
    key = (str(Path(target).resolve()), engine)
    with _SHARED_LOCK:
        rec = _SHARED.get(key)
        if rec is None or rec._closed:
            rec = _SHARED[key] = Recorder(target, engine=engine, sample=sample)
        return rec


def _after_fork_in_child() -> None:
    global _SHARED_LOCK
    _SHARED_LOCK = threading.Lock()
    for rec in list(_LIVE):
        rec._forget_parent()


def _close_all() -> None:
    for rec in list(_LIVE):
        try:
            rec.close()
        except CaptureError as exc:
            log.warning("capture lost at exit: %s", exc)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
atexit.register(_close_all)
