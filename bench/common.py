"""Shared helpers for the benchmark scripts: demo databases, timing, and docs/BENCHMARKS.md.

Each script owns one section of docs/BENCHMARKS.md, between `<!-- bench:NAME -->` markers,
and rewrites only that section. Ratios are measured side by side in one run.
"""

from __future__ import annotations

import os
import platform
import shutil
import sqlite3
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tuner.engines.sqlite_inspect import COMPANIONS  # noqa: E402
from tuner.workload.demo import create_demo_db  # noqa: E402

DOC = ROOT / "docs" / "BENCHMARKS.md"
CACHE = Path(os.environ.get("TUNER_BENCH_DIR", ROOT / ".bench-cache"))


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


def fresh_copy(source: Path, name: str) -> Path:
    """A working copy of `source` in the cache (companions removed first)."""
    target = CACHE / name
    for suffix in ("", *COMPANIONS):
        Path(str(target) + suffix).unlink(missing_ok=True)
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
