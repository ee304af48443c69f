"""restore_backup(backup, db): put a backup back in place of the database, through the
engine (SQLite: tuner.engines.sqlite.restore). What a restore did is a RestoreResult.
"""

from __future__ import annotations

from pathlib import Path

from tuner.backup import RestoreResult
from tuner.engines.lookup import engine_for


def restore_refusal(backup: Path, db: str) -> str | None:
    """Why the engine of `db` cannot restore `backup` at all (a PostgreSQL backup, a folder
    for SQLite), saying what to do instead; None when restore_backup may go on."""
    return engine_for(db).restore_refusal(backup, db)


def restore_backup(backup: Path, db: str, *, backup_dir: Path | None = None, keep: int = 10,
                   verify: str = "quick", busy_timeout_ms: int = 5000) -> RestoreResult:
    """Replace the database `db` with `backup`, keeping a safety copy and the history."""
    engine = engine_for(db)
    return engine.restore_backup(backup, db, backup_dir=backup_dir, keep=keep, verify=verify,
                                 busy_timeout_ms=busy_timeout_ms)
