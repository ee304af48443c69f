"""SQLite backups: a consistent fast copy of the database file, its verification, restore's
check of a backup file, and pruning with the companion files.

The copy is taken while the caller's connection holds the write lock (BEGIN IMMEDIATE), so no
other connection can commit during it. Under that lock the main file and its `-wal` are copied
byte for byte: the WAL cannot grow, and any page a concurrent checkpoint writes into the main
file is also in the copied WAL, so recovering the copy yields exactly the last committed state.
The copy's WAL is then folded in (its journal mode is kept, which `VACUUM INTO` does not) and
verified with `PRAGMA quick_check` (or `integrity_check`) and its page count.
"""

from __future__ import annotations

import os
import sqlite3
import stat
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from tuner import backup as generic
from tuner.backup import (
    Backup,
    FreeSpace,
    Progress,
    backup_name,
    free_space,
    fsync_dir,
    is_backup_of,
    prepare_dir,
)
from tuner.engines.sqlite.inspect import COMPANIONS, open_readonly
from tuner.errors import BackupError, TunerError
from tuner.render import render

CHUNK = 16 * 1024 * 1024
_CHECKS = {"quick": "quick_check", "full": "integrity_check"}


#: Descriptors of database files (and WALs) copied while a connection of this process held
#: SQLite locks on them, by database path. On POSIX, closing *any* descriptor of a file drops
#: every fcntl lock the process holds on it, SQLite's included
#: (https://www.sqlite.org/howtocorrupt.html#_posix_advisory_locks_canceled_by_a_separate_thread_doing_close_):
#: closing the copy's source would release the apply's write lock (rollback journal: another
#: process could commit during the copy) or its shared lock (WAL: a reader in another process
#: that closes last then deletes the WAL the apply is still writing to, losing the apply).
#: They stay open until that connection is closed: `release(db)`, as SQLite itself does.
_HELD: dict[str, list[int]] = {}
_HELD_LOCK = threading.Lock()


def release(db: Path) -> None:
    """Close the descriptors kept open by the copies of `db`; call it only after closing the
    connection that held the locks."""
    with _HELD_LOCK:
        fds = _HELD.pop(str(db.absolute()), [])
    for fd in fds:
        os.close(fd)


@dataclass(frozen=True)
class Copy:
    """A byte copy taken under the write lock, not yet verified or named."""

    partial: Path
    final: Path
    pages: int
    mode: int
    started: float


def take_backup(conn: sqlite3.Connection, db: Path, folder: Path, tag: str, *,
                verify: str = "quick", on_progress: Progress | None = None,
                free: FreeSpace = free_space) -> Backup:
    """Copy the database while `conn` holds its write lock, then verify the copy."""
    return finish_backup(copy_locked(conn, db, folder, tag, on_progress=on_progress,
                                     free=free), verify)


def copy_locked(conn: sqlite3.Connection, db: Path, folder: Path, tag: str, *,
                on_progress: Progress | None = None, free: FreeSpace = free_space) -> Copy:
    """The part of a backup that needs the write lock `conn` holds: the byte copy of the
    database and its WAL. Raises BackupError, leaving nothing behind, when the folder is
    unusable or space is short."""
    started = time.perf_counter()
    wal = Path(str(db) + "-wal")
    sources = [(db, "")] + ([(wal, "-wal")] if wal.exists() and wal.stat().st_size else [])
    total = sum(p.stat().st_size for p, _ in sources)
    existing = next((p for p in (folder, *folder.absolute().parents) if p.is_dir()), folder)
    available = free(existing)  # checked before the folder is created: nothing left behind
    needed = int(total * 1.05) + (1 << 20)
    if available < needed:
        raise BackupError(f"{folder}: not enough free space for the backup: it needs about "
                          f"{needed / 1e6:,.1f} MB and {available / 1e6:,.1f} MB are free; "
                          "nothing was changed")
    prepare_dir(folder)
    _remove_leftovers(folder, db)
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    mode = stat.S_IMODE(db.stat().st_mode) & 0o666
    final = folder.absolute() / backup_name(db, tag)  # history must name it from any cwd
    partial = folder / (final.name + ".partial")
    done = 0
    try:
        for source, suffix in sources:
            done = _copy(source, Path(str(partial) + suffix), mode, done, total, on_progress,
                         db)
    except OSError as exc:
        _discard(partial)
        raise BackupError(f"{final}: cannot write the backup: {exc.strerror or exc}; "
                          "nothing was changed") from None
    return Copy(partial, final, pages, mode, started)


def finish_backup(copy: Copy, verify: str = "quick") -> Backup:
    """Fold the copied WAL in, verify (quick_check or integrity_check, and the page count),
    and give the backup its final name. Needs no lock: the copy is a file of its own."""
    try:
        checked = _fold_and_check(copy.partial, verify)
        if checked[0] != "ok" or checked[1] != copy.pages:
            raise BackupError(f"{copy.final}: the backup does not verify ({verify}_check: "
                              f"{checked[0]}; {checked[1]} pages, expected {copy.pages}); "
                              "nothing was changed")
        os.replace(copy.partial, copy.final)
        os.chmod(copy.final, copy.mode)
        fsync_dir(copy.final.parent)
    except OSError as exc:
        raise BackupError(f"{copy.final}: cannot write the backup: {exc.strerror or exc}; "
                          "nothing was changed") from None
    finally:
        _discard(copy.partial)
    return Backup(copy.final, copy.final.stat().st_size, copy.pages,
                  time.perf_counter() - copy.started, verify)


def _discard(partial: Path) -> None:
    for suffix in ("", *COMPANIONS):
        Path(str(partial) + suffix).unlink(missing_ok=True)


def _remove_leftovers(folder: Path, db: Path) -> None:
    """Delete partial copies of this database left by a killed apply. Safe: the caller holds
    the write lock, so no other tuner is copying this database now."""
    for path in folder.iterdir():
        name = path.name
        for suffix in ("", *COMPANIONS):
            if name.endswith(".partial" + suffix) and is_backup_of(
                    name[:len(name) - len(".partial" + suffix)], db.name):
                path.unlink(missing_ok=True)


def _copy(source: Path, target: Path, mode: int, done: int, total: int,
          on_progress: Progress | None, db: Path) -> int:
    """Copy one file (created with `mode`, never wider) in chunks, reporting progress, and
    fsync it. The kernel copies (copy_file_range) where it can; plain reads elsewhere. The
    source's descriptor is kept open until `release(db)` (see _HELD)."""
    src_fd = os.open(source, os.O_RDONLY)
    with _HELD_LOCK:
        _HELD.setdefault(str(db.absolute()), []).append(src_fd)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(src_fd, "rb", closefd=False) as src, os.fdopen(fd, "wb") as dst:
        kernel = hasattr(os, "copy_file_range")
        while True:
            if kernel:
                try:
                    n = os.copy_file_range(src.fileno(), dst.fileno(), CHUNK)
                except OSError:
                    kernel = False  # e.g. across file systems on old kernels: read instead
                    continue
            else:
                block = src.read(CHUNK)
                n = len(block)
                dst.write(block)
            if not n:
                break
            done += n
            if on_progress is not None:
                on_progress(done, total)
        dst.flush()
        os.fsync(dst.fileno())
    return done


def _fold_and_check(path: Path, verify: str) -> tuple[str, int]:
    """Fold a copied WAL into the copy and run quick_check (or integrity_check)."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        pragma = render("sqlite", "read_pragma", name=_CHECKS[verify])
        result = "; ".join(str(r[0]) for r in conn.execute(pragma).fetchmany(5))
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        return result, pages
    except sqlite3.DatabaseError as exc:
        return str(exc), -1
    finally:
        conn.close()


def prune_backups(folder: Path, db: Path, keep: int, protect: Path | None = None) -> list[Path]:
    """Delete all but the newest `keep` of tuner's own backups of `db`; return the deleted.
    Nothing else in the folder is ever touched, nor `protect` (a backup being restored); a
    reader of a WAL-mode backup (restore) leaves -wal/-shm files, which go with it."""
    return generic.prune_backups(folder, db, keep, protect, companions=COMPANIONS)


def verify_file(path: Path, verify: str = "quick") -> dict[str, object]:
    """Check that `path` is a healthy SQLite database; return its persistent pragmas."""
    if not path.is_file():
        raise BackupError(f"{path}: no such backup file")
    try:
        conn = open_readonly(str(path))
    except TunerError as exc:
        raise BackupError(f"not a usable backup: {exc}") from None
    try:
        result = conn.execute(render("sqlite", "read_pragma", name=_CHECKS[verify])).fetchone()[0]
        if result != "ok":
            raise BackupError(f"{path}: the backup is damaged: {result}")
        return {name: conn.execute(render("sqlite", "read_pragma", name=name)).fetchone()[0]
                for name in ("journal_mode", "page_size", "auto_vacuum")}
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{path}: not a valid SQLite backup: {exc}") from None
    finally:
        conn.close()
