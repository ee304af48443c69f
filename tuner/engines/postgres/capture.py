"""Capture on PostgreSQL: the psycopg cursor class a captured connection hands out, and reading
the server's own statistics (pg_stat_statements) for `tuner capture --db`.

The runtime: a connection or pool opened with capture gets, once its session settings are set,
a `cursor_factory` bound to the Recorder, so every `execute()` and `executemany()` through
it (the connection's own `execute` included) is timed and reported. psycopg's client-side
cursor receives the whole result inside execute(), so the time is the statement's round trip
with its rows, and `rowcount` is the rows returned (SELECT) or changed. Server-side (named)
cursors, COPY and pipelines are not recorded.

pg_stat_statements (https://www.postgresql.org/docs/current/pgstatstatements.html) needs the
module loaded at server start (`shared_preload_libraries`) and the extension created in the
database; without either, a one-line CaptureError says what to do.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from tuner.capture.recorder import Counted, Recorder
from tuner.capture.store import CaptureError, ServerStatement
from tuner.engines.postgres.conn import connect, driver, first_line, one, redact
from tuner.render import render

_perf = time.perf_counter
_CLASSES: dict[Recorder, type] = {}
#: SQLSTATE 55000, object_not_in_prerequisite_state: the view is there, the module not loaded.
NOT_LOADED = "55000"
PRELOAD = "shared_preload_libraries = 'pg_stat_statements' (then restart the server)"
CREATE = "CREATE EXTENSION pg_stat_statements"


def cursor_class(recorder: Recorder) -> type:
    """A psycopg Cursor subclass reporting to `recorder` (one class per Recorder)."""
    cls = _CLASSES.get(recorder)
    if cls is not None:
        return cls
    base: Any = driver().Cursor

    class CapturingCursor(base):
        """A psycopg cursor whose execute and executemany report to a tuner Recorder."""

        def execute(self, query: Any, params: Any = None, **kwargs: Any) -> Any:
            if recorder.every > 1 and recorder.skip():
                return super().execute(query, params, **kwargs)
            started = _perf()
            super().execute(query, params, **kwargs)
            spent = _perf() - started
            recorder.add(_text(query, self), params, spent, self.rowcount)
            return self

        def executemany(self, query: Any, params_seq: Iterable[Any], **kwargs: Any) -> None:
            if recorder.every > 1 and recorder.skip():
                return super().executemany(query, params_seq, **kwargs)
            counted = Counted(params_seq)
            started = _perf()
            super().executemany(query, counted.rows, **kwargs)
            spent = _perf() - started
            if counted.n:
                recorder.add(_text(query, self), counted.first, spent, self.rowcount,
                             calls=counted.n)
            return None

    _CLASSES[recorder] = CapturingCursor
    return CapturingCursor


def _text(query: Any, cursor: Any) -> str:
    """The statement's text: a str as it is, bytes decoded, a psycopg.sql composition
    rendered for this connection."""
    if isinstance(query, str):
        return query
    if isinstance(query, (bytes, bytearray)):
        return bytes(query).decode("utf-8", "replace")
    as_string = getattr(query, "as_string", None)
    return str(as_string(cursor)) if as_string is not None else str(query)


def capture(conn: Any, recorder: Recorder | None) -> None:
    """From now on, the cursors of `conn` report to `recorder` (None: nothing changes)."""
    if recorder is not None:
        conn.cursor_factory = cursor_class(recorder)


# -- tuner capture --db ------------------------------------------------------------------------
def server_statements(url: str, *, reset: bool) -> list[ServerStatement]:
    """pg_stat_statements' rows for the database at `url` (texts hidden from this role have
    text None), then, with `reset`, its statistics for this database reset."""
    psycopg = driver()
    where = redact(url)
    with connect(url) as conn:
        try:
            schema, preloaded = one(conn.execute(render("postgresql", "capture/status")))
        except psycopg.Error as exc:
            raise CaptureError(where, f"cannot read pg_extension: {first_line(exc)}") from None
        if schema is None:
            raise CaptureError(where, _missing(preloaded))
        try:
            rows = conn.execute(render("postgresql", "capture/statements",
                                       schema=schema)).fetchall()
        except psycopg.Error as exc:
            if exc.sqlstate == NOT_LOADED:
                raise CaptureError(where, f"pg_stat_statements is created in this database "
                                          f"but the server does not load it: set {PRELOAD}; "
                                          f"{CREATE} is done") from None
            raise CaptureError(where, f"cannot read pg_stat_statements: "
                                      f"{first_line(exc)}") from None
        if reset:
            try:
                conn.execute(render("postgresql", "capture/reset", schema=schema)).fetchall()
            except psycopg.Error as exc:
                raise CaptureError(where, f"read, but cannot reset pg_stat_statements (nothing "
                                          f"was written): {first_line(exc)}") from None
    return [ServerStatement(q, int(calls), float(total), float(mx), int(n))
            for q, calls, total, mx, n in rows]


def _missing(preloaded: bool) -> str:
    """What to do when the extension is not created in the database."""
    if preloaded:
        return (f"the pg_stat_statements extension is not created in this database: run "
                f"{CREATE} (the server already loads it: {PRELOAD.split(' (')[0]})")
    return (f"pg_stat_statements is not set up: set {PRELOAD} and run {CREATE} in this "
            "database")
