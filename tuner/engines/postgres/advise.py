"""PostgreSQL's half of `tuner advise`: candidates tried as HypoPG hypothetical indexes.

This module owns the PostgreSQL evaluator and what it needs from the server. Every statement
runs in one session (tuner.connect with the profile's per-session settings, so
`random_page_cost` and friends weigh the plans as they will in production), each in a READ
ONLY transaction that is rolled back: declared queries are only EXPLAINed (FORMAT JSON),
never run. A candidate is one `hypopg_create_index` (the CREATE INDEX text rendered from
sql/postgresql/advise/index_ddl.sql.j2, the one place its names are quoted); it lives in the
backend's memory only and EXPLAIN in the same session considers it
(https://hypopg.readthedocs.io/en/latest/usage.html). Each trial's index is forgotten with
hypopg_drop_index right after its EXPLAINs; the indexes a round chooses stay for the next
rounds, so hypopg_reset runs once at the start and once at the end (and the backend's exit
forgets everything anyway). The planner's own statistics (pg_statistic) weigh every plan, so
nothing is sampled here.

A candidate's gain is the larger of two ratios of the planner's estimated costs: the whole
query's total cost, and what reading the candidate's table costs the query (its scan nodes,
times the loops of a nested loop's inner side or a subplan); it must reach MIN_GAIN. The
first catches a sort that goes away under a LIMIT, the second the index on one side of a join.

Decisions, documented in the README:
- HypoPG missing on the server: a one-line error naming the package
  (`apt-get install postgresql-<major>-hypopg`) and `CREATE EXTENSION hypopg`.
- HypoPG installed but not created in the database: creating an extension changes the user's
  database (there is no temporary form), so it is never done silently: the error names the
  command, and `--create-extension` runs it.
- Tables the declared queries read that were never ANALYZEd: an error asking for ANALYZE
  first. Running ANALYZE inside a rolled-back transaction is no way out: a READ ONLY
  transaction refuses it, it needs the table's owner, it reads a sample of every table, and
  its pg_class (reltuples) and pg_stat updates are not transactional, so they would stay.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from tuner.engines.postgres import runtime
from tuner.engines.postgres.bench import plan_lines, relation_name
from tuner.engines.postgres.conn import connect, driver, first_line, one, redact, to_psycopg
from tuner.engines.postgres.inspect import display_name, split_name
from tuner.engines.postgres.writecost import per_row_cost
from tuner.errors import DatabaseError, TunerError
from tuner.model import Profile, Query, State, key
from tuner.render import render
from tuner.workload.advise.model import MIN_GAIN, Advice, AdviseOptions, Gain
from tuner.workload.advise.search import advise_with
from tuner.workload.bench.measure import PlanLine
from tuner.workload.shape import Candidate, Shape, TableUse, candidates, including, widened

ENGINE = "postgresql"
#: A sort or hashed grouping of fewer input rows than this is no problem: PostgreSQL does it
#: in memory, and the planner often prefers it to an index order (a Bitmap Heap Scan of three
#: rows, then a Sort); SQLite's temp B-tree has no row count, PostgreSQL's EXPLAIN has one.
SORT_MIN_ROWS = 1000
#: The nodes that sort or group outside any index order (pg_explain reads them as temp B-trees).
SORT_NODES = ("Sort", "Incremental Sort")
#: Plan nodes that read a table; their cost is what the table costs the query.
SCAN_NODES = ("Seq Scan", "Index Scan", "Index Only Scan", "Bitmap Heap Scan", "Tid Scan")


class HypoPGMissing(DatabaseError):
    """The hypopg extension cannot be used in the target database; says what to do."""


def advise(profile: Profile, url: str, options: AdviseOptions,
           inspect: Callable[[str], State]) -> Advice:
    """Advise indexes for the profile's declared queries on the database at `url` (`inspect`
    reads its state); the database is only read (unless `options.create_extension` and
    hypopg is not created)."""
    state = inspect(url)
    schema = hypopg_schema(url, options.create_extension)
    evaluator = PgEvaluator(url, profile, state, schema)
    try:
        plans = {q.name: evaluator.baseline(q) for q in profile.queries}
        _require_statistics(evaluator, plans, url)
        state = replace(state, stats=evaluator.index_stats(state))
        return advise_with(profile, state, plans, evaluator, options.threshold, "postgres",
                           options.workload)
    finally:
        evaluator.close()


def hypopg_schema(url: str, create: bool) -> str:
    """The schema of the hypopg extension in the database at `url`; creates it first when
    `create`; HypoPGMissing (one line, what to install or run) when it cannot be used."""
    psycopg = driver()
    where = redact(url)
    with connect(url) as conn:
        available, schema, major, database = one(conn.execute(
            render(ENGINE, "advise/hypopg")))
        if schema:
            return str(schema)
        if not available:
            raise HypoPGMissing(where, "tuner advise needs the HypoPG extension, which this "
                                f"server does not have: install it (apt-get install "
                                f"postgresql-{major}-hypopg, or enable hypopg on a managed "
                                f"service), then run CREATE EXTENSION hypopg; in {database}")
        if not create:
            raise HypoPGMissing(where, f"the hypopg extension is not created in database "
                                f"{database}: run CREATE EXTENSION hypopg; there, or pass "
                                "--create-extension to let tuner advise create it")
        try:
            conn.execute(render(ENGINE, "advise/create_extension"))
        except psycopg.Error as exc:
            raise HypoPGMissing(where, f"cannot CREATE EXTENSION hypopg: {first_line(exc)}") \
                from None
        return str(one(conn.execute(render(ENGINE, "advise/hypopg")))[1])


def _require_statistics(evaluator: PgEvaluator, plans: dict[str, list[PlanLine]],
                        url: str) -> None:
    """DatabaseError when a table the declared queries read was never ANALYZEd: without
    statistics the planner guesses, and advice resting on its guesses would change once
    autovacuum (or `tuner apply`) analyzes the table."""
    read = {key(ln.table) for lines in plans.values() for ln in lines if ln.table}
    missing = [name for name in evaluator.never_analyzed() if key(name) in read]
    if missing:
        names = ", ".join(missing)
        raise DatabaseError(redact(url), f"table(s) {names} have never been analyzed, so the "
                            f"planner has no statistics to advise with: run ANALYZE {names}; "
                            "then tuner advise again")


class PgEvaluator:
    """One read-only session holding the hypothetical indexes of one advise run
    (tuner.workload.advise.Evaluator). `base` and `last` keep the EXPLAIN JSON of each
    query's baseline plan and of its latest plan, for the costs `gain` compares."""

    def __init__(self, url: str, profile: Profile, state: State, schema: str) -> None:
        self.where = redact(url)
        self.state, self.schema = state, schema
        self.conn = runtime.connect(url, profile, readonly=True)
        self.oids: dict[str, int] = {}
        self.base: dict[str, Any] = {}
        self.last: dict[str, Any] = {}
        self._fetch(render(ENGINE, "advise/hypo_reset", schema=schema))

    def _fetch(self, sql: str, params: dict[str, Any] | None = None,
               what: str = "tuner advise") -> list[Any]:
        """The rows of one statement, in a read-only transaction rolled back afterwards."""
        psycopg = driver()
        try:
            with self.conn.cursor() as cur:
                cur.execute(sql, params)
                return cur.fetchall() if cur.description else []
        except psycopg.Error as exc:
            raise TunerError(f"{what} on {self.where}: {first_line(exc)}") from None
        finally:
            if not self.conn.closed:
                self.conn.rollback()

    def _explain(self, query: Query) -> Any:
        converted = to_psycopg(query.sql, f"query {query.name}")
        rows = self._fetch(render(ENGINE, "bench/explain", sql=converted.sql),
                           converted.params(query.params, f"query {query.name}"),
                           f"query {query.name}")
        return rows[0][0] if rows else []

    # -- the Evaluator protocol ----------------------------------------------------------
    def candidates(self, use: TableUse, core: Shape, state: State) -> list[Candidate]:
        """The structure-based candidates, covering columns moved to INCLUDE."""
        return including(candidates(use, core, state))

    def baseline(self, query: Query) -> list[PlanLine]:
        """The plan with the hypothetical indexes chosen so far; its costs are remembered."""
        self.base[query.name] = self._explain(query)
        return lines_of(self.base[query.name])

    def explain(self, query: Query) -> list[PlanLine]:
        """The plan now, with the candidate being tried in place."""
        self.last[query.name] = self._explain(query)
        return lines_of(self.last[query.name])

    def add(self, cand: Candidate, name: str) -> str | None:
        """Create `cand` as a hypothetical index; returns the name HypoPG gave it, or None
        when the server refuses the index (a column type without a B-tree operator class)."""
        schema, table = split_name(cand.table)
        ddl = render(ENGINE, "advise/index_ddl", schema=schema, table=table,
                     columns=list(cand.columns), include=list(cand.include), where=cand.where)
        try:
            oid, shown = self._fetch(render(ENGINE, "advise/hypo_create", schema=self.schema),
                                     {"ddl": ddl}, f"hypothetical index {name}")[0]
        except TunerError:
            return None
        self.oids[shown] = oid
        return str(shown)

    def remove(self, shown: str) -> None:
        """Forget the hypothetical index shown as `shown`."""
        self._fetch(render(ENGINE, "advise/hypo_drop", schema=self.schema),
                    {"oid": self.oids.pop(shown)})

    def gain(self, query: Query, cand: Candidate, line: PlanLine, shape: Shape,
             sorted_by_index: bool) -> Gain | None:
        """The estimated cost before and after; None unless the query's total cost or the
        cost of reading the candidate's table drops by MIN_GAIN or more."""
        before, after = self.base[query.name], self.last[query.name]
        total = (_root(before).get("Total Cost", 0.0), _root(after).get("Total Cost", 0.0))
        table = (table_cost(before, cand.table)[0], table_cost(after, cand.table)[0])
        by_query, by_table = total[0] / max(total[1], 1e-9), table[0] / max(table[1], 1e-9)
        if max(by_query, by_table) < MIN_GAIN:
            return None
        visited = index_rows(after, line.index or "")
        if sorted_by_index and shape.limit is not None:
            visited = min(visited, shape.limit)
        if by_query >= by_table:
            return Gain(max(visited, 1.0), total)
        return Gain(max(visited, 1.0), table, f"reading {cand.table}")

    def visited(self, query: Query, cand: Candidate, line: PlanLine, shape: Shape,
                sorted_by_index: bool) -> float:
        """The planner's estimate of the rows read through the index on `line` in the last
        `explain` of `query` (custom plan: its most-common-values statistics know a hot key)."""
        rows = index_rows(self.last[query.name], line.index or "")
        if sorted_by_index and shape.limit is not None:
            rows = min(rows, shape.limit)
        return max(rows, 1.0)

    def widen(self, cand: Candidate, extra: list[str]) -> Candidate:
        """`cand` with `extra` in INCLUDE where the engine has it (the key stays as it is)."""
        return widened(cand, extra, include=True)  # PostgreSQL indexes take INCLUDE

    def write_cost(self, cand: Candidate) -> float:
        """Seconds per written row: the model of tuner.engines.postgres.writecost over the
        table's row count (the session is read-only, so nothing is measured here); a partial
        index's cost times the share of the rows its WHERE keeps, as only those get an entry."""
        table = self.state.tables.get(key(cand.table))
        rows = table.rows or 0 if table else 0
        cost = per_row_cost(rows, len(cand.columns) + len(cand.include))
        return cost * self.kept(cand, rows)

    def kept(self, cand: Candidate, rows: int) -> float:
        """The share (0..1) of the table's `rows` that `cand`'s WHERE keeps: the planner's
        estimate from its statistics; 1 without a WHERE or when the table's size is not
        known."""
        if not rows or cand.where is None:
            return 1.0
        schema, table = split_name(cand.table)
        [[plan]] = self._fetch(render(ENGINE, "advise/kept", schema=schema, table=table,
                                      where=cand.where), what=f"partial index on {cand.table}")
        return min(1.0, float(plan[0]["Plan"]["Plan Rows"]) / rows)

    # -- statistics ----------------------------------------------------------------------
    def never_analyzed(self) -> list[str]:
        """Tables without any statistics (never ANALYZEd, no pg_statistic rows)."""
        return [display_name(s, n)
                for s, n in self._fetch(render(ENGINE, "advise/never_analyzed"))]

    def index_stats(self, state: State) -> dict[str, tuple[int, ...]]:
        """Per index key, (rows, rows per value of its first column) from pg_stats.n_distinct:
        the numbers tuner.lint.low_cardinality reads."""
        distinct = {(key(display_name(s, t)), key(c)): float(n)
                    for s, t, c, n in self._fetch(render(ENGINE, "advise/n_distinct"))}
        out: dict[str, tuple[int, ...]] = {}
        for k, index in state.indexes.items():
            table = state.tables.get(key(index.table))
            first = index.columns[0].column if index.columns else None
            nd = distinct.get((key(index.table), key(first or "")))
            if table is None or not table.rows or nd is None or not first:
                continue
            values = nd if nd > 0 else -nd * table.rows
            out[k] = (table.rows, max(1, round(table.rows / max(values, 1.0))))
        return out

    def close(self) -> None:
        """Forget the hypothetical indexes and close the session."""
        try:
            if not self.conn.closed:
                self._fetch(render(ENGINE, "advise/hypo_reset", schema=self.schema))
        finally:
            self.conn.close()


# -- reading EXPLAIN (FORMAT JSON) costs ---------------------------------------------------------
def lines_of(explained: Any) -> list[PlanLine]:
    """The plan's steps (bench.plan_lines), without the sorts and hashed groupings of
    fewer than SORT_MIN_ROWS input rows: a plan node is left out, its input kept."""
    return plan_lines(_splice(copy.deepcopy(explained)))


def _splice(explained: Any) -> Any:
    def small(node: dict[str, Any]) -> bool:
        hashed = node.get("Node Type") == "Aggregate" and node.get("Strategy") in ("Hashed",
                                                                                  "Mixed")
        children = node.get("Plans", [])
        return (node.get("Node Type") in SORT_NODES or hashed) and len(children) == 1 and \
            float(children[0].get("Plan Rows", 0)) < SORT_MIN_ROWS

    def walk(node: dict[str, Any]) -> dict[str, Any]:
        node["Plans"] = [walk(c) for c in node.get("Plans", [])]
        if small(node):
            child = node["Plans"][0]
            for k in ("Parent Relationship", "Subplan Name"):
                if k in node:
                    child[k] = node[k]
            return child
        return node

    root = _root(explained)
    if root:
        explained = [{"Plan": walk(root)}]
    return explained


def _root(explained: Any) -> dict[str, Any]:
    if isinstance(explained, list):
        explained = explained[0] if explained else {}
    return explained.get("Plan", {}) if isinstance(explained, dict) else {}


def _nodes(explained: Any) -> list[tuple[dict[str, Any], float]]:
    """Every plan node with how many times it runs: a nested loop's inner side once per
    outer row, a subplan once per row of the node it hangs under (the planner's estimates;
    EXPLAIN without ANALYZE shows per-loop costs)."""
    out: list[tuple[dict[str, Any], float]] = []
    todo = [(_root(explained), 1.0)]
    while todo:
        node, loops = todo.pop()
        out.append((node, loops))
        children = node.get("Plans", [])
        outer = next((c for c in children if c.get("Parent Relationship") == "Outer"), None)
        for child in children:
            times = loops
            if child.get("Parent Relationship") == "Inner" and node.get("Node Type") == \
                    "Nested Loop" and outer is not None:
                times *= max(float(outer.get("Plan Rows", 1)), 1.0)
            elif child.get("Parent Relationship") == "SubPlan":
                times *= max(float(node.get("Plan Rows", 1)), 1.0)
            todo.append((child, times))
    return out


def table_cost(explained: Any, table: str) -> tuple[float, float]:
    """(estimated cost, rows) of reading `table` in a plan: its scan nodes, times their loops."""
    cost = rows = 0.0
    for node, loops in _nodes(explained):
        if node.get("Node Type") in SCAN_NODES and key(relation_name(node)) == key(table):
            cost += float(node.get("Total Cost", 0.0)) * loops
            rows += float(node.get("Plan Rows", 0.0)) * loops
    return cost, rows


def index_rows(explained: Any, index: str) -> float:
    """The rows a plan reads through index `index` (its scan's estimate, times its loops)."""
    return sum(float(node.get("Plan Rows", 0.0)) * loops for node, loops in _nodes(explained)
               if node.get("Index Name") == index)
