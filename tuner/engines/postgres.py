"""The PostgreSQL engine: not built yet (issue 6). Profiles with `engine: postgresql` are
schema-checked by `tuner validate`; planning against a server says it is not supported."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from tuner.errors import EngineError

if TYPE_CHECKING:
    from tuner.apply import ApplyOptions
    from tuner.engines.postgres_apply import PostgresApplySession
    from tuner.history import HistoryRow
    from tuner.restore import RestoreResult


class PostgresEngine:
    """Placeholder that refuses every database operation with a clear message."""

    name = "postgresql"
    settings_key = "settings"
    transactional_ddl = False

    def normalize_setting(self, name: str, value: Any) -> Any:
        """Settings are checked against the server's catalogue once the engine exists."""
        return value

    def inspect(self, target: str) -> Any:
        """Refuse: the PostgreSQL engine is not implemented yet."""
        raise EngineError(f"{target}: the PostgreSQL engine is not available in this version "
                          "of tuner; only SQLite databases can be planned")

    # -- apply, history, restore (tuner.engines.postgres_apply) ------------------------------
    def apply_session(self, target: str, options: ApplyOptions) -> PostgresApplySession:
        """Connect and take tuner's advisory lock; the stale check reads `inspect(target)`."""
        from tuner.engines.postgres_apply import PostgresApplySession

        return PostgresApplySession(target, options, lambda: self.inspect(target))

    def read_history(self, target: str) -> list[HistoryRow]:
        """`tuner.tuner_history`, oldest first ([] before the first apply)."""
        from tuner.engines.postgres_apply import read_history

        return read_history(target)

    def restore_backup(self, backup: Path, target: str, *, backup_dir: Path | None,
                       keep: int, verify: str, busy_timeout_ms: int) -> RestoreResult:
        """Refuse, saying how: a PostgreSQL backup is undone with its rollback script."""
        raise EngineError(f"{backup}: tuner restore does not run PostgreSQL backups; undo the "
                          f"apply with its rollback script: psql -v ON_ERROR_STOP=1 -f "
                          f"{backup}/rollback.sql '<URL>' (a full backup's database.dump "
                          "restores with pg_restore)")
