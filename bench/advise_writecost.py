"""The write cost of `tuner advise --workload`, validated: what one written row costs an index.

SQLite: the advice measures it on a sample (tuner.engines.sqlite.writecost: 20,000 sampled
rows in a scratch file, its page cache scaled to the sample, 1,000-row inserts of other sampled
rows, committed, with and without the index, times its CALIBRATION). Here the same figure is
measured on the whole table: fresh random rows inserted in 5,000-row batches into two copies
of the database, one with the index built over all its rows and one without, alternating,
committed, medians of 7 after a warm-up (the index read, one batch).

PostgreSQL: the advice uses a model (tuner.engines.postgres.writecost, from the table's rows
and the key's columns); here 5,000-row INSERT batches are timed, rolled back, medians of 5,
with and without one B-tree index, on tables of each size.

usage: python bench/advise_writecost.py [--sizes 100000,1000000] [--pg-sizes 10000,200000,2000000]
                                        [--pg postgresql://postgres@127.0.0.1:5432/postgres]
"""

from __future__ import annotations

import argparse
import random
import shutil
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

from common import machine, table, write_section

from tuner.engines.postgres.writecost import per_row_cost
from tuner.engines.sqlite.advise import Samples
from tuner.engines.sqlite.inspect import open_readonly, read_state
from tuner.engines.sqlite.writecost import CALIBRATION, WriteCost
from tuner.workload.shape import Candidate

INDEXES = (("event_id",), ("user_id", "status"), ("note",))
BATCH = 5_000


def _row(rnd: random.Random) -> tuple:
    return (rnd.randrange(50_000), rnd.randrange(10**6), rnd.choice(("going", "maybe", "no")),
            f"{rnd.getrandbits(128):032x}")


def sqlite_db(folder: Path, rows: int) -> Path:
    path = folder / f"p{rows}.db"
    rnd = random.Random(rows)
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE participants (id INTEGER PRIMARY KEY, event_id INTEGER, "
                 "user_id INTEGER, status TEXT, note TEXT)")
    conn.executemany("INSERT INTO participants (event_id, user_id, status, note) "
                     "VALUES (?, ?, ?, ?)", (_row(rnd) for _ in range(rows)))
    conn.commit()
    conn.close()
    return path


def _insert(conn: sqlite3.Connection, batch: list[tuple]) -> float:
    """Committed, as an application's writes are (a rollback drops the changed pages from
    the cache)."""
    conn.execute("BEGIN")
    started = time.perf_counter()
    conn.executemany("INSERT INTO participants (event_id, user_id, status, note) "
                     "VALUES (?, ?, ?, ?)", batch)
    took = time.perf_counter() - started
    conn.execute("COMMIT")
    return took


def sqlite_rows(folder: Path, rows: int, cache: int) -> list[list[str]]:
    path = folder / f"p{rows}.db"
    if not path.exists():
        sqlite_db(folder, rows)
    live = open_readonly(str(path))
    state = read_state(live)
    cost = WriteCost(live, state, Samples(live).of, cache)
    out = []
    try:
        for cols in INDEXES:
            started = time.perf_counter()
            predicted = cost.per_row(Candidate("participants", cols))
            took = time.perf_counter() - started
            indexed = folder / "indexed.db"
            shutil.copyfile(path, indexed)
            with sqlite3.connect(indexed) as conn:
                conn.execute(f"CREATE INDEX ix ON participants ({', '.join(cols)})")
            bare = folder / "bare.db"
            shutil.copyfile(path, bare)
            bare_conn = sqlite3.connect(bare, isolation_level=None)
            ix_conn = sqlite3.connect(indexed, isolation_level=None)
            for conn in (bare_conn, ix_conn):
                conn.execute(f"PRAGMA cache_size = {cache}")
                conn.execute("PRAGMA journal_mode = wal").fetchone()
                conn.execute("PRAGMA synchronous = normal")
            # Warm, as a long-running application's cache is: read the index, then one batch.
            ix_conn.execute(f"SELECT count(*) FROM participants INDEXED BY ix "
                            f"WHERE {cols[0]} IS NOT NULL").fetchone()
            warm = random.Random(2)
            for conn in (bare_conn, ix_conn):
                _insert(conn, [_row(warm) for _ in range(BATCH)])
            rnd = random.Random(1)
            plain, ix = [], []
            for _ in range(7):
                batch = [_row(rnd) for _ in range(BATCH)]
                plain.append(_insert(bare_conn, batch))
                ix.append(_insert(ix_conn, batch))
            bare_conn.close()
            ix_conn.close()
            indexed.unlink()
            bare.unlink()
            measured = (statistics.median(ix) - statistics.median(plain)) / BATCH
            out.append([f"{rows:,}", f"{cache}", f"({', '.join(cols)})", f"{predicted * 1e6:.2f}",
                        f"{measured * 1e6:.2f}", f"{predicted / measured:.2f}" if measured > 0
                        else "-", f"{took * 1e3:.0f} ms"])
    finally:
        cost.close()
        live.close()
    return out


def pg_rows(admin: str, sizes: list[int]) -> list[list[str]]:
    import psycopg

    name = "tuner_bench_writecost"
    with psycopg.connect(admin, autocommit=True) as c:
        c.execute(f"DROP DATABASE IF EXISTS {name}")
        c.execute(f"CREATE DATABASE {name}")
    url = admin.rsplit("/", 1)[0] + f"/{name}"
    out = []
    try:
        with psycopg.connect(url, autocommit=True) as c:
            for n in sizes:
                c.execute("DROP TABLE IF EXISTS t")
                c.execute("CREATE TABLE t (id bigserial PRIMARY KEY, a int, b int, s text)")
                c.execute("INSERT INTO t (a, b, s) SELECT (random() * 100000)::int, "
                          "(random() * 50)::int, md5(g::text) FROM generate_series(1, %s) g",
                          [n])
                c.execute("VACUUM ANALYZE t")

                def run() -> float:
                    times = []
                    for _ in range(5):
                        c.execute("BEGIN")
                        started = time.perf_counter()
                        c.execute("INSERT INTO t (a, b, s) SELECT (random() * 100000)::int, "
                                  "(random() * 50)::int, md5(g::text) "
                                  "FROM generate_series(1, %s) g", [BATCH])
                        times.append(time.perf_counter() - started)
                        c.execute("ROLLBACK")
                    return statistics.median(times)

                base = run()
                for cols in (("a",), ("a", "b"), ("s",)):
                    c.execute(f"CREATE INDEX ix ON t ({', '.join(cols)})")
                    measured = (run() - base) / BATCH
                    c.execute("DROP INDEX ix")
                    model = per_row_cost(n, len(cols))
                    out.append([f"{n:,}", f"({', '.join(cols)})", f"{model * 1e6:.2f}",
                                f"{measured * 1e6:.2f}", f"{model / measured:.2f}"])
    finally:
        with psycopg.connect(admin, autocommit=True) as c:
            c.execute(f"DROP DATABASE IF EXISTS {name}")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="100000,1000000")
    ap.add_argument("--pg-sizes", default="10000,200000,2000000")
    ap.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = ap.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="tuner-bench-writecost-"))
    try:
        lite = [r for n in map(int, args.sizes.split(",")) for cache in (-2000, -65536)
                for r in sqlite_rows(folder, n, cache)]
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    pg = pg_rows(args.pg, list(map(int, args.pg_sizes.split(",")))) if args.pg else []
    md = ["## Write cost per row and index (tuner advise --workload)", "",
          f"Machine: {machine()}. Microseconds one written row costs one index.", "",
          "SQLite: `predicted` is what advise measures on its 20,000-row sample (scratch "
          "file, its page cache the application's `cache_size` scaled to the sample's share, "
          "1,000-row inserts of other sampled rows, committed, times its calibration "
          f"{CALIBRATION}); `full table` is the same difference measured "
          f"with {BATCH:,}-row batches of fresh rows on the whole table with that "
          "`cache_size`, committed (medians of 7, after a warm-up).", "",
          table(["rows", "cache_size", "index", "predicted µs", "full table µs", "ratio",
                 "advise took"],
                lite)]
    if pg:
        md += ["", "PostgreSQL: `model` is tuner.engines.postgres.writecost; `measured` "
               f"inserts {BATCH:,} rows (rolled back, medians of 5) with and without the "
               "index.", "", table(["rows", "index", "model µs", "measured µs", "ratio"], pg)]
    text = "\n".join(md)
    print(text)
    write_section("advise_writecost", text)


if __name__ == "__main__":
    main()
