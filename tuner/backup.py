"""Backups, engine-neutral: what a backup is, how backups are named, the backup folder, and
retention. How a backup is taken (SQLite: a verified file copy under the write lock;
PostgreSQL: pg_dump, a settings snapshot and a rollback script) belongs to each engine's
apply session (tuner.engines.*).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from tuner.errors import BackupError

DEFAULT_DIR = ".tuner-backups"
_STAMP = r"\d{8}T\d{12}Z-[0-9a-f]{8}"

Progress = Callable[[int, int], None]
FreeSpace = Callable[[Path], int]


@dataclass(frozen=True)
class Backup:
    """A verified backup: a file (SQLite) or a folder of files (PostgreSQL)."""

    path: Path
    bytes: int
    pages: int
    seconds: float
    verified: str


def default_dir(db: Path) -> Path:
    """`.tuner-backups/` beside the database."""
    return db.parent / DEFAULT_DIR


def backup_name(db: Path | str, tag: str, now: datetime | None = None,
                suffix: str = ".db") -> str:
    """`<db name>-<UTC time>-<tag 8><suffix>`, e.g. `bot.db-20261127T061500123456Z-1a2b3c4d.db`."""
    moment = (now or datetime.now(timezone.utc)).strftime("%Y%m%dT%H%M%S%fZ")
    name = db.name if isinstance(db, Path) else db
    return f"{name}-{moment}-{tag[:8]}{suffix}"


def is_backup_of(name: str, db_name: str, suffix: str = ".db") -> bool:
    """True only for tuner's own backups of exactly this database (`bot` never matches the
    backups of `bot-old`)."""
    prefix = db_name + "-"
    return name.startswith(prefix) and re.fullmatch(_STAMP + re.escape(suffix),
                                                    name[len(prefix):]) is not None


def free_space(path: Path) -> int:
    """Free bytes on the file system holding `path`."""
    return shutil.disk_usage(path).free


def prepare_dir(folder: Path) -> None:
    """Create the backup folder (owner-only) and check it is writable."""
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise BackupError(f"{folder}: cannot create the backup folder: "
                          f"{exc.strerror or exc}; nothing was changed") from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise BackupError(f"{folder}: the backup folder is not writable; nothing was changed")


def fsync_dir(folder: Path) -> None:
    """Make a rename or a new file in `folder` durable (fsync of the folder itself)."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def prune_backups(folder: Path, db: Path | str, keep: int, protect: Path | None = None, *,
                  suffix: str = ".db", companions: tuple[str, ...] = (),
                  folders: bool = False) -> list[Path]:
    """Delete all but the newest `keep` of tuner's own backups of `db` (files, or with
    `folders` the folders of engines whose backup is several files); return the deleted.
    Nothing else in the folder is ever touched, nor `protect` (a backup being restored).
    `companions` are suffixes of files that belong to a backup file (SQLite's -wal, -shm)."""
    if keep < 1 or not folder.is_dir():
        return []
    name = db.name if isinstance(db, Path) else db
    spared = protect.resolve() if protect else None
    mine = sorted(p for p in folder.iterdir() if is_backup_of(p.name, name, suffix)
                  and ((p.is_dir() and not p.is_symlink()) if folders else p.is_file())
                  and p.resolve() != spared)
    doomed = mine[:-keep]
    for path in doomed:
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
            continue
        path.unlink(missing_ok=True)
        for companion in companions:
            Path(str(path) + companion).unlink(missing_ok=True)
    return doomed


def tag_for(text: str) -> str:
    """An 8-hex-digit tag for backups that no plan names (e.g. restore's safety copy)."""
    return hashlib.sha256(text.encode()).hexdigest()[:8]


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
