"""Connections to a PostgreSQL server: the one place that imports psycopg.

psycopg 3 is the optional extra `postgres` of the tuner-db distribution; without it a PostgreSQL URL
gets a one-line error that says what to install. Connection failures become DatabaseError
naming the server (never the password). Declared queries' `:name` parameters become psycopg's
`%(name)s` here too (to_psycopg, below).

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
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from sqlglot.dialects.postgres import Postgres
from sqlglot.errors import TokenError
from sqlglot.tokens import Token, TokenType

from tuner.errors import DatabaseError, EngineError, TunerError
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


# -- the profile's :name parameters in psycopg's %(name)s style --------------------------------
# Owns converting the profile's `:name` query parameters (SQLite's style) to psycopg's
# `%(name)s` style, for running declared queries on PostgreSQL.
#
# Two rules, from psycopg's own (https://www.psycopg.org/psycopg3/docs/basic/params.html):
# psycopg looks for `%` placeholders over the whole query text, inside quotes and comments too,
# so every `%` that is not a placeholder is doubled; and a `:name` becomes `%(name)s` only where
# it really is a parameter. Finding those is a tokenizer's job, never a regular expression's:
# sqlglot's PostgreSQL tokenizer already knows `::` casts, string literals ('a:b', E'\'',
# $$...$$), quoted identifiers ("a:b") and comments (nested /* */ included).
#
# A colon right after a name or a number (`arr[lo:hi]`, `x:y`) is an array slice, not a
# parameter, as in SQLAlchemy's `text()`. Run the converted SQL with a parameter mapping, even
# an empty one: psycopg turns `%%` back into `%` only when parameters are passed.


@dataclass(frozen=True)
class Converted:
    """A query in psycopg's style: its text, and its parameter names in order of first use."""

    sql: str
    names: tuple[str, ...]

    def params(self, given: dict[str, Any], where: str = "query") -> dict[str, Any]:
        """The values for this query's parameters from `given`; a missing one is a TunerError
        naming it. Values the query does not use are left out."""
        missing = [n for n in self.names if n not in given]
        if missing:
            raise TunerError(f"{where}: no value for parameter :{missing[0]}")
        return {n: given[n] for n in self.names}


def to_psycopg(sql: str, where: str = "query") -> Converted:
    """`sql` with each `:name` parameter as `%(name)s` and every other `%` as `%%`; `where`
    names the query in the one-line TunerError for text that cannot be tokenized."""
    spans = _parameters(sql, where)
    out: list[str] = []
    names: list[str] = []
    at = 0
    for start, end, name in spans:
        out.append(sql[at:start].replace("%", "%%"))
        out.append(f"%({name})s")
        if name not in names:
            names.append(name)
        at = end
    out.append(sql[at:].replace("%", "%%"))
    return Converted("".join(out), tuple(names))


def _parameters(sql: str, where: str) -> list[tuple[int, int, str]]:
    """(start, end, name) of each `:name` parameter, in order; `end` is exclusive."""
    try:
        tokens = Postgres().tokenize(sql)
    except TokenError as exc:
        first = str(exc).splitlines()[0] if str(exc) else "cannot tokenize"
        raise TunerError(f"{where}: cannot read the SQL: {first}") from None
    found = []
    for i, colon in enumerate(tokens):
        if colon.token_type != TokenType.COLON or i + 1 == len(tokens):
            continue
        name = tokens[i + 1]
        if name.start != colon.end + 1 or not _is_bare_name(sql, name):
            continue  # `: x`, `:1`, `:"x"`, `:'x'`: not a parameter
        if i > 0 and tokens[i - 1].end + 1 == colon.start and _is_word(sql, tokens[i - 1]):
            continue  # `lo:hi` in an array slice
        found.append((colon.start, name.end + 1, name.text))
    return found


def _source(sql: str, token: Token) -> str:
    return sql[token.start:token.end + 1]


def _is_bare_name(sql: str, token: Token) -> bool:
    """True for an unquoted name (keywords too: `:date`, `:user`), as written in the text."""
    text = _source(sql, token)
    return text == token.text and text.isidentifier()


def _is_word(sql: str, token: Token) -> bool:
    """True for a token that ends in a name or number character (`arr`, `1`, `"x"` is not)."""
    text = _source(sql, token)
    return bool(text) and (text[-1].isalnum() or text[-1] == "_")
