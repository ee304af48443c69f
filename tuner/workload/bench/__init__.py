"""`tuner bench` and `tuner bench --compare`: the entry points, one per-engine table.

This module owns choosing the engine's bench module for a target (an SQLite file:
tuner.engines.sqlite.bench; a postgresql:// URL: tuner.engines.postgres.bench) and what every
engine's comparison shares: which of the profile's settings it must leave out (server-wide
ones, which would change a shared server rather than the copy; the engine says which) and
the checks on the counts. The measurement loop and the report are in tuner.workload.bench.measure.
Nothing here prints; progress goes to an optional callback.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any

from tuner.engines import engine_module, engine_named
from tuner.engines.sqlite.bench import Guard, classify, explain, open_guarded
from tuner.profile import Profile, Query
from tuner.workload.bench.measure import (
    BenchReport,
    LeftOut,
    PlanLine,
    QueryBench,
    Side,
    check_counts,
    measure,
)

__all__ = ["BenchReport", "Guard", "PlanLine", "bench", "bench_compare", "classify",
           "database_scoped", "explain", "open_guarded", "open_side"]


#: engine name -> its bench module, which has `open_side(target, profile) -> Side` and
#: `compare(target, profile, queries, *, runs, warmup, batch, say) -> BenchReport`.
BENCHES = {"sqlite": "tuner.engines.sqlite.bench", "postgresql": "tuner.engines.postgres.bench"}


def bench_module(target: str | Path) -> Any:
    """The bench module of the engine `target` names."""
    return engine_module(str(target), BENCHES)


def open_side(target: str | Path, profile: Profile) -> Side:
    """A read-only, profile-configured connection to `target` for timing and EXPLAIN."""
    return bench_module(target).open_side(str(target), profile)


def database_scoped(profile: Profile) -> tuple[Profile, list[LeftOut]]:
    """`profile` without the settings whose scope is the whole server (on PostgreSQL: ALTER
    SYSTEM, contexts sighup and postmaster), and those settings with why they are left out.
    A comparison or a demo applies the rest: applied to a scratch copy, a server-wide setting
    would change the shared server's configuration, not the copy's."""
    engine = engine_named(profile.engine)
    left = engine.server_wide_settings(profile.settings)
    if not left:
        return profile, []
    key_ = engine.settings_key
    data = dict(profile.data)
    data[key_] = {n: v for n, v in (data.get(key_) or {}).items() if n not in left}
    kept = {n: v for n, v in profile.settings.items() if n not in left}
    return (replace(profile, settings=kept, data=data),
            [LeftOut(name, why) for name, why in left.items()])


def bench(db: str, profile: Profile, *, runs: int = 20, warmup: int = 2,
          queries: Iterable[Query] | None = None) -> BenchReport:
    """Time each declared query (or `queries`) on `db`, on a read-only connection."""
    chosen = list(profile.queries if queries is None else queries)
    check_counts(runs, warmup)
    module = bench_module(db)
    side = module.open_side(db, profile)
    try:
        report = BenchReport(module.display(db), profile, runs, warmup)
        for query in chosen:
            (m,) = measure([side], query, runs, warmup)
            report.queries.append(QueryBench(query, m))
        return report
    finally:
        side.close()


def bench_compare(db: str, profile: Profile, *, runs: int = 20, warmup: int = 2,
                  batch: int = 2000, queries: Iterable[Query] | None = None,
                  on_step: Callable[[str], None] | None = None) -> BenchReport:
    """Measure `db` against `db` tuned by `profile`, on throwaway copies: the database itself
    is only read. The copy is tuned exactly as `tuner apply` does it (minus server-wide
    settings, reported in `left_out`), then timed before and after."""
    chosen = list(profile.queries if queries is None else queries)
    check_counts(runs, warmup)
    say = on_step or (lambda text: None)
    scoped, left_out = database_scoped(profile)
    for item in left_out:
        say(f"Leaving out {item.name}: {item.reason}")
    report: BenchReport = bench_module(db).compare(db, scoped, chosen, runs=runs,
                                                   warmup=warmup, batch=batch, say=say)
    report.profile = profile
    report.left_out = left_out
    return report
