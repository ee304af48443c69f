"""Per-query overhead of `pool.reader()` for a primary-key lookup, side by side with a reused
bare connection and with connect-per-query.

usage: python bench/pool_overhead.py [--participants 100000] [--queries 20000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import time

from common import demo_db, fresh_copy, machine, median, table, write_section

import tuner
from tuner.resources import bundled_profile

SQL = "SELECT username, chat_id FROM users WHERE id = ?"


def per_query(fn, ids: list[int]) -> float:
    """Microseconds per lookup over `ids`."""
    started = time.perf_counter()
    for i in ids:
        fn(i)
    return (time.perf_counter() - started) / len(ids) * 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--participants", type=int, default=100_000)
    ap.add_argument("--queries", type=int, default=20_000)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    db = fresh_copy(demo_db(args.participants), "pool-bench.db")
    with sqlite3.connect(db) as c:
        c.execute("PRAGMA journal_mode=wal")
        n_users = c.execute("SELECT max(id) FROM users").fetchone()[0]
    c.close()
    rnd = random.Random(1)
    ids = [rnd.randint(1, n_users) for _ in range(args.queries)]
    profile = tuner.load_profile(bundled_profile())
    bare = tuner.connect(db, profile, readonly=True)
    pool = tuner.ConnectionPool(db, profile)

    def via_bare(i: int) -> None:
        bare.execute(SQL, (i,)).fetchone()

    def via_pool(i: int) -> None:
        with pool.reader() as conn:
            conn.execute(SQL, (i,)).fetchone()

    def via_connect(i: int) -> None:
        conn = tuner.connect(db, profile, readonly=True)
        conn.execute(SQL, (i,)).fetchone()
        conn.close()

    def via_plain_connect(i: int) -> None:
        conn = sqlite3.connect(db)
        conn.execute(SQL, (i,)).fetchone()
        conn.close()

    few = ids[: max(200, args.queries // 20)]
    results: dict[str, list[float]] = {k: [] for k in ("bare", "pool", "connect", "plain")}
    for _ in range(args.rounds):  # alternate, so noise hits every method alike
        results["bare"].append(per_query(via_bare, ids))
        results["pool"].append(per_query(via_pool, ids))
        results["connect"].append(per_query(via_connect, few))
        results["plain"].append(per_query(via_plain_connect, few))
    pool.close()
    bare.close()
    base = median(results["bare"])
    rows = [
        ["reused bare connection (tuner.connect once)", f"{base:.2f}", "1.00x"],
        ["pool.reader() per query", f"{median(results['pool']):.2f}",
         f"{median(results['pool']) / base:.2f}x"],
        ["tuner.connect per query (profile pragmas)", f"{median(results['connect']):.1f}",
         f"{median(results['connect']) / base:.1f}x"],
        ["sqlite3.connect per query (no pragmas)", f"{median(results['plain']):.1f}",
         f"{median(results['plain']) / base:.1f}x"],
    ]
    text = table(["primary-key lookup", "µs per query (median)", "vs bare"], rows)
    print(text)
    write_section("pool_overhead", f"""
## Pool overhead for a primary-key lookup

`python bench/pool_overhead.py --participants {args.participants} --queries {args.queries} \\
--rounds {args.rounds}` on {machine()}. A WAL demo database; the same random user ids, one
`SELECT ... WHERE id = ?` each, medians of {args.rounds} alternating rounds.

{text}
""")


if __name__ == "__main__":
    main()
