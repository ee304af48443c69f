"""tuner.connect and tuner.ConnectionPool: the runtime for a target, chosen by its form.

A `postgresql://` URL gets the PostgreSQL runtime (psycopg connections, a psycopg_pool pool);
anything else is an SQLite file. The choice is one table keyed on the engine name, so callers
never test the engine themselves, and psycopg is imported only when a URL asks for it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from tuner.engines import engine_name_for_target
from tuner.engines.sqlite.conn import ProfileLike

if TYPE_CHECKING:
    from tuner.engines.postgres.runtime import PgPool
    from tuner.engines.sqlite.runtime import ConnectionPool as SQLitePool


class Runtime(NamedTuple):
    """One engine's runtime: its connect function and its pool class."""

    connect: Callable[..., Any]
    pool: Callable[..., Any]


def _sqlite() -> Runtime:
    # (tuner.engines.sqlite.conn is also the name of this module's connect, re-exported by
    # tuner.runtime, so the SQLite one is imported by its module path.)
    from tuner.engines.sqlite.conn import connect as sqlite_connect
    from tuner.engines.sqlite.runtime import ConnectionPool as sqlite_pool

    return Runtime(sqlite_connect, sqlite_pool)


def _postgresql() -> Runtime:
    from tuner.engines.postgres import runtime as pg_pool

    return Runtime(pg_pool.connect, pg_pool.PgPool)


RUNTIMES: dict[str, Callable[[], Runtime]] = {"sqlite": _sqlite, "postgresql": _postgresql}


def runtime_for(target: str | Path) -> Runtime:
    """The runtime serving `target`: a PostgreSQL URL or an SQLite file path."""
    return RUNTIMES[engine_name_for_target(str(target))]()


def connect(target: str | Path, profile: ProfileLike = None, **kwargs: Any) -> Any:
    """One connection to `target` with the profile's per-connection settings applied and read
    back: an sqlite3 connection for a file path (see tuner.engines.sqlite.conn.connect), a psycopg
    connection for a postgresql:// URL (see tuner.engines.postgres.runtime.connect)."""
    return runtime_for(target).connect(target, profile, **kwargs)


def ConnectionPool(target: str | Path, profile: ProfileLike = None,  # noqa: N802 - public name
                   **kwargs: Any) -> SQLitePool | PgPool:
    """A pool for `target` sized by the profile's `runtime.pool`: the SQLite pool (readers
    plus one writer) for a file path, PgPool (on psycopg_pool) for a postgresql:// URL. Both
    lend connections with `reader()` and `writer()` and have `stats()` and `close()`."""
    return runtime_for(target).pool(target, profile, **kwargs)
