"""tuner advise: which indexes the declared workload needs, and which existing ones earn nothing.

This module owns the advice: it finds the declared queries whose plan scans a large table or
sorts in a temp B-tree (EXPLAIN under the read-only guard), derives candidate indexes from each
query's structure (parsed with sqlglot, never with regular expressions), and evaluates every
candidate without building it over the data: in a schema-only in-memory copy of the database
that carries the live `sqlite_stat1` rows plus a synthesized row for the candidate (from a
sample of the table), the query is EXPLAINed again. A candidate is kept only when it changes
the plan and cuts the estimated rows visited by MIN_GAIN or more. It returns data; the CLI prints.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from typing import Any

from tuner.engines.sqlite_inspect import inspection_sql, open_readonly, read_state
from tuner.lint import low_cardinality, redundant
from tuner.model import State, key
from tuner.profile import Profile, Query
from tuner.render import render
from tuner.workload.bench import PlanLine, classify, explain, open_guarded
from tuner.workload.check import SCAN_THRESHOLD
from tuner.workload.shape import Candidate, Shape, TableUse, candidates, parse_query

#: Rows sampled per table to estimate a candidate's statistics.
SAMPLE_ROWS = 100_000
#: A candidate must cut the rows visited by at least this factor against a scan of the table.
MIN_GAIN = 10


# -- evaluation in a schema-only copy ----------------------------------------------------------
class Scratch:
    """An in-memory database with the live schema and the live sqlite_stat1 rows: the planner
    there decides exactly as on the live database, and a candidate costs one CREATE INDEX on
    empty tables plus one synthesized statistics row."""

    def __init__(self, live: sqlite3.Connection, state: State) -> None:
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
                self._sample_existing(live, state, k)
        self.reload()

    def _sample_existing(self, live: sqlite3.Connection, state: State, table_key: str) -> None:
        """Sampled statistics for the existing indexes of a table never ANALYZEd. Without a
        sqlite_stat1 row SQLite guesses ~10 rows per key of an index
        (https://www.sqlite.org/fileformat2.html#stat1tab), while every candidate carries
        sampled numbers: the planner would keep a poor existing index over a better candidate
        (a UNIQUE(event_id, user_id) autoindex and a temp B-tree over (event_id, status) for
        GROUP BY status), and the advice would change once `tuner apply` runs ANALYZE."""
        table = state.tables[table_key]
        if table.without_rowid:
            return                      # sample_stat reads rowids
        for index in state.indexes.values():
            cols = tuple(c.column for c in index.columns)
            if key(index.table) != table_key or index.where or not all(cols):
                continue                # partial and expression indexes keep SQLite's guess
            stat = sample_stat(live, state, Candidate(table.name, cols))  # type: ignore[arg-type]
            self.conn.execute(render("sqlite", "advise/set_stat1"),
                              (table.name, index.name, " ".join(map(str, stat))))

    def reload(self) -> None:
        self.conn.execute(render("sqlite", "advise/reload_stats"))

    def explain(self, query: Query) -> list[PlanLine]:
        try:
            rows = self.conn.execute(render("sqlite", "bench/explain_plan", sql=query.sql),
                                     query.params).fetchall()
        except sqlite3.Error:
            return []
        return [classify(r[3]) for r in rows]

    def close(self) -> None:
        self.conn.close()


def sample_stat(live: sqlite3.Connection, state: State, cand: Candidate) -> list[int]:
    """The sqlite_stat1 numbers the candidate would get: its rows, then the average rows per
    distinct value of each key prefix, estimated from a random sample of the table."""
    table = state.tables[key(cand.table)]
    nrow = table.rows or 0
    row = live.execute(render("sqlite", "advise/sample_stats", table=table.name,
                              columns=list(cand.columns), where=cand.where,
                              limit=SAMPLE_ROWS)).fetchone()
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


def _constraint_terms(detail: str) -> list[str]:
    """The `(a=? AND b>?)` part of a SEARCH line, as terms."""
    if not detail.endswith(")") or " (" not in detail:
        return []
    return detail[detail.index(" (") + 2:-1].split(" AND ")


def rows_visited(line: PlanLine, stat: list[int], use: TableUse, shape: Shape,
                 sorted_by_index: bool) -> float:
    """Rows the query visits through the candidate: rows per equality prefix (times the IN
    list sizes), a quarter per range bound, at most LIMIT when the index gives the order."""
    terms = _constraint_terms(line.detail) if line.kind == "search" else []
    in_sizes = {key(c): n for c, n, _ in use.eq}
    k, factor, ranges = 0, 1.0, 0
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
    visited = stat[k] * factor / 4 ** ranges
    if sorted_by_index and shape.limit is not None:
        visited = min(visited, shape.limit)
    return max(visited, 1.0)


# -- the advice --------------------------------------------------------------------------------
@dataclass
class Recommendation:
    """An index to add, why, and the declared queries it serves."""

    name: str
    table: str
    columns: tuple[str, ...]
    where: str | None
    queries: list[str]
    reason: str

    def as_profile(self) -> dict[str, Any]:
        """The entry for a profile's `indexes:` list."""
        entry: dict[str, Any] = {"name": self.name, "table": self.table,
                                 "columns": list(self.columns)}
        if self.where:
            entry["where"] = self.where
        entry["comment"] = f"{self.reason} (serves {', '.join(self.queries)})"
        return entry

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "table": self.table, "columns": list(self.columns),
                "where": self.where, "queries": self.queries, "reason": self.reason}


@dataclass
class Advice:
    """Problems found, indexes recommended, existing indexes flagged."""

    problems: list[dict[str, Any]] = field(default_factory=list)
    recommendations: list[Recommendation] = field(default_factory=list)
    flags: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"problems": self.problems,
                "recommendations": [r.as_dict() for r in self.recommendations],
                "flags": self.flags}

    def as_profile(self) -> dict[str, Any]:
        return {"indexes": [r.as_profile() for r in self.recommendations]}


@dataclass
class _Verdict:
    cand: Candidate
    name: str
    served: dict[str, tuple[float, str]]      # query -> (rows visited, new plan line)
    stat: list[int]


def advise(profile: Profile, db: str, threshold: int = SCAN_THRESHOLD) -> Advice:
    """Advise indexes for the profile's declared queries on the database at `db` (read-only)."""
    live = open_readonly(db)
    try:
        state = read_state(live)
        conn, guard = open_guarded(db, profile)
        try:
            plans = {q.name: explain(conn, guard, q) for q in profile.queries}
        finally:
            conn.close()
        shapes = {q.name: parse_query(q.sql, state) for q in profile.queries}
        advice = Advice()
        bad: dict[str, list[dict[str, Any]]] = {}
        for q in profile.queries:
            for problem in _problems(q, plans[q.name], shapes[q.name], state, threshold):
                bad.setdefault(q.name, []).append(problem)
                advice.problems.append(problem)
        verdicts = _evaluate(live, state, profile, shapes, plans, bad)
        advice.recommendations = _choose(verdicts, state, bad)
        advice.flags = _flags(state, plans, bool(profile.queries))
        return advice
    finally:
        live.close()


def _problems(query: Query, lines: list[PlanLine], shape: Shape, state: State,
              threshold: int) -> list[dict[str, Any]]:
    found = []
    for line in lines:
        if line.kind == "scan" and line.table:
            table = state.tables.get(shape.names.get(key(line.table), key(line.table)))
            rows = table.rows if table else None
            if rows is None or rows >= threshold:
                found.append({"query": query.name, "kind": "scan",
                              "table": table.name if table else line.table, "rows": rows,
                              "plan": line.detail})
        elif line.kind == "temp_btree" and line.purpose and (
                "ORDER BY" in line.purpose or "GROUP BY" in line.purpose):
            found.append({"query": query.name, "kind": "temp_btree", "table": None,
                          "rows": None, "plan": line.detail})
    return found


def _still_bad(lines: list[PlanLine], names: dict[str, str], table: str,
               problems: list[dict[str, Any]]) -> tuple[bool, bool]:
    """(the large scan of `table` remains, a temp B-tree remains)."""
    scans = any(ln.kind == "scan" and names.get(key(ln.table or ""), key(ln.table or ""))
                == key(table) and ln.index is None for ln in lines)
    temps = sum(1 for ln in lines if ln.kind == "temp_btree" and ln.purpose
                and ("ORDER BY" in ln.purpose or "GROUP BY" in ln.purpose))
    return scans, temps >= sum(1 for p in problems if p["kind"] == "temp_btree")


def _evaluate(live: sqlite3.Connection, state: State, profile: Profile,
              shapes: dict[str, Shape], plans: dict[str, list[PlanLine]],
              bad: dict[str, list[dict[str, Any]]]) -> list[_Verdict]:
    pool: list[Candidate] = []
    for qname in bad:
        shape = shapes[qname]
        for use in shape.uses.values():
            pool += candidates(use, shape, state)
    existing = {(key(i.table), tuple(key(c.column or "") for c in i.columns))
                for i in state.indexes.values() if not i.where}
    pool = [c for c in dict.fromkeys(pool)
            if c.where or (key(c.table), tuple(map(key, c.columns))) not in existing]
    scratch = Scratch(live, state)
    verdicts = []
    try:
        taken = {key(n) for n in state.indexes}
        for cand in pool:
            name = cand.default_name()
            while key(name) in taken:
                name += "_x"
            stat = sample_stat(live, state, cand)
            scratch.conn.execute(render("sqlite", "advise/create_index", name=name,
                                        table=cand.table, columns=list(cand.columns),
                                        where=cand.where))
            scratch.conn.execute(render("sqlite", "advise/set_stat1"),
                                 (cand.table, name, " ".join(map(str, stat))))
            scratch.reload()
            served = {}
            nrow = state.tables[key(cand.table)].rows or 0
            for qname, problems in bad.items():
                shape = shapes[qname]
                use = shape.uses.get(key(cand.table))
                if use is None:
                    continue
                query = next(q for q in profile.queries if q.name == qname)
                lines = scratch.explain(query)
                line = next((ln for ln in lines if ln.index == name), None)
                if line is None:
                    continue
                was_scan, was_temp = _still_bad(plans[qname], shape.names, cand.table, problems)
                now_scan, now_temp = _still_bad(lines, shape.names, cand.table, problems)
                sort_gone = was_temp and not now_temp
                if not ((was_scan and not now_scan) or sort_gone):
                    continue
                if any(p["kind"] == "scan" and key(p["table"] or "") == key(cand.table)
                       for p in problems) and now_scan:
                    continue
                visited = rows_visited(line, stat, use, shape, sorted_by_index=not now_temp)
                if nrow and nrow / visited < MIN_GAIN:
                    continue
                served[qname] = (visited, line.detail)
            scratch.conn.execute(render("sqlite", "advise/drop_index", name=name))
            scratch.conn.execute(render("sqlite", "advise/clear_stat1"), (name,))
            scratch.reload()
            if served:
                verdicts.append(_Verdict(cand, name, served, stat))
    finally:
        scratch.close()
    return verdicts


def _choose(verdicts: list[_Verdict], state: State,
            bad: dict[str, list[dict[str, Any]]]) -> list[Recommendation]:
    """A small set: greedily the candidate serving most unserved queries (a partial index
    first on a tie, then the wider one), then drop prefixes of another chosen candidate."""
    remaining = {q for v in verdicts for q in v.served}
    chosen: list[_Verdict] = []
    while remaining:
        best = max(verdicts, key=lambda v: (len(remaining & set(v.served)),
                                            v.cand.where is not None, len(v.cand.columns)))
        if not remaining & set(best.served):
            break
        chosen.append(best)
        remaining -= set(best.served)
    kept = []
    for v in chosen:
        cols = tuple(map(key, v.cand.columns))
        if any(o is not v and key(o.cand.table) == key(v.cand.table)
               and o.cand.where == v.cand.where
               and tuple(map(key, o.cand.columns))[:len(cols)] == cols
               and len(o.cand.columns) > len(cols) for o in chosen):
            continue
        kept.append(v)
    recs = []
    for v in kept:
        served = sorted(q for q in v.served if q in bad)
        nrow = state.tables[key(v.cand.table)].rows or 0
        worst = max(v.served[q][0] for q in served)
        fixes = "; ".join(f"{q}: {bad[q][0]['plan']} -> {v.served[q][1]}" for q in served)
        reason = (f"about {worst:,.0f} rows visited instead of ~{nrow:,} "
                  f"({fixes})")
        recs.append(Recommendation(v.name, v.cand.table, v.cand.columns,
                                   v.cand.where.sql if v.cand.where else None, served, reason))
    return recs


def _flags(state: State, plans: dict[str, list[PlanLine]], have_queries: bool
           ) -> list[dict[str, Any]]:
    used = {key(ln.index) for lines in plans.values() for ln in lines if ln.index}
    indexes = list(state.indexes.values())
    out = []
    for index in indexes:
        if index.owned_by_engine:
            continue
        reasons = redundant(index, indexes, state) + low_cardinality(index, state)
        if have_queries and not index.unique and key(index.name) not in used:
            reasons.append(f"index {index.name}: no declared query uses it "
                           "(EXPLAIN QUERY PLAN of every declared query)")
        for reason in reasons:
            out.append({"index": index.name, "table": index.table, "reason": reason})
    return out
