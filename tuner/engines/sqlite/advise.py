"""SQLite's half of `tuner advise`: the live plans under the read-only guard, and the
evaluator that tries candidates in the schema-only scratch database of
the scratch copy below, where each candidate gets statistics sampled from the data. Its
gain is the rows the query visits through the candidate against a scan of the table. The
search and the advice itself are engine-neutral (tuner.workload.advise).
"""

from __future__ import annotations

import sqlite3
from typing import Any

from tuner.engines.sqlite.bench import classify, explain, open_guarded
from tuner.engines.sqlite.inspect import inspection_sql, open_readonly, read_state
from tuner.engines.sqlite.writecost import WriteCost
from tuner.model import Profile, Query, State, Table, key
from tuner.render import render
from tuner.workload.advise.model import MIN_GAIN, Advice, AdviseOptions, Gain
from tuner.workload.advise.search import advise_with
from tuner.workload.bench.measure import PlanLine
from tuner.workload.shape import Candidate, Shape, TableUse, candidates, widened


def advise(profile: Profile, db: str, options: AdviseOptions) -> Advice:
    """Advise indexes for the profile's declared queries on the SQLite file `db` (read-only)."""
    live = open_readonly(db)
    try:
        state = read_state(live)
        conn, guard = open_guarded(db, profile)
        try:
            plans = {q.name: explain(conn, guard, q) for q in profile.queries}
        finally:
            conn.close()
        cache = profile.settings.get("cache_size")
        evaluator = SQLiteEvaluator(live, state, cache if isinstance(cache, int) else None)
        try:
            return advise_with(profile, state, plans, evaluator, options.threshold, "sqlite",
                               options.workload)
        finally:
            evaluator.close()
    finally:
        live.close()


class SQLiteEvaluator:
    """Candidates tried in the scratch database: one CREATE INDEX on empty tables plus one
    sampled sqlite_stat1 row each (tuner.workload.advise.Evaluator). `cache_size`: the
    profile's `cache_size` pragma, which the write-cost measurement scales."""

    def __init__(self, live: sqlite3.Connection, state: State,
                 cache_size: int | None = None) -> None:
        self.live, self.state = live, state
        self.samples = Samples(live)
        self.scratch = Scratch(live, state, self.samples)
        self.stats: dict[Candidate, list[int]] = {}
        self.added: dict[str, Candidate] = {}
        self.writes = WriteCost(live, state, self.samples.of, cache_size)

    def candidates(self, use: TableUse, core: Shape, state: State) -> list[Candidate]:
        """The structure-based candidates, covering columns as trailing key columns."""
        return candidates(use, core, state)

    def _stat(self, cand: Candidate) -> list[int]:
        if cand not in self.stats:
            self.stats[cand] = sample_stat(self.live, self.state, cand, self.samples)
        return self.stats[cand]

    def add(self, cand: Candidate, name: str) -> str:
        """Create the candidate in the scratch database with its sampled statistics."""
        self.scratch.add(name, cand, self._stat(cand))
        self.added[name] = cand
        return name

    def remove(self, shown: str) -> None:
        """Drop the candidate and its statistics."""
        self.scratch.remove(shown)
        self.added.pop(shown, None)

    def baseline(self, query: Query) -> list[PlanLine]:
        """The plan in the scratch database with the chosen indexes in place."""
        return self.scratch.explain(query)

    def explain(self, query: Query) -> list[PlanLine]:
        """The plan in the scratch database now."""
        return self.scratch.explain(query)

    def gain(self, query: Query, cand: Candidate, line: PlanLine, shape: Shape,
             sorted_by_index: bool) -> Gain | None:
        """Rows visited through the candidate (its SEARCH line and sampled statistics);
        None unless that is MIN_GAIN times fewer than the table's rows."""
        use = shape.uses[key(cand.table)]
        visited = rows_visited(line, self._stat(cand), use, shape, sorted_by_index)
        nrow = self.state.tables[key(cand.table)].rows or 0
        if nrow and nrow / visited < MIN_GAIN:
            return None
        return Gain(visited)

    def visited(self, query: Query, cand: Candidate, line: PlanLine, shape: Shape,
                sorted_by_index: bool) -> float:
        """Rows visited through `cand` for the query's own values: its equality prefix counted
        over the table's sample when every value is a literal or a declared parameter (a hot
        key visits far more than sqlite_stat1's average), else from the statistics."""
        use = shape.uses[key(cand.table)]
        values = use.values(query.params)
        prefix = equality_prefix(line)
        matched = None
        if prefix and all(key(c) in values for c in prefix):
            matched = sample_count(self.live, self.state, cand,
                                   [(c, values[key(c)]) for c in prefix], self.samples)
        return rows_visited(line, self._stat(cand), use, shape, sorted_by_index, matched)

    def widen(self, cand: Candidate, extra: list[str]) -> Candidate:
        """`cand` with `extra` as trailing key columns (SQLite has no INCLUDE)."""
        return widened(cand, extra, include=False)

    def write_cost(self, cand: Candidate) -> float:
        """Seconds per written row, measured on a sample (tuner.engines.sqlite.writecost)."""
        return self.writes.per_row(cand)

    def close(self) -> None:
        """Close the scratch databases."""
        self.scratch.close()
        self.writes.close()


# -- evaluating candidates in a schema-only scratch copy ---------------------------------------
# Evaluating candidate indexes without building them over the data.
#
# This module owns the schema-only scratch database and the statistics a candidate gets there.
# `Scratch` is an in-memory database with the live schema and the live `sqlite_stat1` rows, so
# its planner decides as the live one does; a candidate costs one CREATE INDEX on empty tables
# plus one synthesized `sqlite_stat1` row. That row comes from `sample_stat`, which reads the
# candidate's columns over one random sample of the table: `Samples` draws that sample once per
# table and advise run (rowids in a TEMP table on the read-only live connection) and every
# candidate on the table reuses it. `rows_visited` estimates what a plan through the candidate
# reads, from its SEARCH line and those statistics.


#: Rows sampled per table to estimate a candidate's statistics; smaller tables are read whole.
SAMPLE_ROWS = 100_000


class Scratch:
    """An in-memory database with the live schema and the live sqlite_stat1 rows: the planner
    there decides exactly as on the live database, and a candidate costs one CREATE INDEX on
    empty tables plus one synthesized statistics row."""

    def __init__(self, live: sqlite3.Connection, state: State, samples: Samples) -> None:
        self.conn = sqlite3.connect(":memory:", isolation_level=None)
        objects = live.execute(inspection_sql("objects")).fetchall()
        for otype, _name, _tbl, sql in objects:
            if otype == "table" and sql and key(_name) in state.tables \
                    and not state.tables[key(_name)].virtual:
                self.conn.execute(sql)
        for otype, _name, _tbl, sql in objects:
            if otype in ("view", "index") and sql:
                try:
                    self.conn.execute(sql)
                except sqlite3.Error:
                    continue                    # e.g. a view over a virtual table
        self.conn.execute(render("sqlite", "advise/analyze_empty"))
        self.conn.execute(render("sqlite", "advise/clear_stats"))
        seen = set()
        rows = live.execute(inspection_sql("stat1")).fetchall() if state.analyzed else []
        for tbl, idx, stat in rows:
            self.conn.execute(render("sqlite", "advise/set_stat1"), (tbl, idx, stat))
            seen.add(key(tbl))
        for k, table in state.tables.items():
            if k not in seen and table.rows and not table.virtual:
                self.conn.execute(render("sqlite", "advise/set_stat1"),
                                  (table.name, None, str(table.rows)))
                self._sample_existing(live, state, k, samples)
        self.reload()

    def _sample_existing(self, live: sqlite3.Connection, state: State, table_key: str,
                         samples: Samples) -> None:
        """Sampled statistics for the existing indexes of a table never ANALYZEd. Without a
        sqlite_stat1 row SQLite guesses ~10 rows per key of an index
        (https://www.sqlite.org/fileformat2.html#stat1tab), while every candidate carries
        sampled numbers: the planner would keep a poor existing index over a better candidate
        (a UNIQUE(event_id, user_id) autoindex and a temp B-tree over (event_id, status) for
        GROUP BY status), and the advice would change once `tuner apply` runs ANALYZE."""
        table = state.tables[table_key]
        if table.without_rowid:
            return                      # the sample holds rowids
        for index in state.indexes.values():
            cols = tuple(c.column for c in index.columns)
            if key(index.table) != table_key or index.where or not all(cols):
                continue                # partial and expression indexes keep SQLite's guess
            stat = sample_stat(live, state, Candidate(table.name, cols), samples)  # type: ignore[arg-type]
            self.conn.execute(render("sqlite", "advise/set_stat1"),
                              (table.name, index.name, " ".join(map(str, stat))))

    def reload(self) -> None:
        """Make the planner read sqlite_stat1 again."""
        self.conn.execute(render("sqlite", "advise/reload_stats"))

    def add(self, name: str, cand: Candidate, stat: list[int]) -> None:
        """Create the candidate as index `name` with its synthesized statistics."""
        self.conn.execute(render("sqlite", "advise/create_index", name=name, table=cand.table,
                                 columns=list(cand.columns), where=cand.where))
        self.conn.execute(render("sqlite", "advise/set_stat1"),
                          (cand.table, name, " ".join(map(str, stat))))
        self.reload()

    def remove(self, name: str) -> None:
        """Drop index `name` and its statistics."""
        self.conn.execute(render("sqlite", "advise/drop_index", name=name))
        self.conn.execute(render("sqlite", "advise/clear_stat1"), (name,))
        self.reload()

    def explain(self, query: Query) -> list[PlanLine]:
        """The classified plan of `query` here; none when it does not prepare."""
        try:
            rows = self.conn.execute(render("sqlite", "bench/explain_plan", sql=query.sql),
                                     query.params).fetchall()
        except sqlite3.Error:
            return []
        return [classify(r[3]) for r in rows]

    def close(self) -> None:
        self.conn.close()


class Samples:
    """One random sample of rowids per large table for one advise run, kept in a TEMP table
    of the live connection (TEMP tables live outside the read-only main database). `drawn`
    counts the samples taken per table: each is one pass over the table, however many
    candidates it has."""

    def __init__(self, live: sqlite3.Connection) -> None:
        self.live = live
        self.names: dict[str, str] = {}
        self.drawn: dict[str, int] = {}

    def of(self, table: Table) -> str | None:
        """The TEMP table holding `table`'s sampled rowids; None when the table is small
        enough to read whole."""
        if (table.rows or 0) <= SAMPLE_ROWS:
            return None
        k = key(table.name)
        if k not in self.names:
            name = f"tuner_sample_{len(self.names)}"
            self.live.execute(render("sqlite", "advise/sample_create", name=name))
            self.live.execute(render("sqlite", "advise/sample_fill", name=name,
                                     table=table.name, limit=SAMPLE_ROWS))
            self.live.commit()
            self.names[k] = name
            self.drawn[table.name] = self.drawn.get(table.name, 0) + 1
        return self.names[k]


def sample_stat(live: sqlite3.Connection, state: State, cand: Candidate,
                samples: Samples) -> list[int]:
    """The sqlite_stat1 numbers the candidate would get: its rows, then the average rows per
    distinct value of each key prefix, estimated from the table's sample."""
    table = state.tables[key(cand.table)]
    nrow = table.rows or 0
    row = live.execute(render("sqlite", "advise/sample_stats", table=table.name,
                              columns=list(cand.columns), where=cand.where,
                              sample=samples.of(table))).fetchone()
    sampled, kept, distinct = row[0], row[1], row[2:]
    if not sampled:
        return [max(nrow, 1)] + [1] * len(cand.columns)
    fraction = sampled / max(nrow, sampled)
    rows = max(1, round(nrow * kept / sampled)) if kept else 1
    stat = [rows]
    for d in distinct:
        per = kept / max(d, 1)
        # A value seen many times in the sample repeats in proportion in the whole table;
        # one seen once is probably (nearly) unique.
        stat.append(max(1, round(per / fraction if per >= 2 else per)))
    return stat


def sample_count(live: sqlite3.Connection, state: State, cand: Candidate,
                 values: list[tuple[str, Any]], samples: Samples) -> float:
    """The rows of `cand`'s table (kept by its partial WHERE) with these column values,
    estimated from the table's sample: what one seek through the index visits for those
    values, where sqlite_stat1 gives only the average over all values (a hot key, one event
    with a third of the participants, visits far more)."""
    table = state.tables[key(cand.table)]
    row = live.execute(render("sqlite", "advise/sample_count", table=table.name,
                              columns=[c for c, _ in values], where=cand.where,
                              sample=samples.of(table)), [v for _, v in values]).fetchone()
    sampled, matched = row
    return matched * (table.rows or sampled) / sampled if sampled else 0.0


def equality_prefix(line: PlanLine) -> list[str]:
    """The columns a SEARCH line seeks by equality, in the index's order (`a=? AND b=?`);
    none when its prefix holds an IN list or a skip-scan."""
    out = []
    for term in _constraint_terms(line.detail) if line.kind == "search" else []:
        if term.startswith("ANY(") or not term.endswith("=?") or any(o in term for o in "<>"):
            break
        out.append(term[:-2])
    return out


def _constraint_terms(detail: str) -> list[str]:
    """The `(a=? AND b>?)` part of a SEARCH line, as terms."""
    if not detail.endswith(")") or " (" not in detail:
        return []
    return detail[detail.index(" (") + 2:-1].split(" AND ")


def rows_visited(line: PlanLine, stat: list[int], use: TableUse, shape: Shape,
                 sorted_by_index: bool, matched: float | None = None) -> float:
    """Rows the query visits through the candidate: rows per equality prefix (times the IN
    list sizes), a quarter per range bound, at most LIMIT when the index gives the order.
    `matched`: the rows with the query's own values of the equality prefix (sample_count),
    instead of sqlite_stat1's average."""
    terms = _constraint_terms(line.detail) if line.kind == "search" else []
    in_sizes = {key(c): n for c, n, _ in use.eq}
    k, factor, ranges = 0, 1.0, 0
    if matched is not None:
        k = len(equality_prefix(line))
        terms = terms[k:]
    for term in terms:
        if term.startswith("ANY(") and k + 1 < len(stat):
            # A skip-scan: one seek per distinct value of the skipped column.
            factor *= stat[k] / max(stat[k + 1], 1)
            k += 1
        elif "=" in term and not any(o in term for o in "<>") and k + 1 < len(stat):
            factor *= in_sizes.get(key(term.split("=")[0]), 1)
            k += 1
        else:
            ranges += 1
    visited = (stat[k] * factor if matched is None else matched) / 4 ** ranges
    if sorted_by_index and shape.limit is not None:
        visited = min(visited, shape.limit)
    return max(visited, 1.0)
