"""`tuner capture --db`: a server's own statement statistics into a capture file.

This module owns turning what the engine reads from the server (Engine.server_statements:
PostgreSQL's pg_stat_statements) into the capture format: each text normalized in the
engine's dialect (the server's `$1` and the runtime's `%s` are one shape, and IN-lists of
any length fold), rows of one shape summed into one statement, merged into the file (created
if missing). The server keeps no latency histogram and no parameter values, so a statement
from here has no histogram (its p95 shows its max) and no sample parameters; every call it
counts was executed (`observed` = `calls`). It never prints.

The server's counters run since its last reset: capture into a fresh file, or pass `reset`
each time, so that each capture adds the window since the one before.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from tuner.capture import store
from tuner.capture.normalize import UNPARSED, normalize
from tuner.capture.recorder import MAX_SAMPLE_SQL
from tuner.capture.store import Aggregate, CaptureError, ServerStatement
from tuner.engines.lookup import display, engine_for


@dataclass(frozen=True)
class ServerCapture:
    """What one `tuner capture --db` wrote: statement shapes, the calls and time they
    account for, how many could not be parsed, how many texts the server hid from this role,
    and whether the server's statistics were reset."""

    target: str
    path: str
    statements: int
    calls: int
    total_s: float
    unparsed: int
    hidden: int
    reset: bool

    def as_dict(self) -> dict[str, object]:
        return {"db": self.target, "capture": self.path, "statements": self.statements,
                "calls": self.calls, "total_s": round(self.total_s, 6),
                "unparsed": self.unparsed, "hidden": self.hidden, "reset": self.reset}


def capture_server(target: str, out: str | Path, *, reset: bool = False) -> ServerCapture:
    """Read the statement statistics of the database at `target` into the capture file `out`
    (merged into it if it exists); with `reset`, the server's statistics for that database
    start again from zero. CaptureError (one line) for a file that is not a capture of this
    engine, checked before the server is read, or a server that keeps no statistics."""
    engine = engine_for(target)
    path = Path(out)
    if path.exists():
        store.prepare(path, engine.name)            # a wrong file fails before any reset
    elif not path.parent.is_dir():
        raise CaptureError(path, "no such folder for the capture file")
    rows = engine.server_statements(target, reset=reset)
    aggs = fold(rows, engine.name)
    store.merge(out, engine.name, aggs)
    return ServerCapture(display(target), str(out), len(aggs), sum(a.calls for a in aggs),
                         sum(a.total_s for a in aggs),
                         sum(a.kind == UNPARSED for a in aggs),
                         sum(r.text is None for r in rows), reset)


def fold(rows: Iterable[ServerStatement], dialect: str) -> list[Aggregate]:
    """One Aggregate per statement shape: calls, time and rows summed, the slowest text kept
    as the sample. Rows whose text the server hid are left out."""
    now = time.time()
    aggs: dict[str, Aggregate] = {}
    for row in rows:
        if row.text is None:
            continue
        shape = normalize(row.text, dialect)
        agg = aggs.get(shape.fingerprint)
        if agg is None:
            agg = aggs[shape.fingerprint] = Aggregate(
                shape.fingerprint, shape.kind, shape.text, shape.reads, shape.writes, now,
                shape.error)
        agg.calls += row.calls
        agg.observed += row.calls
        agg.total_s += row.total_s
        agg.rows += max(row.rows, 0)
        if row.max_s > agg.max_s:
            agg.max_s, agg.sample_sql = row.max_s, row.text[:MAX_SAMPLE_SQL]
    return list(aggs.values())
