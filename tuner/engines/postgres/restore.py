"""PostgreSQL's restore: tuner does not run PostgreSQL backups back itself. A backup is a
folder (tuner.engines.postgres.backup) whose rollback script undoes the apply, run by psql;
this says so, naming the folder's real files."""

from __future__ import annotations

from pathlib import Path

from tuner.backup import RestoreResult
from tuner.engines.postgres.backup import how_to_undo
from tuner.errors import EngineError


def restore_refusal(backup: Path, target: str) -> str | None:
    """Always: a PostgreSQL backup is undone with its rollback script (or pg_restore), which
    the message names with the folder's real paths."""
    return how_to_undo(backup, target)


def restore_backup(backup: Path, target: str) -> RestoreResult:
    """Refuse, saying how (restore_refusal)."""
    raise EngineError(restore_refusal(backup, target) or "")
