"""The PostgreSQL engine: not built yet (issue 6). Profiles with `engine: postgresql` are
schema-checked by `tuner validate`; planning against a server says it is not supported."""

from __future__ import annotations

from typing import Any

from tuner.errors import EngineError


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
