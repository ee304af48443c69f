"""How to apply a plan (ApplyOptions) and what an apply reports while it runs (Event): shared
by tuner.apply, which drives an apply, and the engines' apply sessions, which carry it out.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tuner.backup import FreeSpace, free_space
from tuner.plantypes import Step


@dataclass(frozen=True)
class Event:
    """Progress of an apply: `kind` is one of backup_start, backup_progress, backup_done,
    step_start, step_done, readback, pruned."""

    kind: str
    step: Step | None = None
    seconds: float | None = None
    done: int = 0
    total: int = 0
    path: str | None = None


@dataclass
class ApplyOptions:
    """How to apply: backups, locking and verification."""

    backup_dir: Path | None = None
    keep: int = 10
    no_backup: bool = False
    busy_timeout_ms: int = 5000
    verify: str = "quick"
    free: FreeSpace = free_space
    #: `schema` or `full`, for engines whose backup can leave the data out (PostgreSQL: a
    #: schema-only dump, or pg_dump -Fc); SQLite always copies the whole file.
    backup_mode: str = "schema"
    #: Also run the steps that change the whole server (PostgreSQL: ALTER SYSTEM and its
    #: reload); without it they are skipped, and said so (`--server-settings`).
    server_settings: bool = False

    def runs(self, step: Step) -> bool:
        """True when this apply runs `step` (a server-wide one only with server_settings)."""
        return self.server_settings or not step.server_wide
