"""The lookup: the one way from an engine name (a profile's `engine:`) or a `--db` target to
its engine, and the only module that imports an engine package (tuner.engines.sqlite,
tuner.engines.postgres). Each is imported when first asked for: SQLite work never loads the
PostgreSQL package. Everything engine-specific (inspection, planning SQL, apply sessions,
backups, history, restore, runtime, bench, advise, demo) is reached through the Engine it
returns (tuner.engines.base).
"""

from __future__ import annotations

from tuner.engines.base import Engine
from tuner.errors import EngineError

ENGINES = ("sqlite", "postgresql")
URL_PREFIXES = ("postgresql://", "postgres://")


def engine_named(name: str) -> Engine:
    """The engine for a profile's `engine:` value."""
    if name == "sqlite":
        from tuner.engines.sqlite import ENGINE as SQLITE

        return SQLITE()
    if name == "postgresql":
        from tuner.engines.postgres import ENGINE as POSTGRESQL

        return POSTGRESQL()
    raise EngineError(f"unknown engine {name!r} (known: {', '.join(ENGINES)})")


def engine_name_for_target(target: str) -> str:
    """The engine a `--db` value means: a postgresql:// URL, or else an SQLite file path."""
    if str(target).startswith(URL_PREFIXES):
        return "postgresql"
    return "sqlite"


def engine_for(target: str) -> Engine:
    """The engine a `--db` target means."""
    return engine_named(engine_name_for_target(str(target)))


def display(target: str) -> str:
    """`target` as messages show it: a URL without its password, a path as it is."""
    return engine_for(target).display(str(target))
