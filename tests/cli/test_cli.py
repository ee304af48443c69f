"""Tests for the command line (tuner.cli): help, exit codes, streams, bad input, the plan file,
read-only planning, inspect round trips, validate, schema, demo-db and demo.

The CLI runs in-process through `tuner.cli.main` (which always ends in SystemExit), and a few
tests run the real console script and `python -m tuner` in a subprocess. Every database is a
real SQLite file under tmp_path.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from helpers import Result, run, sha

import tuner
from tuner.cli import cli, main
from tuner.engines.sqlite.demo import create_demo_db
from tuner.planfile import parse_plan_file
from tuner.profile import load_profile

ROOT = Path(__file__).resolve().parents[2]
BOT = str(ROOT / "profiles" / "telegram-bot.yaml")
BIN = Path(sys.executable).parent
SUMMARY = re.compile(r"^Plan: (\d+) to create, (\d+) to replace, (\d+) to drop, "
                     r"(\d+) settings?\.$", re.M)
RUNTIME = ("synchronous", "cache_size", "temp_store", "mmap_size", "busy_timeout",
           "foreign_keys")


def assert_one_line_error(r: Result, *fragments: str) -> None:
    """Exit 1, nothing on stdout, exactly one `error: ` line on stderr, no traceback."""
    assert r.code == 1, (r.code, r.out, r.err)
    assert r.out == ""
    assert r.err.startswith("error: "), r.err
    assert r.err.count("\n") == 1 and r.err.endswith("\n"), r.err
    assert "Traceback" not in r.err
    for fragment in fragments:
        assert fragment in r.err, (fragment, r.err)


def listing(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir()}


def make_db(path: Path, sql: str) -> Path:
    con = sqlite3.connect(path)
    con.executescript(sql)
    con.commit()
    con.close()
    return path


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def apply_plan_file(db: Path, plan_file: Path) -> None:
    con = sqlite3.connect(db, isolation_level=None)
    try:
        con.executescript(plan_file.read_text(encoding="utf-8"))
    finally:
        con.close()


HAND_MADE = """
CREATE TABLE users(id INTEGER PRIMARY KEY, name TEXT, email TEXT, score INTEGER, active INTEGER);
CREATE TABLE log(id INTEGER PRIMARY KEY, user_id INTEGER, msg TEXT);
CREATE INDEX users_lower_name ON users(lower(name));
CREATE INDEX users_score_desc ON users(score DESC, name COLLATE NOCASE);
CREATE INDEX users_active ON users(score) WHERE active = 1;
CREATE UNIQUE INDEX users_email ON users(email);
CREATE INDEX log_user ON log(user_id);
CREATE VIEW user_scores(uid, uname, s) AS SELECT id, name, score FROM users;
CREATE TRIGGER user_scores_ins INSTEAD OF INSERT ON user_scores
BEGIN INSERT INTO users(id, name, score) VALUES (NEW.uid, NEW.uname, NEW.s); END;
INSERT INTO users(name, email, score, active) VALUES ('a', 'a@x', 1, 1), ('B', 'b@x', 2, 0);
INSERT INTO log(user_id, msg) VALUES (1, 'hello');
"""

SMALL = "CREATE TABLE t(a INTEGER, b TEXT); INSERT INTO t VALUES (1, 'x'), (2, 'y');"


# -- fixtures ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def pristine_demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("pristine") / "demo.db"
    create_demo_db(path, 2000, seed=42)
    return path


@pytest.fixture
def demo_db(pristine_demo: Path, tmp_path: Path) -> Path:
    """A fresh, untuned copy of a small demo database (rollback journal)."""
    path = tmp_path / "bot.db"
    shutil.copyfile(pristine_demo, path)
    return path


@pytest.fixture(scope="module")
def tuned_demo(pristine_demo: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo database after the bundled profile's plan ran on it (WAL mode)."""
    folder = tmp_path_factory.mktemp("tuned")
    path = folder / "bot.db"
    shutil.copyfile(pristine_demo, path)
    with pytest.raises(SystemExit) as exc:
        main(["plan", BOT, "--db", str(path), "--out", str(folder / "plan.sql")])
    assert exc.value.code == 0
    apply_plan_file(path, folder / "plan.sql")
    return path


@pytest.fixture
def small_db(tmp_path: Path) -> Path:
    return make_db(tmp_path / "small.db", SMALL)


# -- help, version, no arguments -----------------------------------------------------------------
def test_group_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    r = run(capsys, "--help")
    assert r.code == 0 and r.err == ""
    assert "Usage: tuner" in r.out and "Exit codes" in r.out
    for name in cli.commands:
        assert re.search(rf"^  {re.escape(name)}\s", r.out, re.M), name


@pytest.mark.parametrize("name", sorted(cli.commands))
def test_every_command_has_help(capsys: pytest.CaptureFixture[str], name: str) -> None:
    for flag in ("--help", "-h"):
        r = run(capsys, name, flag)
        assert r.code == 0 and r.err == ""
        assert f"Usage: tuner {name}" in r.out
        assert "--help" in r.out
    summary = (cli.commands[name].help or "").strip().splitlines()[0]
    assert summary and " ".join(summary.split()) in " ".join(r.out.split())


def test_no_arguments_prints_help(capsys: pytest.CaptureFixture[str]) -> None:
    r = run(capsys)
    assert r.code == 0
    assert "Usage: tuner" in r.out and "Commands:" in r.out
    assert "error" not in r.err


@pytest.mark.parametrize("flag", ["--version", "-V"])
def test_version(capsys: pytest.CaptureFixture[str], flag: str) -> None:
    r = run(capsys, flag)
    assert r.code == 0
    assert tuner.__version__ in r.out and "tuner" in r.out


# -- exit codes and usage errors ------------------------------------------------------------------
@pytest.mark.parametrize("argv, fragments", [
    (["plan", "--bogus"], ["No such option", "--bogus", "tuner plan --help"]),
    (["plan"], ["Missing argument", "PROFILE"]),
    (["plan", BOT], ["Missing option", "--db"]),
    (["plan", BOT, "--db", "x.db", "--format", "xml"], ["--format", "xml"]),
    (["inspect", "--db", "x.db", "--format", "toml"], ["--format", "toml"]),
    (["validate"], ["Missing argument", "PROFILES"]),
    (["validate", BOT, "--format", "yaml"], ["--format"]),
    (["demo-db"], ["Missing argument", "PATH"]),
    (["demo-db", "x.db", "--participants", "many"], ["--participants"]),
    (["bogus"], ["No such command", "bogus", "tuner --help"]),
    (["--bogus"], ["No such option", "--bogus"]),
])
def test_usage_errors_exit_1_not_2(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                   monkeypatch: pytest.MonkeyPatch, argv: list[str],
                                   fragments: list[str]) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TUNER_DB", raising=False)
    r = run(capsys, *argv)
    assert_one_line_error(r, *fragments)
    assert listing(tmp_path) == set()


def test_detailed_exitcode(capsys: pytest.CaptureFixture[str], demo_db: Path,
                           tuned_demo: Path) -> None:
    pending = run(capsys, "plan", BOT, "--db", demo_db, "--detailed-exitcode")
    assert pending.code == 2 and SUMMARY.search(pending.out)
    assert run(capsys, "plan", BOT, "--db", demo_db).code == 0  # without the flag: 0
    done = run(capsys, "plan", BOT, "--db", tuned_demo, "--detailed-exitcode")
    assert done.code == 0, done.err
    assert "No changes" in done.out and not SUMMARY.search(done.out)
    failed = run(capsys, "plan", BOT, "--db", demo_db.with_name("nope.db"), "--detailed-exitcode")
    assert_one_line_error(failed, "nope.db")


def test_debug_shows_traceback_and_exits_1(capsys: pytest.CaptureFixture[str],
                                           tmp_path: Path) -> None:
    missing = tmp_path / "missing.yaml"
    plain = run(capsys, "validate", missing)
    assert plain.code == 1 and "Traceback" not in plain.err
    r = run(capsys, "--debug", "plan", missing, "--db", tmp_path / "x.db")
    assert r.code == 1
    assert "Traceback (most recent call last)" in r.err and "ProfileError" in r.err
    assert r.err.rstrip("\n").splitlines()[-1] == f"error: {missing}: no such file"
    assert r.out == ""


# -- bad input: exit 1, one line, nothing touched -------------------------------------------------
def _bad_input_setup(kind: str, tmp_path: Path) -> tuple[list[str], Path | None, list[str]]:
    """(argv, the database path that must not change, fragments the error must contain)."""
    pg = write(tmp_path / "pg.yaml", "profile: pg\nversion: 1\nengine: postgresql\n"
                                     "settings:\n  work_mem: 64MB\n")
    if kind == "missing-db":
        db = tmp_path / "nope.db"
        return ["plan", BOT, "--db", str(db)], None, [str(db), "no such database file"]
    if kind == "directory":
        db = tmp_path / "folder.db"
        db.mkdir()
        return ["plan", BOT, "--db", str(db)], None, [str(db), "not a regular file"]
    if kind == "random-bytes":
        db = tmp_path / "random.db"
        db.write_bytes(bytes((i * 7919 + 13) % 256 for i in range(8192)))
        return ["plan", BOT, "--db", str(db)], db, [str(db), "not an SQLite database"]
    if kind == "text-file":
        db = write(tmp_path / "notes.db", "just some notes, not a database\n" * 50)
        return ["plan", BOT, "--db", str(db)], db, [str(db), "not an SQLite database"]
    if kind == "inspect-text-file":
        db = write(tmp_path / "notes.db", "hello\n")
        return ["inspect", "--db", str(db)], db, [str(db), "not an SQLite database"]
    if kind == "inspect-missing":
        db = tmp_path / "nope.db"
        return ["inspect", "--db", str(db)], None, [str(db), "no such database file"]
    if kind == "engine-mismatch":
        db = make_db(tmp_path / "small.db", SMALL)
        return (["plan", str(pg), "--db", str(db)], db,
                [str(pg), "engine postgresql", str(db), "sqlite"])
    if kind == "sqlite-profile-postgres-url":
        url = "postgresql://user@localhost/bot"
        return ["plan", BOT, "--db", url], None, ["engine sqlite", url, "postgresql"]
    if kind == "postgres-url":
        url = "postgresql://user:secret@127.0.0.1:1/bot"   # nothing listens on port 1
        return (["plan", str(pg), "--db", url], None,
                ["postgresql://user:***@127.0.0.1:1/bot", "cannot connect"])
    if kind == "inspect-postgres-url":
        return (["inspect", "--db", "postgres://127.0.0.1:1/bot"], None,
                ["postgres://127.0.0.1:1/bot", "cannot connect"])
    if kind == "missing-profile":
        db = make_db(tmp_path / "small.db", SMALL)
        prof = tmp_path / "absent.yaml"
        return ["plan", str(prof), "--db", str(db)], db, [str(prof), "no such file"]
    if kind == "missing-table":
        db = make_db(tmp_path / "small.db", SMALL)
        prof = write(tmp_path / "p.yaml", "profile: p\nversion: 1\nengine: sqlite\nindexes:\n"
                                          "  - name: idx_nowhere\n    table: nosuch\n"
                                          "    columns: [a]\n")
        return (["plan", str(prof), "--db", str(db)], db,
                [f"{prof}:6: indexes[0].table", "idx_nowhere", "nosuch", "does not exist"])
    if kind == "missing-column":
        db = make_db(tmp_path / "small.db", SMALL)
        prof = write(tmp_path / "p.yaml", "profile: p\nversion: 1\nengine: sqlite\nindexes:\n"
                                          "  - name: t_ab\n    table: t\n    columns: [a, zz]\n")
        return (["plan", str(prof), "--db", str(db)], db,
                [f"{prof}:7: indexes[0].columns[1]", "t_ab", "'zz'", "does not exist"])
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", [
    "missing-db", "directory", "random-bytes", "text-file", "inspect-text-file",
    "inspect-missing", "engine-mismatch", "sqlite-profile-postgres-url", "postgres-url",
    "inspect-postgres-url", "missing-profile", "missing-table", "missing-column",
])
def test_bad_input(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                   monkeypatch: pytest.MonkeyPatch, kind: str) -> None:
    monkeypatch.chdir(tmp_path)
    argv, db, fragments = _bad_input_setup(kind, tmp_path)
    before = listing(tmp_path)
    digest = sha(db) if db else None
    out_file = tmp_path / "plan.sql"
    extra = ["--out", str(out_file)] if argv[0] == "plan" else []
    r = run(capsys, *argv, *extra)
    assert_one_line_error(r, *fragments)
    assert listing(tmp_path) == before  # no database, journal, or plan file appeared
    if db:
        assert sha(db) == digest


def test_locked_database_fails_clearly(tmp_path: Path) -> None:
    """A rollback-journal database under an EXCLUSIVE lock cannot even be read: plan waits for
    its busy timeout (5 s) and then fails with one 'locked' line instead of hanging."""
    db = make_db(tmp_path / "locked.db", SMALL)
    digest = sha(db)
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        # timeout= guards against a hang; the test does not measure time otherwise.
        proc = subprocess.run([str(BIN / "tuner"), "plan", BOT, "--db", str(db)],
                              capture_output=True, text=True, timeout=60)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr.startswith("error: ") and proc.stderr.count("\n") == 1
    assert str(db) in proc.stderr and "locked" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert sha(db) == digest


def test_wal_database_under_exclusive_lock_still_plans(capsys: pytest.CaptureFixture[str],
                                                       tuned_demo: Path, tmp_path: Path) -> None:
    """In WAL mode a writer's EXCLUSIVE transaction does not block readers."""
    db = tmp_path / "wal.db"
    shutil.copyfile(tuned_demo, db)
    holder = sqlite3.connect(db, isolation_level=None)
    assert holder.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    holder.execute("BEGIN EXCLUSIVE")
    holder.execute("INSERT INTO users(username, chat_id, created_at) VALUES ('zz', -1, 0)")
    try:
        r = run(capsys, "plan", BOT, "--db", db, "--detailed-exitcode")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert r.code == 0, r.err
    assert "No changes" in r.out


# -- TUNER_DB ------------------------------------------------------------------------------------
def test_tuner_db_env_replaces_db_option(capsys: pytest.CaptureFixture[str],
                                         monkeypatch: pytest.MonkeyPatch, demo_db: Path,
                                         small_db: Path) -> None:
    monkeypatch.setenv("TUNER_DB", str(demo_db))
    r = run(capsys, "plan", BOT, "--detailed-exitcode")
    assert r.code == 2 and f"-> {demo_db} (sqlite)" in r.out
    inspected = run(capsys, "inspect", "--format", "json")
    assert inspected.code == 0 and json.loads(inspected.out)["profile"] == "bot"
    # --db wins over the environment
    explicit = run(capsys, "inspect", "--db", small_db, "--format", "json")
    assert json.loads(explicit.out)["profile"] == "small"
    monkeypatch.setenv("TUNER_DB", str(demo_db.with_name("gone.db")))
    assert_one_line_error(run(capsys, "plan", BOT), "gone.db", "no such database file")


# -- plan: the plan file, JSON, text -------------------------------------------------------------
@pytest.mark.parametrize("fmt", ["json", "text"])
def test_plan_out_writes_the_plan_file_whatever_the_format(
        capsys: pytest.CaptureFixture[str], demo_db: Path, tmp_path: Path, fmt: str) -> None:
    target = tmp_path / "plan.sql"
    r = run(capsys, "plan", BOT, "--db", demo_db, "--format", fmt, "--out", target)
    assert r.code == 0
    assert str(target) in r.err and "Plan written" in r.err
    if fmt == "json":
        assert json.loads(r.out)["changes"] is True
    else:
        assert SUMMARY.search(r.out)
    text = target.read_text(encoding="utf-8")
    assert text.startswith("-- tuner plan ")
    assert "\n-- tuner:manifest\n" in text and "\n-- tuner:end-manifest\n" in text
    assert not target.with_name("plan.sql.tmp").exists()

    parsed = parse_plan_file(text)
    assert parsed.intact
    m = parsed.manifest.as_json()
    assert m["tuner_version"] == tuner.__version__
    profile = load_profile(BOT)
    assert m["profile"] == {"name": "telegram-bot", "version": profile.version,
                            "sha256": profile.sha256}
    assert m["database"] == str(demo_db)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", m["created"])
    assert re.fullmatch(r"[0-9a-f]{64}", m["fingerprint"])
    assert re.fullmatch(r"[0-9a-f]{64}", m["plan_hash"])
    assert text.startswith(f"-- tuner plan {m['plan_hash'][:12]}")
    objects = m["prior"]["objects"]
    for table in ("users", "events", "participants", "messages"):
        assert re.fullmatch(r"[0-9a-f]{64}", objects[f"table:{table}"])
    assert m["prior"]["settings"]["journal_mode"] == "delete"
    assert m["desired"]["settings"] == {"journal_mode": "wal"}
    assert set(m["desired"]["indexes"]) == {i.name for i in profile.indexes}
    assert set(m["desired"]["views"]) == {v.name for v in profile.views}
    assert m["steps"] == len(json.loads(run(capsys, "plan", BOT, "--db", demo_db,
                                            "--format", "json").out)["steps"])

    edited = text.replace('CREATE INDEX IF NOT EXISTS "events_upcoming"',
                          'CREATE INDEX IF NOT EXISTS "events_upcoming2"')
    assert edited != text
    assert not parse_plan_file(edited).intact
    assert not parse_plan_file(text + "DROP TABLE users;\n").intact


def test_plan_format_sql_prints_the_plan_file(capsys: pytest.CaptureFixture[str],
                                              demo_db: Path, tmp_path: Path) -> None:
    target = tmp_path / "plan.sql"
    r = run(capsys, "plan", BOT, "--db", demo_db, "--format", "sql", "--out", target)
    assert r.code == 0
    assert r.out == target.read_text(encoding="utf-8")
    alone = run(capsys, "plan", BOT, "--db", demo_db, "--format", "sql")
    assert alone.code == 0 and alone.err == ""
    assert parse_plan_file(alone.out).intact
    assert parse_plan_file(alone.out).manifest.plan_hash == \
        parse_plan_file(r.out).manifest.plan_hash


def test_plan_out_to_a_missing_folder_is_an_error(capsys: pytest.CaptureFixture[str],
                                                  demo_db: Path, tmp_path: Path) -> None:
    target = tmp_path / "no" / "such" / "plan.sql"
    r = run(capsys, "plan", BOT, "--db", demo_db, "--out", target)
    assert r.code == 1 and "Traceback" not in r.err
    assert r.err.splitlines()[-1].startswith("error: ") and str(target) in r.err
    assert not (tmp_path / "no").exists()


@pytest.mark.parametrize("suffix", ["", "-wal"])
def test_plan_out_refuses_to_overwrite_the_database(capsys: pytest.CaptureFixture[str],
                                                    demo_db: Path, suffix: str) -> None:
    before, files = sha(demo_db), listing(demo_db.parent)
    target = demo_db.parent / ".." / demo_db.parent.name / (demo_db.name + suffix)
    r = run(capsys, "plan", BOT, "--db", demo_db, "--out", target)
    assert_one_line_error(r, str(target), "would overwrite the database")
    assert sha(demo_db) == before and listing(demo_db.parent) == files


def test_plan_json(capsys: pytest.CaptureFixture[str], demo_db: Path) -> None:
    r = run(capsys, "plan", BOT, "--db", demo_db, "--format", "json")
    assert r.code == 0 and r.err == ""
    data = json.loads(r.out)
    steps = data["steps"]
    assert steps and all(isinstance(s, dict) for s in steps)
    for s in steps:
        assert {"kind", "object", "sql", "reason", "transactional", "destructive"} <= set(s)
        assert isinstance(s["sql"], str) and s["sql"].strip()
        assert isinstance(s["transactional"], bool) and isinstance(s["destructive"], bool)
        assert s["reason"]
    kinds = {(s["kind"], s["object"]) for s in steps}
    assert ("create_index", "participants_event_status") in kinds
    assert ("create_view", "event_participant_counts") in kinds
    journal = next(s for s in steps if s["object"] == "journal_mode")
    assert journal["transactional"] is False and "wal" in journal["sql"].lower()
    assert not any(s["destructive"] for s in steps)
    runtime = {s["name"]: s["value"] for s in data["runtime_settings"]}
    assert runtime == {"synchronous": "normal", "cache_size": -65536, "temp_store": "memory",
                       "mmap_size": 268435456, "busy_timeout": 5000, "foreign_keys": True}
    assert not any(s["object"] in runtime for s in steps)  # runtime settings are not steps
    assert isinstance(data["warnings"], list)
    assert data["changes"] is True and data["summary"]["create"] == 7


def test_plan_text(capsys: pytest.CaptureFixture[str], demo_db: Path) -> None:
    r = run(capsys, "plan", BOT, "--db", demo_db)
    assert r.code == 0 and r.err == ""
    match = SUMMARY.search(r.out)
    assert match and match.groups() == ("7", "0", "0", "1")
    assert "\x1b[" not in r.out  # no colour codes when stdout is not a terminal
    creates = [line for line in r.out.splitlines() if line.startswith("  + ")]
    assert len(creates) == 7
    assert any("participants_event_status" in line for line in creates)
    head, _, runtime = r.out.partition("Runtime settings")
    assert runtime, "runtime settings are listed in their own section"
    for name in RUNTIME:
        assert re.search(rf"^  {name} = ", runtime, re.M), name
        assert not re.search(rf"^\s+\S+ (setting )?{name}\b", head, re.M), name


# -- plan never writes ---------------------------------------------------------------------------
def test_plan_does_not_write_to_a_rollback_database(capsys: pytest.CaptureFixture[str],
                                                    demo_db: Path) -> None:
    before, files = sha(demo_db), listing(demo_db.parent)
    for fmt in ("text", "json", "sql"):
        assert run(capsys, "plan", BOT, "--db", demo_db, "--format", fmt).code == 0
    assert run(capsys, "inspect", "--db", demo_db).code == 0
    assert sha(demo_db) == before
    assert listing(demo_db.parent) == files  # no journal left behind either


def test_plan_does_not_write_to_a_wal_database(capsys: pytest.CaptureFixture[str],
                                               tuned_demo: Path, tmp_path: Path) -> None:
    db = tmp_path / "wal.db"
    shutil.copyfile(tuned_demo, db)
    con = sqlite3.connect(db)
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    # a pending change in the WAL: plan must read it and must not checkpoint it
    con.execute("DROP INDEX events_upcoming")
    con.commit()
    wal = Path(f"{db}-wal")
    main_before, wal_before = sha(db), sha(wal)
    r = run(capsys, "plan", BOT, "--db", db, "--detailed-exitcode")
    assert r.code == 2 and "events_upcoming" in r.out
    assert sha(db) == main_before and sha(wal) == wal_before
    con.close()
    # closed cleanly: no -wal file; planning again leaves the main file alone
    main_before = sha(db)
    r = run(capsys, "plan", BOT, "--db", db, "--detailed-exitcode")
    assert r.code == 2
    assert sha(db) == main_before
    assert not wal.exists() or wal.stat().st_size == 0


# -- inspect -------------------------------------------------------------------------------------
def _round_trip(capsys: pytest.CaptureFixture[str], db: Path, tmp_path: Path, fmt: str) -> dict:
    digest = sha(db)
    r = run(capsys, "inspect", "--db", db, "--format", fmt)
    assert r.code == 0 and r.err == ""
    data = json.loads(r.out) if fmt == "json" else yaml.safe_load(r.out)
    assert data["prune"] is True and data["engine"] == "sqlite"
    path = write(tmp_path / f"live-{db.stem}.{fmt}", r.out)
    assert load_profile(path).prune is True
    ok = run(capsys, "validate", path)
    assert ok.code == 0 and ok.out.startswith("ok: ")
    plan = run(capsys, "plan", path, "--db", db, "--detailed-exitcode")
    assert plan.code == 0, plan.out + plan.err
    assert "No changes" in plan.out
    assert sha(db) == digest
    return data


@pytest.mark.parametrize("fmt", ["yaml", "json"])
def test_inspect_round_trip_on_the_tuned_demo(capsys: pytest.CaptureFixture[str],
                                              tuned_demo: Path, tmp_path: Path,
                                              fmt: str) -> None:
    data = _round_trip(capsys, tuned_demo, tmp_path, fmt)
    assert data["pragmas"]["journal_mode"] == "wal"
    names = {i["name"] for i in data["indexes"]}
    assert names == {i.name for i in load_profile(BOT).indexes}
    assert not any(n.startswith("sqlite_autoindex") for n in names)
    assert {v["name"] for v in data["views"]} == {"event_participant_counts", "upcoming_events"}


@pytest.mark.parametrize("fmt", ["yaml", "json"])
def test_inspect_round_trip_on_tricky_objects(capsys: pytest.CaptureFixture[str],
                                              tmp_path: Path, fmt: str) -> None:
    db = make_db(tmp_path / "hand.db", HAND_MADE)
    data = _round_trip(capsys, db, tmp_path, fmt)
    idx = {i["name"]: i for i in data["indexes"]}
    assert idx["users_lower_name"]["columns"] == [{"expr": "lower(name)"}]
    assert idx["users_score_desc"]["columns"] == [{"column": "score", "order": "desc"},
                                                  {"column": "name", "collate": "nocase"}]
    assert idx["users_active"]["where"] == "active = 1"
    assert idx["users_email"]["unique"] is True
    assert data["views"] == [{"name": "user_scores", "sql": "SELECT id, name, score FROM users",
                              "columns": ["uid", "uname", "s"]}]


def test_inspect_yaml_has_a_comment_header(capsys: pytest.CaptureFixture[str],
                                           small_db: Path) -> None:
    r = run(capsys, "inspect", "--db", small_db, "--name", "my-db")
    assert r.code == 0
    assert r.out.startswith(f"# Inspected from {small_db} by tuner {tuner.__version__}.")
    assert yaml.safe_load(r.out)["profile"] == "my-db"


# -- validate ------------------------------------------------------------------------------------
def test_validate_bundled_profile(capsys: pytest.CaptureFixture[str]) -> None:
    r = run(capsys, "validate", BOT)
    assert r.code == 0 and r.err == ""
    assert r.out == (f"ok: {BOT}: profile telegram-bot v2 (sqlite; 5 indexes, 2 views, "
                     "6 queries)\n")


def test_validate_several_and_any_bad_fails(capsys: pytest.CaptureFixture[str],
                                            tmp_path: Path) -> None:
    other = write(tmp_path / "other.yaml", "profile: other\nversion: 3\nengine: sqlite\n")
    bad = write(tmp_path / "bad.yaml", "profile: bad\nversion: 0\nengine: sqlite\n")
    good = run(capsys, "validate", BOT, other)
    assert good.code == 0 and good.out.count("ok: ") == 2 and f"ok: {other}" in good.out

    mixed = run(capsys, "validate", BOT, bad, other)
    assert mixed.code == 1
    assert mixed.out.count("ok: ") == 2  # the good ones are still reported
    assert mixed.err == f"error: {bad}:2: version: 0 is less than the minimum of 1\n"

    js = run(capsys, "validate", BOT, bad, other, "--format", "json")
    assert js.code == 1
    data = json.loads(js.out)
    assert [d["valid"] for d in data] == [True, False, True]
    assert [d["path"] for d in data] == [BOT, str(bad), str(other)]
    assert data[0]["profile"] == "telegram-bot" and data[0]["indexes"] == 5
    assert "version" in data[1]["error"] and f"{bad}:2" in data[1]["error"]

    ok_json = run(capsys, "validate", BOT, "--format", "json")
    assert ok_json.code == 0 and json.loads(ok_json.out)[0]["valid"] is True


FOUR_PROBLEMS = """\
profile: bad
version: 0
engine: sqlite
prune: maybe
indexes:
  - name: i
    table: t
    columns: []
    colour: red
"""


def test_validate_lists_every_problem(capsys: pytest.CaptureFixture[str],
                                      tmp_path: Path) -> None:
    bad = write(tmp_path / "bad.yaml", FOUR_PROBLEMS)
    r = run(capsys, "validate", bad)
    assert r.code == 1 and r.out == ""
    assert r.err.splitlines() == [
        f"error: {bad}:2: version: 0 is less than the minimum of 1",
        f"error: {bad}:4: prune: 'maybe' is not of type 'boolean'",
        f"error: {bad}:8: indexes[0].columns: [] should be non-empty",
        f"error: {bad}:9: indexes[0].colour: unknown key (allowed: columns, comment, include, "
        "method, name, table, unique, where)"]
    js = run(capsys, "validate", bad, "--format", "json")
    [data] = json.loads(js.out)
    assert js.code == 1 and data["problems"] == [line[len("error: "):]
                                                 for line in r.err.splitlines()]
    assert data["error"].endswith("(and 3 more problems)")  # one line, as other commands say


# -- schema --------------------------------------------------------------------------------------
def test_schema_prints_the_json_schema(capsys: pytest.CaptureFixture[str]) -> None:
    r = run(capsys, "schema")
    assert r.code == 0
    data = json.loads(r.out)
    assert data["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    on_disk = json.loads((ROOT / "schemas" / "profile.schema.json").read_text(encoding="utf-8"))
    assert data == on_disk


# -- demo-db and demo ----------------------------------------------------------------------------
def test_demo_db_refuses_existing_path_without_force(capsys: pytest.CaptureFixture[str],
                                                     tmp_path: Path) -> None:
    path = tmp_path / "bot.db"
    path.write_bytes(b"precious")
    r = run(capsys, "demo-db", path, "--participants", "100")
    assert_one_line_error(r, str(path), "--force")
    assert path.read_bytes() == b"precious"

    r = run(capsys, "demo-db", path, "--participants", "100", "--force")
    assert r.code == 0 and r.out == ""
    assert f"Created {path}" in r.err
    con = sqlite3.connect(path)
    assert con.execute("SELECT count(*) FROM participants").fetchone()[0] == 100
    con.close()


def test_demo_db_negative_participants(capsys: pytest.CaptureFixture[str],
                                       tmp_path: Path) -> None:
    path = tmp_path / "neg.db"
    assert_one_line_error(run(capsys, "demo-db", path, "--participants", "-1"),
                          "--participants")
    assert not path.exists()


def test_demo_runs_from_a_pristine_copy(capsys: pytest.CaptureFixture[str],
                                        tmp_path: Path) -> None:
    work = tmp_path / "demo-work"
    first = run(capsys, "demo", "--workdir", work, "--participants", "2000")
    assert first.code == 0, first.err
    assert "Generating" in first.err
    assert SUMMARY.search(first.out) and "  + " in first.out
    db, plan_file = work / "demo.db", work / "plan.sql"
    assert db.is_file() and plan_file.is_file()
    assert parse_plan_file(plan_file.read_text(encoding="utf-8")).intact
    pristine = list(work.glob("pristine-*.db"))
    assert len(pristine) == 1
    mtime = pristine[0].stat().st_mtime_ns
    digest = sha(pristine[0])
    # the demo applies the plan: a verified backup, then a second plan with no changes
    assert "Planning again" in first.out and "No changes" in first.out
    assert list((work / ".tuner-backups").glob("demo.db-*.db"))
    assert run(capsys, "plan", BOT, "--db", db, "--detailed-exitcode").code == 0

    second = run(capsys, "demo", "--workdir", work, "--participants", "2000")
    assert second.code == 0, second.err
    assert "Generating" not in second.err
    # it started over from the untouched pristine copy, so it had the same changes to make
    assert SUMMARY.search(second.out).groups() == SUMMARY.search(first.out).groups()
    assert pristine[0].stat().st_mtime_ns == mtime and sha(pristine[0]) == digest
    assert run(capsys, "plan", BOT, "--db", pristine[0], "--detailed-exitcode").code == 2


# -- the real console script and python -m tuner --------------------------------------------------
def test_console_script(tmp_path: Path) -> None:
    script = BIN / "tuner"
    version = subprocess.run([str(script), "--version"], capture_output=True, text=True,
                             timeout=60, cwd=tmp_path)
    assert version.returncode == 0 and tuner.__version__ in version.stdout
    usage = subprocess.run([str(script), "plan", "--no-such-flag"], capture_output=True,
                           text=True, timeout=60, cwd=tmp_path)
    assert usage.returncode == 1 and usage.stdout == ""
    assert usage.stderr.startswith("error: ") and usage.stderr.count("\n") == 1


def test_python_dash_m(tmp_path: Path) -> None:
    db = tmp_path / "missing.db"
    env = {k: v for k, v in os.environ.items() if k != "TUNER_DB"}
    proc = subprocess.run([sys.executable, "-m", "tuner", "plan", BOT, "--db", str(db)],
                          capture_output=True, text=True, timeout=60, cwd=tmp_path, env=env)
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr == f"error: {db}: no such database file\n"
    assert not db.exists()
    ok = subprocess.run([sys.executable, "-m", "tuner", "validate", BOT], capture_output=True,
                        text=True, timeout=60, cwd=tmp_path, env=env)
    assert ok.returncode == 0 and ok.stdout.startswith("ok: ")
