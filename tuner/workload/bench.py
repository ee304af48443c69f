"""Workload measurement: the profile's declared queries, timed, with their query plans; and
`compare`, the same before and after applying the profile to a throwaway copy.

This module owns timing declared queries, reading their EXPLAIN QUERY PLAN, keeping them
read-only (an authorizer denies every write action) and measuring the write cost of a change.
It returns data and never prints; `tuner bench` formats it. Tests never assert on the times.
"""

from __future__ import annotations

import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tuner.engines.sqlite_inspect import open_readonly
from tuner.errors import DatabaseError, TunerError
from tuner.model import State, Table
from tuner.profile import Profile, Query
from tuner.render import render

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
    from tuner.runtime.connect import connect

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
@dataclass(frozen=True)
class PlanLine:
    """One EXPLAIN QUERY PLAN row, classified: `kind` is scan, search, temp_btree or other;
    `table`, `using` (what follows USING, without the constraint) and `index` (its name, if
    it is a named index) for scan and search; `purpose` (ORDER BY, GROUP BY, DISTINCT...) for
    a temp B-tree."""

    detail: str
    kind: str = "other"
    table: str | None = None
    using: str | None = None
    index: str | None = None
    purpose: str | None = None

    @property
    def summary(self) -> str:
        if self.kind in ("scan", "search"):
            text = f"{self.kind.upper()} {self.table}"
            return text + (f" USING {self.using}" if self.using else "")
        if self.kind == "temp_btree":
            return f"USE TEMP B-TREE FOR {self.purpose}"
        return self.detail


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


# -- timing ----------------------------------------------------------------------------------
def median_ms(xs: list[float]) -> float:
    return statistics.median(xs) * 1000


def p95_ms(xs: list[float]) -> float:
    ordered = sorted(xs)
    return ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))] * 1000


@dataclass
class Measurement:
    """One query on one database: latencies, rows returned and the plan."""

    median_ms: float
    p95_ms: float
    rows: int
    plan: list[PlanLine]

    def as_dict(self) -> dict[str, Any]:
        return {"median_ms": round(self.median_ms, 4), "p95_ms": round(self.p95_ms, 4),
                "rows": self.rows, "plan": [p.summary for p in self.plan],
                "plan_detail": [p.detail for p in self.plan]}


@dataclass
class QueryBench:
    """A declared query's result: `result` is the database measured (with compare: the tuned
    copy); `before` is the untouched copy, with compare only."""

    query: Query
    result: Measurement
    before: Measurement | None = None
    same_rows: bool | None = None

    @property
    def speedup(self) -> float | None:
        if self.before is None or self.result.median_ms <= 0:
            return None
        return self.before.median_ms / self.result.median_ms

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"name": self.query.name, **self.result.as_dict()}
        if self.before is not None:
            data.update(before=self.before.as_dict(), after=self.result.as_dict(),
                        speedup=round(self.speedup, 3) if self.speedup else None,
                        same_rows=self.same_rows)
        return data


class Side:
    """One database being measured: its guarded connection."""

    def __init__(self, db: str | Path, profile: Profile):
        self.conn, self.guard = open_guarded(db, profile)

    def rows(self, query: Query) -> list[Any]:
        return _run(self.conn, self.guard, query, query.sql)

    def once(self, query: Query) -> float:
        started = time.perf_counter()
        self.rows(query)
        return time.perf_counter() - started

    def close(self) -> None:
        self.conn.close()


def _measure(sides: list[Side], query: Query, runs: int, warmup: int) -> list[Measurement]:
    """Time `query` on every side, alternating side by side (and the order run by run), so
    a ratio between sides is not skewed by a warming cache or a busy neighbour."""
    results = [side.rows(query) for side in sides]
    for _ in range(warmup):
        for side in sides:
            side.once(query)
    times: list[list[float]] = [[] for _ in sides]
    for run in range(runs):
        order = list(range(len(sides)))
        if run % 2:
            order.reverse()
        for i in order:
            times[i].append(sides[i].once(query))
    return [Measurement(median_ms(t), p95_ms(t), len(r), explain(s.conn, s.guard, query))
            for s, t, r in zip(sides, times, results, strict=True)]


def same_rows(a: list[Any], b: list[Any]) -> bool:
    """The same rows in any order (repr keys: rows may mix NULLs, numbers and text)."""
    return sorted(map(repr, a)) == sorted(map(repr, b))


# -- write cost ------------------------------------------------------------------------------
@dataclass
class WriteCost:
    """Time to insert `batch` copied rows into `table`, in one transaction rolled back;
    `skipped` says why busier tables could not be measured (a UNIQUE constraint...)."""

    table: str | None
    batch: int
    measurable: bool
    reason: str | None = None
    before_ms: float | None = None
    after_ms: float | None = None
    skipped: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        ratio = (self.after_ms / self.before_ms
                 if self.measurable and self.before_ms and self.after_ms else None)
        return {"table": self.table, "batch": self.batch, "measurable": self.measurable,
                "reason": self.reason,
                "before_ms": None if self.before_ms is None else round(self.before_ms, 3),
                "after_ms": None if self.after_ms is None else round(self.after_ms, 3),
                "ratio": None if ratio is None else round(ratio, 3), "skipped": self.skipped}


def busiest_tables(state: State, profile: Profile) -> list[Table]:
    """Ordinary tables, largest row estimate first; among equals, those the profile indexes
    first (the change's cost shows there)."""
    indexed = {ix.table.lower() for ix in profile.indexes}
    tables = [t for t in state.tables.values()
              if not t.virtual and not t.name.lower().startswith(("sqlite_", "tuner_"))]
    tables.sort(key=lambda t: (-(t.rows or 0), t.name.lower() not in indexed, t.name.lower()))
    return [t for t in tables if t.rows]


def _insert_once(db: Path, profile: Profile, sql: str, batch: int) -> float:
    from tuner.runtime.connect import connect

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
    a transaction that is rolled back, alternating; a table whose rows cannot be copied (a
    UNIQUE constraint, a NOT NULL rowid alias...) is skipped for the next one."""
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
        return WriteCost(table.name, size, True, None, median_ms(times[0]), median_ms(times[1]),
                         reasons)
    return WriteCost(None, batch, False, "; ".join(reasons) or "no table with rows", None, None,
                     reasons)


# -- the two entry points --------------------------------------------------------------------
@dataclass
class BenchReport:
    """What `tuner bench` measured."""

    database: str
    profile: Profile
    runs: int
    warmup: int
    queries: list[QueryBench] = field(default_factory=list)
    compare: bool = False
    applied_steps: int | None = None
    write_cost: WriteCost | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"database": self.database,
                "profile": {"name": self.profile.name, "version": self.profile.version,
                            "path": self.profile.path},
                "runs": self.runs, "warmup": self.warmup, "compare": self.compare,
                "applied_steps": self.applied_steps,
                "queries": [q.as_dict() for q in self.queries],
                "write_cost": self.write_cost.as_dict() if self.write_cost else None}


def bench(db: str, profile: Profile, *, runs: int = 20, warmup: int = 2,
          queries: Iterable[Query] | None = None) -> BenchReport:
    """Time each declared query (or `queries`) on `db`, opened read-only."""
    chosen = list(profile.queries if queries is None else queries)
    _check_counts(runs, warmup)
    side = Side(db, profile)
    try:
        report = BenchReport(db, profile, runs, warmup)
        for query in chosen:
            (m,) = _measure([side], query, runs, warmup)
            report.queries.append(QueryBench(query, m))
        return report
    finally:
        side.close()


def bench_compare(db: str, profile: Profile, *, runs: int = 20, warmup: int = 2,
                  batch: int = 2000, queries: Iterable[Query] | None = None,
                  on_step: Callable[[str], None] | None = None) -> BenchReport:
    """Measure `db` against `db` tuned by `profile`, on copies in a temporary folder: the
    database itself is only read (an online backup). The copy is tuned exactly as
    `tuner apply` does it, then both copies are timed side by side."""
    from tuner.api import make_plan
    from tuner.apply import ApplyOptions, apply_plan_file
    from tuner.engines.sqlite_inspect import read_state
    from tuner.planfile import parse_plan_file, render_plan_file

    chosen = list(profile.queries if queries is None else queries)
    _check_counts(runs, warmup)
    say = on_step or (lambda text: None)
    with tempfile.TemporaryDirectory(prefix="tuner-bench-") as tmp:
        before, after = Path(tmp) / "before.db", Path(tmp) / "after.db"
        say(f"Copying {db} (online backup, read-only) ...")
        _copy(db, before)
        _copy(str(before), after)
        say("Applying the profile to the copy ...")
        plan = parse_plan_file(render_plan_file(make_plan(profile, str(after))))
        apply_plan_file(plan, str(after), ApplyOptions(no_backup=True))
        conn = open_readonly(str(before))
        try:
            state = read_state(conn)
        finally:
            conn.close()
        report = BenchReport(db, profile, runs, warmup, compare=True,
                             applied_steps=len(plan.steps()))
        say("Timing the queries before and after ...")
        sides = [Side(before, profile), Side(after, profile)]
        try:
            for query in chosen:
                m_before, m_after = _measure(sides, query, runs, warmup)
                same = same_rows(sides[0].rows(query), sides[1].rows(query))
                report.queries.append(QueryBench(query, m_after, m_before, same))
        finally:
            for side in sides:
                side.close()
        say("Timing a batch insert before and after ...")
        report.write_cost = write_cost(before, after, state, profile, batch)
        return report


def _check_counts(runs: int, warmup: int) -> None:
    if runs < 1 or warmup < 0:
        raise TunerError(f"runs must be at least 1 and warm-up at least 0 (got {runs}, "
                         f"{warmup})")


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
