"""The capture file: an SQLite database of statement aggregates, written by Recorders in any
number of processes and read by `tuner workload show` (and, later, advise and check).

This module owns the file: its schema (sql/capture/schema.sql, which documents every
column), creating it, refusing a file that is not a capture of this format version and
engine (one-line CaptureError naming the file), merging one flush of aggregates in a single
`BEGIN IMMEDIATE` transaction of upserts (WAL mode and a busy timeout, so writers in several
processes queue rather than fail, and counts add up exactly), and reading it back as a typed
Capture sorted by total time. It never prints.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from tuner.errors import TunerError
from tuner.resources import data_dir
from tuner.sqltext import source, statements
from tuner.version import __version__

FORMAT = "tuner-capture"
#: Latency buckets an Aggregate counts in (bucket b: under 2^b microseconds; 64 covers any time).
BUCKETS = 64
VERSION = 1
#: How long a flush waits for another process's flush before it gives up (seconds).
BUSY_TIMEOUT = 10.0


class CaptureError(TunerError):
    """A capture file cannot be used: missing, not SQLite, corrupt, another format or version,
    another engine, or not writable. The message names the file."""

    def __init__(self, path: str | Path, message: str):
        self.path = str(path)
        super().__init__(f"{path}: {message}")


@cache
def sql(name: str) -> str:
    """The text of sql/capture/<name>.sql."""
    return (data_dir("sql") / "capture" / f"{name}.sql").read_text(encoding="utf-8")


def utc(seconds: float) -> str:
    """A Unix time as UTC ISO 8601, the form SQLite's date functions read."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


# -- what a flush writes -----------------------------------------------------------------------
@dataclass(slots=True)
class Aggregate:
    """One statement shape's numbers for one flush (see schema.sql for each field)."""

    fingerprint: str
    kind: str
    text: str
    reads: tuple[str, ...]
    writes: tuple[str, ...]
    first_seen: float
    error: str | None = None
    calls: int = 0
    observed: int = 0
    total_s: float = 0.0
    max_s: float = -1.0
    rows: int = 0
    sample_sql: str | None = None
    sample_params: Any = None
    #: executions per bucket (a list, indexed by bucket: the recorder's hot path adds to it)
    latency: list[int] = field(default_factory=lambda: [0] * BUCKETS)

    def absorb(self, other: Aggregate) -> None:
        """Add `other` (the same fingerprint) into this one, as the merge SQL does."""
        self.calls += other.calls
        self.observed += other.observed
        self.total_s += other.total_s
        self.rows += other.rows
        if other.max_s > self.max_s:
            self.max_s, self.sample_sql = other.max_s, other.sample_sql
            self.sample_params = other.sample_params
        self.first_seen = min(self.first_seen, other.first_seen)
        for bucket, n in enumerate(other.latency):
            if n:
                self.latency[bucket] += n


@dataclass(frozen=True)
class ServerStatement:
    """One statement as a server's own statistics give it (PostgreSQL's pg_stat_statements):
    its text with the server's placeholders (None: the server hides it from this role),
    executions, total and slowest time (seconds), and rows returned or changed. What `tuner
    capture --db` reads before normalizing."""

    text: str | None
    calls: int
    total_s: float
    max_s: float
    rows: int


# -- opening -----------------------------------------------------------------------------------
def _connect(path: Path, readonly: bool = False) -> sqlite3.Connection:
    """A connection in autocommit mode. `readonly` is `PRAGMA query_only`, not `mode=ro`: a
    mode=ro connection to a WAL file leaves its -wal and -shm behind, as it may not checkpoint
    (https://www.sqlite.org/wal.html#readonly)."""
    conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT, isolation_level=None)
    if readonly:
        conn.execute("PRAGMA query_only = 1")
    return conn


def _check(conn: sqlite3.Connection, path: Path, engine: str | None) -> dict[str, str] | None:
    """The file's meta, or None for an empty database; CaptureError for anything else."""
    try:
        tables = {r[0] for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'")}
        if not tables:
            return None
        if "meta" not in tables:
            raise CaptureError(path, "not a tuner capture file (an SQLite database without "
                                     "tuner's meta table); refusing to touch it")
        meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
    except sqlite3.DatabaseError as exc:
        raise CaptureError(path, f"not a tuner capture file: {exc}") from None
    if meta.get("format") != FORMAT:
        raise CaptureError(path, f"not a tuner capture file (format {meta.get('format')!r})")
    if meta.get("version") != str(VERSION):
        raise CaptureError(path, f"capture format version {meta.get('version')}; this tuner "
                                 f"reads version {VERSION}: capture into a new file")
    if engine is not None and meta.get("engine") != engine:
        raise CaptureError(path, f"a capture of a {meta.get('engine')} database; it cannot "
                                 f"take {engine} statements: capture into another file")
    return meta


def _create(conn: sqlite3.Connection, engine: str) -> None:
    text = sql("schema")
    for stmt in statements(text):
        conn.execute(source(text, stmt))
    conn.executemany("INSERT INTO meta (key, value) VALUES (?, ?)",
                     [("format", FORMAT), ("version", str(VERSION)), ("engine", engine),
                      ("created_at", utc(time.time())), ("created_by", f"tuner {__version__}")])


def prepare(path: str | Path, engine: str) -> None:
    """Make `path` a capture file for `engine` (create it, or check the one there): what a
    Recorder does when it starts, so a wrong file fails at once and not at the first flush."""
    with _writing(Path(path), engine):
        pass


def _begin(path: Path, engine: str) -> sqlite3.Connection:
    """A connection to the checked capture file holding BEGIN IMMEDIATE, the schema created
    first in an empty file in the same transaction, so two processes starting together create
    it once.

    Under load, SQLite sometimes answers "database is locked" at once, without waiting out the
    busy timeout, while another process is creating the same new file (seen with two
    processes starting together on a busy machine): the attempt is repeated until the busy
    timeout has passed, so a flush is never lost to that race."""
    deadline = time.monotonic() + BUSY_TIMEOUT
    while True:
        try:
            conn = _connect(path)
        except sqlite3.Error as exc:
            raise CaptureError(path, f"cannot open the capture file: {exc}") from None
        try:
            if _check(conn, path, engine) is None:
                # journal_mode cannot change inside a transaction; WAL lets readers go on
                # while one process merges (https://www.sqlite.org/wal.html).
                conn.execute("PRAGMA journal_mode = wal").fetchone()
            conn.execute("BEGIN IMMEDIATE")
            if _check(conn, path, engine) is None:
                _create(conn, engine)
            return conn
        except sqlite3.OperationalError as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            conn.close()
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise CaptureError(path, f"cannot write the capture file: {exc}") from None
            time.sleep(0.02)
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            conn.close()
            raise


@contextmanager
def _writing(path: Path, engine: str) -> Iterator[sqlite3.Connection]:
    """The capture file inside one BEGIN IMMEDIATE transaction (see `_begin`), committed at
    the end of the block, rolled back on an error."""
    conn = _begin(path, engine)
    try:
        yield conn
        conn.execute("COMMIT")
    except sqlite3.Error as exc:
        raise CaptureError(path, f"cannot write the capture file: {exc}") from None
    finally:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        conn.close()


# -- writing -----------------------------------------------------------------------------------
def merge(path: str | Path, engine: str, aggregates: Iterable[Aggregate],
          now: float | None = None) -> int:
    """Add `aggregates` to the capture file at `path` in one transaction; returns how many
    statement rows were written. Creates the file if it is missing or empty."""
    rows = list(aggregates)
    if not rows:
        return 0
    last_seen = utc(time.time() if now is None else now)
    with _writing(Path(path), engine) as conn:
        conn.executemany(sql("merge_statement"), [_row(a, last_seen) for a in rows])
        conn.executemany(sql("merge_latency"), [(a.fingerprint, b, n) for a in rows
                                                for b, n in enumerate(a.latency) if n])
        conn.executemany(sql("merge_unparsed"), [(a.fingerprint, a.error, a.sample_sql or "")
                                                 for a in rows if a.error is not None])
    return len(rows)


def _row(a: Aggregate, last_seen: str) -> dict[str, Any]:
    return {"fingerprint": a.fingerprint, "kind": a.kind, "text": a.text,
            "reads": json.dumps(list(a.reads)), "writes": json.dumps(list(a.writes)),
            "calls": a.calls, "observed": a.observed, "total_s": a.total_s,
            "max_s": max(a.max_s, 0.0), "rows": a.rows, "sample_sql": a.sample_sql,
            "sample_params": None if a.sample_params is None else json.dumps(a.sample_params),
            "first_seen": utc(a.first_seen), "last_seen": last_seen}


# -- reading -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Statement:
    """One statement shape as captured (see sql/capture/schema.sql); `latency` maps a bucket
    (executions under 2^bucket microseconds) to its count; `error` is the parser's message
    for an unparsed statement."""

    fingerprint: str
    kind: str
    text: str
    reads: tuple[str, ...]
    writes: tuple[str, ...]
    calls: int
    observed: int
    total_s: float
    max_s: float
    rows: int
    sample_sql: str | None
    sample_params: Any
    first_seen: str
    last_seen: str
    latency: dict[int, int] = field(default_factory=dict)
    error: str | None = None

    @property
    def mean_s(self) -> float:
        return self.total_s / self.calls if self.calls else 0.0

    def percentile(self, q: float) -> float:
        """An upper bound (within 2x, never above max_s) of the q-quantile's time, seconds."""
        total = sum(self.latency.values())
        if not total:
            return self.max_s
        seen = 0
        for bucket in sorted(self.latency):
            seen += self.latency[bucket]
            if seen >= q * total:
                return min((1 << bucket) / 1e6, self.max_s)
        return self.max_s


@dataclass(frozen=True)
class Capture:
    """A capture file, read: its engine and meta, and its statements by total time."""

    path: str
    engine: str
    meta: dict[str, str]
    statements: tuple[Statement, ...]

    @property
    def total_s(self) -> float:
        return sum(s.total_s for s in self.statements)

    @property
    def unparsed(self) -> tuple[Statement, ...]:
        return tuple(s for s in self.statements if s.error is not None)


def load_capture(path: str | Path) -> Capture:
    """Read the capture file at `path` (read-only); CaptureError names what is wrong."""
    p = Path(path)
    if not p.is_file():
        raise CaptureError(p, "no such capture file" if not p.exists() else "not a file")
    try:
        conn = _connect(p, readonly=True)
    except sqlite3.Error as exc:
        raise CaptureError(p, f"cannot open the capture file: {exc}") from None
    try:
        meta = _check(conn, p, None)
        if meta is None:
            raise CaptureError(p, "not a tuner capture file (an empty SQLite database)")
        latency: dict[str, dict[int, int]] = {}
        for fp, bucket, n in conn.execute(sql("latency")):
            latency.setdefault(fp, {})[bucket] = n
        rows = conn.execute(sql("statements")).fetchall()
    except sqlite3.DatabaseError as exc:
        raise CaptureError(p, f"cannot read the capture file: {exc}") from None
    finally:
        conn.close()
    return Capture(str(p), meta.get("engine", ""), meta,
                   tuple(_statement(r, latency.get(r[0], {}), p) for r in rows))


def _statement(r: tuple[Any, ...], latency: dict[int, int], path: Path) -> Statement:
    try:
        reads, writes = tuple(json.loads(r[3])), tuple(json.loads(r[4]))
        params = None if r[11] is None else json.loads(r[11])
    except (TypeError, ValueError) as exc:
        raise CaptureError(path, f"statement {r[0]}: damaged JSON: {exc}") from None
    return Statement(r[0], r[1], r[2], reads, writes, int(r[5]), int(r[6]), float(r[7]),
                     float(r[8]), int(r[9]), r[10], params, r[12], r[13], latency, r[14])
