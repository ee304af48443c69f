"""What maintaining an index costs per row written, measured on SQLite.

This module owns the write-cost measurement of `tuner advise --workload` on SQLite. The live
database is only read: a random sample of the table's rows (SAMPLE_ROWS) is copied into a
private scratch file in a temporary folder, as a bare table (its columns, no constraints),
with further sampled rows kept apart as the rows to write (random keys, as new rows bring).
For each candidate the table is copied twice, one copy gets the index, and BATCH_ROWS fresh
rows are inserted into each, alternately, REPEATS times after one to warm the cache, each
write committed as an application's is; the difference of the medians, per row, is what one
written row costs that index, times CALIBRATION (the sample's smaller tree costs less per
row than the table's: bench/advise_writecost.py measures both).

The page cache is scaled with the sample. What an index entry costs on a large table is mostly
the index pages that are not in SQLite's page cache (https://www.sqlite.org/pragma.html#pragma_cache_size):
a random key lands on a page read again from the file. The sample's index is the table's
in miniature, so the scratch connection gets the application's cache (the profile's
`cache_size`, else SQLite's default of 2,000 KiB) times the sample's share of the table: the
same share of the index stays cached. Without that, a 20,000-row sample's index fits in cache
and the figure was 5 to 20 times too low on a 1,000,000-row table (bench/advise_writecost.py
compares it with the same measurement on the whole table, in docs/BENCHMARKS.md).
"""

from __future__ import annotations

import shutil
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tuner.model import State, Table, key
from tuner.render import render
from tuner.workload.shape import Candidate

#: Rows of the table copied into the scratch file as the table (all of them when it has fewer).
SAMPLE_ROWS = 20_000
#: Rows inserted per timed write.
BATCH_ROWS = 1_000
#: Timed writes per candidate, with and without the index (medians), after one to warm up.
REPEATS = 7
#: Further sampled rows kept apart as the rows the timed writes insert (random keys).
FRESH_ROWS = (REPEATS + 1) * BATCH_ROWS
#: The smallest cost reported per row (seconds): a measurement below noise is not free.
FLOOR = 1e-7
#: The cost per row assumed for a table without rows to sample (seconds).
EMPTY_TABLE = 2e-6
#: The sample's figure times this is the estimate: measured on the whole table (100,000 and
#: 1,000,000 rows, cache_size -2000 and -65536, three indexes), the sample's figure was 0.2 to
#: 0.7 of it, 0.4 in the middle (a deeper tree, a table and index twice as large as the cache
#: share suggests); bench/advise_writecost.py.
CALIBRATION = 2.5
#: SQLite's default page cache, KiB (cache_size = -2000).
DEFAULT_CACHE_KIB = 2000

BASE, FRESH, BARE, INDEXED, INDEX = ("tuner_base", "tuner_fresh", "tuner_bare",
                                     "tuner_indexed", "tuner_candidate")


@dataclass
class _Sample:
    conn: sqlite3.Connection
    columns: list[str]
    batch: int


class WriteCost:
    """Per-row index maintenance costs for one advise run, measured in scratch files."""

    def __init__(self, live: sqlite3.Connection, state: State,
                 sample_of: Callable[[Table], str | None], cache_size: int | None = None
                 ) -> None:
        """`cache_size`: the application's `PRAGMA cache_size` (None: SQLite's default)."""
        self.live, self.state, self.sample_of = live, state, sample_of
        page = int(live.execute(render("sqlite", "advise/page_size")).fetchone()[0])
        size = -DEFAULT_CACHE_KIB if cache_size is None else cache_size
        self.cache_bytes = -size * 1024 if size < 0 else size * page
        self.folder: Path | None = None
        self.samples: dict[str, _Sample | None] = {}
        self.cache: dict[tuple, float] = {}

    def per_row(self, cand: Candidate) -> float:
        """Seconds one written row costs index `cand` (measured once per candidate)."""
        if cand.ident not in self.cache:
            sample = self._sample(cand.table)
            self.cache[cand.ident] = EMPTY_TABLE if sample is None else \
                self._measure(sample, cand)
        return self.cache[cand.ident]

    def _sample(self, table: str) -> _Sample | None:
        """The scratch file holding `table`'s sample as BASE and the rows to insert as FRESH;
        None when the table is empty."""
        k = key(table)
        if k not in self.samples:
            info = self.state.tables[k]
            drawn = None if info.without_rowid else self.sample_of(info)
            cur = self.live.execute(render("sqlite", "advise/writecost_sample", table=info.name,
                                           sample=drawn, limit=SAMPLE_ROWS + FRESH_ROWS))
            columns = [d[0] for d in cur.description]
            rows = cur.fetchall()
            if not rows:
                self.samples[k] = None
                return None
            # A small table's rows are inserted again: their keys land where its keys are.
            fresh, base = (rows[:FRESH_ROWS], rows[FRESH_ROWS:]) \
                if len(rows) > 2 * FRESH_ROWS else (rows, rows)
            if self.folder is None:
                self.folder = Path(tempfile.mkdtemp(prefix="tuner-writecost-"))
            conn = sqlite3.connect(self.folder / f"{len(self.samples)}.db",
                                   isolation_level=None)
            conn.execute(render("sqlite", "advise/writecost_journal")).fetchone()
            conn.execute(render("sqlite", "advise/writecost_sync"))
            share = len(base) / max(info.rows or len(base), len(base))
            conn.execute(render("sqlite", "advise/writecost_cache",
                                kib=max(1, round(self.cache_bytes * share / 1024))))
            for name, part in ((BASE, base), (FRESH, fresh)):
                conn.execute(render("sqlite", "advise/writecost_table", table=name,
                                    columns=columns))
                conn.execute("BEGIN")
                conn.executemany(render("sqlite", "advise/writecost_fill", table=name,
                                        columns=columns), part)
                conn.execute("COMMIT")
            self.samples[k] = _Sample(conn, columns,
                                      max(1, min(BATCH_ROWS, len(fresh) // (REPEATS + 1))))
        return self.samples[k]

    def _measure(self, sample: _Sample, cand: Candidate) -> float:
        """Insert the same fresh rows into a copy of the sample with and without the index,
        alternately, committing as an application does (a rolled-back write would drop the
        pages it changed from the cache)."""
        conn, batch = sample.conn, sample.batch
        for name in (BARE, INDEXED):
            conn.execute(render("sqlite", "advise/writecost_clone", name=name, table=BASE))
        try:
            conn.execute(render("sqlite", "advise/create_index", name=INDEX, table=INDEXED,
                                columns=list(cand.columns + cand.include), where=cand.where))
            bare, indexed = [], []
            for i in range(REPEATS + 1):
                took = [_timed(conn, name, sample.columns, i * batch, batch)
                        for name in (BARE, INDEXED)]
                if i:                           # the first warms the cache
                    bare.append(took[0])
                    indexed.append(took[1])
        finally:
            for name in (BARE, INDEXED):
                conn.execute(render("sqlite", "advise/writecost_drop", name=name))
        per = (statistics.median(indexed) - statistics.median(bare)) / batch
        return max(per * CALIBRATION, FLOOR)

    def close(self) -> None:
        """Close and delete the scratch files."""
        for sample in self.samples.values():
            if sample is not None:
                sample.conn.close()
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)


def _timed(conn: sqlite3.Connection, table: str, columns: list[str], start: int,
           batch: int) -> float:
    """Seconds to insert FRESH's rows `start`..`start + batch` into `table` (committed)."""
    conn.execute("BEGIN")
    try:
        started = time.perf_counter()
        conn.execute(render("sqlite", "advise/writecost_insert", table=table, fresh=FRESH,
                            columns=columns, start=start, stop=start + batch))
        return time.perf_counter() - started
    finally:
        conn.execute("COMMIT")
