"""The history table: one row per apply and per restore, inside the database itself.

A row is inserted as `started` and committed before anything changes, then updated to
`applied` or `failed`, so a crash leaves an honest `started` row, never a false `applied`.
"""

from __future__ import annotations

import sqlite3
from dataclasses import asdict, dataclass, fields
from datetime import datetime, timezone
from typing import Any

from tuner.render import render

TABLE = "tuner_history"


@dataclass
class HistoryRow:
    """One apply or restore as recorded."""

    operation: str
    status: str
    started_at: str
    tuner_version: str
    id: int | None = None
    finished_at: str | None = None
    duration_s: float | None = None
    profile_name: str | None = None
    profile_version: int | None = None
    profile_sha256: str | None = None
    plan_sha256: str | None = None
    steps_total: int = 0
    steps_applied: int = 0
    failed_step: int | None = None
    error: str | None = None
    failed_sql: str | None = None
    backup_path: str | None = None
    no_backup: int = 0
    detail: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """The row as plain data (for JSON)."""
        return asdict(self)


COLUMNS = tuple(f.name for f in fields(HistoryRow))


def now_utc() -> str:
    """The current UTC time as ISO 8601 with a Z."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


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
    unknown = set(values) - set(COLUMNS)
    if unknown:
        raise ValueError(f"not history columns: {sorted(unknown)}")
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
