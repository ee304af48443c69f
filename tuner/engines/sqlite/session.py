"""SQLite's apply session: a read-write connection in autocommit, the apply lock file for the
whole apply (acquire, below), the write lock of each phase (BEGIN IMMEDIATE), the
verified file-copy backup taken under that lock, the `tuner_history` table in the file, and the
statements with the read-backs SQLite needs.
"""

from __future__ import annotations

import fcntl
import os
import socket
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tuner.backup import Backup, Progress, default_dir
from tuner.engines.base import StepFailed
from tuner.engines.sqlite import history as hist
from tuner.engines.sqlite.backup import copy_locked, finish_backup, prune_backups, release
from tuner.engines.sqlite.inspect import database_error, open_readwrite, read_state
from tuner.errors import DatabaseError, TunerError
from tuner.history import HistoryRow
from tuner.model import State
from tuner.options import ApplyOptions
from tuner.plantypes import Plan, Step


class SQLiteApplySession:
    """One apply on one SQLite file (see tuner.engines.base.ApplySession)."""

    def __init__(self, db: str, options: ApplyOptions):
        self.db = db
        self.options = options
        self.conn = open_readwrite(db, timeout=options.busy_timeout_ms / 1000)
        try:  # held to the end: it tells this apply's `started` row from a dead one's
            self.lock = acquire(db, options.busy_timeout_ms / 1000)
        except BaseException:
            self.conn.close()
            raise

    def read_state(self) -> State:
        """The live state, read on this connection (under the write lock inside a phase)."""
        try:
            return read_state(self.conn)
        except sqlite3.Error as exc:
            raise database_error(self.db, exc) from None

    def default_backup_dir(self) -> Path:
        """`.tuner-backups/` beside the database file."""
        return default_dir(Path(self.db))

    def take_backup(self, plan: Plan, folder: Path, on_locked: Callable[[], None],
                    on_progress: Progress) -> Backup:
        """The byte copy runs under the write lock (nobody commits during it); its
        verification runs after the lock is released, so the application is blocked only for
        the copy."""
        try:  # a smaller WAL makes a faster copy; a busy checkpoint is harmless
            self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        except sqlite3.Error:
            pass
        self.begin()
        try:
            on_locked()
            copy = copy_locked(self.conn, Path(self.db), folder, plan.plan_hash,
                               free=self.options.free, on_progress=on_progress)
        finally:
            self.conn.execute("ROLLBACK")  # nothing was written: this only releases the lock
        return finish_backup(copy, self.options.verify)

    def prune_backups(self, folder: Path, keep: int) -> list[Path]:
        """Only this database's own backup files (and their -wal/-shm) are ever deleted."""
        return prune_backups(folder, Path(self.db), keep)

    def begin(self) -> None:
        """BEGIN IMMEDIATE: the write lock, waiting up to the busy timeout."""
        try:
            self.conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc) or "busy" in str(exc):
                raise TunerError(f"{self.db}: database is locked by another connection "
                                 "(another tuner apply, or the application's writer) beyond "
                                 "the busy timeout; nothing has changed. Retry, or raise "
                                 "--busy-timeout") from None
            raise database_error(self.db, exc) from None

    def commit(self) -> None:
        """COMMIT."""
        try:
            self.conn.execute("COMMIT")
        except sqlite3.Error as exc:
            raise database_error(self.db, exc) from None

    def rollback(self) -> None:
        """ROLLBACK, if a transaction is open."""
        if self.conn.in_transaction:
            self.conn.execute("ROLLBACK")

    def insert_history(self, row: HistoryRow) -> int:
        """Insert into `tuner_history` (created on first use), inside the open transaction."""
        try:
            return hist.insert(self.conn, row)
        except sqlite3.Error as exc:
            raise database_error(self.db, exc) from None

    def history_rows(self) -> list[HistoryRow]:
        """Every row of `tuner_history`, oldest first."""
        try:
            return hist.rows(self.conn)
        except sqlite3.Error as exc:
            raise database_error(self.db, exc) from None

    def update_history(self, row_id: int, **values: Any) -> None:
        """Update a `tuner_history` row (in the open transaction, or autocommit)."""
        try:
            hist.update(self.conn, row_id, **values)
        except sqlite3.Error as exc:
            raise database_error(self.db, exc) from None

    def execute(self, step: Step, sql: str) -> None:
        """Run one statement; `PRAGMA journal_mode = X` must answer with X."""
        try:
            rows = self.conn.execute(sql).fetchall()
        except sqlite3.Error as exc:
            raise StepFailed(_explain(step, exc)) from None
        want = _pragma_target(step, sql)
        if want is not None and rows and str(rows[0][0]).lower() != want:
            raise StepFailed(f"step {step.number}: journal_mode reads back {rows[0][0]}, "
                             f"wanted {want}: another connection is probably open (changing "
                             "the journal mode needs the only connection); stop the "
                             "application and apply again")

    def close(self) -> None:
        """Close the connection (an open transaction rolls back), then the backup copy's
        descriptors of the file (closing them earlier would drop its locks), then the apply
        lock."""
        try:
            self.conn.close()
            release(Path(self.db))
        finally:
            self.lock.release()


def _pragma_target(step: Step, sql: str) -> str | None:
    """`PRAGMA journal_mode = X` answers with the mode it got: the value to compare with."""
    if step.kind == "set_pragma" and step.object == "journal_mode" and "=" in sql:
        return sql.split("=", 1)[1].strip().rstrip(";").strip().lower()
    return None


def _explain(step: Step, exc: sqlite3.Error) -> str:
    text = StepFailed.of(step, str(exc)).message
    if "locked" in str(exc) and step.kind == "set_pragma":
        text += (" (leaving WAL mode, or changing page_size, needs every other connection "
                 "closed: stop the application and apply again)")
    return text


# -- the apply lock: a lock file held from start to end ----------------------------------------
# SQLite's apply lock: a `flock` on `<db>-tuner.lock` beside the database, held by one apply
# from start to end. It is how a `started` history row of a live apply is told from one of an
# apply that died (kill -9, power loss): the kernel drops the lock with the process, whatever
# killed it, and no pid can be reused into a false "alive".
#
# Why a file of its own: SQLite locks byte ranges of the database file with POSIX fcntl locks,
# which a process loses when it closes *any* descriptor of that file, and which an NFS flock
# emulation would collide with; a separate file takes part in neither. The file is removed when
# the apply ends; one left behind by a dead apply is harmless (nobody holds its lock). Its text,
# `pid host`, only serves the message of a second apply. A checker (`held`) opens it read-only
# and never creates it, so `tuner plan` stays read-only.


SUFFIX = "-tuner.lock"
POLL_S = 0.05


def lock_path(db: str | Path) -> Path:
    """The lock file of the database at `db`."""
    return Path(str(db) + SUFFIX)


class ApplyLock:
    """The lock, held: `release()` removes the file and drops the lock."""

    def __init__(self, path: Path, fd: int):
        self.path = path
        self.fd = fd

    def release(self) -> None:
        """Remove the file while still holding it (a waiting apply then sees a new inode and
        retries), then drop the lock."""
        if self.fd < 0:
            return
        try:
            self.path.unlink(missing_ok=True)
        finally:
            os.close(self.fd)
            self.fd = -1


def acquire(db: str, timeout_s: float, doing: str = "apply") -> ApplyLock:
    """Take the apply lock of `db` for `doing` (an apply, or a restore, which must not run
    beside one), waiting up to `timeout_s` for another holder to end."""
    path = lock_path(db)
    deadline = time.monotonic() + timeout_s
    while True:
        fd = _open(db, path)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode("utf-8", "replace").split()
            os.close(fd)
            if time.monotonic() >= deadline:
                raise DatabaseError(db, _busy_text(holder, doing)) from None
            time.sleep(POLL_S)
            continue
        if _same_file(fd, path):  # not unlinked by the apply that held it just before
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()} {socket.gethostname()} {doing}\n".encode(), 0)
            return ApplyLock(path, fd)
        os.close(fd)


def _busy_text(holder: list[str], doing: str) -> str:
    """The refusal when the lock file's holder (`pid host operation`, read from the file;
    a lock taken by an older tuner has no operation) is still running."""
    other = holder[2] if len(holder) > 2 else "apply"
    who = f" (pid {holder[0]} on host {holder[1]})" if len(holder) > 1 else ""
    return (f"another tuner {other} is running on this database{who}; nothing was changed. "
            f"{doing.capitalize()} again when it has finished")


def held(db: str) -> bool:
    """True while a live apply holds the lock of `db` (read-only: never creates the file)."""
    try:
        fd = os.open(lock_path(db), os.O_RDONLY)
    except FileNotFoundError:
        return False
    except OSError:
        return True  # cannot tell: never call a possibly live apply dead
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # also drops a shared lock just taken
    return False


def _open(db: str, path: Path) -> int:
    try:
        return os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise DatabaseError(db, f"cannot create the apply lock file {path}: "
                            f"{exc.strerror or exc}; nothing was changed") from None


def _same_file(fd: int, path: Path) -> bool:
    try:
        return os.stat(path).st_ino == os.fstat(fd).st_ino
    except FileNotFoundError:
        return False
