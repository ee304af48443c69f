"""The pipeline in one place: target -> engine, inspect, normalize, diff, plan.

Library users and the CLI call these; they never print.
"""

from __future__ import annotations

from pathlib import Path

from tuner.diff import diff
from tuner.engines.base import Engine
from tuner.engines.lookup import engine_name_for_target, engine_named
from tuner.errors import EngineError
from tuner.model import State
from tuner.plan import build_plan
from tuner.plantypes import Plan
from tuner.profile import Profile, load_profile


def engine_for(target: str) -> Engine:
    """The engine a `--db` target means."""
    return engine_named(engine_name_for_target(target))


def inspect_db(target: str) -> State:
    """Read the live state of `target` (an SQLite path or a PostgreSQL URL), read-only."""
    return engine_for(target).inspect(target)


def make_plan(profile: Profile | str | Path, target: str) -> Plan:
    """Inspect `target`, diff it against `profile` and return the ordered Plan."""
    if not isinstance(profile, Profile):
        profile = load_profile(profile)
    engine_name = engine_name_for_target(target)
    if profile.engine != engine_name:
        raise EngineError(f"{profile.path}: profile {profile.name} is for engine "
                          f"{profile.engine}, but --db {target} is a {engine_name} database")
    engine = engine_named(engine_name)
    actual = engine.inspect(target)
    desired = engine.desired_state(profile, actual)
    changes = diff(actual, desired, prune=profile.prune)
    return build_plan(changes, actual, desired, profile, engine, target)
