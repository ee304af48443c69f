"""PostgreSQL's half of `tuner bench`: read-only sessions configured by the profile, EXPLAIN
read into the shared plan vocabulary (tuner.workload.pg_explain), the batch-insert write cost,
and --compare on a scratch clone (tuner.workload.pg_clone).

Read-only enforcement is PostgreSQL's own: every declared query runs in a `BEGIN READ ONLY`
transaction (psycopg's `read_only`), which is rolled back afterwards, so a statement that
writes fails with SQLSTATE 25006 and nothing is kept. The queries' `:name` parameters become
psycopg's `%(name)s` (tuner.sqlparams), leaving `::` casts alone.

--compare measures one clone before and after applying the profile, in that order (a clone
of a large database is costly; SQLite's side-by-side alternation needs two). The measurement
loop and the report are engine-neutral (tuner.workload.measure). Nothing here prints.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from tuner.engines.postgres_conn import driver, first_line, redact
from tuner.engines.postgres_inspect import split_name
from tuner.errors import TunerError
from tuner.model import State
from tuner.profile import Profile, Query
from tuner.render import render
from tuner.sqlparams import to_psycopg
from tuner.workload.measure import (
    BenchReport,
    Measurement,
    PlanLine,
    QueryBench,
    WriteCost,
    busiest_tables,
    measure,
    median_ms,
    same_rows,
)
from tuner.workload.pg_explain import plan_lines

ENGINE = "postgresql"


def display(url: str) -> str:
    """How reports name the database: its URL without the password."""
    return redact(url)


def open_side(url: str, profile: Profile | None) -> PgSide:
    """A read-only session on `url` with the profile's per-session settings (measure.Side)."""
    return PgSide(url, profile)


class PgSide:
    """One PostgreSQL database being measured: a tuner.connect session (the profile's
    per-session settings set and read back) whose every transaction is READ ONLY."""

    def __init__(self, url: str, profile: Profile | None):
        from tuner.runtime.targets import connect

        self.where = redact(url)
        self.conn = connect(url, profile, readonly=True)

    def _sql(self, query: Query, template: str | None = None) -> tuple[str, dict[str, Any]]:
        converted = to_psycopg(query.sql, f"query {query.name}")
        sql = converted.sql if template is None else render(ENGINE, template, sql=converted.sql)
        return sql, converted.params(query.params, f"query {query.name}")

    def _run(self, query: Query, sql: str, params: dict[str, Any]) -> tuple[list[Any], float]:
        """Rows and seconds of one statement in a read-only transaction, rolled back."""
        psycopg = driver()
        try:
            with self.conn.cursor() as cur:
                cur.execute(render(ENGINE, "bench/open_transaction"))
                started = time.perf_counter()
                cur.execute(sql, params)
                rows = cur.fetchall() if cur.description else []
                return rows, time.perf_counter() - started
        except psycopg.errors.ReadOnlySqlTransaction as exc:
            raise TunerError(f"query {query.name} is not read-only: {first_line(exc)}; "
                             "declared queries may only read") from None
        except psycopg.Error as exc:
            raise TunerError(f"query {query.name} on {self.where}: {first_line(exc)}") \
                from None
        finally:
            if not self.conn.closed:
                self.conn.rollback()

    def rows(self, query: Query) -> list[Any]:
        """The rows of one run of `query`."""
        return self._run(query, *self._sql(query))[0]

    def once(self, query: Query) -> float:
        """Seconds one run of `query` takes (its transaction's BEGIN not counted)."""
        return self._run(query, *self._sql(query))[1]

    def explain(self, query: Query) -> list[PlanLine]:
        """The plan of `query` from EXPLAIN (FORMAT JSON, VERBOSE); the query is not run."""
        rows = self._run(query, *self._sql(query, "bench/explain"))[0]
        return plan_lines(rows[0][0] if rows else [])

    def close(self) -> None:
        """Close the session."""
        self.conn.close()


# -- write cost ------------------------------------------------------------------------------
class WriteProbe:
    """The batch insert that measures what indexes cost writers: copies of existing rows into
    the busiest table whose rows can be copied, in a transaction that is rolled back. The
    table is chosen on the first database measured, and the same insert is timed after."""

    def __init__(self, state: State, profile: Profile, batch: int, rounds: int):
        self.state, self.profile, self.batch, self.rounds = state, profile, batch, rounds
        self.table: str | None = None
        self.sql = ""
        self.size = 0
        self.skipped: list[str] = []

    def first(self, url: str) -> list[float] | None:
        """Choose the table on `url` and time the insert there; None if no table fits."""
        from tuner.runtime.targets import connect

        psycopg = driver()
        with connect(url, self.profile) as conn:
            for table in busiest_tables(self.state, self.profile)[:3]:
                schema, name = split_name(table.name)
                columns = [r[0] for r in conn.execute(render(ENGINE, "bench/insert_columns"),
                                                      {"schema": schema, "table": name})]
                conn.rollback()
                sql = render(ENGINE, "bench/insert_copy", schema=schema, table=name,
                             columns=columns)
                size = min(self.batch, table.rows or 0)
                try:
                    times = _insert_times(conn, sql, size, self.rounds)
                except psycopg.Error as exc:
                    self.skipped.append(f"{table.name}: {first_line(exc)}")
                    continue
                self.table, self.sql, self.size = table.name, sql, size
                return times
        return None

    def again(self, url: str) -> tuple[list[float] | None, str | None]:
        """The same insert timed on `url`, or None and why it failed there."""
        from tuner.runtime.targets import connect

        with connect(url, self.profile) as conn:
            try:
                return _insert_times(conn, self.sql, self.size, self.rounds), None
            except driver().Error as exc:
                return None, first_line(exc)

    def cost(self, before: list[float] | None, after: list[float] | None,
             failed: str | None) -> WriteCost:
        """The WriteCost of the two measurements."""
        if self.table is None or before is None:
            return WriteCost(None, self.batch, False, "; ".join(self.skipped)
                             or "no table with rows", skipped=self.skipped)
        if after is None:
            return WriteCost(self.table, self.size, False, f"{self.table} after the change: "
                             f"{failed}", median_ms(before), None, self.skipped)
        return WriteCost.timed(self.table, self.size, before, after, self.skipped)


def _insert_times(conn: Any, sql: str, size: int, rounds: int) -> list[float]:
    times = []
    for _ in range(rounds):
        try:
            started = time.perf_counter()
            conn.execute(sql, {"batch": size})
            times.append(time.perf_counter() - started)
        finally:
            conn.rollback()
    return times


# -- --compare -------------------------------------------------------------------------------
def compare(url: str, profile: Profile, chosen: list[Query], *, runs: int, warmup: int,
            batch: int, say: Callable[[str], None]) -> BenchReport:
    """Measure a scratch clone of `url` before and after applying `profile` to it with
    `tuner apply`'s own code path (no backup of the scratch clone); the database at `url` is
    only read (pg_dump). The clone is dropped at the end, on failure and Ctrl-C too."""
    from tuner.api import make_plan
    from tuner.apply import ApplyOptions, apply_plan_file
    from tuner.engines.postgres import PostgresEngine
    from tuner.planfile import parse_plan_file, render_plan_file
    from tuner.workload.pg_clone import scratch_clone

    with scratch_clone(url, say) as (clone, name):
        state = PostgresEngine().inspect(clone)
        say(f"Timing the queries on {name} before the change ...")
        before = _measure_all(clone, profile, chosen, runs, warmup)
        say("Timing a batch insert before the change ...")
        probe = WriteProbe(state, profile, batch, rounds=runs)
        write_before = probe.first(clone)
        say(f"Applying the profile to {name} (as tuner apply does; no backup of the "
            "scratch clone) ...")
        plan = parse_plan_file(render_plan_file(make_plan(profile, clone)))
        apply_plan_file(plan, clone, ApplyOptions(no_backup=True))
        say(f"Timing the queries on {name} after the change ...")
        after = _measure_all(clone, profile, chosen, runs, warmup)
        say("Timing the batch insert after the change ...")
        write_after, failed = probe.again(clone) if write_before else (None, None)
        report = BenchReport(display(url), profile, runs, warmup, compare=True,
                             applied_steps=len(plan.steps()), scratch=name)
        for query in chosen:
            (m_before, rows_before), (m_after, rows_after) = before[query.name], after[query.name]
            report.queries.append(QueryBench(query, m_after, m_before,
                                             same_rows(rows_before, rows_after)))
        report.write_cost = probe.cost(write_before, write_after, failed)
    return report


def _measure_all(url: str, profile: Profile, chosen: list[Query], runs: int,
                 warmup: int) -> dict[str, tuple[Measurement, list[Any]]]:
    side = PgSide(url, profile)
    try:
        return {q.name: (measure([side], q, runs, warmup)[0], side.rows(q)) for q in chosen}
    finally:
        side.close()
