"""SQLite restore: put a backup file back, safely and completely.

1. verify the backup; 2. take a safety backup of the current database; 3. copy the backup
back with SQLite's online backup API (consistent under SQLite's own locking, WAL included);
4. bring back the backup's persistent pragmas: the backup API keeps a WAL destination in WAL
and cannot write into a WAL database of another page size, so the destination leaves WAL first
where needed and takes the backup's journal mode after; 5. carry the history rows forward
(the copy would erase the record of the apply being undone) and add a `restored` row.
All of it under the apply lock (tuner.engines.sqlite.session.acquire): an apply cannot run
beside a restore, nor a restore beside an apply.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

from tuner.backup import RestoreResult, default_dir, tag_for
from tuner.engines.sqlite import history as hist
from tuner.engines.sqlite.backup import prune_backups, release, take_backup, verify_file
from tuner.engines.sqlite.inspect import database_error, open_readwrite
from tuner.engines.sqlite.session import acquire
from tuner.engines.sqlite.settings import pragma_sql
from tuner.errors import TunerError
from tuner.history import HistoryRow, now_utc
from tuner.render import render
from tuner.version import __version__


def _pragma(conn: sqlite3.Connection, name: str) -> Any:
    return conn.execute(render("sqlite", "read_pragma", name=name)).fetchone()[0]


def _set_journal(conn: sqlite3.Connection, db: str, mode: str) -> None:
    got = conn.execute(pragma_sql("journal_mode", mode)).fetchone()[0]
    if str(got).lower() != mode:
        raise TunerError(f"{db}: journal_mode reads back {got}, wanted {mode}: another "
                         "connection is open; stop the application and restore again")


def restore_backup(backup: Path, db: str, *, backup_dir: Path | None = None, keep: int = 10,
                   verify: str = "quick", busy_timeout_ms: int = 5000) -> RestoreResult:
    """Replace the database at `db` with `backup`, keeping a safety copy and the history."""
    started = time.perf_counter()
    wanted = verify_file(backup, verify)
    conn = open_readwrite(db, timeout=busy_timeout_ms / 1000)
    try:  # no apply may run while the file is replaced (nor start between copy and history)
        lock = acquire(db, busy_timeout_ms / 1000, doing="restore")
    except BaseException:
        conn.close()
        raise
    try:
        folder = backup_dir or default_dir(Path(db))
        try:
            conn.execute("BEGIN IMMEDIATE")
            carried = hist.rows(conn)  # under the write lock: no apply can add a row now
            safety = take_backup(conn, Path(db), folder, tag_for("restore:" + backup.name),
                                 verify=verify)
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            raise TunerError(f"{database_error(db, exc)}; nothing was restored") from None
        finally:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
        # Leave WAL before anything is overwritten: the backup API cannot change a WAL
        # database's page size, and leaving WAL fails while any other connection is open, so
        # that failure must come before the copy, not after it (a half-done restore).
        if _pragma(conn, "journal_mode") == "wal" and (
                wanted["journal_mode"] != "wal" or
                _pragma(conn, "page_size") != wanted["page_size"]):
            try:
                _set_journal(conn, db, "delete")
            except (sqlite3.Error, TunerError):
                raise TunerError(f"{db}: cannot leave WAL mode to restore the backup "
                                 f"(journal_mode {wanted['journal_mode']}, page_size "
                                 f"{wanted['page_size']}): another connection is open; stop "
                                 "the application and restore again; nothing was restored "
                                 f"(safety backup: {safety.path})") from None
        try:
            source = sqlite3.connect("file:" + quote(str(backup.resolve())) + "?mode=ro",
                                     uri=True)
            try:
                source.backup(conn)
            finally:
                source.close()
            _set_journal(conn, db, "wal" if wanted["journal_mode"] == "wal" else "delete")
        except sqlite3.Error as exc:
            raise TunerError(f"{database_error(db, exc)}; the safety backup of the database "
                             f"as it was is {safety.path}") from None
        got = {name: _pragma(conn, name) for name in ("page_size", "auto_vacuum")}
        for name, value in got.items():
            if value != wanted[name]:
                raise TunerError(f"{db}: after restore {name} reads {value}, the backup has "
                                 f"{wanted[name]}; safety backup: {safety.path}")
        conn.execute("BEGIN IMMEDIATE")
        hist.replace_all(conn, carried)
        row = HistoryRow(operation="restore", status="restored", started_at=now_utc(),
                         tuner_version=__version__, backup_path=str(safety.path), error=None,
                         detail=f"restored from {backup.absolute()}")
        row_id = hist.insert(conn, row)
        seconds = time.perf_counter() - started
        hist.update(conn, row_id, finished_at=now_utc(), duration_s=round(seconds, 3))
        conn.execute("COMMIT")
        prune_backups(folder, Path(db), keep, protect=backup)
        return RestoreResult(backup, safety, row_id, seconds,
                             {**got, "journal_mode": _pragma(conn, "journal_mode")})
    finally:
        conn.close()
        lock.release()
        release(Path(db))  # the safety copy's descriptors, only now (sqlite_backup._HELD)
