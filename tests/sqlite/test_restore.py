"""Tests for `tuner restore` (tuner.restore): confirmation, the round trip apply -> restore ->
plan shows the changes again with the data intact, journal mode, page size and auto_vacuum
brought back from the backup, history carried forward, safety backups, bad input.

Every database is a real SQLite file under tmp_path; the CLI runs in-process through
`tuner.cli.main`, or as the console script where a terminal-less process or a lock holder
in another process is the point.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import (
    Result,
    assert_error_last,
    data_digest,
    history,
    pragma,
    run,
    schema,
    sha,
    write,
)

from tuner.engines.sqlite.demo import create_demo_db

ROOT = Path(__file__).resolve().parents[2]
BOT = str(ROOT / "profiles" / "telegram-bot.yaml")
BIN = Path(sys.executable).parent

ONE_INDEX = """\
profile: one-index
version: 1
engine: sqlite
indexes:
  - name: messages_event_time
    table: messages
    columns: [event_id, timestamp]
"""



def assert_one_line_error(r: Result, *fragments: str) -> None:
    """Nothing on stdout, and the error is the last line on stderr."""
    assert r.out == "", r.out
    assert_error_last(r, *fragments)

def plan_steps(capsys: pytest.CaptureFixture[str], profile: str | Path,
               db: Path) -> list[tuple[str, str]]:
    r = run(capsys, "plan", profile, "--db", db, "--format", "json")
    assert r.code == 0, r.err
    return [(s["kind"], s["object"]) for s in json.loads(r.out)["steps"]]


def apply(capsys: pytest.CaptureFixture[str], profile: str | Path, db: Path,
          *extra: object) -> Path:
    """Apply `profile` and return the path of the backup it took."""
    r = run(capsys, "apply", profile, "--db", db, "--yes", "--format", "json", *extra)
    assert r.code == 0, r.err
    return Path(json.loads(r.out)["backup"])


# -- fixtures ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("pristine") / "bot.db"
    create_demo_db(path, 2000, seed=11)
    return path


@pytest.fixture
def db(pristine: Path, tmp_path: Path) -> Path:
    """A fresh, untuned demo database (rollback journal) in its own folder."""
    folder = tmp_path / "data"
    folder.mkdir()
    path = folder / "bot.db"
    shutil.copyfile(pristine, path)
    return path


def set_layout(db: Path, *, page_size: int | None = None, journal: str | None = None) -> None:
    con = sqlite3.connect(db, isolation_level=None)
    if page_size is not None:
        con.execute("PRAGMA journal_mode = delete")
        con.execute(f"PRAGMA page_size = {int(page_size)}")
        con.execute("VACUUM")
    if journal is not None:
        assert con.execute(f"PRAGMA journal_mode = {journal}").fetchone()[0] == journal
    con.close()


# -- confirmation ---------------------------------------------------------------------------------
def test_restore_without_yes_and_without_a_terminal_refuses(
        capsys: pytest.CaptureFixture[str], db: Path) -> None:
    backup = apply(capsys, BOT, db)
    digest = sha(db)
    listing = sorted(p.name for p in backup.parent.iterdir())
    proc = subprocess.run([str(BIN / "tuner"), "restore", str(backup), "--db", str(db)],
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1 and proc.stdout == ""
    assert "--yes" in proc.stderr and "Traceback" not in proc.stderr
    assert "lost" in proc.stderr  # the warning came first
    assert proc.stderr.strip().splitlines()[-1].startswith("error: ")
    assert sha(db) == digest
    assert sorted(p.name for p in backup.parent.iterdir()) == listing  # no safety backup


# -- the round trip -------------------------------------------------------------------------------
def test_apply_then_restore_brings_back_the_database(capsys: pytest.CaptureFixture[str],
                                                     db: Path) -> None:
    before_data, before_schema = data_digest(db), schema(db)
    before_plan = plan_steps(capsys, BOT, db)
    assert before_plan
    backup = apply(capsys, BOT, db)
    assert pragma(db, "journal_mode") == "wal"
    applied_schema = schema(db)

    r = run(capsys, "restore", backup, "--db", db, "--yes")
    assert r.code == 0, r.err
    assert "lost" in r.err and str(backup) in r.out

    # the changes are pending again, exactly as before the apply
    assert run(capsys, "plan", BOT, "--db", db, "--detailed-exitcode").code == 2
    assert plan_steps(capsys, BOT, db) == before_plan
    assert schema(db) == before_schema
    assert data_digest(db) == before_data
    # a DELETE-mode backup restored into a WAL database ends up in DELETE mode
    assert pragma(db, "journal_mode") == "delete"
    assert not Path(str(db) + "-wal").exists()
    assert pragma(db, "quick_check") == "ok"

    # history keeps the apply and adds the restore
    rows = history(capsys, db)
    assert [(r["id"], r["operation"], r["status"]) for r in rows] == [
        (1, "apply", "applied"), (2, "restore", "restored")]
    restored = rows[1]
    assert str(backup.name) in (restored["detail"] or "")
    assert restored["finished_at"] is not None and restored["duration_s"] is not None
    safety = Path(restored["backup_path"])
    assert safety.is_file() and safety != backup
    # the safety backup is the database as it was just before the restore
    assert schema(safety) == applied_schema
    assert data_digest(safety) == before_data
    text = run(capsys, "history", "--db", db).out
    assert "applied" in text and "restored" in text

    # applying again converges again
    apply(capsys, BOT, db)
    assert run(capsys, "plan", BOT, "--db", db, "--detailed-exitcode").code == 0
    assert [r["status"] for r in history(capsys, db)] == ["applied", "restored", "applied"]


def test_restore_json_output(capsys: pytest.CaptureFixture[str], db: Path) -> None:
    backup = apply(capsys, BOT, db)
    r = run(capsys, "restore", backup, "--db", db, "--yes", "--format", "json")
    assert r.code == 0, r.err
    data = json.loads(r.out)
    assert data["status"] == "restored"
    assert Path(data["restored_from"]).resolve() == backup.resolve()
    assert Path(data["safety_backup"]).is_file()
    assert data["history_id"] == 2
    assert data["pragmas"]["journal_mode"] == "delete"


def test_restore_carries_every_history_row_forward(capsys: pytest.CaptureFixture[str],
                                                   db: Path) -> None:
    one = write(db.parent / "one.yaml", ONE_INDEX)
    first = apply(capsys, one, db)
    apply(capsys, BOT, db)
    assert run(capsys, "restore", first, "--db", db, "--yes").code == 0
    rows = history(capsys, db)
    assert [(r["id"], r["profile_name"], r["status"]) for r in rows] == [
        (1, "one-index", "applied"), (2, "telegram-bot", "applied"), (3, None, "restored")]
    assert ("create_index", "messages_event_time") in plan_steps(capsys, one, db)


def test_restore_wal_backup_into_a_wal_database(capsys: pytest.CaptureFixture[str],
                                                db: Path) -> None:
    set_layout(db, journal="wal")
    before = data_digest(db)
    one = write(db.parent / "one.yaml", ONE_INDEX)
    backup = apply(capsys, one, db)
    assert pragma(backup, "journal_mode") == "wal"
    reader = sqlite3.connect(db)  # an idle reader of the application stays open
    reader.execute("SELECT count(*) FROM users").fetchone()
    try:
        r = run(capsys, "restore", backup, "--db", db, "--yes")
        assert r.code == 0, r.err
        # the open connection sees the restored database
        assert reader.execute("SELECT count(*) FROM sqlite_master WHERE name = "
                              "'messages_event_time'").fetchone()[0] == 0
    finally:
        reader.close()
    assert pragma(db, "journal_mode") == "wal"
    assert data_digest(db) == before
    assert ("create_index", "messages_event_time") in plan_steps(capsys, one, db)


@pytest.mark.parametrize("layout, profile_pragmas, expect", [
    # a 1024-byte-page rollback database, tuned to WAL with 4096-byte pages
    ({"page_size": 1024}, "journal_mode: wal\n  page_size: 4096",
     {"page_size": 1024, "journal_mode": "delete"}),
    # a WAL database whose page size grows: the backup (WAL, 4096) goes back into WAL 8192
    ({"page_size": 4096, "journal": "wal"}, "journal_mode: wal\n  page_size: 8192",
     {"page_size": 4096, "journal_mode": "wal"}),
    # auto_vacuum none -> full; the restore brings back none
    ({}, "auto_vacuum: full", {"auto_vacuum": 0, "journal_mode": "delete"}),
], ids=["page_size_1024_delete", "page_size_wal", "auto_vacuum"])
def test_restore_brings_back_the_backups_layout(capsys: pytest.CaptureFixture[str], db: Path,
                                                layout: dict, profile_pragmas: str,
                                                expect: dict) -> None:
    set_layout(db, **layout)
    before = data_digest(db)
    profile = write(db.parent / "layout.yaml", "profile: layout\nversion: 1\nengine: sqlite\n"
                                               f"pragmas:\n  {profile_pragmas}\n")
    pending = plan_steps(capsys, profile, db)
    backup = apply(capsys, profile, db)
    assert run(capsys, "plan", profile, "--db", db, "--detailed-exitcode").code == 0
    for name, value in expect.items():
        assert pragma(backup, name) == value
    r = run(capsys, "restore", backup, "--db", db, "--yes")
    assert r.code == 0, r.err
    for name, value in expect.items():
        assert pragma(db, name) == value, name
    assert pragma(db, "quick_check") == "ok"
    assert data_digest(db) == before
    assert plan_steps(capsys, profile, db) == pending
    assert [r["status"] for r in history(capsys, db)] == ["applied", "restored"]


# -- safety backups and retention -----------------------------------------------------------------
def test_safety_backup_keeps_the_database_mode(capsys: pytest.CaptureFixture[str],
                                               db: Path) -> None:
    os.chmod(db, 0o600)
    backup = apply(capsys, BOT, db)
    r = run(capsys, "restore", backup, "--db", db, "--yes", "--format", "json")
    assert r.code == 0, r.err
    safety = Path(json.loads(r.out)["safety_backup"])
    assert stat.S_IMODE(safety.stat().st_mode) == 0o600
    assert stat.S_IMODE(db.stat().st_mode) == 0o600


def test_restore_keep_never_deletes_the_backup_being_restored(
        capsys: pytest.CaptureFixture[str], db: Path) -> None:
    one = write(db.parent / "one.yaml", ONE_INDEX)
    first = apply(capsys, one, db)
    second = apply(capsys, BOT, db)
    unrelated = write(first.parent / "notes.txt", "mine\n")
    r = run(capsys, "restore", first, "--db", db, "--yes", "--keep", "1", "--format", "json")
    assert r.code == 0, r.err
    safety = Path(json.loads(r.out)["safety_backup"])
    assert first.is_file() and safety.is_file() and unrelated.is_file()
    assert not second.exists()


def test_pruning_a_wal_backup_removes_its_companion_files(capsys: pytest.CaptureFixture[str],
                                                         db: Path) -> None:
    set_layout(db, journal="wal")
    one = write(db.parent / "one.yaml", ONE_INDEX)
    first = apply(capsys, one, db)
    assert run(capsys, "restore", first, "--db", db, "--yes").code == 0
    assert {Path(str(first) + "-shm"), Path(str(first) + "-wal")} & set(first.parent.iterdir())
    apply(capsys, one, db, "--keep", "1")  # the first backup and the safety backup go
    names = {p.name for p in first.parent.iterdir()}
    assert first.name not in names
    backups = {n for n in names if n.endswith(".db")}
    assert len(backups) == 1
    orphans = {n for n in names - backups if not any(n.startswith(b) for b in backups)}
    assert orphans == set()


# -- bad input and failures -----------------------------------------------------------------------
def test_restore_of_a_missing_or_bad_backup_changes_nothing(capsys: pytest.CaptureFixture[str],
                                                            db: Path) -> None:
    backup = apply(capsys, BOT, db)
    digest = sha(db)
    junk = write(db.parent / "junk.db", "not a database\n" * 500)
    listing = sorted(p.name for p in backup.parent.iterdir())
    assert_one_line_error(run(capsys, "restore", db.parent / "nope.db", "--db", db, "--yes"),
                          "nope.db")
    assert_one_line_error(run(capsys, "restore", junk, "--db", db, "--yes"), "junk.db")
    assert sha(db) == digest
    assert sorted(p.name for p in backup.parent.iterdir()) == listing
    assert len(history(capsys, db)) == 1


def test_restore_of_a_damaged_backup_changes_nothing(capsys: pytest.CaptureFixture[str],
                                                     db: Path) -> None:
    backup = apply(capsys, BOT, db)
    damaged = db.parent / "damaged.db"
    shutil.copyfile(backup, damaged)
    page = pragma(damaged, "page_size")
    assert isinstance(page, int)
    with open(damaged, "r+b") as f:  # scribble over pages 2..4, keeping the header sane
        f.seek(page)
        f.write(b"\xa5" * page * 3)
    digest = sha(db)
    listing = sorted(p.name for p in backup.parent.iterdir())
    assert_one_line_error(run(capsys, "restore", damaged, "--db", db, "--yes"), "damaged.db")
    assert sha(db) == digest
    assert sorted(p.name for p in backup.parent.iterdir()) == listing


def test_restore_without_a_safety_backup_restores_nothing(capsys: pytest.CaptureFixture[str],
                                                          db: Path) -> None:
    backup = apply(capsys, BOT, db)
    blocker = write(db.parent / "a_file", "not a folder\n")
    applied_schema, rows = schema(db), history(capsys, db)
    r = run(capsys, "restore", backup, "--db", db, "--yes", "--backup-dir", blocker / "sub")
    assert_one_line_error(r, "backup folder")
    assert schema(db) == applied_schema
    assert history(capsys, db) == rows


def test_restore_into_a_missing_database_creates_nothing(capsys: pytest.CaptureFixture[str],
                                                         db: Path, tmp_path: Path) -> None:
    backup = apply(capsys, BOT, db)
    missing = tmp_path / "missing.db"
    assert_one_line_error(run(capsys, "restore", backup, "--db", missing, "--yes"),
                          str(missing))
    assert not missing.exists()


def test_leaving_wal_blocked_by_another_connection_restores_nothing(
        capsys: pytest.CaptureFixture[str], db: Path) -> None:
    """A DELETE-mode backup must take a WAL database out of WAL, which an open connection
    blocks: the restore must fail before it overwrites anything, not halfway."""
    backup = apply(capsys, BOT, db)  # the backup is DELETE mode; the database is now WAL
    applied_data, applied_schema = data_digest(db), schema(db)
    rows = history(capsys, db)
    reader = sqlite3.connect(db)
    reader.execute("SELECT count(*) FROM users").fetchone()
    try:
        r = run(capsys, "restore", backup, "--db", db, "--yes", "--busy-timeout", "300")
    finally:
        reader.close()
    assert_one_line_error(r, str(db), "connection")
    assert schema(db) == applied_schema and data_digest(db) == applied_data
    assert history(capsys, db) == rows
    assert pragma(db, "journal_mode") == "wal"
    # with the connection closed, the restore goes through
    assert run(capsys, "restore", backup, "--db", db, "--yes").code == 0
    assert pragma(db, "journal_mode") == "delete"


def test_restore_into_a_locked_database_fails_clearly(capsys: pytest.CaptureFixture[str],
                                                      db: Path, write_lock) -> None:
    backup = apply(capsys, BOT, db)
    applied_schema, rows = schema(db), history(capsys, db)
    listing = sorted(p.name for p in backup.parent.iterdir())
    write_lock(db)
    r = run(capsys, "restore", backup, "--db", db, "--yes", "--busy-timeout", "300")
    assert_one_line_error(r, str(db), "locked")
    assert schema(db) == applied_schema
    assert history(capsys, db) == rows
    assert sorted(p.name for p in backup.parent.iterdir()) == listing


HOLDER = r"""
import sys
from tuner.engines.sqlite.session import acquire
lock = acquire(sys.argv[1], 0, doing=sys.argv[2])
print("holding", flush=True)
sys.stdin.read()
lock.release()
"""


@pytest.mark.parametrize("holding", ["apply", "restore"])
def test_restore_and_apply_never_run_side_by_side(capsys: pytest.CaptureFixture[str], db: Path,
                                                  holding: str) -> None:
    """A restore waits for the apply lock like an apply does: it refuses (one line, naming the
    other operation and its pid, nothing changed) while an apply holds it, and an apply
    refuses while a restore does."""
    backup = apply(capsys, BOT, db)
    applied_schema, rows = schema(db), history(capsys, db)
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(db), holding], text=True,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
        r = run(capsys, "restore", backup, "--db", db, "--yes", "--busy-timeout", "300")
        assert_one_line_error(r, str(db), f"another tuner {holding} is running",
                              f"pid {holder.pid} on host", "Restore again")
        more = write(db.parent / "more.yaml", ONE_INDEX.replace(
            "messages_event_time", "messages_user").replace("event_id, timestamp", "user_id"))
        r = run(capsys, "apply", more, "--db", db, "--yes", "--busy-timeout", "300")
        assert_one_line_error(r, f"another tuner {holding} is running", "Apply again")
        assert schema(db) == applied_schema and history(capsys, db) == rows
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(timeout=30)
    assert run(capsys, "restore", backup, "--db", db, "--yes").code == 0
    assert schema(db) != applied_schema
