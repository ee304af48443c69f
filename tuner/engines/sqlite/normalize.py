"""SQLite's normalization of a profile: its indexes and views run through an in-memory
database holding the live tables, then read back the way inspection reads the live database
(tuner.engines.sqlite.inspect), so that both sides of a diff compare as structures, not text.
"""

from __future__ import annotations

import sqlite3

from tuner.engines.sqlite.inspect import (
    parse_view_sql,
    read_index,
    view_signature,
    with_dependencies,
)
from tuner.model import Index, Profile, Setting, State, View, key
from tuner.render import render


def desired_state(profile: Profile, actual: State, settings: dict[str, Setting]) -> State:
    """Run the profile's DDL through an in-memory database holding the live tables and read
    it back the way inspection reads the live database, so both sides compare as equals.
    A missing table or column, or SQL SQLite rejects, is an error naming the object."""
    _check_names_free(profile, actual)
    scratch = sqlite3.connect(":memory:")
    try:
        _copy_tables(scratch, actual)
        indexes = {}
        for i, index in enumerate(profile.indexes):
            indexes[key(index.name)] = _normalize_index(scratch, profile, i, index, actual)
        views = _normalize_views(scratch, profile, actual)
    finally:
        scratch.close()
    return State(engine="sqlite", settings=settings, indexes=indexes, views=views,
                 tables=actual.tables, triggers=actual.triggers)

def _normalize_index(scratch: sqlite3.Connection, profile: Profile, i: int,
                     index: Index, actual: State) -> Index:
    table = actual.tables.get(key(index.table))
    if table is None:
        raise profile.error(("indexes", i, "table"),
                            f"index {index.name}: table {index.table!r} does not exist")
    if table.virtual:
        raise profile.error(("indexes", i, "table"),
                            f"index {index.name}: {index.table} is a virtual table")
    known = {key(c) for c in table.columns}
    if not table.without_rowid:
        known |= {"rowid", "oid", "_rowid_"}
    for j, col in enumerate(index.columns):
        if col.column is not None and key(col.column) not in known:
            raise profile.error(("indexes", i, "columns", j),
                                f"index {index.name}: column {col.column!r} does not "
                                f"exist in table {table.name}")
    sql = render("sqlite", "create_index", index=index)
    try:
        scratch.execute(sql)
        row = scratch.execute("SELECT \"unique\", origin FROM pragma_index_list(?) "
                              "WHERE name = ?", (table.name, index.name)).fetchone()
        got = read_index(scratch, index.name, table.name, bool(row[0]), row[1],
                         scratch.execute("SELECT sql FROM sqlite_master WHERE name = ?",
                                         (index.name,)).fetchone()[0])
    except sqlite3.Error as exc:
        raise profile.error(("indexes", i), f"index {index.name}: {exc}") from None
    return Index(name=index.name, table=table.name, columns=index.columns,
                 unique=index.unique, where=index.where, sql=sql,
                 signature=got.signature)

def _normalize_views(scratch: sqlite3.Connection, profile: Profile,
                     actual: State) -> dict[str, View]:
    declared = {key(v.name) for v in profile.views}
    if not profile.prune:
        for k, live in actual.views.items():
            if k not in declared:
                scratch.execute(render("sqlite", "create_view", view=live))
    sqls = {}
    for i, view in enumerate(profile.views):
        sql = render("sqlite", "create_view", view=view)
        try:
            scratch.execute(sql)
        except sqlite3.Error as exc:
            raise profile.error(("views", i, "sql"), f"view {view.name}: {exc}") from None
        sqls[key(view.name)] = (i, view)
    names = set(actual.tables) | {key(n) for (n,) in scratch.execute(
        "SELECT name FROM sqlite_master WHERE type = 'view'")}
    views = {}
    for k, (i, view) in sqls.items():
        try:
            scratch.execute(render("sqlite", "inspect/probe_view", view=view.name)).fetchall()
        except sqlite3.Error as exc:
            raise profile.error(("views", i, "sql"), f"view {view.name}: {exc}") from None
        stored = scratch.execute("SELECT sql FROM sqlite_master WHERE name = ?",
                                 (view.name,)).fetchone()[0]
        select, columns = parse_view_sql(stored)
        views[k] = with_dependencies(
            View(view.name, view.sql, view.columns, view_signature(select, columns)), names)
    return views


def _check_names_free(profile: Profile, actual: State) -> None:
    """Tables, views and indexes share one namespace in SQLite, and `CREATE VIEW IF NOT EXISTS`
    silently does nothing when a *table* has the name: a declared name that a live object of
    another kind keeps (tables always; undeclared views and indexes unless prune drops them)
    is an error, or the plan would fail at apply or never converge."""
    taken = {k: ("table", t.name) for k, t in actual.tables.items()}
    declared = [("index", ("indexes", i, "name"), o.name) for i, o in enumerate(profile.indexes)]
    declared += [("view", ("views", i, "name"), o.name) for i, o in enumerate(profile.views)]
    if not profile.prune:
        kinds = {key(name): kind for kind, _, name in declared}
        for k, live in actual.indexes.items():
            if not live.owned_by_engine and kinds.get(k) != "index":
                taken.setdefault(k, ("index", live.name))
        for k, view in actual.views.items():
            if kinds.get(k) != "view":
                taken.setdefault(k, ("view", view.name))
    for kind, where, name in declared:
        if key(name) in taken:
            other, other_name = taken[key(name)]
            raise profile.error(where, f"{kind} {name}: the name is taken by the {other} "
                                       f"{other_name} in the database")


def _copy_tables(scratch: sqlite3.Connection, actual: State) -> None:
    """Create the live tables (definitions only) in the scratch database. Virtual tables go
    first, since they create their own shadow tables; a module SQLite lacks is skipped."""
    for table in sorted(actual.tables.values(), key=lambda t: not t.virtual):
        exists = scratch.execute("SELECT 1 FROM sqlite_master WHERE name = ? COLLATE NOCASE",
                                 (table.name,)).fetchone()
        if exists:
            continue
        try:
            scratch.execute(table.sql)
        except sqlite3.Error:
            if not table.virtual:
                raise
