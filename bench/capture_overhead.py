"""What capture costs the application, through the real runtime: a primary-key lookup through
`pool.reader()` (and on one `tuner.connect` connection) with capture off and on, and
BatchWriter.insert_many bulk throughput with capture off and on. Each side has its own pool
or writer (capture=False, or capture=FILE); the sides run in alternating rounds in a new
random order each round (bench/common.py timed_rotation), and the table gives medians.
Capture's flushes (every 5 s, from the recording thread) happen inside the timed rounds, as
they would in the application.

Targets (issue 12): a pooled lookup with capture on at most 1.3x the same lookup off; bulk
throughput with capture on at least 0.9x of it off. Prints a table and writes the section
"Capture overhead" of docs/BENCHMARKS.md (--no-write: print only).

usage: python bench/capture_overhead.py [--rows 100000] [--lookups 20000] [--bulk 200000]
                                        [--batch 1000] [--rounds 7] [--no-write]
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from common import machine, median, table, timed_rotation, write_section

import tuner
from tuner.capture import Recorder, load_capture
from tuner.capture.normalize import normalize, parsed_shape

LOOKUP = "SELECT name, score FROM users WHERE id = ?"
PROFILE = """\
profile: capture-bench
version: 1
engine: sqlite
pragmas:
  journal_mode: wal
  synchronous: normal
"""


def make_db(path: Path, rows: int) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA journal_mode = wal")
        conn.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT, score INTEGER)")
        conn.execute("CREATE TABLE events (id INTEGER PRIMARY KEY, user_id INTEGER, "
                     "kind TEXT, at INTEGER)")
        conn.executemany("INSERT INTO users VALUES (?, ?, ?)",
                         ((i, f"user{i}", i % 100) for i in range(1, rows + 1)))
    conn.close()


def lookups(run_one: Callable[[int], object], ids: list[int]) -> Callable[[], None]:
    def run() -> None:
        for i in ids:
            run_one(i)
    return run


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--lookups", type=int, default=20_000)
    ap.add_argument("--bulk", type=int, default=200_000, help="rows per insert_many round")
    ap.add_argument("--batch", type=int, default=1000, help="the BatchWriter's batch size")
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--no-write", action="store_true", help="do not write docs/BENCHMARKS.md")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="tuner-capture-bench-"))
    db = tmp / "app.db"
    make_db(db, args.rows)
    profile = tmp / "profile.yaml"
    profile.write_text(PROFILE)
    cap, sampled_cap = tmp / "capture.db", tmp / "sampled.db"
    rnd = random.Random(1)
    ids = [rnd.randint(1, args.rows) for _ in range(args.lookups)]

    conn_off = tuner.connect(db, profile, capture=False, check_same_thread=False)
    conn_on = tuner.connect(db, profile, capture=cap, check_same_thread=False)
    pool_off = tuner.ConnectionPool(db, profile, capture=False)
    pool_on = tuner.ConnectionPool(db, profile, capture=cap)
    pool_sampled = tuner.ConnectionPool(db, profile, capture=sampled_cap, sample=0.1)
    rec = Recorder(tmp / "alone.db")

    def pooled(pool: object) -> Callable[[int], object]:
        def one(i: int) -> object:
            with pool.reader() as c:  # type: ignore[attr-defined]
                return c.execute(LOOKUP, (i,)).fetchone()
        return one

    sides = {
        "tuner.connect, capture off": lambda i: conn_off.execute(LOOKUP, (i,)).fetchone(),
        "tuner.connect, capture on": lambda i: conn_on.execute(LOOKUP, (i,)).fetchone(),
        "pool.reader(), capture off": pooled(pool_off),
        "pool.reader(), capture on": pooled(pool_on),
        "pool.reader(), capture on, sample=0.1": pooled(pool_sampled),
        "Recorder.record alone (no query)": lambda i: rec.record(LOOKUP, (i,), 1e-5, 1),
    }
    times = timed_rotation([lookups(fn, ids) for fn in sides.values()], args.rounds)
    us = {name: median(t) / len(ids) * 1e6 for name, t in zip(sides, times, strict=True)}
    base = {"tuner.connect, capture on": "tuner.connect, capture off",
            "pool.reader(), capture on": "pool.reader(), capture off",
            "pool.reader(), capture on, sample=0.1": "pool.reader(), capture off"}

    # -- bulk: insert_many through a BatchWriter with capture off and on ------------------
    writer_off = tuner.BatchWriter(db, profile, batch_size=args.batch, capture=False)
    writer_on = tuner.BatchWriter(db, profile, batch_size=args.batch, capture=cap)
    rows = [(rnd.randint(1, args.rows), "click", 1_700_000_000 + i) for i in range(args.bulk)]
    cols = ("user_id", "kind", "at")

    def bulk(writer: tuner.BatchWriter) -> Callable[[], None]:
        def run() -> None:
            ticket = writer.insert_many("events", rows, columns=cols)
            writer.flush()
            assert ticket.result().committed == len(rows)
        return run

    bulk_times = timed_rotation([bulk(writer_off), bulk(writer_on)], args.rounds)
    rps = [len(rows) / median(t) for t in bulk_times]

    parsed_shape.cache_clear()
    started = time.perf_counter()
    for i in range(200):
        normalize(f"SELECT name FROM users WHERE id = {i} AND score IN (1, 2, {i})")
    cold_us = (time.perf_counter() - started) / 200 * 1e6
    for thing in (writer_off, writer_on, pool_off, pool_on, pool_sampled, conn_off, conn_on):
        thing.close()
    rec.close()
    recorded = {s.text: s.calls for s in load_capture(cap).statements}

    lookup_rows = [[name, f"{v:.2f}", f"{v / us[base[name]]:.2f}x" if name in base else ""]
                   for name, v in us.items()]
    lookup_table = table(["primary-key lookup", "µs per call (median)", "on / off"],
                         lookup_rows)
    bulk_table = table([f"BatchWriter.insert_many, {args.bulk:,} rows, batches of {args.batch}",
                        "rows/s (median)", "on / off"],
                       [["capture off", f"{rps[0]:,.0f}", ""],
                        ["capture on (one record per batch)", f"{rps[1]:,.0f}",
                         f"{rps[1] / rps[0]:.3f}x"]])
    pooled_ratio = us["pool.reader(), capture on"] / us["pool.reader(), capture off"]
    verdict = (f"Targets: pooled lookup {pooled_ratio:.2f}x (at most 1.3x: "
               f"{'met' if pooled_ratio <= 1.3 else 'MISSED'}); bulk {rps[1] / rps[0]:.3f}x "
               f"(at least 0.9x: {'met' if rps[1] / rps[0] >= 0.9 else 'MISSED'}).")
    lookup_calls = recorded.get(normalize(LOOKUP).text, 0)
    print(f"capture overhead ({machine()}; {args.lookups:,} lookups x {args.rounds} rounds)\n")
    print(lookup_table, "\n", bulk_table, "", verdict, sep="\n")
    print(f"\nrecorded: {lookup_calls:,} lookups in the capture file; normalize() of a "
          f"statement not yet cached (a parse): {cold_us:,.0f} µs")
    if args.no_write:
        return
    write_section("capture_overhead", f"""
## Capture overhead (issue 12)

`python bench/capture_overhead.py --rows {args.rows} --lookups {args.lookups} \\
--bulk {args.bulk} --batch {args.batch} --rounds {args.rounds}` on {machine()}. A WAL database
of {args.rows:,} users; each side has its own connection, pool or BatchWriter, with
`capture=False` or `capture=FILE` (synchronous=normal); the bulk rows go to a table without a
secondary index, where a writer's own costs weigh most; the sides run in alternating rounds,
in a new random order each round, and the numbers are medians of {args.rounds} rounds. The
capture's periodic flushes fall inside the timed rounds.

{lookup_table}

{bulk_table}

{verdict}

A captured lookup pays for the timing (two clock reads around execute and each
fetch), one aggregate update under a lock, and recording the statement when its cursor is
dropped: 1.2 to 1.4 µs in all, against 5.5 µs for the pooled lookup, so the margin to 1.3x is
small (runs on this shared machine measured 1.21x to 1.28x; the bare connection, 4 µs,
1.31x to 1.39x). `sample=0.1` times one execution in ten and costs one random draw for the
others.
A batch is one record of `calls=n`, so bulk writes pay nearly nothing (a ratio above 1.0x is
the shared machine's noise, not a gain). A statement never seen
before costs one parse ({cold_us:,.0f} µs here), once per distinct text.
""")


if __name__ == "__main__":
    main()
