"""Capture on SQLite: the sqlite3 connection and cursor classes a connection gets when the
application asks for capture (`capture=` or $TUNER_CAPTURE), reporting every statement to a
tuner.capture Recorder. Without capture the connection is a plain sqlite3.Connection: no cost.

How a statement is measured, cheaply:

- `execute()` is timed. A statement without result rows (INSERT, UPDATE, DELETE, DDL: its
  cursor has no `description`) is recorded at once, with `rowcount` as its rows.
- A statement with result rows (SELECT, RETURNING) is recorded when the application is done
  with it: when a fetch finds no more rows, at the cursor's next execute or close(), or when
  the cursor is dropped. sqlite3 steps the statement inside execute() (the first row) and each
  fetch (the next ones), so the time recorded is execute plus the fetch calls (not the time the
  application spends between fetches), and its rows are the rows the application fetched
  (fetchone, fetchmany, fetchall or iterating the cursor).
- `executemany()` is one record of `calls=n` with its total time and rowcount; its sample
  parameters are the first row's. `executescript()` is one record of the whole script.
- A statement that raises is not recorded. Sampling (`sample=`) decides before timing: a
  statement left out costs one random draw.
- The profile's pragmas, set while the connection opens, are not recorded.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable
from typing import Any

from tuner.capture.recorder import Counted, Recorder

_perf = time.perf_counter
_Cursor = sqlite3.Cursor
_cursor = sqlite3.Connection.cursor
_execute = sqlite3.Cursor.execute
_executemany = sqlite3.Cursor.executemany
_executescript = sqlite3.Cursor.executescript
_fetchone = sqlite3.Cursor.fetchone
_fetchmany = sqlite3.Cursor.fetchmany
_fetchall = sqlite3.Cursor.fetchall
_next = sqlite3.Cursor.__next__
_close = sqlite3.Cursor.close


class CapturingCursor(sqlite3.Cursor):
    """A cursor that reports what it runs to its connection's Recorder. `_sql` is the text of
    the statement whose rows are still being fetched (None: nothing pending)."""

    __slots__ = ("_params", "_rec", "_rows", "_spent", "_sql")
    _rec: Recorder
    _sql: str | None
    _params: Any
    _spent: float
    _rows: int

    def execute(self, sql: str, parameters: Any = (), /) -> CapturingCursor:
        if self._sql is not None:
            self._done()
        rec = self._rec
        if rec.every > 1 and rec.skip():
            _execute(self, sql, parameters)
            return self
        started = _perf()
        _execute(self, sql, parameters)
        spent = _perf() - started
        if self.description is None:
            rec.add(sql, parameters, spent, self.rowcount)
        else:
            self._sql, self._params, self._spent, self._rows = sql, parameters, spent, 0
        return self

    def executemany(self, sql: str, seq_of_parameters: Iterable[Any], /) -> CapturingCursor:
        if self._sql is not None:
            self._done()
        rec = self._rec
        if rec.every > 1 and rec.skip():
            _executemany(self, sql, seq_of_parameters)
            return self
        counted = Counted(seq_of_parameters)
        started = _perf()
        _executemany(self, sql, counted.rows)
        spent = _perf() - started
        if counted.n:
            rec.add(sql, counted.first, spent, self.rowcount, calls=counted.n)
        return self

    def executescript(self, sql_script: str, /) -> CapturingCursor:
        if self._sql is not None:
            self._done()
        rec = self._rec
        if rec.every > 1 and rec.skip():
            _executescript(self, sql_script)
            return self
        started = _perf()
        _executescript(self, sql_script)
        rec.add(sql_script, None, _perf() - started, -1)
        return self

    def fetchone(self) -> Any:
        if self._sql is None:
            return _fetchone(self)
        started = _perf()
        row = _fetchone(self)
        self._spent += _perf() - started
        if row is None:
            self._done()
        else:
            self._rows += 1
        return row

    def fetchmany(self, size: int | None = None) -> list[Any]:
        want = self.arraysize if size is None else size
        if self._sql is None:
            return _fetchmany(self, want)
        started = _perf()
        rows = _fetchmany(self, want)
        self._spent += _perf() - started
        self._rows += len(rows)
        if len(rows) < want or not rows:
            self._done()
        return rows

    def fetchall(self) -> list[Any]:
        if self._sql is None:
            return _fetchall(self)
        started = _perf()
        rows = _fetchall(self)
        self._spent += _perf() - started
        self._rows += len(rows)
        self._done()
        return rows

    def __next__(self) -> Any:
        if self._sql is None:
            return _next(self)
        started = _perf()
        try:
            row = _next(self)
        except StopIteration:
            self._spent += _perf() - started
            self._done()
            raise
        self._spent += _perf() - started
        self._rows += 1
        return row

    def close(self) -> None:
        if self._sql is not None:
            self._done()
        _close(self)

    def _done(self) -> None:
        """Record the statement whose rows were being fetched."""
        sql, self._sql = self._sql, None
        if sql is not None:
            self._rec.add(sql, self._params, self._spent, self._rows)

    def __del__(self) -> None:
        # A cursor dropped before its last row (`conn.execute(...).fetchone()`) is recorded
        # here, through later(): the garbage collector may run this inside the recorder's own
        # add(). Never raise from a finalizer (at interpreter exit the recorder may be gone).
        try:
            sql = self._sql
            if sql is not None:
                self._rec.later(sql, self._params, self._spent, self._rows)
        except Exception:  # noqa: BLE001, S110 - capture never breaks the application
            pass


class CapturingConnection(sqlite3.Connection):
    """An sqlite3 connection whose cursors (its own `execute` included) report to `recorder`,
    once `capture(conn, recorder)` has set it; until then it runs statements unrecorded."""

    recorder: Recorder | None = None

    def cursor(self, factory: Any = CapturingCursor) -> Any:
        rec = self.recorder
        if rec is None:
            return _cursor(self) if factory is CapturingCursor else _cursor(self, factory)
        cur = _cursor(self, factory)
        if isinstance(cur, CapturingCursor):            # not the application's own factory
            cur._rec, cur._sql = rec, None
        return cur

    def execute(self, sql: str, parameters: Any = (), /) -> Any:
        rec = self.recorder
        if rec is None:
            return sqlite3.Connection.execute(self, sql, parameters)
        cur = _cursor(self, CapturingCursor)
        cur._rec = rec
        if rec.every > 1 and rec.skip():
            cur._sql = None
            return _execute(cur, sql, parameters)
        started = _perf()
        _execute(cur, sql, parameters)
        spent = _perf() - started
        if cur.description is None:
            cur._sql = None
            rec.add(sql, parameters, spent, cur.rowcount)
        else:
            cur._sql = sql
            cur._params = parameters
            cur._spent = spent
            cur._rows = 0
        return cur

    def executemany(self, sql: str, parameters: Iterable[Any], /) -> Any:
        return self.cursor().executemany(sql, parameters)

    def executescript(self, sql_script: str, /) -> Any:
        return self.cursor().executescript(sql_script)


def factory_for(base: Any = None) -> type[CapturingConnection]:
    """The connection class to open with: CapturingConnection, or one on top of the
    application's own `factory=` (which must be an sqlite3.Connection subclass)."""
    if base is None or base is sqlite3.Connection:
        return CapturingConnection
    if not (isinstance(base, type) and issubclass(base, sqlite3.Connection)):
        return base                 # not a Connection class: sqlite3.connect says so
    cls = _FACTORIES.get(base)
    if cls is None:
        cls = _FACTORIES[base] = type(f"Capturing{base.__name__}",
                                      (CapturingConnection, base), {})
    return cls


_FACTORIES: dict[type, type[CapturingConnection]] = {}


def capture(conn: sqlite3.Connection, recorder: Recorder) -> None:
    """From now on, `conn` (opened with a factory_for class) reports to `recorder`."""
    assert isinstance(conn, CapturingConnection)
    conn.recorder = recorder

