"""`tuner bench` and `tuner bench --compare`: the entry points.

This module owns what every engine's bench shares, reaching the engine's own part
(tuner.engines.sqlite.bench, tuner.engines.postgres.bench) through the lookup: tuning the
scratch copy with `tuner apply`'s own code, which of the profile's settings a comparison must
leave out (server-wide ones, which would change a shared server rather than the copy; the
engine says which) and the checks on the counts. The measurement loop and the report are in
tuner.workload.bench.measure. Nothing here prints; progress goes to an optional callback.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path

from tuner.api import make_plan
from tuner.apply import apply_plan
from tuner.engines.lookup import engine_for, engine_named
from tuner.model import Profile, Query
from tuner.options import ApplyOptions
from tuner.workload.bench.measure import (
    BenchReport,
    LeftOut,
    PlanLine,
    QueryBench,
    Side,
    check_counts,
    measure,
)

__all__ = ["BenchReport", "PlanLine", "bench", "bench_compare", "database_scoped", "open_side"]


def open_side(target: str | Path, profile: Profile) -> Side:
    """A read-only, profile-configured connection to `target` for timing and EXPLAIN."""
    return engine_for(str(target)).bench_side(str(target), profile)


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
    engine = engine_for(db)
    side = engine.bench_side(db, profile)
    try:
        report = BenchReport(engine.display(db), profile, runs, warmup)
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

    def tune(copy: str) -> int:
        """Apply the profile to the scratch copy as `tuner apply` does (no backup of it)."""
        plan = make_plan(scoped, copy)
        apply_plan(plan, copy, ApplyOptions(no_backup=True))
        return len(plan.steps)

    report = engine_for(db).bench_compare(db, scoped, chosen, runs=runs, warmup=warmup,
                                          batch=batch, say=say, tune=tune)
    report.profile = profile
    report.left_out = left_out
    return report
