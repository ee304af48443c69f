"""The pipeline in one place: target -> engine, inspect, normalize, diff, plan.

Library users and the CLI call these; they never print.
"""

from __future__ import annotations

from pathlib import Path

from tuner.diff import diff
from tuner.engines.lookup import display, engine_for, engine_name_for_target, engine_named
from tuner.errors import EngineError, TunerError
from tuner.history import HistoryRow
from tuner.interrupted import any_started, mark, recognize
from tuner.model import State
from tuner.options import ApplyOptions
from tuner.plan import build_plan
from tuner.plantypes import Plan
from tuner.profile import Profile, load_profile


def inspect_db(target: str) -> State:
    """Read the live state of `target` (an SQLite path or a PostgreSQL URL), read-only."""
    return engine_for(target).inspect(target)


def recover(target: str, busy_timeout_ms: int = 5000) -> list[str]:
    """Before an apply plans `target`: what the engine must finish first so it can be read
    (SQLite: a hot journal rolled back). One line for each thing it did."""
    return engine_for(target).recover(target, busy_timeout_ms)


def make_plan(profile: Profile | str | Path, target: str) -> Plan:
    """Inspect `target`, diff it against `profile` and return the ordered Plan."""
    if not isinstance(profile, Profile):
        profile = load_profile(profile)
    engine_name = engine_name_for_target(target)
    if profile.engine != engine_name:
        raise EngineError(f"{profile.path}: profile {profile.name} is for engine "
                          f"{profile.engine}, but --db {display(target)} is a {engine_name} "
                          "database")
    engine = engine_named(engine_name)
    actual = engine.inspect(target)
    desired = engine.desired_state(profile, actual)
    changes = diff(actual, desired, prune=profile.prune)
    return build_plan(changes, actual, desired, profile, engine, target,
                      recognize(engine, target))


def read_history(target: str) -> list[HistoryRow]:
    """The history of `target`, oldest first. A `started` row of an apply that is gone is
    marked `interrupted` first, under the apply lock (an apply session opened for that alone,
    never waiting); where that cannot be (a live apply, a read-only database) the rows are
    read as they are."""
    engine = engine_for(target)
    rows = engine.read_history(target)
    if not any_started(rows):
        return rows
    try:
        session = engine.apply_session(target, ApplyOptions(busy_timeout_ms=0))
    except TunerError:
        return rows
    try:
        session.begin()
        mark(session)
        session.commit()
    except TunerError:
        session.rollback()
        return rows
    finally:
        session.close()
    return engine.read_history(target)
