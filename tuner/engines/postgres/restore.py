"""PostgreSQL's restore: tuner does not run PostgreSQL backups back itself. A backup is a
folder (tuner.engines.postgres.backup) whose rollback script undoes the apply, run by psql;
this says so, naming the files."""

from __future__ import annotations

from pathlib import Path

from tuner.backup import RestoreResult
from tuner.errors import EngineError


def restore_backup(backup: Path, target: str) -> RestoreResult:
    """Refuse, saying how: a PostgreSQL backup is undone with its rollback script."""
    raise EngineError(f"{backup}: tuner restore does not run PostgreSQL backups; undo the "
                      f"apply with its rollback script: psql -v ON_ERROR_STOP=1 -f "
                      f"{backup}/rollback.sql '<URL>' (a full backup's database.dump "
                      "restores with pg_restore)")
