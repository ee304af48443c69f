"""`tuner plan --fleet` against one `tuner plan` process per database, side by side: the
same small demo databases, the bundled profile, `--detailed-exitcode` in both (every
database has changes, so both must answer 2 for every one).

usage: python bench/fleet_plan.py [--dbs 1000] [--participants 50] [--jobs N]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from common import CACHE, demo_db, machine, median, ratio, table, write_section

from tuner.resources import bundled_profile

TUNER = [sys.executable, "-m", "tuner"]


def make_fleet(dbs: int, participants: int) -> Path:
    """`dbs` copies of one small demo database in a folder of the bench cache (reused)."""
    folder = CACHE / f"fleet-{dbs}-{participants}"
    pristine = demo_db(participants)
    names = [f"tenant{i:05d}.db" for i in range(dbs)]
    if folder.is_dir() and sorted(p.name for p in folder.glob("*.db")) == names:
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for name in names:
        shutil.copyfile(pristine, folder / name)
    return folder


def fleet_seconds(folder: Path, jobs: int) -> float:
    """Wall time of one `tuner plan --fleet` over the folder (interpreter start included)."""
    start = time.perf_counter()
    done = subprocess.run([*TUNER, "plan", str(bundled_profile()), "--fleet",
                           str(folder / "*.db"), "--detailed-exitcode", "--jobs", str(jobs)],
                          capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 2 or "have changes" not in done.stdout:
        raise RuntimeError(f"tuner plan --fleet exited {done.returncode}: {done.stderr}")
    return seconds


def loop_seconds(folder: Path) -> float:
    """Wall time of one `tuner plan --db X` process per database, one after another."""
    start = time.perf_counter()
    for db in sorted(folder.glob("*.db")):
        done = subprocess.run([*TUNER, "plan", str(bundled_profile()), "--db", str(db),
                               "--detailed-exitcode"], capture_output=True)
        if done.returncode != 2:
            raise RuntimeError(f"tuner plan --db {db} exited {done.returncode}")
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dbs", type=int, default=1000)
    ap.add_argument("--participants", type=int, default=50)
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    args = ap.parse_args()
    folder = make_fleet(args.dbs, args.participants)
    size_kb = (folder / "tenant00000.db").stat().st_size / 1024
    # fleet, loop, fleet: the fleet's median of two brackets the loop in time
    fleet = [fleet_seconds(folder, args.jobs)]
    loop = loop_seconds(folder)
    fleet.append(fleet_seconds(folder, args.jobs))
    best = median(fleet)
    rows = [
        [f"`tuner plan --fleet 'dir/*.db' --jobs {args.jobs}` (one process)",
         f"{best:,.2f} s", f"{best / args.dbs * 1000:,.1f} ms", "1x"],
        [f"{args.dbs:,} x `tuner plan --db X` (one process each)", f"{loop:,.1f} s",
         f"{loop / args.dbs * 1000:,.0f} ms", ratio(loop / best)],
    ]
    text = table(["how", "wall time", "per database", "slower than the fleet"], rows)
    print(text)
    print(f"\nfleet runs: {', '.join(f'{s:.2f} s' for s in fleet)}; speedup "
          f"{loop / best:.1f}x")
    write_section("fleet", f"""## Fleet: one profile over {args.dbs:,} databases (issue 13)

`python bench/fleet_plan.py --dbs {args.dbs}`: {args.dbs:,} copies of a small demo database
({args.participants} participants, {size_kb:,.0f} KB each, untuned, so every plan has
changes), the bundled profile, `--detailed-exitcode` (both sides must exit 2). The loop
runs one `tuner plan --db X` process per database, one after the other; the fleet runs
once before and once after it (median of the two: {', '.join(f'{s:.2f} s' for s in fleet)}).
{machine()}.

{text}

The fleet is **{loop / best:.0f}x** faster. Nearly all of the loop's time is each process's
start-up (the interpreter and tuner's imports, ~0.2-0.4 s); the fleet pays it once, loads
and validates the profile once, and plans each database in a few milliseconds on a thread
pool. Done-when: at least 20x.""")


if __name__ == "__main__":
    main()
