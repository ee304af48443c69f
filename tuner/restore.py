"""restore_backup(backup, db): put a backup back in place of the database, through the
engine (SQLite: tuner.engines.sqlite_restore). What a restore did is a RestoreResult.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tuner.backup import Backup


@dataclass
class RestoreResult:
    """What a restore did."""

    restored_from: Path
    safety_backup: Backup
    history_id: int
    seconds: float
    pragmas: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        """The machine-readable summary."""
        return {"status": "restored", "restored_from": str(self.restored_from),
                "safety_backup": str(self.safety_backup.path), "history_id": self.history_id,
                "seconds": round(self.seconds, 3), "pragmas": self.pragmas}


def restore_refusal(backup: Path, db: str) -> str | None:
    """Why the engine of `db` cannot restore `backup` at all (a PostgreSQL backup, a folder
    for SQLite), saying what to do instead; None when restore_backup may go on."""
    from tuner.engines import engine_name_for_target, engine_named

    return engine_named(engine_name_for_target(db)).restore_refusal(backup, db)


def restore_backup(backup: Path, db: str, *, backup_dir: Path | None = None, keep: int = 10,
                   verify: str = "quick", busy_timeout_ms: int = 5000) -> RestoreResult:
    """Replace the database `db` with `backup`, keeping a safety copy and the history."""
    from tuner.engines import engine_name_for_target, engine_named

    engine = engine_named(engine_name_for_target(db))
    return engine.restore_backup(backup, db, backup_dir=backup_dir, keep=keep, verify=verify,
                                 busy_timeout_ms=busy_timeout_ms)
