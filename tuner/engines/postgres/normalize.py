"""The profile's indexes and views normalized through the server itself, never by text.

Each desired index is created on an empty temporary copy of its table (same name, in this
session's temp schema, `CREATE TEMP TABLE t (LIKE schema.t)`: same columns, types and
collations), each desired view as a temporary view; both are read back with the same catalog
queries inspection uses (`pg_index`, `pg_get_indexdef`, `pg_get_viewdef`), then rolled back.
Whatever the server deparses the same is the same index or view.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from tuner.engines.base import Engine
from tuner.engines.postgres.conn import driver, first_line
from tuner.engines.postgres.inspect import (
    display_name,
    index_from_row,
    read_views,
    rows,
    split_name,
)
from tuner.model import Index, Profile, State, Table, View, key
from tuner.render import render

TEMP_SCHEMA = "pg_temp"
MAX_NAME_BYTES = 63


def _taken(actual: State) -> dict[str, str]:
    """Relation names per schema-qualified key that a new index or view cannot take: `IF NOT
    EXISTS` would silently skip, and CREATE OR REPLACE VIEW fails on a table."""
    taken = {k: f"table {t.name}" for k, t in actual.tables.items()}
    taken |= {k: f"view {v.name}" for k, v in actual.views.items()}
    return taken


def _table(profile: Profile, where: tuple, name: str, actual: State, what: str) -> Table:
    table = actual.tables.get(key(display_name(*split_name(name))))
    if table is None:
        raise profile.error(where, f"{what}: table {name!r} does not exist")
    return table


def _column(profile: Profile, where: tuple, name: str, table: Table, what: str) -> str:
    for col in table.columns:
        if key(col) == key(name):
            return col
    raise profile.error(where, f"{what}: column {name!r} does not exist in table {table.name}")


def _check_length(profile: Profile, where: tuple, name: str, what: str) -> None:
    """PostgreSQL truncates longer names to 63 bytes (NAMEDATALEN - 1): the object would never
    be found under the profile's name again."""
    if len(name.encode()) > MAX_NAME_BYTES:
        raise profile.error(where, f"{what}: the name is longer than PostgreSQL's "
                                   f"{MAX_NAME_BYTES}-byte limit; the server would truncate it")


def _declared_index(profile: Profile, i: int, index: Index, actual: State) -> Index:
    """The profile's index with its names resolved against the live table."""
    what = f"index {index.name}"
    table = _table(profile, ("indexes", i, "table"), index.table, actual, what)
    schema = split_name(table.name)[0]
    ix_schema, ix_name = split_name(index.name)
    if "." in index.name and ix_schema != schema:
        raise profile.error(("indexes", i, "name"), f"{what}: an index lives in its table's "
                            f"schema ({schema}), not {ix_schema}")
    _check_length(profile, ("indexes", i, "name"), ix_name, what)
    name = display_name(schema, ix_name)
    other = _taken(actual).get(key(name))
    live = actual.indexes.get(key(name))
    if live is not None and live.owned_by_engine:
        other = (f"index of the {'PRIMARY KEY' if live.origin == 'pk' else 'UNIQUE'} "
                 f"constraint on {live.table}" if live.origin in ("pk", "u")
                 else f"partition index on {live.table}")
    if other:
        raise profile.error(("indexes", i, "name"), f"{what}: the name is taken by the "
                            f"{other} in the database")
    columns = tuple(
        replace(c, column=_column(profile, ("indexes", i, "columns", j), c.column, table, what))
        if c.column is not None else c
        for j, c in enumerate(index.columns))
    include = tuple(_column(profile, ("indexes", i, "include", j), c, table, what)
                    for j, c in enumerate(index.include))
    return replace(index, name=name, table=table.name, columns=columns, include=include)


def normalize_indexes(conn: Any, profile: Profile, actual: State,
                      engine: Engine) -> dict[str, Index]:
    """Desired indexes by key, each with the signature the server gives it."""
    psycopg = driver()
    declared = [(i, _declared_index(profile, i, ix, actual))
                for i, ix in enumerate(profile.indexes)]
    by_table: dict[str, list[tuple[int, Index]]] = {}
    for i, ix in declared:
        by_table.setdefault(ix.table, []).append((i, ix))
    out: dict[str, Index] = {}
    for table_name, entries in by_table.items():
        schema, table = split_name(table_name)
        conn.execute("BEGIN")
        try:
            conn.execute(render(engine.name, "temp_table_like", schema=schema, table=table))
            for i, ix in entries:
                sql = render(engine.name, "create_index", index=ix, name=split_name(ix.name)[1],
                             schema=TEMP_SCHEMA, table=table, concurrently=False)
                conn.execute("SAVEPOINT tuner_index")
                try:
                    conn.execute(sql)
                except psycopg.Error as exc:
                    conn.execute("ROLLBACK TO SAVEPOINT tuner_index")
                    raise profile.error(("indexes", i), f"index {ix.name}: "
                                                        f"{first_line(exc)}") from None
            got = {r["name"]: r for r in rows(conn, "indexes", {"schema": TEMP_SCHEMA})}
        finally:
            conn.execute("ROLLBACK")
        for _, ix in entries:
            live = index_from_row(got[split_name(ix.name)[1]], table_name=table_name)
            out[key(ix.name)] = replace(ix, unique=live.unique, signature=live.signature,
                                        sql=engine.create_index_sql(ix, actual))
    return out


def normalize_views(conn: Any, profile: Profile, actual: State,
                    engine: Engine) -> dict[str, View]:
    """Desired views by key: created as temporary views (in an order where each comes after
    the views it reads, found by retrying) and read back with their dependencies."""
    psycopg = driver()
    taken = {k: v for k, v in _taken(actual).items() if not v.startswith("view ")}
    pending: list[tuple[int, View]] = []
    for i, view in enumerate(profile.views):
        name = display_name(*split_name(view.name))
        _check_length(profile, ("views", i, "name"), split_name(name)[1], f"view {view.name}")
        if key(name) in taken:
            raise profile.error(("views", i, "name"), f"view {view.name}: the name is taken "
                                f"by the {taken[key(name)]} in the database")
        pending.append((i, replace(view, name=name)))
    if not pending:
        return {}
    out: dict[str, View] = {}
    conn.execute("BEGIN")
    try:
        while pending:
            failed: list[tuple[int, View, str]] = []
            for i, view in pending:
                conn.execute("SAVEPOINT tuner_view")
                try:
                    conn.execute(render(engine.name, "create_view", view=view,
                                        schema=TEMP_SCHEMA, name=split_name(view.name)[1],
                                        temp=True))
                except psycopg.Error as exc:
                    conn.execute("ROLLBACK TO SAVEPOINT tuner_view")
                    failed.append((i, view, first_line(exc)))
            if len(failed) == len(pending):
                i, view, message = failed[0]
                raise profile.error(("views", i, "sql"), f"view {view.name}: {message}")
            pending = [(i, view) for i, view, _ in failed]
        temp = read_views(conn, temp=True)
    finally:
        conn.execute("ROLLBACK")
    for view in profile.views:
        name = display_name(*split_name(view.name))
        got = temp[key(split_name(name)[1])]
        out[key(name)] = View(name=name, sql=view.sql, columns=view.columns,
                              signature=got.signature, depends_on=got.depends_on)
    return out
