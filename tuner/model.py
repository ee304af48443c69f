"""Frozen dataclasses that describe database state, desired or live, for any engine.

A `State` is what `engine.inspect` reads from a live database, and what a profile becomes once
its objects are normalized against that database. `diff` compares two States. Names are keyed
case-folded (`key()`), because SQLite and unquoted PostgreSQL identifiers compare that way.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

PERSISTENT = "persistent"
CONNECTION = "connection"


def key(name: str) -> str:
    """The lookup key of an object name: SQLite compares identifiers case-insensitively."""
    return name.lower()


@dataclass(frozen=True)
class Setting:
    """One engine setting. `scope` is PERSISTENT (lives in the database) or CONNECTION.

    Inspection may add where the value comes from (`source`), the value the server runs now
    when that differs until a reload or restart (`running`), and whether it is set explicitly
    at the level tuner manages (`explicit`: only those go into `tuner inspect`'s profile and a
    plan's prior state; a value the engine merely defaults to is not). `server_wide`: set for
    the whole server (PostgreSQL's ALTER SYSTEM), not for this database alone: a plan's prior
    state counts it only when the profile manages it, so a change elsewhere on a shared server
    does not make a plan stale."""

    name: str
    value: Any
    scope: str = PERSISTENT
    source: str | None = None
    running: Any = None
    explicit: bool = True
    server_wide: bool = False


@dataclass(frozen=True)
class IndexColumn:
    """One key of an index: a plain column or an expression, with its order and collation."""

    column: str | None = None
    expr: str | None = None
    order: str = "asc"
    collate: str | None = None

    @property
    def label(self) -> str:
        """How the key reads in messages: `event_id`, `timestamp DESC`, `lower(username)`."""
        text = self.column if self.column is not None else (self.expr or "?")
        if self.collate:
            text += f" COLLATE {self.collate}"
        if self.order == "desc":
            text += " DESC"
        return text


@dataclass(frozen=True)
class Index:
    """An index. `origin` is 'c' for CREATE INDEX, 'u' for UNIQUE and 'pk' for PRIMARY KEY
    constraints: those belong to the engine and are never created, dropped or replaced.
    `signature` is the engine's canonical structure, the only thing compared. `include` (non-key
    columns), `method` (None: the engine's default) and `valid` (False for an index a failed
    build left unusable) are PostgreSQL's; SQLite leaves the defaults."""

    name: str
    table: str
    columns: tuple[IndexColumn, ...]
    unique: bool = False
    where: str | None = None
    origin: str = "c"
    sql: str | None = None
    signature: tuple | None = None
    include: tuple[str, ...] = ()
    method: str | None = None
    valid: bool = True

    @property
    def owned_by_engine(self) -> bool:
        """True for indexes the engine made for a constraint (sqlite_autoindex_*)."""
        return self.origin != "c"

    @property
    def columns_label(self) -> str:
        """The key list as `(event_id, status)`."""
        return "(" + ", ".join(c.label for c in self.columns) + ")"


@dataclass(frozen=True)
class View:
    """A view: its SELECT text, an optional column list, and its canonical `signature`.

    Inspection may add what DROP VIEW loses and a view created again must get back: its
    `owner`, its `comment` and its `privileges` as (grantee, privilege, grantable), the
    grantee None for PUBLIC. Profiles never set them, and diff ignores them."""

    name: str
    sql: str
    columns: tuple[str, ...] | None = None
    signature: tuple | None = None
    depends_on: frozenset[str] = frozenset()
    owner: str | None = None
    comment: str | None = None
    privileges: tuple[tuple[str | None, str, bool], ...] = ()


@dataclass(frozen=True)
class Table:
    """A table as inspection sees it; tables are never changed by tuner."""

    name: str
    columns: tuple[str, ...]
    sql: str
    without_rowid: bool = False
    virtual: bool = False
    rows: int | None = None
    rowid_alias: str | None = None


@dataclass(frozen=True)
class Trigger:
    """A trigger, kept verbatim: DROP VIEW drops a view's INSTEAD OF triggers with it."""

    name: str
    table: str
    sql: str


@dataclass(frozen=True)
class State:
    """Everything a plan depends on, keyed by `key(name)`.

    `stats` maps an index key to its statistics row (sqlite_stat1 numbers); `analyzed` holds
    the keys of tables that have any statistics at all. `objects` maps `type:name` to a hash
    of each schema object's definition: the prior state a saved plan carries. `warnings` are
    what inspection or normalization noticed that a plan must report (an invalid index, a
    role-level setting shadowing the database's)."""

    engine: str
    settings: Mapping[str, Setting] = field(default_factory=dict)
    indexes: Mapping[str, Index] = field(default_factory=dict)
    views: Mapping[str, View] = field(default_factory=dict)
    tables: Mapping[str, Table] = field(default_factory=dict)
    triggers: Mapping[str, Trigger] = field(default_factory=dict)
    stats: Mapping[str, tuple[int, ...]] = field(default_factory=dict)
    analyzed: frozenset[str] = frozenset()
    objects: Mapping[str, str] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
