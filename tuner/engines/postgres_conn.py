"""Connections to a PostgreSQL server: the one place that imports psycopg.

psycopg 3 is the optional extra `postgres` of the tuner-db distribution; without it a PostgreSQL URL
gets a one-line error that says what to install. Connection failures become DatabaseError
naming the server (never the password).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from tuner.errors import DatabaseError, EngineError

if TYPE_CHECKING:
    import psycopg

URL_PREFIXES = ("postgresql://", "postgres://")
# The drivers by name, as tuner-db's `postgres` extra lists them: this works however tuner was
# installed (a checkout, a git URL, a wheel), and names no one else's distribution.
INSTALL_HINT = ("install the PostgreSQL driver (tuner-db's postgres extra): "
                "pip install 'psycopg[binary]>=3.1' 'psycopg-pool>=3.2'")


def is_postgres_url(target: str) -> bool:
    """True if a `--db` value names a PostgreSQL server rather than an SQLite file."""
    return target.startswith(URL_PREFIXES)


def redact(url: str) -> str:
    """The URL with any password replaced by `***`, fit for messages and history."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


def driver() -> Any:
    """The psycopg module, or EngineError saying how to install it."""
    try:
        import psycopg
    except ImportError as exc:  # pragma: no cover - exercised in an env without the extra
        raise EngineError(f"PostgreSQL support needs psycopg 3: {INSTALL_HINT}") from exc
    return psycopg


def connect(url: str, *, autocommit: bool = True, **kwargs: Any) -> psycopg.Connection:
    """Open a connection to `url`. Autocommit by default: tuner opens its own transactions
    where a step may run in one (CREATE INDEX CONCURRENTLY may not)."""
    psycopg = driver()
    try:
        return psycopg.connect(url, autocommit=autocommit, connect_timeout=10, **kwargs)
    except psycopg.OperationalError as exc:
        raise DatabaseError(redact(url), f"cannot connect: {first_line(exc)}") from exc


def first_line(exc: BaseException) -> str:
    """The first non-empty line of a driver error, for one-line messages."""
    for line in str(exc).splitlines():
        if line.strip():
            return line.strip()
    return type(exc).__name__
