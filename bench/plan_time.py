"""Plan time is O(schema), not O(rows): plan the bundled profile against an empty demo
database and a 2M-participant one, side by side, in-process and through the CLI.

usage: python bench/plan_time.py [--participants 2000000] [--runs 15]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

from common import (
    ROOT,
    demo_db,
    machine,
    median,
    p95,
    table,
    timed,
    write_section,
)

from tuner import load_profile, make_plan
from tuner.resources import bundled_profile


def cli_seconds(db: str, runs: int) -> list[float]:
    """Wall time of the whole `tuner plan` command (interpreter start included)."""
    tuner = [sys.executable, "-m", "tuner"]
    out = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([*tuner, "plan", str(bundled_profile()), "--db", db], check=True,
                       capture_output=True)
        out.append(time.perf_counter() - start)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--participants", type=int, default=2_000_000)
    ap.add_argument("--runs", type=int, default=15)
    args = ap.parse_args()
    small, big = demo_db(0), demo_db(args.participants)
    profile = load_profile(bundled_profile())
    rows = []
    results = {}
    for label, db in (("0 participants", small), (f"{args.participants:,} participants", big)):
        api = timed(lambda db=db: make_plan(profile, str(db)), args.runs)
        cli = cli_seconds(str(db), max(3, args.runs // 3))
        results[label] = (api, cli)
        size_mb = db.stat().st_size / 1e6
        rows.append([label, f"{size_mb:,.1f} MB", f"{median(api) * 1000:.1f} ms",
                     f"{p95(api) * 1000:.1f} ms", f"{median(cli) * 1000:.0f} ms"])
    (api0, cli0), (api1, cli1) = results.values()
    ratio = median(api1) / median(api0)
    text = table(["database", "file", "plan (API) median", "p95", "tuner plan (CLI)"], rows)
    print(text)
    print(f"ratio big/empty (API median): {ratio:.2f}x")
    write_section("plan_time", f"""
## Plan time: O(schema), not O(rows)

`python bench/plan_time.py --participants {args.participants} --runs {args.runs}` on {machine()}.
The bundled profile planned against two demo databases with the same schema; the API column
is `tuner.make_plan` in-process, the CLI column the whole `tuner plan` command including
interpreter start-up.

{text}

Planning the {args.participants:,}-participant database takes {ratio:.2f}x the time of the empty
one: inspection reads the schema, `sqlite_stat1` and `max(rowid)` (a B-tree descent), never the
rows.
""")


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
