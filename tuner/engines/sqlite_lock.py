"""SQLite's apply lock: a `flock` on `<db>-tuner.lock` beside the database, held by one apply
from start to end. It is how a `started` history row of a live apply is told from one of an
apply that died (kill -9, power loss): the kernel drops the lock with the process, whatever
killed it, and no pid can be reused into a false "alive".

Why a file of its own: SQLite locks byte ranges of the database file with POSIX fcntl locks,
which a process loses when it closes *any* descriptor of that file, and which an NFS flock
emulation would collide with; a separate file takes part in neither. The file is removed when
the apply ends; one left behind by a dead apply is harmless (nobody holds its lock). Its text,
`pid host`, only serves the message of a second apply. A checker (`held`) opens it read-only
and never creates it, so `tuner plan` stays read-only.
"""

from __future__ import annotations

import fcntl
import os
import socket
import time
from pathlib import Path

from tuner.errors import DatabaseError

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


def acquire(db: str, timeout_s: float) -> ApplyLock:
    """Take the apply lock of `db`, waiting up to `timeout_s` for another apply to end."""
    path = lock_path(db)
    deadline = time.monotonic() + timeout_s
    while True:
        fd = _open(db, path)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode("utf-8", "replace").strip()
            os.close(fd)
            if time.monotonic() >= deadline:
                raise DatabaseError(db, "another tuner apply is running on this database"
                                    + (f" (pid {holder.replace(' ', ' on host ', 1)})"
                                       if holder else "") + "; nothing was changed. Apply "
                                    "again when it has finished") from None
            time.sleep(POLL_S)
            continue
        if _same_file(fd, path):  # not unlinked by the apply that held it just before
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()} {socket.gethostname()}\n".encode(), 0)
            return ApplyLock(path, fd)
        os.close(fd)


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
