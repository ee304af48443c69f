"""Engine lookup: by a profile's `engine:` name, or by the form of a `--db` target."""

from __future__ import annotations

from tuner.engines.base import Engine
from tuner.errors import EngineError

ENGINES = ("sqlite", "postgresql")


def engine_named(name: str) -> Engine:
    """The engine for a profile's `engine:` value."""
    if name == "sqlite":
        from tuner.engines.sqlite import SQLiteEngine

        return SQLiteEngine()
    if name == "postgresql":
        from tuner.engines.postgres import PostgresEngine

        return PostgresEngine()
    raise EngineError(f"unknown engine {name!r} (known: {', '.join(ENGINES)})")


def engine_name_for_target(target: str) -> str:
    """The engine a `--db` value means: a postgresql:// URL, or else an SQLite file path."""
    if target.startswith(("postgresql://", "postgres://")):
        return "postgresql"
    return "sqlite"
