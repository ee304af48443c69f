"""The backup copy must not drop SQLite's locks of the apply that takes it.

On POSIX, closing any descriptor of a file drops every fcntl lock the process holds on it,
SQLite's included. The byte copy of the database used to close its source right away: in
rollback-journal mode the apply's write lock was gone during the copy; in WAL mode its shared
lock was, so a reader in another process closing last deleted the WAL the apply went on
writing to, and the whole apply (its DDL and its history row) was silently lost. Found by the
fleet's Ctrl-C test (tests/cli/test_fleet.py), which polls the history from another process.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from helpers import has_object, wal_demo_db

from tuner.apply import ApplyOptions
from tuner.engines.sqlite.backup import copy_locked
from tuner.engines.sqlite.demo import create_demo_db
from tuner.engines.sqlite.engine import SQLiteEngine

WRITER = """
import sqlite3, sys
con = sqlite3.connect(sys.argv[1], timeout=0.2, isolation_level=None)
try:
    con.execute("BEGIN IMMEDIATE")
except sqlite3.OperationalError as exc:
    print(exc)
else:
    con.execute("ROLLBACK")
    print("got the write lock")
"""

READER = """
import sqlite3, sys
con = sqlite3.connect(sys.argv[1], timeout=5)
con.execute("SELECT count(*) FROM sqlite_master").fetchone()
con.close()
"""


HOLDER = """
import sqlite3, sys
con = sqlite3.connect(sys.argv[1], timeout=5)
con.execute("SELECT count(*) FROM sqlite_master").fetchone()
print("open", flush=True)
sys.stdin.read()  # keep the connection open until the test closes our stdin
con.close()
"""


def other_process(script: str, db: Path) -> str:
    return subprocess.run([sys.executable, "-c", script, str(db)], capture_output=True,
                          text=True, timeout=60, check=True).stdout.strip()


def test_the_write_lock_holds_during_and_after_the_copy(tmp_path: Path) -> None:
    db = tmp_path / "bot.db"
    create_demo_db(db, 200)  # rollback journal: the write lock is a lock on the file
    session = SQLiteEngine().apply_session(str(db), ApplyOptions())
    try:
        session.begin()
        copy_locked(session.conn, db, tmp_path / "backups", "0" * 8)
        assert other_process(WRITER, db) == "database is locked"
        session.rollback()
    finally:
        session.close()
    assert other_process(WRITER, db) == "got the write lock"  # released with the session


def test_a_reader_closing_elsewhere_after_the_backup_loses_nothing(tmp_path: Path) -> None:
    db = wal_demo_db(tmp_path / "bot.db", 200)
    session = SQLiteEngine().apply_session(str(db), ApplyOptions())
    try:
        session.begin()
        copy_locked(session.conn, db, tmp_path / "backups", "0" * 8)
        session.rollback()
        other_process(READER, db)  # it must not believe it is the last connection
        session.begin()
        session.conn.execute("CREATE TABLE after_backup(x)")
        session.commit()
        # another connection is open while the apply closes: the apply cannot fold its WAL
        # into the file on closing, so the WAL must be the live one, not a deleted file
        holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(db)], text=True,
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        assert holder.stdout is not None and holder.stdout.readline().strip() == "open"
    finally:
        session.close()
    assert holder.stdin is not None
    holder.stdin.close()
    assert holder.wait(timeout=60) == 0
    assert has_object(db, "after_backup")
