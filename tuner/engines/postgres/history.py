"""PostgreSQL's history store: `tuner.tuner_history`, in a `tuner` schema of its own, created
on the first apply. The same fields as SQLite's table (tuner.history.HistoryRow).

Every function runs on the caller's connection, inside its transaction or in autocommit, and
lets driver errors through: the apply session turns them into one-line errors.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tuner.history import COLUMNS, TABLE, HistoryRow, check_columns
from tuner.render import render

if TYPE_CHECKING:
    import psycopg

SCHEMA = "tuner"
ENGINE = "postgresql"


def ensure_table(conn: psycopg.Connection) -> None:
    """Create the `tuner` schema and the history table if they are missing."""
    conn.execute(render(ENGINE, "history/create_schema", schema=SCHEMA))
    conn.execute(render(ENGINE, "history/create", schema=SCHEMA, table=TABLE))


def insert(conn: psycopg.Connection, row: HistoryRow) -> int:
    """Insert `row` and return its id."""
    ensure_table(conn)
    names = [c for c in COLUMNS if c != "id" or row.id is not None]
    sql = render(ENGINE, "history/insert", schema=SCHEMA, table=TABLE, columns=names)
    found = conn.execute(sql, [getattr(row, c) for c in names]).fetchone()
    row.id = int(found[0]) if found else 0
    return row.id


def update(conn: psycopg.Connection, row_id: int, **values: Any) -> None:
    """Set `values` on the row `row_id`."""
    check_columns(values)
    conn.execute(render(ENGINE, "history/update", schema=SCHEMA, table=TABLE,
                        columns=list(values)), [*values.values(), row_id])


def has_table(conn: psycopg.Connection) -> bool:
    """True if the database has tuner's history table."""
    found = conn.execute(render(ENGINE, "history/exists"), [SCHEMA, TABLE]).fetchone()
    return bool(found and found[0])


def rows(conn: psycopg.Connection) -> list[HistoryRow]:
    """Every recorded apply and restore, oldest first ([] before the first apply)."""
    if not has_table(conn):
        return []
    cur = conn.execute(render(ENGINE, "history/select", schema=SCHEMA, table=TABLE,
                              columns=COLUMNS))
    return [HistoryRow(**dict(zip(COLUMNS, r, strict=True))) for r in cur]
