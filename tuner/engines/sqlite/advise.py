"""SQLite's half of `tuner advise`: the live plans under the read-only guard, and the
evaluator that tries candidates in the schema-only scratch database of
tuner.engines.sqlite.advise_eval, where each candidate gets statistics sampled from the data. Its
gain is the rows the query visits through the candidate against a scan of the table. The
search and the advice itself are engine-neutral (tuner.workload.advise).
"""

from __future__ import annotations

import sqlite3

from tuner.engines.sqlite.advise_eval import (
    Samples,
    Scratch,
    equality_prefix,
    rows_visited,
    sample_count,
    sample_stat,
)
from tuner.engines.sqlite.bench import explain, open_guarded
from tuner.engines.sqlite.inspect import open_readonly, read_state
from tuner.model import State, key
from tuner.profile import Profile, Query
from tuner.workload.advise import MIN_GAIN, Advice, AdviseOptions, Gain, advise_with
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
        evaluator = SQLiteEvaluator(live, state)
        try:
            return advise_with(profile, state, plans, evaluator, options.threshold, "sqlite")
        finally:
            evaluator.close()
    finally:
        live.close()


class SQLiteEvaluator:
    """Candidates tried in the scratch database: one CREATE INDEX on empty tables plus one
    sampled sqlite_stat1 row each (tuner.workload.advise.Evaluator)."""

    def __init__(self, live: sqlite3.Connection, state: State) -> None:
        self.live, self.state = live, state
        self.samples = Samples(live)
        self.scratch = Scratch(live, state, self.samples)
        self.stats: dict[Candidate, list[int]] = {}
        self.added: dict[str, Candidate] = {}

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

    def close(self) -> None:
        """Close the scratch database."""
        self.scratch.close()
