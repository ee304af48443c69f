"""Connections to a PostgreSQL server: the one place that imports psycopg.

psycopg 3 is the optional extra `postgres` of the tuner-db distribution; without it a PostgreSQL URL
gets a one-line error that says what to install. Connection failures become DatabaseError
naming the server (never the password).

Per-session settings: `pg_settings.context` says where a setting can change
(https://www.postgresql.org/docs/current/view-pg-settings.html). `user` and `superuser`
settings can be set for one session with `set_config`; the runtime does that on every
connection it opens, because a session's value dies with it. `sighup`, `postmaster` and the
other contexts cannot change per session: `tuner apply` plans them (ALTER SYSTEM, ALTER
DATABASE), so they are skipped here, never an error.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from tuner.errors import DatabaseError, EngineError
from tuner.model import Profile
from tuner.render import render

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


def one(cursor: Any) -> tuple[Any, ...]:
    """The row of a query that always answers one (a SELECT without FROM, say)."""
    row = cursor.fetchone()
    assert row is not None, "the query answers one row"
    return tuple(row)


def first_line(exc: BaseException) -> str:
    """The first non-empty line of a driver error, for one-line messages."""
    for line in str(exc).splitlines():
        if line.strip():
            return line.strip()
    return type(exc).__name__


#: The pg_settings contexts whose settings one session may change with set_config.
SESSION_CONTEXTS = ("user", "superuser")


def setting_text(value: Any) -> str:
    """A profile value as the text set_config takes: booleans as on/off, numbers as written."""
    if isinstance(value, bool):
        return "on" if value else "off"
    return str(value)


def declared_settings(profile: Profile | None) -> dict[str, str]:
    """The profile's `settings:` as declared, as text. The server parses the units itself
    ('64MB', '5min'), so the runtime hands it the user's own text, not a normalized form."""
    if profile is None:
        return {}
    return {name: setting_text(v) for name, v in (profile.data.get("settings") or {}).items()}


def session_settings(conn: psycopg.Connection, profile: Profile | None,
                     where: str) -> dict[str, str]:
    """The settings of `profile` a session can take, by their context on `conn`'s server.
    A name the server does not know is a ProfileError pointing at the profile's line."""
    declared = declared_settings(profile)
    if not declared or profile is None:
        return {}
    try:
        with autocommit(conn):
            rows = conn.execute(render("postgresql", "runtime/setting_contexts"),
                                {"names": list(declared)}).fetchall()
    except driver().Error as exc:
        raise DatabaseError(where, f"cannot read pg_settings: {first_line(exc)}") from None
    contexts: dict[str, str] = dict(rows)
    for name in declared:
        if name not in contexts:
            raise profile.error(("settings", name),
                                f"not a setting of the PostgreSQL server at {where}")
    return {name: value for name, value in declared.items()
            if contexts[name] in SESSION_CONTEXTS}


def apply_session(conn: psycopg.Connection, settings: dict[str, str], where: str) -> None:
    """Set each of `settings` for the rest of `conn`'s session and read it back.

    The value is compared in the server's own form: set_config answers with the value as the
    server shows it ('65536kB' comes back as '64MB'), and current_setting, read afterwards in
    a statement of its own, must give the same. A refused value or a mismatch is a
    DatabaseError naming the setting. The connection is left idle, in its autocommit mode."""
    if not settings:
        return
    names, values = list(settings), list(settings.values())
    try:
        # Autocommit: a session value set inside a transaction that is rolled back reverts.
        with autocommit(conn):
            wanted: dict[str, str] = dict(conn.execute(render("postgresql", "runtime/set_session"),
                                       {"names": names, "values": values}).fetchall())
            got: dict[str, str] = dict(conn.execute(render("postgresql", "runtime/read_session"),
                                    {"names": names}).fetchall())
    except driver().Error as exc:
        raise DatabaseError(where, "cannot apply the profile's session settings: "
                                   f"{first_line(exc)}") from None
    for name, value in settings.items():
        if got.get(name) != wanted.get(name):
            raise DatabaseError(where, f"setting {name} reads back {got.get(name)!r}, wanted "
                                       f"{value!r} (the server's form: {wanted.get(name)!r})")


@contextmanager
def autocommit(conn: psycopg.Connection) -> Iterator[None]:
    """Run the block in autocommit mode, then restore the connection's own mode; the
    connection must be idle (no transaction open) on entry."""
    before = conn.autocommit
    conn.autocommit = True
    try:
        yield
    finally:
        if not conn.closed:
            conn.autocommit = before
