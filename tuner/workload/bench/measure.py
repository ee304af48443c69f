"""The engine-neutral half of `tuner bench`: the measurement loop and the report it fills.

This module owns timing declared queries on one or more sides (a side is one database being
measured, opened by its engine's bench module), the plan vocabulary every engine's EXPLAIN is
mapped onto (PlanLine: SCAN, SEARCH USING [COVERING] INDEX, USE TEMP B-TREE FOR ...), and the
report's data (Measurement, QueryBench, WriteCost, BenchReport). It never prints and never
talks to a database itself: tuner.engines.sqlite.bench and tuner.engines.postgres.bench do.
Tests never assert on the times.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from tuner.errors import TunerError
from tuner.model import Profile, Query, State, Table, key
from tuner.workload.noise import within_noise

#: A SCAN of a table with at least this many rows (estimated) is a regression (tuner check,
#: tuner advise).
SCAN_THRESHOLD = 10_000


@dataclass(frozen=True)
class PlanLine:
    """One step of a query plan, classified: `kind` is scan, search, temp_btree or other;
    `table`, `using` (what follows USING, without the constraint) and `index` (its name, if
    it is a named index) for scan and search; `purpose` (ORDER BY, GROUP BY, DISTINCT...) for
    a temp B-tree. `detail` is the engine's own text for the step."""

    detail: str
    kind: str = "other"
    table: str | None = None
    using: str | None = None
    index: str | None = None
    purpose: str | None = None

    @property
    def summary(self) -> str:
        """The step in SQLite's EXPLAIN QUERY PLAN words, whatever the engine."""
        if self.kind in ("scan", "search"):
            text = f"{self.kind.upper()} {self.table}"
            return text + (f" USING {self.using}" if self.using else "")
        if self.kind == "temp_btree":
            return f"USE TEMP B-TREE FOR {self.purpose}"
        return self.detail


class Side(Protocol):
    """One database being measured, on a read-only connection configured by the profile."""

    def rows(self, query: Query) -> list[Any]:
        """Run `query` read-only and return its rows; TunerError if it tries to write."""

    def once(self, query: Query) -> float:
        """Seconds one run of `query` takes."""

    def explain(self, query: Query) -> list[PlanLine]:
        """The classified plan of `query` (the query itself is not run)."""

    def close(self) -> None:
        """Close the connection."""


# -- timing ----------------------------------------------------------------------------------
def median_ms(xs: list[float]) -> float:
    """The median of `xs` (seconds), in milliseconds."""
    return statistics.median(xs) * 1000


def p95_ms(xs: list[float]) -> float:
    """The 95th percentile of `xs` (seconds, nearest rank), in milliseconds."""
    ordered = sorted(xs)
    return ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))] * 1000


@dataclass
class Measurement:
    """One query on one database: latencies, rows returned and the plan; `samples_ms`, every
    run's time, for the noise test of a comparison."""

    median_ms: float
    p95_ms: float
    rows: int
    plan: list[PlanLine]
    samples_ms: list[float] = field(default_factory=list, repr=False)

    def as_dict(self) -> dict[str, Any]:
        """The JSON form: times rounded, the plan as summaries and as the engine wrote it."""
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
        """before / after median, with compare only."""
        if self.before is None or self.result.median_ms <= 0:
            return None
        return self.before.median_ms / self.result.median_ms

    @property
    def within_noise(self) -> bool | None:
        """With compare only: True when the runs cannot tell before from after (see
        tuner.workload.noise), so the speedup is not a real difference."""
        if self.before is None:
            return None
        return within_noise(self.before.samples_ms, self.result.samples_ms)

    def as_dict(self) -> dict[str, Any]:
        """The JSON form of one query's result."""
        data: dict[str, Any] = {"name": self.query.name, **self.result.as_dict()}
        if self.before is not None:
            data.update(before=self.before.as_dict(), after=self.result.as_dict(),
                        speedup=round(self.speedup, 3) if self.speedup else None,
                        within_noise=self.within_noise, same_rows=self.same_rows)
        return data


def measure(sides: Sequence[Side], query: Query, runs: int, warmup: int) -> list[Measurement]:
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
    return [Measurement(median_ms(t), p95_ms(t), len(r), s.explain(query), [x * 1000 for x in t])
            for s, t, r in zip(sides, times, results, strict=True)]


def same_rows(a: list[Any], b: list[Any]) -> bool:
    """The same rows in any order (repr keys: rows may mix NULLs, numbers and text)."""
    return sorted(map(repr, a)) == sorted(map(repr, b))


def check_counts(runs: int, warmup: int) -> None:
    """TunerError unless runs >= 1 and warmup >= 0."""
    if runs < 1 or warmup < 0:
        raise TunerError(f"runs must be at least 1 and warm-up at least 0 (got {runs}, "
                         f"{warmup})")


# -- write cost ------------------------------------------------------------------------------
@dataclass
class WriteCost:
    """Time to insert `batch` copied rows into `table`, in one transaction rolled back, as
    many times as the queries run; `skipped` says why busier tables could not be measured (a
    UNIQUE constraint...). The medians are reported, the samples feed the noise test."""

    table: str | None
    batch: int
    measurable: bool
    reason: str | None = None
    before_ms: float | None = None
    after_ms: float | None = None
    skipped: list[str] = field(default_factory=list)
    before_samples_ms: list[float] = field(default_factory=list, repr=False)
    after_samples_ms: list[float] = field(default_factory=list, repr=False)

    @classmethod
    def timed(cls, table: str, batch: int, before: list[float], after: list[float],
              skipped: list[str]) -> WriteCost:
        """A measured write cost from the seconds of each insert, before and after."""
        return cls(table, batch, True, None, median_ms(before), median_ms(after), skipped,
                   [x * 1000 for x in before], [x * 1000 for x in after])

    @property
    def within_noise(self) -> bool | None:
        """True when the inserts cannot tell before from after; None if not measured."""
        if not self.measurable:
            return None
        return within_noise(self.before_samples_ms, self.after_samples_ms)

    def as_dict(self) -> dict[str, Any]:
        """The JSON form, with the after/before ratio."""
        ratio = (self.after_ms / self.before_ms
                 if self.measurable and self.before_ms and self.after_ms else None)
        return {"table": self.table, "batch": self.batch, "measurable": self.measurable,
                "reason": self.reason,
                "before_ms": None if self.before_ms is None else round(self.before_ms, 3),
                "after_ms": None if self.after_ms is None else round(self.after_ms, 3),
                "ratio": None if ratio is None else round(ratio, 3),
                "within_noise": self.within_noise, "skipped": self.skipped}


#: Table names that belong to an engine or to tuner itself, never the workload's.
OWN_TABLES = ("sqlite_", "tuner_", "tuner.")


def busiest_tables(state: State, profile: Profile) -> list[Table]:
    """Ordinary tables, largest row estimate first; among equals, those the profile indexes
    first (the change's cost shows there)."""
    indexed = {key(ix.table) for ix in profile.indexes}
    tables = [t for t in state.tables.values()
              if not t.virtual and not key(t.name).startswith(OWN_TABLES)]
    tables.sort(key=lambda t: (-(t.rows or 0), key(t.name) not in indexed, key(t.name)))
    return [t for t in tables if t.rows]


# -- the report ------------------------------------------------------------------------------
@dataclass(frozen=True)
class LeftOut:
    """A profile setting a comparison did not apply, and why."""

    name: str
    reason: str


@dataclass
class BenchReport:
    """What `tuner bench` measured. `left_out`: settings of the profile --compare did not
    apply (server-wide ones on a shared server), each with why; `scratch`: where the tuned
    copy lived (a temporary file or a scratch database), for the record."""

    database: str
    profile: Profile
    runs: int
    warmup: int
    queries: list[QueryBench] = field(default_factory=list)
    compare: bool = False
    applied_steps: int | None = None
    write_cost: WriteCost | None = None
    left_out: list[LeftOut] = field(default_factory=list)
    scratch: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """The JSON form of the whole report."""
        return {"database": self.database,
                "profile": {"name": self.profile.name, "version": self.profile.version,
                            "path": self.profile.path},
                "runs": self.runs, "warmup": self.warmup, "compare": self.compare,
                "applied_steps": self.applied_steps,
                "queries": [q.as_dict() for q in self.queries],
                "write_cost": self.write_cost.as_dict() if self.write_cost else None,
                "left_out_settings": [{"name": s.name, "reason": s.reason}
                                      for s in self.left_out],
                "scratch": self.scratch}
