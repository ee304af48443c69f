"""Issue 12's loop measured: a captured bot workload replayed on four index sets, side by side.

On the demo database (`tuner demo-db --participants N`, tuner's own generator):

1. The bot's own operations (tuner.workload.demo.workload.drive: --ops seeded BotStore calls,
   reads and writes) run with capture on against an untuned copy.
2. The advice from the capture, as `tuner demo --workload` settles it
   (tuner.workload.demo.loop.settle, on that copy): `advise --workload CAPTURE --only-workload`
   (the library call `tuner advise` makes) into a profile holding the bundled profile's pragmas
   and no index, applied, the same operations captured again, advised again, until advise
   recommends nothing more.
3. Four fresh copies of the pristine database, each applied like `tuner apply` from a profile
   that differs only in `indexes:`: none; the original scripts' 11 single-column indexes
   (ORIGINAL_11); the bundled profile's 5; the advice from the capture. All four with the
   bundled profile's pragmas (WAL, synchronous=NORMAL, ...). A fifth, the bundled set again
   (TWIN): how far it measures from the first is the noise between copies.
4. Write cost of each index set, on five more fresh copies (the four sets and a second copy of
   the bundled one, for the noise): --rows fresh participants and messages (and a tenth as many
   users and events) inserted with `executemany` in --batch-row transactions, the copies taking
   turns batch by batch (bench/common.py's helpers, as bench/write_cost.py).
5. The captured workload replayed on each copy, --rounds times (the untuned copy's rounds first,
   then an uncounted warm-up replay of each tuned copy, then their rounds in a random order per
   round): the same seeded operations run again through BotStore with capture on
   (tuner.workload.demo.workload.rerun; the same statements and calls as the capture, checked),
   each statement's captured time, the median over the rounds. Also the capture file replayed
   alone (replay: each statement's slowest sample min(calls, --cap) times, writes rolled back,
   scaled to its calls: a worst case). Each captured read's plan (SCAN/SEARCH) per copy.

usage: python bench/capture_replay.py [--participants 100000] [--ops 2000] [--cap 20]
                                      [--rounds 3] [--rows 50000] [--batch 1000]
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from pathlib import Path
from typing import Any

import yaml
from common import (
    CACHE,
    INSERTS,
    ORIGINAL_11,
    apply_profile,
    bundled_data,
    connect,
    demo_db,
    fresh_copy,
    insert_rates,
    machine,
    median,
    new_rows,
    paired_ci,
    remove,
    table,
    write_profile,
    write_section,
)

from tuner.engines.lookup import engine_for
from tuner.resources import bundled_profile
from tuner.workload.advise.search import where_key
from tuner.workload.demo.loop import settle, start_profile
from tuner.workload.demo.workload import drive, replay, rerun, same_workload

VARIANTS = ("none", "original 11", "bundled", "advised")
#: A second copy of the bundled set, replayed and written to like the others: how far two copies
#: of one index set differ is the copy-to-copy noise of the comparisons with the bundled set.
TWIN = "bundled twin"


def slug(name: str) -> str:
    return name.replace(" ", "")


def base_profile() -> dict[str, Any]:
    """The bundled profile's settings: no index, view or query."""
    data = {k: v for k, v in bundled_data().items() if k not in ("indexes", "views", "queries")}
    return dict(data, profile="replay-none", indexes=[])


def index_list(indexes: list[dict[str, Any]]) -> str:
    return "; ".join(f"{i['table']}({', '.join(i['columns'])})"
                     + (f" WHERE {i['where']}" if i.get("where") else "") for i in indexes)


def definitions(indexes: list[dict[str, Any]]) -> set[tuple]:
    """Each index as (table, key columns, WHERE), case and quoting folded."""
    return {(i["table"].lower(), tuple(c.lower() for c in i["columns"]),
             where_key(i.get("where"))) for i in indexes}


def on_table(indexes: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return [i for i in indexes if i["table"].lower() == name.lower()]


def interval(diff: float, low: float, high: float, unit: str, digits: int = 2) -> str:
    return f"{diff:+,.{digits}f} {unit}, 95% interval {low:+,.{digits}f} .. {high:+,.{digits}f}"


def no_more(diff: float, low: float, high: float, unit: str,
            twin: tuple[float, float, float] | None = None, digits: int = 2) -> str:
    """The verdict on "a costs no more than b" from their paired difference a - b and its
    95% interval: yes; yes within noise (the interval holds 0, or the difference is no larger
    than two copies of one index set measured apart: `twin`, the same figures for a second
    copy of b minus b, read as far as its interval reaches); or NO."""
    figures = interval(diff, low, high, unit, digits)
    if diff <= 0:
        return f"yes ({figures})"
    if low <= 0:
        return f"yes, within noise ({figures})"
    margin = max(map(abs, twin)) if twin else 0.0
    if diff <= margin:
        return (f"yes, within copy-to-copy noise ({figures}; two copies of the bundled set "
                f"differ by up to {margin:,.{digits}f} {unit})")
    return f"NO ({figures})"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--participants", type=int, default=100_000)
    ap.add_argument("--ops", type=int, default=2000, help="bot operations captured")
    ap.add_argument("--seed", type=int, default=7, help="seed of the operation mix")
    ap.add_argument("--cap", type=int, default=20,
                    help="sample replay: executions per statement")
    ap.add_argument("--rounds", type=int, default=3, help="replays per copy")
    ap.add_argument("--rows", type=int, default=50_000,
                    help="rows inserted into each of participants and messages")
    ap.add_argument("--batch", type=int, default=1000, help="rows per transaction")
    args = ap.parse_args()
    started = time.perf_counter()
    pristine = demo_db(args.participants)

    def say(text: str) -> None:
        print(f"[{time.perf_counter() - started:6.0f} s] {text}", file=sys.stderr, flush=True)

    say(f"running {args.ops} bot operations with capture on (untuned copy) ...")
    captured_db = fresh_copy(pristine, "replay-captured.db")
    capture = CACHE / "replay-capture.db"
    remove(capture)
    driven = drive(captured_db, None, capture=capture, ops=args.ops, seed=args.seed)
    say(f"captured in {driven.seconds:.1f} s; advising from the capture, pass by pass ...")
    base = base_profile()
    began = time.perf_counter()
    advised_path = start_profile(bundled_profile(), CACHE / "replay-advised-profile.yaml")
    passes = settle(advised_path, str(captured_db), capture, CACHE, ops=args.ops,
                    seed=args.seed, say=say)
    advise_s = time.perf_counter() - began
    advised = yaml.safe_load(advised_path.read_text(encoding="utf-8")).get("indexes") or []
    per_pass = " + ".join(str(len(p.added)) for p in passes if p.applied)
    indexes = {
        "none": [],
        "original 11": [{"name": f"idx_{t}_{c}", "table": t, "columns": [c]}
                        for t, c in ORIGINAL_11],
        "bundled": bundled_data()["indexes"],
        "advised": advised,
    }
    profs = {name: write_profile(dict(base, profile=f"replay-{slug(name)}",
                                      indexes=indexes[name]),
                                 f"replay-{slug(name)}") for name in VARIANTS}
    profs[TWIN] = profs["bundled"]
    def applied_copy(name: str, prefix: str) -> tuple[Path, float]:
        """A fresh copy of the pristine database with `name`'s profile applied, and the
        seconds the apply took."""
        say(f"applying {name} to a fresh copy ({prefix}) ...")
        path = fresh_copy(pristine, f"{prefix}-{slug(name)}.db")
        return path, apply_profile(profs[name], path)

    paths, applied, sizes = {}, {}, {}
    for name in (*VARIANTS, TWIN):
        paths[name], applied[name] = applied_copy(name, "replay")
        sizes[name] = paths[name].stat().st_size / 1e6
    os.sync()

    # -- replay ---------------------------------------------------------------------------
    per_stmt: dict[str, dict[str, list[float]]] = {n: {} for n in (*VARIANTS, TWIN)}
    statements: dict[str, Any] = {}
    mismatched = []

    def replay_once(name: str, label: str, counted: bool = True) -> None:
        say(f"replay {label}: {name} ...")
        again = rerun(paths[name], profs[name], ops=args.ops, seed=args.seed,
                      capture=CACHE / f"replay-{slug(name)}-capture.db")
        if not same_workload(capture, again.capture):
            mismatched.append(f"{name} {label}")
        for st in again.statements if counted else ():
            statements.setdefault(st.fingerprint, st)
            per_stmt[name].setdefault(st.fingerprint, []).append(st.total_s)

    # The untuned copy first, alone: each of its replays scans for ~40 s and slows whatever
    # runs next, which no pairing needs. Then one uncounted round warms the tuned copies up
    # (a copy's first replay in a process is cold), and the counted rounds take them in a
    # new random order each.
    for k in range(args.rounds):
        replay_once("none", f"round {k + 1}/{args.rounds}")
    tuned = [n for n in VARIANTS if n != "none"]
    for name in (*tuned, TWIN):
        replay_once(name, "warm-up (not counted)", counted=False)
    order = random.Random(args.rounds)
    for k in range(args.rounds):
        for name in order.sample([*tuned, TWIN], len(tuned) + 1):
            replay_once(name, f"round {k + 1}/{args.rounds}")
    # The sample replay: the untuned copy once (it scans for ~40 s), the tuned copies
    # --rounds times each in a random order per round, the median.
    samples: dict[str, list[float]] = {n: [] for n in VARIANTS}
    schedule = [["none"]] + [order.sample(tuned, len(tuned)) for _ in range(args.rounds)]
    for k, names in enumerate(schedule):
        for name in names:
            say(f"sample replay (capture file alone) {k}/{args.rounds}: {name} ...")
            done = replay(capture, paths[name], profs[name], cap=args.cap)
            samples[name].append(sum(r.scaled_s for r in done.statements))
    sample_s = {n: median(samples[n]) for n in VARIANTS}
    fps = sorted(statements, key=lambda fp: (statements[fp].kind != "select",
                                             -statements[fp].total_s))
    rounds = {n: [sum(per_stmt[n][fp][k] for fp in fps if len(per_stmt[n].get(fp, [])) > k)
                  for k in range(args.rounds)] for n in (*VARIANTS, TWIN)}
    reads = [statements[fp] for fp in fps if statements[fp].kind == "select"]
    access = {n: engine_for(str(paths[n])).capture_access(str(paths[n]), reads)
              for n in VARIANTS}

    def scaled(name: str, fp: str) -> float:
        return median(per_stmt[name].get(fp, [0.0]))

    totals = {n: sum(scaled(n, fp) for fp in fps) for n in VARIANTS}
    read_totals = {n: sum(scaled(n, fp) for fp in fps if statements[fp].kind == "select")
                   for n in VARIANTS}
    write_totals = {n: totals[n] - read_totals[n] for n in VARIANTS}
    searched = {n: sum(1 for a in access[n].values() if a.verdict == "SEARCH")
                for n in VARIANTS}

    stmt_rows = []
    for fp in fps:
        st = statements[fp]
        text = " ".join(st.text.split())
        text = text if len(text) <= 70 else text[:67] + "..."
        cells = [text.replace("|", "\\|"), f"{st.calls:,}"]
        for n in VARIANTS:
            verdict = "" if st.kind != "select" else " " + access[n][fp].verdict
            cells.append(f"{scaled(n, fp) * 1000:,.1f}{verdict}")
        stmt_rows.append(cells)
    stmt_rows.append(["**total**", f"{sum(statements[fp].calls for fp in fps):,}",
                      *(f"**{totals[n] * 1000:,.1f}**" for n in VARIANTS)])

    # -- write cost -------------------------------------------------------------------------
    # On fresh copies, not the replayed ones, so that the replays' histories (which round wrote
    # when, checkpoints) add nothing to the copy-to-copy noise; the twin measures what is left
    # (two fresh copies of one set have measured up to 3% apart).
    writers = (*VARIANTS, TWIN)
    written = {name: applied_copy(name, "write")[0] for name in writers}
    os.sync()
    say(f"preparing {args.rows:,} fresh rows ...")
    fresh = new_rows(pristine, args.rows)
    settings = profs["bundled"].settings
    conns = {n: connect(written[n], settings) for n in writers}
    per_table: dict[str, dict[str, float]] = {}
    table_batches: dict[str, dict[str, list[float]]] = {}
    for t, (tname, rows) in enumerate(fresh.items()):
        say(f"inserting {len(rows):,} rows into {tname} on each copy ...")
        per_table[tname] = insert_rates(conns, rows, INSERTS[tname], args.batch, seed=t,
                                        batches=table_batches.setdefault(tname, {}))
    spent = {n: sum(got[n] for got in per_table.values()) for n in writers}
    batches = {n: [x for got in table_batches.values() for x in got[n]] for n in writers}
    for conn in conns.values():
        conn.close()
    for path in written.values():
        remove(path)
    write_rows = [[tname, *(f"{got[n]:.2f}" for n in spent)]
                  for tname, got in per_table.items()]
    write_rows.append(["**all four**", *(f"**{spent[n]:.2f}**" for n in spent)])
    index_cost = {n: spent[n] - spent["none"] for n in VARIANTS}
    differing = [tname for tname in per_table
                 if definitions(on_table(indexes["advised"], tname))
                 != definitions(on_table(indexes["bundled"], tname))]

    t_sets = table(["indexes", "count", "apply s", "file MB", "the indexes"],
                   [[n, str(len(indexes[n])), f"{applied[n]:.1f}", f"{sizes[n]:.0f}",
                     index_list(indexes[n]) or "-"] for n in VARIANTS])
    t_summary = table(["", *VARIANTS], [
        ["replayed total, ms (the same operations, captured)",
         *(f"{totals[n] * 1000:,.1f}" for n in VARIANTS)],
        ["... reads", *(f"{read_totals[n] * 1000:,.1f}" for n in VARIANTS)],
        ["... writes", *(f"{write_totals[n] * 1000:,.1f}" for n in VARIANTS)],
        ["speedup over none", *(f"{totals['none'] / totals[n]:,.1f}x" for n in VARIANTS)],
        ["sample replay, ms (worst case, scaled to the calls)",
         *(f"{sample_s[n] * 1000:,.1f}" for n in VARIANTS)],
        [f"captured reads that SEARCH (of {len(reads)})", *(str(searched[n]) for n in VARIANTS)],
        [f"bulk insert, s ({sum(len(r) for r in fresh.values()):,} rows)",
         *(f"{spent[n]:.2f}" for n in VARIANTS)],
        ["... the indexes' share (minus none), s", *(f"{index_cost[n]:.2f}" for n in VARIANTS)],
    ])
    t_stmts = table(["statement", "calls", *(f"{n} ms" for n in VARIANTS)], stmt_rows)
    t_writes = table(["table", *(f"{n} s" for n in spent)], write_rows)
    read_ci = tuple(x * 1000 for x in paired_ci(rounds["advised"], rounds["bundled"]))
    twin_read = tuple(x * 1000 for x in paired_ci(rounds[TWIN], rounds["bundled"]))
    write_ci = paired_ci(batches["advised"], batches["bundled"])
    twin_ci = paired_ci(batches[TWIN], batches["bundled"])
    advised_defs, bundled_defs = definitions(indexes["advised"]), definitions(indexes["bundled"])
    subset = advised_defs <= bundled_defs
    extra = index_list([i for i in indexes["bundled"] if definitions([i]) - advised_defs])
    t_verdict = table(["done-when", "holds"], [
        [f"advice from the capture at least as fast in replayed total as the bundled profile "
         f"({totals['bundled'] * 1000:,.1f} -> {totals['advised'] * 1000:,.1f} ms; per round, "
         f"advised minus bundled)", no_more(*read_ci, "ms", twin=twin_read)],
        [f"... copy-to-copy noise: a second copy of the bundled set minus the first, replayed "
         f"total per round ({sum(rounds['bundled']) * 1000:,.1f} vs "
         f"{sum(rounds[TWIN]) * 1000:,.1f} ms over the rounds)", interval(*twin_read, "ms")],
        ["after the advice every captured read is a SEARCH",
         "yes" if searched["advised"] == len(reads) else "NO"],
        [f"advised indexes cost no more write time than the bundled ones, bulk insert "
         f"({spent['bundled']:.2f} vs {spent['advised']:.2f} s; per batch, advised minus "
         f"bundled)", no_more(*write_ci, "s", twin=twin_ci)],
        [f"... copy-to-copy noise: a second copy of the bundled set minus the first, bulk insert "
         f"({spent['bundled']:.2f} vs {spent[TWIN]:.2f} s)",
         interval(*twin_ci, "s")],
        *([f"... on {tname}, the table whose indexes differ (bundled: "
           f"{index_list(on_table(indexes['bundled'], tname)) or '-'}; advised: "
           f"{index_list(on_table(indexes['advised'], tname)) or '-'}), "
           f"{per_table[tname]['bundled']:.3f} vs {per_table[tname]['advised']:.3f} s",
           no_more(*paired_ci(table_batches[tname]["advised"], table_batches[tname]["bundled"]),
                   "s", digits=3)] for tname in differing),
        [f"the advised indexes are a subset of the bundled ones (same table, key columns and "
         f"WHERE){'; the bundled profile also has ' + extra if subset and extra else ''}",
         "yes" if subset else "no (the measured rows above decide)"],
        [f"... and in the captured workload's own writes "
         f"({write_totals['bundled'] * 1000:,.1f} vs {write_totals['advised'] * 1000:,.1f} ms)",
         "yes" if write_totals["advised"] <= write_totals["bundled"] else "NO"],
        ["replay faster after the advice than untuned", "yes"
         if totals["advised"] < totals["none"] else "NO"],
        ["every replay ran the captured statements with the captured calls",
         "yes" if not mismatched else "NO (" + ", ".join(mismatched) + ")"],
    ])
    print(t_sets, t_summary, t_verdict, t_stmts, t_writes, sep="\n\n")
    ops = ", ".join(f"{v} {k}" for k, v in driven.ops.items())
    command = (f"python bench/capture_replay.py --participants {args.participants} "
               f"--ops {args.ops} --cap {args.cap} --rounds {args.rounds} --rows {args.rows} "
               f"--batch {args.batch}")
    write_section("capture_replay", f"""
## Capture, advise, replay: four index sets on the bot's own workload (issue 12)

`{command}`
on {machine()}, {time.perf_counter() - started:.0f} s in all. The demo database
(`tuner demo-db --participants {args.participants}`). The bot's own operations
(`tuner.workload.demo.workload.drive`, seed {args.seed}: {ops}) ran through `BotStore` with
capture on against an untuned copy; `advise --workload --only-workload` on that copy (the
bundled profile's pragmas, no index), pass by pass as `tuner demo --workload` does (advise, apply,
capture the same operations again, until advise recommends nothing), took {advise_s:.1f} s and
advised {len(advised)} index(es) ({per_pass} by pass).
Four fresh copies, applied like `tuner apply` with the bundled profile's pragmas and only
`indexes:` different, replayed the captured workload: the same seeded operations through
`BotStore` with capture on (`tuner.workload.demo.workload.rerun`, each replay checked to hold
the captured statements with the captured calls), {args.rounds} rounds, per statement the median
of its captured time: the untuned copy's rounds first (its full scans slow whatever runs next),
then one uncounted warm-up replay of each tuned copy, then the tuned copies' rounds in a random
order per round. The "sample replay" row
replays the capture file alone instead: each statement's sample (its slowest execution's SQL
and parameters), min(calls, {args.cap}) times, writes rolled back, scaled to its calls: every
call as slow as the slowest, a worst case (the untuned copy once, the tuned ones {args.rounds}
times each in a random order per round, the median). Plans from EXPLAIN QUERY PLAN of each
read's sample.
The two "no more than the bundled profile" verdicts use paired differences, advised minus
bundled: per replay round (both copies replayed in the same round) and per inserted batch (the
same rows, in the same turn), with a 95% bootstrap interval of the total; "within noise" where
the difference is above 0 but the interval holds 0, or is no larger than two copies of one set
measure apart: "{TWIN}", a fifth copy with the bundled indexes replayed (and, on its own fresh
copy, written to) like the others, whose difference from "bundled" is read as far as its 95%
interval reaches. Where the two sets differ only on some tables, those tables'
inserts get their own verdict: on the others the indexes are the same.

{t_sets}

{t_summary}

{t_verdict}

### Per statement (captured ms, median of the rounds; plan of each read)

{t_stmts}

### Write time of each index set

{args.rows:,} fresh participants and as many messages, {args.rows // 10:,} new users and as
many new events, inserted table by table with `executemany` in {args.batch}-row transactions
into five more fresh copies (not the replayed ones, so their histories add no noise), the
copies taking turns batch by batch in a random order rotated by one place per batch
(bench/common.py's `insert_rates`, as bench/write_cost.py).
"{TWIN}" is the bundled profile applied to a fifth copy: what separates it from "bundled" is
the noise between two copies of one index set. Seconds:

{t_writes}
""")


if __name__ == "__main__":
    main()
