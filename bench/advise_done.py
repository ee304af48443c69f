"""Issue 5's done-when for `tuner advise`, measured: from the hot queries alone to their indexes.

On a database in the original bot's schema (the independent seed generator: N participants and
as many messages, untuned, no secondary index, never ANALYZEd):

1. A profile with the bundled profile's pragmas and `queries:` but no `indexes:` (and no views)
   is applied to a copy ("before": WAL and the pragmas, no index).
2. `tuner advise PROFILE --db before --format yaml` (the CLI, in a subprocess) recommends
   indexes; its `indexes:` block is pasted into the profile, and that profile is applied to
   another copy of the pristine database by the same code path as `tuner apply` ("advised").
   `tuner advise` runs again on the advised copy: it should recommend nothing more.
3. The bundled profile (hand-chosen indexes) is applied to a third copy ("bundled").
4. Every hot query is timed on the three copies in a random order per run, each timed run
   right after an untimed one (same connection pragmas, medians), with its EXPLAIN QUERY PLAN
   on each, and the rows compared.
5. `tuner bench PROFILE --db pristine --compare` runs with the bundled profile and its table
   is captured as printed.

usage: python bench/advise_done.py [--participants 2000000] [--runs 20] [--no-compare]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from typing import Any

import yaml
from common import (
    ROOT,
    apply_profile,
    bundled_data,
    connect,
    fresh_copy,
    machine,
    median,
    query_plan,
    ratio,
    seed_db,
    table,
    timed_rotation,
    write_profile,
    write_section,
)

from tuner.engines.sqlite.bench import classify
from tuner.workload.bench.measure import PlanLine

#: Below this many rows a table scan is cheap; the criteria look at scans of larger tables.
LARGE = 10_000


def tuner_cli(*args: str) -> tuple[str, float]:
    """Run `tuner ARGS` as a user would (this checkout's package, from the repository root),
    return stdout and seconds."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "tuner", *args], check=True,
                          capture_output=True, text=True, env=env, cwd=ROOT)
    return done.stdout, time.perf_counter() - start


def plan_lines(conn: Any, sql: str, params: dict) -> list[PlanLine]:
    """The classified EXPLAIN QUERY PLAN lines of a query."""
    return [classify(r[3]) for r in conn.execute("EXPLAIN QUERY PLAN " + sql, params)]


def shape(lines: list[PlanLine]) -> str:
    """SCAN when any table is read in full (even through a covering index), else SEARCH;
    `+ temp B-tree` when SQLite sorts or groups in a temporary B-tree."""
    word = "SCAN" if any(ln.kind == "scan" for ln in lines) else "SEARCH"
    return word + (" + temp B-tree" if any(ln.kind == "temp_btree" for ln in lines) else "")


def index_rows(indexes: list[dict[str, Any]]) -> list[list[str]]:
    """One table row per `indexes:` entry."""
    return [[i["name"], f"{i['table']}({', '.join(i['columns'])})", i.get("where") or "",
             str(i.get("comment") or "")] for i in indexes]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--participants", type=int, default=2_000_000)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--no-compare", action="store_true",
                    help="skip the `tuner bench --compare` run")
    args = ap.parse_args()
    n = args.participants
    pristine = seed_db(n)

    base = bundled_data()
    bundled_indexes = base["indexes"]
    noindex = {k: v for k, v in base.items() if k not in ("indexes", "views")}
    noindex["profile"] = "telegram-bot-noindex"
    p_none = write_profile(noindex, "advise-noindex")

    print("applying the no-index profile ...", file=sys.stderr, flush=True)
    before_db = fresh_copy(pristine, "advise-before.db")
    apply_profile(p_none, before_db)

    print("tuner advise ...", file=sys.stderr, flush=True)
    out, advise_s = tuner_cli("advise", str(p_none.path), "--db", str(before_db),
                              "--format", "yaml")
    advised_indexes = (yaml.safe_load(out) or {}).get("indexes") or []
    advised = dict(noindex, profile="telegram-bot-advised", indexes=advised_indexes)
    p_adv = write_profile(advised, "advise-advised")

    print("applying the advised profile and the bundled one ...", file=sys.stderr, flush=True)
    adv_db = fresh_copy(pristine, "advise-advised.db")
    adv_apply_s = apply_profile(p_adv, adv_db)
    bundled = dict(base)
    p_bun = write_profile(bundled, "advise-bundled")
    bun_db = fresh_copy(pristine, "advise-bundled.db")
    bun_apply_s = apply_profile(p_bun, bun_db)

    again, _ = tuner_cli("advise", str(p_adv.path), "--db", str(adv_db), "--format", "json")
    again_recs = yaml.safe_load(again)["recommendations"]

    print("timing the hot queries ...", file=sys.stderr, flush=True)
    conns = [connect(db, p_none.settings) for db in (before_db, adv_db, bun_db)]
    rows, verdicts = [], []
    for q in p_none.queries:
        results = [sorted(c.execute(q.sql, q.params).fetchall()) for c in conns]
        same = results[0] == results[1] == results[2]
        times = timed_rotation([lambda c=c, q=q: c.execute(q.sql, q.params).fetchall()
                                for c in conns], args.runs, rewarm=True)
        before_ms, adv_ms, bun_ms = (median(t) * 1000 for t in times)
        lines = [plan_lines(c, q.sql, q.params) for c in conns]
        verdicts.append({"query": q.name, "before": lines[0], "after": lines[1],
                         "before_ms": before_ms, "after_ms": adv_ms, "bundled_ms": bun_ms,
                         "rows": len(results[1])})
        rows.append([q.name, f"{len(results[1]):,}", shape(lines[0]), shape(lines[1]),
                     f"{before_ms:.2f}", f"{adv_ms:.3f}", f"{bun_ms:.3f}",
                     ratio(before_ms / adv_ms), ratio(bun_ms / adv_ms),
                     "yes" if same else "NO"])
        if not same:
            print(f"{q.name}: results differ", file=sys.stderr)
    plans = [[q.name, query_plan(conns[0], q.sql, q.params),
              query_plan(conns[1], q.sql, q.params), query_plan(conns[2], q.sql, q.params)]
             for q in p_none.queries]
    for c in conns:
        c.close()

    compare, rel_db = "", os.path.relpath(pristine, ROOT)
    if not args.no_compare:
        print("tuner bench --compare ...", file=sys.stderr, flush=True)
        compare, compare_s = tuner_cli("bench", "profiles/telegram-bot.yaml", "--db",
                                       rel_db, "--compare", "--runs", str(args.runs))

    t_queries = table(["query", "rows", "before", "advised", "before ms", "advised ms",
                       "bundled ms", "speedup", "bundled / advised", "same rows"], rows)
    t_plans = table(["query", "plan before (no index)", "plan with the advised indexes",
                     "plan with the bundled indexes"], plans)
    t_adv = table(["advised index", "on", "where", "advisor's comment"],
                  index_rows(advised_indexes))
    t_bun = table(["bundled index", "on", "where", "comment"], index_rows(bundled_indexes))

    # The done-when, checked on what was measured.
    all_search = all(not any(ln.kind == "scan" for ln in v["after"]) for v in verdicts)
    smaller = len(advised_indexes) <= len(bundled_indexes)
    scanned = [v for v in verdicts
               if any(ln.kind == "scan" and ln.table for ln in v["before"])]
    selective = [v for v in scanned if v["before_ms"] >= 10]
    fast = all(v["after_ms"] <= 0.2 for v in selective)
    verdict_rows = [
        ["every hot query is a SEARCH with the advised indexes", "yes" if all_search else "NO"],
        [f"advised set ({len(advised_indexes)}) no larger than the bundled one "
         f"({len(bundled_indexes)})", "yes" if smaller else "NO"],
        ["selective queries that scanned a large table (>= 10 ms before): "
         + ", ".join(f"{v['query']} {v['before_ms']:.1f} -> {v['after_ms']:.3f} ms"
                     for v in selective), "yes" if fast and selective else "NO"],
        [f"`tuner advise` again on the advised copy: {len(again_recs)} more recommendations",
         "yes" if not again_recs else "NO"],
    ]
    t_verdict = table(["done-when", "holds"], verdict_rows)

    print(t_adv, t_bun, t_queries, t_plans, t_verdict, sep="\n\n")
    if compare:
        print("\n" + compare)
    print(f"advise {advise_s:.1f} s; apply advised {adv_apply_s:.1f} s, "
          f"bundled {bun_apply_s:.1f} s")

    size = pristine.stat().st_size / 1e6
    compare_md = f"""
### `tuner bench --compare` with the bundled profile

`tuner bench profiles/telegram-bot.yaml --db {rel_db} --compare --runs {args.runs}`
({compare_s:.0f} s), as printed:

```
{compare.strip()}
```
""" if compare else ""
    write_section("advise_done", f"""
## tuner advise from the hot queries alone (issue 5, done-when)

`python bench/advise_done.py --participants {n} --runs {args.runs}` on {machine()}.
A database in the original bot's schema made by the independent seed generator
(`seed_db.py --participants {n}`: {n:,} participants, {n:,} messages, {n // 100:,} events,
{max(100, n // 10):,} users; {size:.0f} MB, never ANALYZEd). The starting profile is the
bundled one's pragmas and `queries:` without `indexes:` or views. `tuner advise --format yaml`
ran on it ({advise_s:.1f} s, read-only) and its `indexes:` block was pasted into the profile
and applied the way `tuner apply` does ({adv_apply_s:.1f} s). The bundled profile, with its
hand-chosen indexes, was applied to a third copy ({bun_apply_s:.1f} s). All three copies are
queried with the same connection pragmas, in a random order per run, {args.runs} runs per
query, each right after an untimed run of the same query on the same copy (so a neighbour's
full scan does not decide the ratio); times are medians in ms.

{t_verdict}

What the advisor recommended ({len(advised_indexes)} indexes), beside the bundled profile's
{len(bundled_indexes)}:

{t_adv}

{t_bun}

Hot queries: plan shape (SCAN when any table is read in full; "+ temp B-tree" when SQLite sorts
or groups in a temporary B-tree) and latency. "speedup" is before / advised; "bundled /
advised" above 1 means the advised indexes are faster than the hand-chosen ones.

{t_queries}

{t_plans}
{compare_md}""")


if __name__ == "__main__":
    main()
