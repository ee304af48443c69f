"""SQLite's half of `tuner bench`: read-only connections guarded by an authorizer, EXPLAIN
QUERY PLAN read into the shared plan vocabulary, the batch-insert write cost, and --compare on
two copies made with the online backup API.

The measurement loop and the report are engine-neutral (tuner.workload.bench.measure); this module
owns only what is SQLite's. It returns data and never prints.
"""

from __future__ import annotations

import sqlite3
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tuner.capture.access import Access, bindings, reason, verdict
from tuner.capture.store import Statement
from tuner.engines.sqlite.conn import connect
from tuner.engines.sqlite.inspect import open_readonly, read_state
from tuner.errors import DatabaseError, TunerError
from tuner.model import Profile, Query, State
from tuner.render import render
from tuner.workload.bench.measure import (
    BenchReport,
    PlanLine,
    QueryBench,
    WriteCost,
    busiest_tables,
    measure,
    same_rows,
)

# -- read-only enforcement -------------------------------------------------------------------
# Authorizer action codes (https://www.sqlite.org/c3ref/c_alter_table.html). The numbers
# overlap the return codes (SQLITE_DENY == SQLITE_CREATE_INDEX == 1), so names are listed.
_ACTION_NAMES = (
    "SQLITE_CREATE_INDEX", "SQLITE_CREATE_TABLE", "SQLITE_CREATE_TEMP_INDEX",
    "SQLITE_CREATE_TEMP_TABLE", "SQLITE_CREATE_TEMP_TRIGGER", "SQLITE_CREATE_TEMP_VIEW",
    "SQLITE_CREATE_TRIGGER", "SQLITE_CREATE_VIEW", "SQLITE_DELETE", "SQLITE_DROP_INDEX",
    "SQLITE_DROP_TABLE", "SQLITE_DROP_TEMP_INDEX", "SQLITE_DROP_TEMP_TABLE",
    "SQLITE_DROP_TEMP_TRIGGER", "SQLITE_DROP_TEMP_VIEW", "SQLITE_DROP_TRIGGER",
    "SQLITE_DROP_VIEW", "SQLITE_INSERT", "SQLITE_PRAGMA", "SQLITE_READ", "SQLITE_SELECT",
    "SQLITE_TRANSACTION", "SQLITE_UPDATE", "SQLITE_ATTACH", "SQLITE_DETACH",
    "SQLITE_ALTER_TABLE", "SQLITE_REINDEX", "SQLITE_ANALYZE", "SQLITE_CREATE_VTABLE",
    "SQLITE_DROP_VTABLE", "SQLITE_FUNCTION", "SQLITE_SAVEPOINT", "SQLITE_RECURSIVE",
)
ACTIONS = {getattr(sqlite3, n): n[len("SQLITE_"):] for n in _ACTION_NAMES if hasattr(sqlite3, n)}
_ALLOWED = {getattr(sqlite3, n) for n in ("SQLITE_READ", "SQLITE_SELECT", "SQLITE_FUNCTION",
                                          "SQLITE_RECURSIVE") if hasattr(sqlite3, n)}
# Pragmas that change something even when called without a value.
_WRITING_PRAGMAS = {"optimize", "wal_checkpoint", "incremental_vacuum", "shrink_memory"}


class Guard:
    """An authorizer that lets a statement read and nothing else; it remembers the first
    action it denied, so the error can say what the query tried to do."""

    def __init__(self) -> None:
        self.denied: str | None = None

    def __call__(self, action: int, arg1: str | None, arg2: str | None, _db: str | None,
                 _trigger: str | None) -> int:
        if action in _ALLOWED:
            return sqlite3.SQLITE_OK
        if (action == sqlite3.SQLITE_PRAGMA and arg2 is None
                and (arg1 or "").lower() not in _WRITING_PRAGMAS):
            return sqlite3.SQLITE_OK
        if self.denied is None:
            what = ACTIONS.get(action, f"action {action}")
            self.denied = what + (f" on {arg1}" if arg1 else "")
        return sqlite3.SQLITE_DENY


def open_guarded(db: str | Path, profile: Profile) -> tuple[sqlite3.Connection, Guard]:
    """A read-only connection with the profile's connection pragmas and the read-only guard.
    Autocommit, so the sqlite3 module never slips in a BEGIN of its own."""
    conn = connect(db, profile, readonly=True, isolation_level=None)
    guard = Guard()
    conn.set_authorizer(guard)
    return conn, guard


def _run(conn: sqlite3.Connection, guard: Guard, query: Query, sql: str) -> list[Any]:
    guard.denied = None
    try:
        return conn.execute(sql, query.params).fetchall()
    except sqlite3.Error as exc:
        if guard.denied:
            raise TunerError(f"query {query.name} is not read-only: it tries {guard.denied}; "
                             "declared queries may only read") from None
        raise TunerError(f"query {query.name}: {exc}") from None


# -- EXPLAIN QUERY PLAN ----------------------------------------------------------------------
def classify(detail: str) -> PlanLine:
    """Classify one `detail` string of EXPLAIN QUERY PLAN (https://www.sqlite.org/eqp.html):
    `SCAN t`, `SEARCH t USING COVERING INDEX i (a=?)`, `USE TEMP B-TREE FOR ORDER BY`. SQLite
    before 3.36 wrote `SCAN TABLE t AS x`; both forms are read."""
    words = detail.split()
    if words[:4] == ["USE", "TEMP", "B-TREE", "FOR"] and len(words) > 4:
        return PlanLine(detail, "temp_btree", purpose=" ".join(words[4:]))
    if words[:1] not in (["SCAN"], ["SEARCH"]) or len(words) < 2:
        return PlanLine(detail)
    rest = words[1:]
    if rest[0] == "TABLE" and len(rest) > 1:
        rest = rest[1:]
    table, rest = rest[0], rest[1:]
    if rest[:1] == ["AS"]:
        rest = rest[2:]
    using = index = None
    if rest[:1] == ["USING"]:
        parts = []
        for word in rest[1:]:
            if word.startswith("("):
                break
            parts.append(word)
        using = " ".join(parts)
        if len(parts) >= 2 and parts[-2] == "INDEX":
            index = parts[-1]
    return PlanLine(detail, words[0].lower(), table=table, using=using, index=index)


def explain(conn: sqlite3.Connection, guard: Guard, query: Query) -> list[PlanLine]:
    """The classified query plan of `query` (the query itself is not run)."""
    rows = _run(conn, guard, query, render("sqlite", "bench/explain_plan", sql=query.sql))
    return [classify(row[3]) for row in rows]


def display(db: str) -> str:
    """How reports name the database: its path."""
    return db


def open_side(db: str, profile: Profile) -> SQLiteSide:
    """A guarded read-only connection to the file `db` (see measure.Side)."""
    return SQLiteSide(db, profile)


class SQLiteSide:
    """One SQLite database being measured: its guarded connection (see measure.Side)."""

    def __init__(self, db: str | Path, profile: Profile):
        self.conn, self.guard = open_guarded(db, profile)

    def rows(self, query: Query) -> list[Any]:
        return _run(self.conn, self.guard, query, query.sql)

    def once(self, query: Query) -> float:
        started = time.perf_counter()
        self.rows(query)
        return time.perf_counter() - started

    def explain(self, query: Query) -> list[PlanLine]:
        """The classified query plan of `query` (not run)."""
        return explain(self.conn, self.guard, query)

    def close(self) -> None:
        self.conn.close()


def _insert_once(db: Path, profile: Profile, sql: str, batch: int) -> float:
    conn = connect(db, profile, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        try:
            started = time.perf_counter()
            conn.execute(sql, (batch,))
            return time.perf_counter() - started
        finally:
            conn.execute("ROLLBACK")
    finally:
        conn.close()


def write_cost(before: Path, after: Path, state: State, profile: Profile, batch: int = 2000,
               rounds: int = 3) -> WriteCost:
    """Insert `batch` copies of existing rows into the busiest table of both copies, each in
    a transaction that is rolled back, alternating, `rounds` times (bench's --runs); a table
    whose rows cannot be copied (a UNIQUE constraint, a NOT NULL rowid alias...) is skipped
    for the next one."""
    reasons = []
    for table in busiest_tables(state, profile)[:3]:
        columns = [c for c in table.columns if c != table.rowid_alias]
        sql = render("sqlite", "bench/insert_copy", table=table.name, columns=columns)
        size = min(batch, table.rows or 0)
        try:
            times: tuple[list[float], list[float]] = ([], [])
            for _ in range(rounds):
                times[0].append(_insert_once(before, profile, sql, size))
                times[1].append(_insert_once(after, profile, sql, size))
        except sqlite3.Error as exc:
            reasons.append(f"{table.name}: {exc}")
            continue
        return WriteCost.timed(table.name, size, times[0], times[1], reasons)
    return WriteCost(None, batch, False, "; ".join(reasons) or "no table with rows", None, None,
                     reasons)


def compare(db: str, profile: Profile, chosen: list[Query], *, runs: int, warmup: int,
            batch: int, say: Callable[[str], None], tune: Callable[[str], int]) -> BenchReport:
    """Measure `db` against `db` tuned by `profile`, on copies in a temporary folder: the
    database itself is only read (an online backup). `tune` applies the profile to one copy
    exactly as `tuner apply` does it, then both copies are timed side by side."""
    with tempfile.TemporaryDirectory(prefix="tuner-bench-") as tmp:
        before, after = Path(tmp) / "before.db", Path(tmp) / "after.db"
        say(f"Copying {db} (online backup, read-only) ...")
        _copy(db, before)
        _copy(str(before), after)
        say("Applying the profile to the copy ...")
        applied = tune(str(after))
        conn = open_readonly(str(before))
        try:
            state = read_state(conn)
        finally:
            conn.close()
        report = BenchReport(db, profile, runs, warmup, compare=True,
                             applied_steps=applied, scratch=tmp)
        say("Timing the queries before and after ...")
        sides = [SQLiteSide(before, profile), SQLiteSide(after, profile)]
        try:
            for query in chosen:
                m_before, m_after = measure(sides, query, runs, warmup)
                same = same_rows(sides[0].rows(query), sides[1].rows(query))
                report.queries.append(QueryBench(query, m_after, m_before, same))
        finally:
            for side in sides:
                side.close()
        say("Timing a batch insert before and after ...")
        report.write_cost = write_cost(before, after, state, profile, batch, rounds=runs)
        return report


def _copy(source: str, target: Path) -> None:
    """Copy with SQLite's online backup API (https://www.sqlite.org/backup.html): consistent
    even while the application writes, and the source is opened read-only."""
    src = open_readonly(source)
    try:
        dst = sqlite3.connect(str(target))
        try:
            src.backup(dst)
        finally:
            dst.close()
    except sqlite3.Error as exc:
        raise DatabaseError(source, f"cannot copy it for --compare: {exc}") from None
    finally:
        src.close()


# -- tuner workload show --db: how each captured read goes today -------------------------
def capture_access(db: str, statements: list[Statement]) -> dict[str, Access]:
    """The Access of each statement (by fingerprint) in the SQLite database at `db`."""
    conn = open_readonly(db)
    guard = Guard()
    conn.set_authorizer(guard)
    found = {}
    try:
        for st in statements:
            query = Query(st.fingerprint, st.sample_sql or st.text, bindings(st))
            try:
                lines = explain(conn, guard, query)
            except TunerError as exc:
                found[st.fingerprint] = Access("?", (), reason(str(exc), st.fingerprint))
                continue
            found[st.fingerprint] = Access(verdict(lines), tuple(p.summary for p in lines))
    finally:
        conn.close()
    return found
