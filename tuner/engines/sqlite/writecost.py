"""What maintaining an index costs per row written, measured on SQLite.

This module owns the write-cost measurement of `tuner advise --workload` on SQLite. The live
database is only read: a random sample of the table's rows (SAMPLE_ROWS) is copied into a
private scratch file in a temporary folder, as a bare table (its columns, no constraints, so
the same rows can be inserted again) and its twin carrying the candidate index. BATCH_ROWS
rows are then inserted into each, inside a transaction rolled back afterwards, alternately,
REPEATS times; the difference of the medians, per row, is what one written row costs that
index. The sample is smaller than the table, so the index is shallower and in cache: the
figure is a lower bound of the cost on a large table that does not fit in the page cache
(bench/advise_writecost.py compares it with the same measurement on the whole table, in
docs/BENCHMARKS.md).
"""

from __future__ import annotations

import shutil
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from tuner.model import State, Table, key
from tuner.render import render
from tuner.workload.shape import Candidate

#: Rows of the table copied into the scratch file (all of them when it has fewer).
SAMPLE_ROWS = 20_000
#: Rows inserted per timed write.
BATCH_ROWS = 1_000
#: Timed writes per table, with and without the index (medians).
REPEATS = 7
#: The smallest cost reported per row (seconds): a measurement below noise is not free.
FLOOR = 1e-7
#: The cost per row assumed for a table without rows to sample (seconds).
EMPTY_TABLE = 2e-6

BARE, INDEXED, INDEX = "tuner_bare", "tuner_indexed", "tuner_candidate"


class WriteCost:
    """Per-row index maintenance costs for one advise run, measured in one scratch file."""

    def __init__(self, live: sqlite3.Connection, state: State,
                 sample_of: Callable[[Table], str | None]) -> None:
        self.live, self.state, self.sample_of = live, state, sample_of
        self.folder: Path | None = None
        self.conns: dict[str, sqlite3.Connection | None] = {}
        self.cache: dict[tuple, float] = {}
        self.batch: dict[str, int] = {}

    def per_row(self, cand: Candidate) -> float:
        """Seconds one written row costs index `cand` (measured once per candidate)."""
        if cand.ident not in self.cache:
            conn = self._table(cand.table)
            self.cache[cand.ident] = EMPTY_TABLE if conn is None else \
                self._measure(conn, cand, self.batch[key(cand.table)])
        return self.cache[cand.ident]

    def _table(self, table: str) -> sqlite3.Connection | None:
        """The scratch file holding `table`'s sample as BARE; None when the table is empty."""
        k = key(table)
        if k not in self.conns:
            info = self.state.tables[k]
            sample = None if info.without_rowid else self.sample_of(info)
            cur = self.live.execute(render("sqlite", "advise/writecost_sample", table=info.name,
                                           sample=sample, limit=SAMPLE_ROWS))
            columns = [d[0] for d in cur.description]
            rows = cur.fetchall()
            if not rows:
                self.conns[k] = None
                return None
            if self.folder is None:
                self.folder = Path(tempfile.mkdtemp(prefix="tuner-writecost-"))
            conn = sqlite3.connect(self.folder / f"{len(self.conns)}.db", isolation_level=None)
            conn.execute(render("sqlite", "advise/writecost_table", table=BARE, columns=columns))
            conn.execute("BEGIN")
            conn.executemany(render("sqlite", "advise/writecost_fill", table=BARE,
                                    columns=columns), rows)
            conn.execute("COMMIT")
            self.conns[k], self.batch[k] = conn, min(BATCH_ROWS, len(rows))
        return self.conns[k]

    def _measure(self, conn: sqlite3.Connection, cand: Candidate, batch: int) -> float:
        conn.execute(render("sqlite", "advise/writecost_clone", name=INDEXED, table=BARE))
        try:
            conn.execute(render("sqlite", "advise/create_index", name=INDEX, table=INDEXED,
                                columns=list(cand.columns + cand.include), where=cand.where))
            bare, indexed = [], []
            for _ in range(REPEATS):
                bare.append(_timed(conn, BARE, batch))
                indexed.append(_timed(conn, INDEXED, batch))
        finally:
            conn.execute(render("sqlite", "advise/writecost_drop", name=INDEXED))
        per = (statistics.median(indexed) - statistics.median(bare)) / batch
        return max(per, FLOOR)

    def close(self) -> None:
        """Close and delete the scratch files."""
        for conn in self.conns.values():
            if conn is not None:
                conn.close()
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)


def _timed(conn: sqlite3.Connection, table: str, batch: int) -> float:
    """Seconds to insert `batch` rows into `table`, rolled back."""
    conn.execute("BEGIN")
    try:
        started = time.perf_counter()
        conn.execute(render("sqlite", "advise/writecost_insert", table=table, limit=batch))
        return time.perf_counter() - started
    finally:
        conn.execute("ROLLBACK")
