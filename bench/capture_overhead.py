"""What capture costs: `Recorder.record` per call on a repeated statement, next to a
primary-key lookup on a reused sqlite3 connection and through `pool.reader()`, each with and
without the hook a runtime will call (two perf_counter reads and one record), and a bulk
executemany in batches (what BatchWriter does) with and without one record per batch; each
batch is rolled back, so that a growing table and disk flushes on a shared machine do not drown
the cost being measured.

The hooks are not wired into tuner.connect, ConnectionPool and BatchWriter yet; here they are
called by hand around the same calls, which is what the wiring will add. Prints a table;
does not write docs/BENCHMARKS.md.

usage: python bench/capture_overhead.py [--rows 100000] [--lookups 20000] [--batches 50]
                                        [--batch 1000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from common import machine, median, table, timed_rotation

import tuner
from tuner.capture import Recorder
from tuner.capture.normalize import normalize, parsed_shape

LOOKUP = "SELECT name, score FROM users WHERE id = ?"
INSERT = "INSERT INTO events (user_id, kind, at) VALUES (?, ?, ?)"


def make_db(path: Path, rows: int) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA journal_mode = wal")
        conn.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT, score INTEGER)")
        conn.execute("CREATE TABLE events (id INTEGER PRIMARY KEY, user_id INTEGER, "
                     "kind TEXT, at INTEGER)")
        conn.execute("CREATE INDEX events_user ON events (user_id)")
        conn.executemany("INSERT INTO users VALUES (?, ?, ?)",
                         ((i, f"user{i}", i % 100) for i in range(1, rows + 1)))
    conn.close()


def per_call(fn: Callable[[int], object], args: list[int]) -> Callable[[], None]:
    def run() -> None:
        for a in args:
            fn(a)
    return run


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--lookups", type=int, default=20_000)
    ap.add_argument("--batches", type=int, default=50)
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="tuner-capture-bench-"))
    db = tmp / "app.db"
    make_db(db, args.rows)
    rnd = random.Random(1)
    ids = [rnd.randint(1, args.rows) for _ in range(args.lookups)]
    rec = Recorder(tmp / "capture.db")
    sampled = Recorder(tmp / "sampled.db", sample=0.1, seed=1)
    conn = sqlite3.connect(db, check_same_thread=False)
    pool = tuner.ConnectionPool(db)
    perf = time.perf_counter

    def bare(i: int) -> None:
        conn.execute(LOOKUP, (i,)).fetchone()

    def bare_captured(i: int) -> None:
        started = perf()
        cur = conn.execute(LOOKUP, (i,))
        cur.fetchone()
        rec.record(LOOKUP, (i,), perf() - started, 1)

    def pooled(i: int) -> None:
        with pool.reader() as c:
            c.execute(LOOKUP, (i,)).fetchone()

    def pooled_captured(i: int) -> None:
        with pool.reader() as c:
            started = perf()
            c.execute(LOOKUP, (i,)).fetchone()
            rec.record(LOOKUP, (i,), perf() - started, 1)

    def record_only(i: int) -> None:
        rec.record(LOOKUP, (i,), 0.00001, 1)

    def record_sampled(i: int) -> None:
        sampled.record(LOOKUP, (i,), 0.00001, 1)

    lookups = {
        "sqlite3 connection, PK lookup": bare,
        "  + capture hook": bare_captured,
        "pool.reader(), PK lookup": pooled,
        "  + capture hook ": pooled_captured,
        "Recorder.record alone": record_only,
        "Recorder.record alone, sample=0.1": record_sampled,
    }
    times = timed_rotation([per_call(fn, ids) for fn in lookups.values()], args.rounds)
    us = {name: median(t) / len(ids) * 1e6 for name, t in zip(lookups, times, strict=True)}
    best = {name: min(t) / len(ids) * 1e6 for name, t in zip(lookups, times, strict=True)}

    wconn = sqlite3.connect(db, isolation_level=None, check_same_thread=False)
    wconn.execute("PRAGMA synchronous = normal")          # as the profiles set it
    batch = [(rnd.randint(1, args.rows), "click", 1_700_000_000 + i) for i in range(args.batch)]

    def bulk(captured: bool) -> Callable[[], None]:
        def run() -> None:
            for _ in range(args.batches):
                started = perf()
                wconn.execute("BEGIN IMMEDIATE")
                cur = wconn.executemany(INSERT, batch)
                wconn.execute("ROLLBACK")           # the table and the disk stay as they were
                if captured:
                    rec.record(INSERT, batch[0], perf() - started, cur.rowcount,
                               calls=len(batch))
        return run

    bulk_times = timed_rotation([bulk(False), bulk(True)], args.rounds)
    rows_per_s = [args.batches * args.batch / min(t) for t in bulk_times]

    parsed_shape.cache_clear()
    started = perf()
    for i in range(200):
        normalize(f"SELECT name FROM users WHERE id = {i} AND score IN (1, 2, {i})")
    cold_us = (perf() - started) / 200 * 1e6
    rec.close()
    sampled.close()
    pool.close()

    print(f"capture overhead ({machine()}; {args.lookups:,} lookups x {args.rounds} rounds; "
          "median and best round; ratios: with the hook / without)\n")
    base = {"  + capture hook": "sqlite3 connection, PK lookup",
            "  + capture hook ": "pool.reader(), PK lookup"}
    rows = [[name, f"{v:.2f}", f"{v / us[base[name]]:.2f}x" if name in base else "",
             f"{best[name]:.2f}", f"{best[name] / best[base[name]]:.2f}x" if name in base
             else ""] for name, v in us.items()]
    print(table(["per call", "median us", "ratio", "best us", "ratio"], rows))
    print()
    print(table([f"bulk insert (executemany, batches of {args.batch})",
                 "rows/s (best round)", "ratio"],
                [["without capture", f"{rows_per_s[0]:,.0f}", ""],
                 ["with one record per batch", f"{rows_per_s[1]:,.0f}",
                  f"{rows_per_s[1] / rows_per_s[0]:.3f}x"]]))
    print(f"\nnormalize() of a statement not yet cached (a parse): {cold_us:,.0f} us; "
          f"recorder flushes: {rec.flushes}")


if __name__ == "__main__":
    main()
