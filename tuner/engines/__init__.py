"""Engine lookup: by a profile's `engine:` name, or by the form of a `--db` target."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from types import ModuleType

from tuner.engines.base import Engine
from tuner.errors import EngineError

ENGINES = ("sqlite", "postgresql")


def engine_named(name: str) -> Engine:
    """The engine for a profile's `engine:` value."""
    if name == "sqlite":
        from tuner.engines.sqlite.engine import SQLiteEngine

        return SQLiteEngine()
    if name == "postgresql":
        from tuner.engines.postgres.engine import PostgresEngine

        return PostgresEngine()
    raise EngineError(f"unknown engine {name!r} (known: {', '.join(ENGINES)})")


def engine_name_for_target(target: str) -> str:
    """The engine a `--db` value means: a postgresql:// URL, or else an SQLite file path."""
    if target.startswith(("postgresql://", "postgres://")):
        return "postgresql"
    return "sqlite"


def engine_module(target: str, modules: Mapping[str, str]) -> ModuleType:
    """The module serving the engine `target` names, out of `modules` (engine name -> dotted
    module path). Imported only when asked for: a PostgreSQL module imports psycopg."""
    return importlib.import_module(modules[engine_name_for_target(str(target))])
