"""Tests for `tuner apply` and `tuner history` (tuner.apply, tuner.backup, tuner.history).

Every database is a real SQLite file under tmp_path; the CLI runs in-process through
`tuner.cli.main`, except where a real terminal-less process or a second process holding a lock
is the point of the test. Kill -9 and concurrent-writer tests live in test_apply_crash.py.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import stat
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from helpers import (
    assert_error_last as assert_one_line_error,
)
from helpers import (
    data_digest,
    history,
    made_read_only,
    pragma,
    run,
    schema,
    sha,
    write,
)

from tuner.apply import ApplyOptions, apply_plan
from tuner.cli import main
from tuner.engines.sqlite.demo import create_demo_db
from tuner.errors import BackupError
from tuner.planfile import parse_plan_file
from tuner.profile import load_profile

ROOT = Path(__file__).resolve().parents[2]
BOT = str(ROOT / "profiles" / "telegram-bot.yaml")
BIN = Path(sys.executable).parent
BOT_INDEXES = {"participants_event_status", "participants_user_active", "messages_event_time",
               "events_upcoming", "events_creator_date"}
HISTORY_KEYS = {"id", "started_at", "finished_at", "status", "tuner_version", "profile_name",
                "profile_version", "profile_sha256", "plan_sha256", "steps_total",
                "steps_applied", "error", "failed_sql", "failed_step", "backup_path",
                "duration_s", "no_backup", "operation"}


def index_names(db: Path) -> set[str]:
    con = sqlite3.connect(db)
    try:
        return {r[0] for r in con.execute(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND name NOT LIKE 'sqlite_%'")}
    finally:
        con.close()


def has_history_table(db: Path) -> bool:
    con = sqlite3.connect(db)
    try:
        return con.execute("SELECT 1 FROM sqlite_master WHERE name = 'tuner_history'"
                           ).fetchone() is not None
    finally:
        con.close()


def backups(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.db")) if folder.is_dir() else []


# -- fixtures ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("pristine") / "bot.db"
    create_demo_db(path, 2000, seed=7)
    return path


@pytest.fixture
def db(pristine: Path, tmp_path: Path) -> Path:
    """A fresh, untuned demo database (rollback journal) in its own folder."""
    folder = tmp_path / "data"
    folder.mkdir()
    path = folder / "bot.db"
    shutil.copyfile(pristine, path)
    return path


@pytest.fixture
def wal_db(db: Path) -> Path:
    """The demo database in WAL mode."""
    con = sqlite3.connect(db)
    assert con.execute("PRAGMA journal_mode = wal").fetchone()[0] == "wal"
    con.close()
    return db


# -- confirmation --------------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", ["text", "json"])
def test_apply_without_yes_and_without_a_terminal_refuses(db: Path, fmt: str) -> None:
    digest = sha(db)
    before = sorted(p.name for p in db.parent.iterdir())
    proc = subprocess.run([str(BIN / "tuner"), "apply", BOT, "--db", str(db), "--format", fmt],
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1, proc.stderr
    assert "--yes" in proc.stderr and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith("error: ")
    shown = proc.stdout if fmt == "text" else proc.stderr  # the plan was shown first
    assert "index participants_event_status" in shown
    if fmt == "json":
        assert proc.stdout == ""
    assert sha(db) == digest
    assert sorted(p.name for p in db.parent.iterdir()) == before  # no backup folder or file
    assert not has_history_table(db)


def test_apply_with_a_saved_plan_without_yes_and_without_a_terminal_refuses(
        capsys: pytest.CaptureFixture[str], db: Path) -> None:
    plan = db.parent / "plan.sql"
    assert run(capsys, "plan", BOT, "--db", db, "--out", plan).code == 0
    digest = sha(db)
    proc = subprocess.run([str(BIN / "tuner"), "apply", "--plan", str(plan), "--db", str(db)],
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1 and "--yes" in proc.stderr
    assert sha(db) == digest
    assert not (db.parent / ".tuner-backups").exists()


def stale_plan(capsys: pytest.CaptureFixture[str], db: Path) -> Path:
    """A saved plan for `db`, made stale by an index created by hand after it."""
    plan = db.parent / "plan.sql"
    assert run(capsys, "plan", BOT, "--db", db, "--out", plan).code == 0
    con = sqlite3.connect(db)
    con.execute("CREATE INDEX by_hand ON messages(user_id)")
    con.commit()
    con.close()
    return plan


def no_terminal(*argv: object) -> subprocess.CompletedProcess[str]:
    """The real `tuner` with no terminal on stdin (as in CI or cron)."""
    return subprocess.run([str(BIN / "tuner"), *map(str, argv)], stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=60)


def test_a_stale_plan_without_a_terminal_is_refused_as_stale_not_for_want_of_yes(
        capsys: pytest.CaptureFixture[str], db: Path) -> None:
    plan = stale_plan(capsys, db)
    digest = sha(db)
    proc = no_terminal("apply", "--plan", plan, "--db", db)
    assert proc.returncode == 1, proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("error: stale plan") and "by_hand" in last, proc.stderr
    assert "--yes" not in proc.stderr and "Traceback" not in proc.stderr
    assert "create_index" not in proc.stdout  # nothing to review: it was refused first
    assert sha(db) == digest


@pytest.mark.parametrize(("problem", "said"), [("edited", "edited"), ("missing", "no such"),
                                               ("not a database", "not an SQLite database"),
                                               ("locked", "locked")])
def test_every_refusal_comes_before_the_question(capsys: pytest.CaptureFixture[str], db: Path,
                                                 problem: str, said: str,
                                                 write_lock: Callable[[Path], None]) -> None:
    plan = db.parent / "plan.sql"
    assert run(capsys, "plan", BOT, "--db", db, "--out", plan).code == 0
    target = db
    if problem == "edited":
        head, mark, body = plan.read_text(encoding="utf-8").partition("-- tuner:end-manifest")
        write(plan, head + mark + body.replace("user_id", "chat_id", 1))
    elif problem == "missing":
        target = db.parent / "absent.db"
    elif problem == "not a database":
        target = write(db.parent / "junk.db", "not a database at all " * 100)
    else:
        write_lock(db)
    proc = no_terminal("apply", "--plan", plan, "--db", target, "--busy-timeout", "0")
    assert proc.returncode == 1, proc.stderr
    assert "--yes" not in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
    assert said in proc.stderr.strip().splitlines()[-1], proc.stderr
    assert proc.stdout == ""


# -- the happy path, convergence, backups ---------------------------------------------------------
def test_apply_backs_up_applies_records_and_converges(capsys: pytest.CaptureFixture[str],
                                                      db: Path) -> None:
    before = data_digest(db)
    r = run(capsys, "apply", BOT, "--db", db, "--yes")
    assert r.code == 0, r.err
    assert "Phase 1" in r.out and "Applied 11 steps" in r.out
    assert BOT_INDEXES <= index_names(db)
    assert pragma(db, "journal_mode") == "wal"
    assert data_digest(db) == before

    # the backup: default folder beside the database, exact name, verified copy of before
    folder = db.parent / ".tuner-backups"
    [backup] = backups(folder)
    rows = history(capsys, db)
    assert len(rows) == 1
    row = rows[0]
    assert re.fullmatch(r"bot\.db-\d{8}T\d{12}Z-" + row["plan_sha256"][:8] + r"\.db",
                        backup.name)
    assert Path(row["backup_path"]).resolve() == backup.resolve()
    assert str(backup.name) in r.out
    con = sqlite3.connect(backup)
    assert con.execute("PRAGMA quick_check").fetchone()[0] == "ok"
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    con.close()
    assert data_digest(backup) == before
    assert not index_names(backup)  # the state before the apply

    # convergence: plan says nothing is left, a second apply changes nothing, takes no backup
    assert run(capsys, "plan", BOT, "--db", db, "--detailed-exitcode").code == 0
    r = run(capsys, "apply", BOT, "--db", db, "--yes")
    assert r.code == 0 and "No changes" in r.out
    assert backups(folder) == [backup]
    assert len(history(capsys, db)) == 1


def test_apply_of_a_converged_database_without_a_terminal_says_no_changes(
        capsys: pytest.CaptureFixture[str], db: Path) -> None:
    assert run(capsys, "apply", BOT, "--db", db, "--yes").code == 0
    count = len(backups(db.parent / ".tuner-backups"))
    proc = subprocess.run([str(BIN / "tuner"), "apply", BOT, "--db", str(db)],
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "No changes" in proc.stdout
    assert len(backups(db.parent / ".tuner-backups")) == count


def test_history_rows_hold_the_whole_record(capsys: pytest.CaptureFixture[str],
                                            db: Path) -> None:
    plan = db.parent / "plan.sql"
    assert run(capsys, "plan", BOT, "--db", db, "--out", plan).code == 0
    manifest = parse_plan_file(plan.read_text(encoding="utf-8")).manifest
    assert run(capsys, "apply", "--plan", plan, "--db", db, "--yes").code == 0
    [row] = history(capsys, db)
    assert HISTORY_KEYS <= set(row)
    assert row["operation"] == "apply" and row["status"] == "applied"
    assert row["profile_name"] == "telegram-bot"
    assert row["profile_version"] == load_profile(BOT).version
    assert row["profile_sha256"] == load_profile(BOT).sha256
    assert row["plan_sha256"] == manifest.plan_hash
    assert row["tuner_version"] == manifest.tuner_version
    assert row["steps_total"] == row["steps_applied"] == manifest.steps == 11
    assert row["error"] is None and row["failed_sql"] is None and row["failed_step"] is None
    assert row["started_at"] <= row["finished_at"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z", row["started_at"])
    assert isinstance(row["duration_s"], float) and row["duration_s"] >= 0
    assert row["no_backup"] == 0 and Path(row["backup_path"]).is_file()

    r = run(capsys, "history", "--db", db)
    assert r.code == 0
    [_, line] = [x for x in r.out.splitlines() if not x.startswith(" " * 6)]
    assert line.split()[0] == "1" and "applied" in line and manifest.plan_hash[:8] in line
    assert " 11/11 " in line and Path(row["backup_path"]).name in line


def test_history_text_has_column_headers(capsys: pytest.CaptureFixture[str], db: Path) -> None:
    assert run(capsys, "apply", BOT, "--db", db, "--yes", "--no-backup").code == 0
    r = run(capsys, "history", "--db", db)
    assert r.code == 0, r.err
    head, line = r.out.splitlines()
    headers = ["id", "started (UTC)", "operation", "status", "profile / detail", "plan",
               "steps", "seconds", "backup"]
    starts = [head.index(h) for h in headers]
    assert starts == sorted(starts) and starts[0] == 0
    [row] = history(capsys, db)
    cells = [str(row["id"]), row["started_at"], "apply", "applied", "telegram-bot v2",
             row["plan_sha256"][:8], "11/11", f"{row['duration_s']:.2f}", "(no backup)"]
    assert [line[at:].split("  ")[0] for at in starts] == cells


def test_history_of_a_database_never_applied(capsys: pytest.CaptureFixture[str],
                                             db: Path) -> None:
    digest = sha(db)
    assert history(capsys, db) == []
    r = run(capsys, "history", "--db", db)
    assert r.code == 0 and "No applies recorded" in r.out
    assert sha(db) == digest and not has_history_table(db)


def test_history_of_a_missing_database_fails_without_creating_it(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    missing = tmp_path / "nope.db"
    assert_one_line_error(run(capsys, "history", "--db", missing), str(missing))
    assert not missing.exists()


def test_wal_source_gives_a_consistent_wal_backup(capsys: pytest.CaptureFixture[str],
                                                  wal_db: Path) -> None:
    # Rows committed into the WAL by a connection that stays open (so nothing checkpoints
    # them on close) must be in the backup.
    writer = sqlite3.connect(wal_db, isolation_level=None)
    writer.execute("PRAGMA wal_autocheckpoint = 0")
    writer.execute("INSERT INTO users(username, chat_id, created_at) VALUES ('late', -1, 0)")
    try:
        assert Path(str(wal_db) + "-wal").stat().st_size > 0
        before = data_digest(wal_db)
        r = run(capsys, "apply", BOT, "--db", wal_db, "--yes")
        assert r.code == 0, r.err
    finally:
        writer.close()
    [backup] = backups(wal_db.parent / ".tuner-backups")
    con = sqlite3.connect(backup)
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert con.execute("PRAGMA quick_check").fetchone()[0] == "ok"
    assert con.execute("SELECT count(*) FROM users WHERE username = 'late'").fetchone()[0] == 1
    con.close()
    assert data_digest(backup) == before


@pytest.mark.parametrize("mode", [0o600, 0o640])
def test_backup_mode_equals_the_database_mode(capsys: pytest.CaptureFixture[str], db: Path,
                                              mode: int) -> None:
    os.chmod(db, mode)
    assert run(capsys, "apply", BOT, "--db", db, "--yes").code == 0
    [backup] = backups(db.parent / ".tuner-backups")
    assert stat.S_IMODE(backup.stat().st_mode) == mode


def test_backup_dir_option(capsys: pytest.CaptureFixture[str], db: Path, tmp_path: Path) -> None:
    folder = tmp_path / "elsewhere" / "backups"
    r = run(capsys, "apply", BOT, "--db", db, "--yes", "--backup-dir", folder,
            "--verify", "full")
    assert r.code == 0, r.err
    assert len(backups(folder)) == 1
    assert not (db.parent / ".tuner-backups").exists()
    [row] = history(capsys, db)
    assert Path(row["backup_path"]).resolve() == backups(folder)[0].resolve()


def test_keep_prunes_only_this_databases_own_backups(capsys: pytest.CaptureFixture[str],
                                                     tmp_path: Path, pristine: Path) -> None:
    folder = tmp_path / "data"
    folder.mkdir()
    db = folder / "bot"  # a database file named `bot`, next to backups of `bot-old`
    shutil.copyfile(pristine, db)
    store = folder / ".tuner-backups"
    store.mkdir()
    old_mine = [f"bot-2020010{d}T000000000000Z-0123abcd.db" for d in (1, 2, 3)]
    others = ["bot-old-20200101T000000000000Z-0123abcd.db",
              "bot-old-20200102T000000000000Z-0123abcd.db",
              "bot-2020.db", "bot-20200101T000000000000Z-0123abcd.db.bak", "notes.txt",
              "bot.db-20200101T000000000000Z-0123abcd.db"]
    for name in old_mine + others:
        shutil.copyfile(pristine, store / name)
    r = run(capsys, "apply", BOT, "--db", db, "--yes", "--keep", "2")
    assert r.code == 0, r.err
    left = {p.name for p in store.iterdir()}
    [new] = left - set(others) - set(old_mine)
    assert re.fullmatch(r"bot-\d{8}T\d{12}Z-[0-9a-f]{8}\.db", new)
    assert left == set(others) | {old_mine[-1], new}


def test_no_backup_is_recorded(capsys: pytest.CaptureFixture[str], db: Path) -> None:
    r = run(capsys, "apply", BOT, "--db", db, "--yes", "--no-backup")
    assert r.code == 0, r.err
    assert "no backup" in r.out
    assert not (db.parent / ".tuner-backups").exists()
    [row] = history(capsys, db)
    assert row["no_backup"] == 1 and row["backup_path"] is None
    assert row["status"] == "applied"
    assert "(no backup)" in run(capsys, "history", "--db", db).out


# -- saved plans ----------------------------------------------------------------------------------
def test_saved_plan_runs_exactly_as_reviewed(capsys: pytest.CaptureFixture[str],
                                             db: Path) -> None:
    plan = db.parent / "plan.sql"
    assert run(capsys, "plan", BOT, "--db", db, "--out", plan).code == 0
    parsed = parse_plan_file(plan.read_text(encoding="utf-8"))
    r = run(capsys, "apply", "--plan", plan, "--db", db, "--yes", "--format", "json")
    assert r.code == 0, r.err
    data = json.loads(r.out)
    assert data["status"] == "applied" and data["plan_hash"] == parsed.plan_hash
    assert [(s["number"], s["kind"], s["object"]) for s in data["steps"]] == [
        (s.number, s.kind, s.object) for s in parsed.steps]
    assert parsed.plan_hash[:8] in Path(data["backup"]).name
    assert run(capsys, "plan", BOT, "--db", db, "--detailed-exitcode").code == 0


def test_stale_saved_plan_is_refused(capsys: pytest.CaptureFixture[str], db: Path) -> None:
    plan = stale_plan(capsys, db)
    digest = sha(db)
    r = run(capsys, "apply", "--plan", plan, "--db", db, "--yes")
    assert_one_line_error(r, "stale", "by_hand", "tuner plan")
    assert "added" in r.err
    assert sha(db) == digest
    assert not (db.parent / ".tuner-backups").exists()
    assert not has_history_table(db)


def test_stale_saved_plan_names_a_changed_setting(capsys: pytest.CaptureFixture[str],
                                                  db: Path) -> None:
    plan = db.parent / "plan.sql"
    assert run(capsys, "plan", BOT, "--db", db, "--out", plan).code == 0
    con = sqlite3.connect(db)
    con.execute("PRAGMA user_version = 9")
    con.close()
    digest = sha(db)
    r = run(capsys, "apply", "--plan", plan, "--db", db, "--yes")
    assert_one_line_error(r, "stale", "user_version")
    assert sha(db) == digest


def test_edited_saved_plan_is_refused(capsys: pytest.CaptureFixture[str], db: Path) -> None:
    plan = db.parent / "plan.sql"
    assert run(capsys, "plan", BOT, "--db", db, "--out", plan).code == 0
    text = plan.read_text(encoding="utf-8")
    edited = text.replace('("creator_id", "date")', '("creator_id")', 1)
    assert edited != text
    write(plan, edited)
    digest = sha(db)
    r = run(capsys, "apply", "--plan", plan, "--db", db, "--yes")
    assert_one_line_error(r, "edited", "checksum")
    assert sha(db) == digest
    assert not (db.parent / ".tuner-backups").exists()


def test_saved_plan_that_is_not_a_plan(capsys: pytest.CaptureFixture[str], db: Path) -> None:
    plan = write(db.parent / "plan.sql", "CREATE INDEX x ON users(username);\n")
    digest = sha(db)
    assert_one_line_error(run(capsys, "apply", "--plan", plan, "--db", db, "--yes"),
                          "not a tuner plan")
    assert sha(db) == digest


def test_profile_and_plan_together_is_a_usage_error(capsys: pytest.CaptureFixture[str],
                                                    db: Path) -> None:
    digest = sha(db)
    assert_one_line_error(run(capsys, "apply", "--db", db, "--yes"), "PROFILE")
    assert_one_line_error(run(capsys, "apply", BOT, "--plan", "x.sql", "--db", db, "--yes"),
                          "PROFILE")
    assert sha(db) == digest


# -- JSON output ----------------------------------------------------------------------------------
def test_apply_json_output(capsys: pytest.CaptureFixture[str], db: Path) -> None:
    r = run(capsys, "apply", BOT, "--db", db, "--yes", "--format", "json")
    assert r.code == 0, r.err
    data = json.loads(r.out)
    assert data["status"] == "applied" and len(data["steps"]) == 11
    assert Path(data["backup"]).is_file() and data["history_id"] == 1
    assert "Phase 1" in r.err  # the plan is shown on stderr, stdout stays parseable
    r = run(capsys, "apply", BOT, "--db", db, "--yes", "--format", "json")
    assert r.code == 0
    assert json.loads(r.out)["status"] == "no_changes"


def test_apply_json_output_of_an_empty_saved_plan(capsys: pytest.CaptureFixture[str],
                                                  db: Path) -> None:
    assert run(capsys, "apply", BOT, "--db", db, "--yes").code == 0
    plan = db.parent / "empty.sql"
    assert run(capsys, "plan", BOT, "--db", db, "--out", plan).code == 0
    r = run(capsys, "apply", "--plan", plan, "--db", db, "--yes", "--format", "json")
    assert r.code == 0, r.err
    assert json.loads(r.out)["status"] == "no_changes"
    r = run(capsys, "apply", "--plan", plan, "--db", db, "--yes")
    assert r.code == 0 and "No changes" in r.out


def test_apply_json_failure_prints_nothing_on_stdout(capsys: pytest.CaptureFixture[str],
                                                     tmp_path: Path) -> None:
    r = run(capsys, "apply", BOT, "--db", tmp_path / "missing.db", "--yes", "--format", "json")
    assert_one_line_error(r)
    assert r.out == ""


# -- backup failures abort before any change ------------------------------------------------------
def test_backup_dir_under_a_regular_file_aborts_before_any_change(
        capsys: pytest.CaptureFixture[str], db: Path) -> None:
    blocker = write(db.parent / "a_file", "not a folder\n")
    digest = sha(db)
    r = run(capsys, "apply", BOT, "--db", db, "--yes", "--backup-dir", blocker / "sub")
    assert_one_line_error(r, "backup", "nothing was changed")
    assert sha(db) == digest
    assert not has_history_table(db)
    assert sorted(p.name for p in db.parent.iterdir()) == ["a_file", "bot.db"]


def test_unwritable_backup_dir_aborts_before_any_change(capsys: pytest.CaptureFixture[str],
                                                        db: Path) -> None:
    folder = db.parent / "ro"
    folder.mkdir()
    os.chmod(folder, 0o500)
    try:
        if os.access(folder, os.W_OK):
            pytest.skip("running as root: chmod 0o500 does not stop writes (see the "
                        "backup-dir-under-a-file test)")
        digest = sha(db)
        r = run(capsys, "apply", BOT, "--db", db, "--yes", "--backup-dir", folder)
        assert_one_line_error(r, "not writable")
        assert sha(db) == digest and not has_history_table(db)
        assert list(folder.iterdir()) == []
    finally:
        os.chmod(folder, 0o700)


def test_too_little_free_space_aborts_before_any_change(db: Path, tmp_path: Path) -> None:
    plan_path = db.parent / "plan.sql"
    with pytest.raises(SystemExit):
        main(["plan", BOT, "--db", str(db), "--out", str(plan_path)])
    plan = parse_plan_file(plan_path.read_text(encoding="utf-8"))
    digest = sha(db)
    folder = tmp_path / "backups"
    with pytest.raises(BackupError, match="free space") as exc:
        apply_plan(plan, str(db), ApplyOptions(backup_dir=folder, free=lambda p: 0))
    assert "nothing was changed" in str(exc.value)
    assert sha(db) == digest
    assert not has_history_table(db)
    assert backups(folder) == [] and not list(folder.glob("*partial*"))
    assert not folder.exists()  # space is checked before the folder is made
    assert not Path(str(db) + "-journal").exists()


# -- failures while applying ----------------------------------------------------------------------
DUPLICATE_UNIQUE = """\
profile: dup
version: 1
engine: sqlite
pragmas:
  journal_mode: wal
indexes:
  - name: events_title
    table: events
    columns: [title]
  - name: participants_status_unique
    table: participants
    columns: [status]
    unique: true
"""


def test_failing_step_rolls_back_the_transaction(capsys: pytest.CaptureFixture[str],
                                                 db: Path) -> None:
    profile = write(db.parent / "dup.yaml", DUPLICATE_UNIQUE)
    before_schema, before_data = schema(db), data_digest(db)
    r = run(capsys, "apply", profile, "--db", db, "--yes")
    [backup] = backups(db.parent / ".tuner-backups")
    assert_one_line_error(r, "participants_status_unique", "UNIQUE constraint failed",
                          str(backup.name), "rolled back")
    assert re.search(r"step \d+", r.err)
    assert schema(db) == before_schema
    assert data_digest(db) == before_data
    assert pragma(db, "journal_mode") == "delete"  # phase 2 never ran
    [row] = history(capsys, db)
    assert row["status"] == "failed" and row["steps_applied"] == 0
    assert row["failed_step"] == 2
    assert "participants_status_unique" in row["failed_sql"]
    assert row["failed_sql"].lstrip().upper().startswith("CREATE UNIQUE INDEX")
    assert "UNIQUE constraint failed" in row["error"]
    assert row["finished_at"] is not None
    assert Path(row["backup_path"]).resolve() == backup.resolve()
    # nothing was left half done: planning again shows the same two indexes
    r = run(capsys, "plan", profile, "--db", db, "--format", "json")
    assert r.code == 0
    assert "participants_status_unique" in r.out and "events_title" in r.out


LEAVE_WAL = """\
profile: leave-wal
version: 1
engine: sqlite
pragmas:
  journal_mode: delete
indexes:
  - name: messages_event_time
    table: messages
    columns: [event_id, timestamp]
"""


def test_failure_outside_the_transaction_keeps_the_committed_ddl(
        capsys: pytest.CaptureFixture[str], wal_db: Path) -> None:
    profile = write(wal_db.parent / "leave.yaml", LEAVE_WAL)
    before = data_digest(wal_db)
    other = sqlite3.connect(wal_db)  # an idle reader keeps WAL from being left
    other.execute("SELECT count(*) FROM users").fetchone()
    try:
        r = run(capsys, "apply", profile, "--db", wal_db, "--yes", "--busy-timeout", "300")
    finally:
        other.close()
    assert_one_line_error(r, "journal_mode", "step 2", "step 1", "other connection")
    err = r.err.strip().splitlines()[-1]
    assert re.search(r"step 1\b[^;]*(was|were) applied", err), err
    assert re.search(r"step 3\b[^;]*not (been )?(applied|run)", err), err
    assert "tuner plan" in err
    assert "messages_event_time" in index_names(wal_db)
    assert pragma(wal_db, "journal_mode") == "wal"
    assert pragma(wal_db, "quick_check") == "ok"
    assert data_digest(wal_db) == before
    [row] = history(capsys, wal_db)
    assert row["status"] == "failed" and row["steps_applied"] == 1 and row["failed_step"] == 2
    assert "journal_mode" in row["failed_sql"]
    # planning again shows what is left: the journal mode, and the statistics
    r = run(capsys, "plan", profile, "--db", wal_db, "--format", "json")
    data = json.loads(r.out)
    kinds = [(s["kind"], s["object"]) for s in data["steps"]]
    assert ("set_pragma", "journal_mode") in kinds
    assert not any(k == "create_index" for k, _ in kinds)
    # and with the other connection gone, applying again finishes the job
    assert run(capsys, "apply", profile, "--db", wal_db, "--yes").code == 0
    assert pragma(wal_db, "journal_mode") == "delete"
    assert run(capsys, "plan", profile, "--db", wal_db, "--detailed-exitcode").code == 0


ONE_INDEX = """\
profile: one-index
version: 1
engine: sqlite
indexes:
  - name: messages_event_time
    table: messages
    columns: [event_id, timestamp]
"""


@pytest.mark.parametrize("journal", ["delete", "wal"])
def test_locked_database_fails_after_the_busy_timeout(capsys: pytest.CaptureFixture[str],
                                                      db: Path, write_lock, journal: str) -> None:
    if journal == "wal":
        assert pragma(db, "journal_mode = wal") == "wal"
    first = write(db.parent / "one.yaml", ONE_INDEX)
    assert run(capsys, "apply", first, "--db", db, "--yes").code == 0
    rows_before = history(capsys, db)
    indexes_before = index_names(db)
    backups_before = backups(db.parent / ".tuner-backups")
    write_lock(db)
    r = run(capsys, "apply", BOT, "--db", db, "--yes", "--busy-timeout", "300")
    assert_one_line_error(r, "locked", str(db), "nothing has changed", "--busy-timeout")
    assert index_names(db) == indexes_before
    assert history(capsys, db) == rows_before
    assert backups(db.parent / ".tuner-backups") == backups_before
    assert pragma(db, "journal_mode") == journal


# -- bad databases --------------------------------------------------------------------------------
def test_missing_database_is_not_created(capsys: pytest.CaptureFixture[str],
                                         tmp_path: Path) -> None:
    missing = tmp_path / "missing.db"
    assert_one_line_error(run(capsys, "apply", BOT, "--db", missing, "--yes"), str(missing),
                          "no such")
    assert list(tmp_path.iterdir()) == []


def test_a_file_that_is_not_a_database(capsys: pytest.CaptureFixture[str],
                                       tmp_path: Path) -> None:
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not an SQLite database, just some text\n" * 200)
    digest = sha(junk)
    assert_one_line_error(run(capsys, "apply", BOT, "--db", junk, "--yes"), str(junk),
                          "not an SQLite database")
    assert sha(junk) == digest
    assert [p.name for p in tmp_path.iterdir()] == ["junk.db"]


@pytest.fixture
def read_only(db: Path) -> Iterator[Path]:
    """The database made read-only (helpers.made_read_only)."""
    with made_read_only(db):
        yield db


def test_read_only_database(capsys: pytest.CaptureFixture[str], read_only: Path) -> None:
    digest = sha(read_only)
    before = sorted(p.name for p in read_only.parent.iterdir())
    assert_one_line_error(run(capsys, "apply", BOT, "--db", read_only, "--yes"),
                          str(read_only), "read-only")
    assert sha(read_only) == digest
    assert sorted(p.name for p in read_only.parent.iterdir()) == before


def test_history_names_the_backup_from_any_directory(capsys: pytest.CaptureFixture[str],
                                                     db: Path, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(db.parent)
    assert run(capsys, "apply", BOT, "--db", "bot.db", "--yes").code == 0
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    [row] = history(capsys, db)
    backup = Path(row["backup_path"])
    assert backup.is_absolute() and backup.is_file()
    assert backup.parent == (db.parent / ".tuner-backups").resolve()
