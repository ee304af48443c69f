"""PostgreSQL's half of `tuner bench`: read-only sessions configured by the profile, EXPLAIN
read into the shared plan vocabulary (plan_lines, below), the batch-insert write cost, and
--compare on a scratch clone (tuner.engines.postgres.backup.scratch_clone).

Read-only enforcement is PostgreSQL's own: every declared query runs in a `BEGIN READ ONLY`
transaction (psycopg's `read_only`), which is rolled back afterwards, so a statement that
writes fails with SQLSTATE 25006 and nothing is kept. The queries' `:name` parameters become
psycopg's `%(name)s` (tuner.engines.postgres.conn.to_psycopg), leaving `::` casts alone.

--compare measures one clone before and after applying the profile, in that order (a clone
of a large database is costly; SQLite's side-by-side alternation needs two). The measurement
loop and the report are engine-neutral (tuner.workload.bench.measure). Nothing here prints.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from tuner.engines.postgres.backup import scratch_clone
from tuner.engines.postgres.conn import driver, first_line, redact, to_psycopg
from tuner.engines.postgres.inspect import split_name
from tuner.engines.postgres.runtime import connect
from tuner.errors import TunerError
from tuner.model import Profile, Query, State
from tuner.render import render
from tuner.workload.bench.measure import (
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
            batch: int, say: Callable[[str], None], tune: Callable[[str], int],
            inspect: Callable[[str], State]) -> BenchReport:
    """Measure a scratch clone of `url` before and after applying `profile` to it with
    `tuner apply`'s own code path (`tune`; no backup of the scratch clone); the database at `url` is
    only read (pg_dump). The clone is dropped at the end, on failure and Ctrl-C too."""

    with scratch_clone(url, say) as (clone, name):
        state = inspect(clone)
        say(f"Timing the queries on {name} before the change ...")
        before = _measure_all(clone, profile, chosen, runs, warmup)
        say("Timing a batch insert before the change ...")
        probe = WriteProbe(state, profile, batch, rounds=runs)
        write_before = probe.first(clone)
        say(f"Applying the profile to {name} (as tuner apply does; no backup of the "
            "scratch clone) ...")
        applied = tune(clone)
        say(f"Timing the queries on {name} after the change ...")
        after = _measure_all(clone, profile, chosen, runs, warmup)
        say("Timing the batch insert after the change ...")
        write_after, failed = probe.again(clone) if write_before else (None, None)
        report = BenchReport(display(url), profile, runs, warmup, compare=True,
                             applied_steps=applied, scratch=name)
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


# -- EXPLAIN (FORMAT JSON) in the plan vocabulary ----------------------------------------------
# Owns reading PostgreSQL's `EXPLAIN (FORMAT JSON, VERBOSE)` into the plan vocabulary every
# engine's bench report uses (tuner.workload.bench.measure.PlanLine, SQLite's EXPLAIN QUERY PLAN
# words), so that report.py, `tuner check` and the HTML page stay engine-neutral.
#
# The mapping (https://www.postgresql.org/docs/current/using-explain.html):
#
# - `Seq Scan` (parallel or not): `SCAN table`;
# - `Index Scan` / `Index Only Scan` with an Index Cond: `SEARCH table USING INDEX name` /
#   `USING COVERING INDEX name` (an index-only scan answers from the index alone, as SQLite's
#   covering index does); without one the whole index is read in order: `SCAN ... USING ...`;
# - `Bitmap Heap Scan`: `SEARCH table USING INDEX name` for each `Bitmap Index Scan` under it;
# - `Tid Scan`: `SEARCH table USING TID`;
# - `Sort`: `USE TEMP B-TREE FOR ORDER BY`, or `GROUP BY` under a sorted aggregate, or
#   `DISTINCT` under `Unique`; `Incremental Sort`: `... FOR RIGHT PART OF ORDER BY` (SQLite's
#   words for sorting only the tail of the key); a sort for a merge join is shown as it is;
# - a hashed `Aggregate` (HashAggregate): `USE TEMP B-TREE FOR GROUP BY`: grouping that no
#   index order serves, built in memory, as SQLite's temp B-tree is.
#
# Steps are listed children first (the scans, then the sort over them), as SQLite lists them.
# Joins, limits and other plumbing are not steps of their own. Pure functions: no I/O.


DEFAULT_SCHEMA = "public"


def plan_lines(explained: Any) -> list[PlanLine]:
    """The classified steps of one `EXPLAIN (FORMAT JSON[, VERBOSE])` result: the list
    psycopg returns for the json column (`[{"Plan": {...}}]`), or its top node."""
    if isinstance(explained, list):
        explained = explained[0] if explained else {}
    root = explained.get("Plan", explained) if isinstance(explained, dict) else {}
    out: list[PlanLine] = []
    _walk(root, None, out)
    return out


def _walk(node: dict[str, Any], parent: dict[str, Any] | None, out: list[PlanLine]) -> None:
    kind = node.get("Node Type", "")
    if node.get("Parent Relationship") in ("SubPlan", "InitPlan") and node.get("Subplan Name"):
        out.append(PlanLine(str(node["Subplan Name"])))
    if kind == "Bitmap Heap Scan":
        out.extend(_bitmap(node))
        return
    for child in node.get("Plans", []):
        _walk(child, node, out)
    line = _classify(node, parent)
    if line is not None:
        out.append(line)


def relation_name(node: dict[str, Any]) -> str:
    """The relation of a plan node as profiles and inspection name it: bare in `public`,
    else schema.name."""
    return _table(node)


def _table(node: dict[str, Any]) -> str:
    name = str(node.get("Relation Name", "?"))
    schema = node.get("Schema")
    return name if schema in (None, "", DEFAULT_SCHEMA) else f"{schema}.{name}"


def _on(node: dict[str, Any]) -> str:
    alias = node.get("Alias")
    table = _table(node)
    return f"{table} {alias}" if alias and alias != node.get("Relation Name") else table


def _classify(node: dict[str, Any], parent: dict[str, Any] | None) -> PlanLine | None:
    kind = node.get("Node Type", "")
    if kind == "Seq Scan":
        prefix = "Parallel " if node.get("Parallel Aware") else ""
        return PlanLine(f"{prefix}Seq Scan on {_on(node)}", "scan", table=_table(node))
    if kind in ("Index Scan", "Index Only Scan"):
        index = str(node.get("Index Name", "?"))
        using = ("COVERING INDEX " if kind == "Index Only Scan" else "INDEX ") + index
        cond = node.get("Index Cond")
        detail = f"{kind} using {index} on {_on(node)}" + (f" {cond}" if cond else "")
        return PlanLine(detail, "search" if cond else "scan", table=_table(node), using=using,
                        index=index)
    if kind == "Tid Scan":
        return PlanLine(f"Tid Scan on {_on(node)}", "search", table=_table(node), using="TID")
    if kind in ("Sort", "Incremental Sort"):
        keys = ", ".join(node.get("Sort Key", []))
        detail = f"{kind} (Sort Key: {keys})"
        if parent is not None and parent.get("Node Type") == "Merge Join":
            return PlanLine(detail + " for a merge join")
        return PlanLine(detail, "temp_btree", purpose=_sort_purpose(kind, parent))
    if kind == "Aggregate" and node.get("Strategy") in ("Hashed", "Mixed"):
        keys = ", ".join(node.get("Group Key", []))
        return PlanLine(f"HashAggregate (Group Key: {keys})", "temp_btree", purpose="GROUP BY")
    return None


def _sort_purpose(kind: str, parent: dict[str, Any] | None) -> str:
    if kind == "Incremental Sort":
        return "RIGHT PART OF ORDER BY"
    above = (parent or {}).get("Node Type")
    if above == "Aggregate":
        return "GROUP BY"
    if above == "Unique":
        return "DISTINCT"
    return "ORDER BY"


def _bitmap(heap: dict[str, Any]) -> list[PlanLine]:
    """One SEARCH per Bitmap Index Scan under a Bitmap Heap Scan (through BitmapAnd/Or)."""
    found: list[PlanLine] = []
    todo = list(heap.get("Plans", []))
    while todo:
        node = todo.pop(0)
        if node.get("Node Type") == "Bitmap Index Scan":
            index = str(node.get("Index Name", "?"))
            cond = node.get("Index Cond")
            found.append(PlanLine(f"Bitmap Heap Scan on {_on(heap)} (Bitmap Index Scan on "
                                  f"{index}" + (f" {cond})" if cond else ")"), "search",
                                  table=_table(heap), using=f"INDEX {index}", index=index))
        else:
            todo = list(node.get("Plans", [])) + todo
    return found or [PlanLine(f"Bitmap Heap Scan on {_on(heap)}", "search", table=_table(heap))]
