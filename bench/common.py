"""Shared helpers for the benchmark scripts: demo databases, timing, and docs/BENCHMARKS.md.

Each script owns one section of docs/BENCHMARKS.md, between `<!-- bench:NAME -->` markers,
and rewrites only that section. Ratios are measured side by side in one run.
"""

from __future__ import annotations

import os
import platform
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import yaml  # noqa: E402

from tuner import load_profile, make_plan, render_plan_file  # noqa: E402
from tuner.apply import ApplyOptions, apply_plan  # noqa: E402
from tuner.engines.sqlite.demo import create_demo_db  # noqa: E402
from tuner.engines.sqlite.engine import SQLiteEngine  # noqa: E402
from tuner.engines.sqlite.inspect import COMPANIONS  # noqa: E402
from tuner.planfile import parse_plan_file  # noqa: E402
from tuner.profile import Profile  # noqa: E402
from tuner.resources import bundled_profile  # noqa: E402

DOC = ROOT / "docs" / "BENCHMARKS.md"
CACHE = Path(os.environ.get("TUNER_BENCH_DIR", ROOT / ".bench-cache"))
#: The independent generator of the original bot's schema (not part of tuner).
SEED_TOOL = Path(os.environ.get("TUNER_SEED_TOOL", "/work/shared/tools/seed_db.py"))


def demo_db(participants: int, seed: int = 42) -> Path:
    """A pristine demo database of that size, generated once into the bench cache."""
    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / f"demo-{participants}-{seed}.db"
    if not path.exists():
        print(f"generating {path.name} ...", file=sys.stderr, flush=True)
        partial = path.with_suffix(".partial")
        create_demo_db(partial, participants, seed=seed, force=True)
        os.replace(partial, path)
    return path


def seed_db(participants: int, seed: int = 7) -> Path:
    """A pristine database in the original bot's schema (SEED_TOOL: as many messages as
    participants, untuned, no secondary indexes, never ANALYZEd), generated once into the
    bench cache."""
    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / f"seed-{participants}-{seed}.db"
    if not path.exists():
        print(f"generating {path.name} with {SEED_TOOL} ...", file=sys.stderr, flush=True)
        partial = path.with_suffix(".partial")
        subprocess.run([sys.executable, str(SEED_TOOL), str(partial), "--participants",
                        str(participants), "--seed", str(seed)], check=True)
        os.replace(partial, path)
    return path


def remove(path: Path) -> None:
    """Delete a database file and its companions (-wal, -shm, -journal)."""
    for suffix in ("", *COMPANIONS):
        Path(str(path) + suffix).unlink(missing_ok=True)


def fresh_copy(source: Path, name: str) -> Path:
    """A working copy of `source` in the cache (companions removed first)."""
    target = CACHE / name
    remove(target)
    shutil.copyfile(source, target)
    return target


def timed(fn: Callable[[], object], runs: int, warmup: int = 1) -> list[float]:
    """Seconds for each of `runs` calls of fn, after `warmup` calls."""
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def timed_rotation(fns: Sequence[Callable[[], object]], runs: int, warmup: int = 1,
                   rewarm: bool = False) -> list[list[float]]:
    """Time several callables in turn, in a new (seeded) random order every run, so that
    noise and order hit all of them alike. With `rewarm`, each timed call directly follows an
    untimed call of the same callable: a full scan timed just before would otherwise evict
    what a 0.05 ms query needs, and which callable follows a scan would decide the ratio.
    Seconds per call, one list per callable."""
    for _ in range(warmup):
        for fn in fns:
            fn()
    order = random.Random(len(fns) * 1000 + runs)
    out: list[list[float]] = [[] for _ in fns]
    for _ in range(runs):
        for i in order.sample(range(len(fns)), len(fns)):
            if rewarm:
                fns[i]()
            start = time.perf_counter()
            fns[i]()
            out[i].append(time.perf_counter() - start)
    return out


def timed_pair(fa: Callable[[], object], fb: Callable[[], object], runs: int,
               warmup: int = 1) -> tuple[list[float], list[float]]:
    """Time two callables alternately (a, b, a, b, ...), so that noise hits both alike."""
    for _ in range(warmup):
        fa()
        fb()
    ta, tb = [], []
    for _ in range(runs):
        for fn, acc in ((fa, ta), (fb, tb)):
            start = time.perf_counter()
            fn()
            acc.append(time.perf_counter() - start)
    return ta, tb


def median(xs: list[float]) -> float:
    """The median."""
    return statistics.median(xs)


def p95(xs: list[float]) -> float:
    """The 95th percentile (nearest rank)."""
    ordered = sorted(xs)
    return ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]


def table(headers: list[str], rows: list[list[str]]) -> str:
    """A Markdown table, also readable in a terminal."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]

    def row(cells: list[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    return "\n".join([row(headers), row(["-" * w for w in widths]), *(row(r) for r in rows)])


def machine() -> str:
    """One line describing where the numbers were measured."""
    return (f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
            f"SQLite {sqlite3.sqlite_version}")


def write_section(name: str, markdown: str) -> None:
    """Replace this script's section of docs/BENCHMARKS.md (created if missing)."""
    begin, end = f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"
    text = DOC.read_text(encoding="utf-8") if DOC.exists() else (
        "# Benchmarks\n\nWritten by the scripts under `bench/`; each owns one section. "
        "Numbers are from a small, noisy 2-core machine: compare the ratios, which are "
        "measured side by side in one run.\n")
    block = f"{begin}\n{markdown.strip()}\n{end}"
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        text = head + block + rest.split(end, 1)[1]
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    DOC.parent.mkdir(parents=True, exist_ok=True)
    DOC.write_text(text, encoding="utf-8")


# -- profiles and connections -----------------------------------------------------------------
def bundled_data() -> dict[str, Any]:
    """The bundled profile as plain data (comments dropped), to derive variants from."""
    return yaml.safe_load(bundled_profile().read_text(encoding="utf-8"))


def write_profile(data: dict[str, Any], name: str) -> Profile:
    """Write a derived profile into the bench cache and load it as tuner would."""
    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return load_profile(path)


def apply_profile(profile: Profile, db: Path) -> float:
    """Apply `profile` to `db` in-process, the same path as `tuner apply` (plan file, stale
    check, verified backup, steps, ANALYZE, read-back); the backup is deleted afterwards.
    Returns the seconds taken."""
    folder = CACHE / "bench-backups"
    start = time.perf_counter()
    plan = parse_plan_file(render_plan_file(make_plan(profile, str(db))))
    result = apply_plan(plan, str(db), ApplyOptions(backup_dir=folder))
    seconds = time.perf_counter() - start
    if result.status not in ("applied", "no_changes"):
        raise RuntimeError(f"apply of {profile.name} to {db} ended {result.status}")
    shutil.rmtree(folder, ignore_errors=True)
    if not make_plan(profile, str(db)).empty:
        raise RuntimeError(f"{profile.name} did not converge on {db}")
    return seconds


def connect(path: str | Path, pragmas: dict) -> sqlite3.Connection:
    """A connection with the profile's per-connection pragmas (what tuner.runtime will do)."""
    conn = sqlite3.connect(str(path))
    engine = SQLiteEngine()
    _persistent, runtime = engine.split_settings(pragmas)
    for setting in runtime.values():
        conn.execute(engine.pragma_sql(setting.name, setting.value))
    return conn


def query_plan(conn: sqlite3.Connection, sql: str, params: dict) -> str:
    """The EXPLAIN QUERY PLAN lines of a query, joined."""
    return "; ".join(row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + sql, params))


def ratio(r: float) -> str:
    """A speedup or slowdown factor, rounded to what the noise allows."""
    return f"{r:,.0f}x" if r >= 10 else f"{r:.2f}x"


# -- write cost (bench/write_cost.py, bench/capture_replay.py) -------------------------------
#: The original scripts' optimize_indexes.py: one index per column it thought was looked up.
ORIGINAL_11: list[tuple[str, str]] = [
    ("users", "username"), ("users", "chat_id"),
    ("participants", "user_id"), ("participants", "event_id"), ("participants", "status"),
    ("events", "creator_id"), ("events", "date"), ("events", "status"),
    ("messages", "event_id"), ("messages", "user_id"), ("messages", "timestamp"),
]
INSERTS = {
    "participants": "INSERT INTO participants(event_id, user_id, status, joined_at, updated_at) "
                    "VALUES (?, ?, ?, ?, ?)",
    "messages": "INSERT INTO messages(event_id, user_id, text, timestamp) VALUES (?, ?, ?, ?)",
    "users": "INSERT INTO users(username, chat_id, created_at) VALUES (?, ?, ?)",
    "events": "INSERT INTO events(title, creator_id, date, location, description, status) "
              "VALUES (?, ?, ?, ?, ?, ?)",
}
T0 = 1_700_000_000


def new_rows(pristine: Path, count: int, seed: int = 11) -> dict[str, list[tuple]]:
    """`count` fresh participants (an existing event and user, a pair not yet taken, so the
    UNIQUE(event_id, user_id) constraint never fires) and `count` messages, uniform over the
    existing events and users, with times after the seed's; `count // 10` new users (new
    usernames and chat ids) and as many new events (created by existing users, dates spread
    like the seed's, a status from the same four-way choice)."""
    rnd = random.Random(seed)
    conn = sqlite3.connect(pristine)
    n_events = conn.execute("SELECT max(id) FROM events").fetchone()[0]
    n_users = conn.execute("SELECT max(id) FROM users").fetchone()[0]
    statuses = ("confirmed", "confirmed", "pending", "declined")
    pairs: set[tuple[int, int]] = set()
    participants = []
    while len(participants) < count:
        pair = (rnd.randint(1, n_events), rnd.randint(1, n_users))
        if pair in pairs or conn.execute(
                "SELECT 1 FROM participants WHERE event_id = ? AND user_id = ?",
                pair).fetchone():
            continue
        pairs.add(pair)
        at = T0 + 10_000_000 + len(participants)
        participants.append((*pair, rnd.choice(statuses), at, at))
    conn.close()
    messages = [(rnd.randint(1, n_events), rnd.randint(1, n_users), "hello",
                 T0 + 10_000_000 + k) for k in range(count)]
    users = [(f"new_user_{k}", 9_000_000_000 + k, T0 + 10_000_000 + k)
             for k in range(count // 10)]
    events = [(f"New event {k}", rnd.randint(1, n_users // 20 + 1),
               T0 + rnd.randint(-10**7, 10**7), f"Location {k % 50}", "desc",
               rnd.choice(["active", "active", "cancelled", "completed"]))
              for k in range(count // 10)]
    return {"participants": participants, "messages": messages, "users": users,
            "events": events}


def index_count(conn: sqlite3.Connection, name: str) -> int:
    """Indexes on a table, the UNIQUE autoindexes included (each one is written on insert)."""
    return len(conn.execute("SELECT name FROM pragma_index_list(?)", (name,)).fetchall())


def insert_rates(conns: dict[str, sqlite3.Connection], rows: list[tuple], sql: str,
                 batch: int, seed: int, batches: dict[str, list[float]] | None = None
                 ) -> dict[str, float]:
    """Seconds each connection spends inserting `rows`, one transaction per batch, the
    connections taking turns: a seeded random order, rotated by one place each batch, so every
    connection goes first, second, ... equally often. `batches`, when given, gets each batch's
    seconds appended per connection (the same chunk at the same index: paired)."""
    names = random.Random(seed).sample(list(conns), len(conns))
    spent = dict.fromkeys(conns, 0.0)
    for turn, start in enumerate(range(0, len(rows), batch)):
        chunk = rows[start:start + batch]
        shift = turn % len(names)
        for name in names[shift:] + names[:shift]:
            conn = conns[name]
            began = time.perf_counter()
            with conn:
                conn.executemany(sql, chunk)
            took = time.perf_counter() - began
            spent[name] += took
            if batches is not None:
                batches.setdefault(name, []).append(took)
    return spent


def paired_ci(a: Sequence[float], b: Sequence[float], seed: int = 1, resamples: int = 4000
              ) -> tuple[float, float, float]:
    """(the total of a - b, and the 2.5th and 97.5th percentiles of that total over bootstrap
    resamples of the pairs): how far apart two paired series are, and how sure."""
    diffs = [x - y for x, y in zip(a, b, strict=True)]
    rnd = random.Random(seed)
    n = len(diffs)
    totals = sorted(sum(diffs[rnd.randrange(n)] for _ in range(n)) for _ in range(resamples))
    return sum(diffs), totals[int(0.025 * resamples)], totals[int(0.975 * resamples) - 1]
