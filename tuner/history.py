"""The history record, engine-neutral: one row per apply and per restore, kept inside the
database it describes. Each engine stores it (SQLite: the `tuner_history` table in the file,
tuner.engines.sqlite.history; PostgreSQL: `tuner.tuner_history`, tuner.engines.postgres.session)
and its apply session writes it.

A row is inserted as `started` and committed before anything changes, then updated to
`applied` or `failed`, so a crash leaves an honest `started` row, never a false `applied`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from datetime import datetime, timezone
from typing import Any, get_args, get_type_hints

from tuner.profile_limits import show, text_problem

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


#: The history table's integer columns are PostgreSQL `integer`s (SQLite's hold 64 bits).
INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1


def row_problem(row: HistoryRow) -> str | None:
    """What in `row` the history table cannot store (a value of the wrong type, an integer
    beyond a 32-bit column, text with NUL or control characters), or None. Apply asks before
    it takes the backup, so that such a value never fails the insert after it."""
    hints = get_type_hints(HistoryRow)
    for f in fields(row):
        value = getattr(row, f.name)
        kinds = tuple(t for t in get_args(hints[f.name]) or (hints[f.name],)
                      if t is not type(None))
        if value is None:
            continue
        if float in kinds:
            kinds += (int,)
        if isinstance(value, bool) or not isinstance(value, kinds):
            return f"{f.name} is {show(value)}, not {' or '.join(k.__name__ for k in kinds)}"
        if isinstance(value, int) and f.name != "id" and not INT32_MIN <= value <= INT32_MAX:
            return f"{f.name} {show(value)} does not fit the history table's integer column"
        problem = text_problem(value) if isinstance(value, str) else None
        if problem:
            return f"{f.name} {show(value)} contains {problem}"
    return None


def now_utc() -> str:
    """The current UTC time as ISO 8601 with a Z."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def check_columns(values: dict[str, Any]) -> None:
    """ValueError (a bug, not a user error) if `values` names a column the row lacks."""
    unknown = set(values) - set(COLUMNS)
    if unknown:
        raise ValueError(f"not history columns: {sorted(unknown)}")
