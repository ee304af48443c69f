"""SQLite's history store: the `tuner_history` table inside the database file itself.

A row is inserted as `started` and committed before anything changes, then updated to
`applied` or `failed`, so a crash leaves an honest `started` row, never a false `applied`.
Every function runs inside the caller's transaction (or in autocommit).
"""

from __future__ import annotations

import sqlite3
from typing import Any

from tuner.history import COLUMNS, TABLE, HistoryRow, check_columns
from tuner.render import render


def ensure_table(conn: sqlite3.Connection) -> None:
    """Create the history table if it is missing (inside the caller's transaction)."""
    conn.execute(render("sqlite", "history/create"))


def insert(conn: sqlite3.Connection, row: HistoryRow) -> int:
    """Insert `row` (inside the caller's transaction) and return its id."""
    ensure_table(conn)
    names = [c for c in COLUMNS if c != "id" or row.id is not None]
    sql = render("sqlite", "history/insert", table=TABLE, columns=names)
    cur = conn.execute(sql, [getattr(row, c) for c in names])
    row.id = int(cur.lastrowid or 0)
    return row.id


def update(conn: sqlite3.Connection, row_id: int, **values: Any) -> None:
    """Set `values` on the row `row_id` (inside the caller's transaction, or autocommit)."""
    check_columns(values)
    conn.execute(render("sqlite", "history/update", table=TABLE, columns=list(values)),
                 [*values.values(), row_id])


def has_table(conn: sqlite3.Connection) -> bool:
    """True if the database has a history table."""
    return conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                        (TABLE,)).fetchone() is not None


def rows(conn: sqlite3.Connection) -> list[HistoryRow]:
    """Every recorded apply and restore, oldest first."""
    if not has_table(conn):
        return []
    cur = conn.execute(render("sqlite", "history/select", table=TABLE, columns=COLUMNS))
    return [HistoryRow(**dict(zip(COLUMNS, r, strict=True))) for r in cur]


def replace_all(conn: sqlite3.Connection, records: list[HistoryRow]) -> None:
    """Make the table hold exactly `records` (restore carries history forward this way)."""
    ensure_table(conn)
    conn.execute(render("sqlite", "history/delete_all", table=TABLE))
    for record in records:
        insert(conn, record)
