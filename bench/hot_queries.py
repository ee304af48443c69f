"""Hot-query latency before and after running the bundled profile's plan, side by side.

Two copies of the same demo database: one untouched, one with the plan file executed (the
SQL exactly as `tuner plan --out` writes it). Both are queried on connections configured
with the profile's connection pragmas, alternating query by query, so the ratio measures the
plan. Both sides must return the same rows.

usage: python bench/hot_queries.py [--participants 2000000] [--runs 20]
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import time

from common import (
    connect,
    demo_db,
    fresh_copy,
    machine,
    median,
    p95,
    query_plan,
    table,
    timed_pair,
    write_section,
)

from tuner import load_profile, make_plan, render_plan_file
from tuner.resources import bundled_profile


def _ratio(r: float) -> str:
    return f"{r:,.0f}x" if r >= 10 else f"{r:.1f}x"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--participants", type=int, default=2_000_000)
    ap.add_argument("--runs", type=int, default=20)
    args = ap.parse_args()
    pristine = demo_db(args.participants)
    before_db = fresh_copy(pristine, "hot-before.db")
    after_db = fresh_copy(pristine, "hot-after.db")
    profile = load_profile(bundled_profile())
    plan = make_plan(profile, str(after_db))
    started = time.perf_counter()
    with sqlite3.connect(after_db) as conn:
        conn.executescript(render_plan_file(plan))
    applied = time.perf_counter() - started
    assert make_plan(profile, str(after_db)).empty, "the plan did not converge"
    before = connect(str(before_db), profile.settings)
    after = connect(str(after_db), profile.settings)
    rows = []
    for q in profile.queries:
        got_b = before.execute(q.sql, q.params).fetchall()
        got_a = after.execute(q.sql, q.params).fetchall()
        same = sorted(got_b) == sorted(got_a)
        tb, ta = timed_pair(lambda q=q: before.execute(q.sql, q.params).fetchall(),
                            lambda q=q: after.execute(q.sql, q.params).fetchall(), args.runs)
        rows.append([q.name, f"{len(got_a):,}", f"{median(tb) * 1000:.2f}",
                     f"{median(ta) * 1000:.3f}", f"{p95(ta) * 1000:.3f}",
                     _ratio(median(tb) / median(ta)), "yes" if same else "NO",
                     query_plan(before, q.sql, q.params), query_plan(after, q.sql, q.params)])
        if not same:
            print(f"{q.name}: results differ before and after", file=sys.stderr)
    text = table(["query", "rows", "before ms (median)", "after ms (median)", "after p95",
                  "speedup", "same rows", "plan before", "plan after"], rows)
    print(text)
    print(f"plan executed in {applied:.1f} s ({len(plan.steps)} steps)")
    write_section("hot_queries", f"""
## Hot queries before and after the bundled plan

`python bench/hot_queries.py --participants {args.participants} --runs {args.runs}` on {machine()}.
A {args.participants:,}-participant demo database (as many messages), untouched vs. with the plan
file executed ({len(plan.steps)} steps, {applied:.1f} s); same connection pragmas on both sides,
{args.runs} runs per query after a warm-up, alternating.

{text}
""")


if __name__ == "__main__":
    main()
