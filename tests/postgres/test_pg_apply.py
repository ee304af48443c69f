"""PostgreSQL apply session against a real server: the advisory lock, tuner.tuner_history, the
pg_dump backup with its settings snapshot and rollback script, and failures of steps that run
outside a transaction (CREATE INDEX CONCURRENTLY).

PostgreSQL inspection and planning are built elsewhere, so these tests apply hand-written plan
files (tests/pg_plans.py) through the engine-neutral apply flow, with a stand-in inspection that
reports the state the plans were made for. Every database is a real scratch database.
"""

from __future__ import annotations

import json
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import assert_error_last, run
from pg_plans import (
    EMPTY,
    HandStep,
    db_setting,
    dbname,
    hand_plan,
    history_rows,
    indexes,
    pg,
    qi,
    write_plan,
)

from tuner.apply import ApplyOptions, ApplyResult, apply_in_session
from tuner.engines.postgres.backup import rollback_script
from tuner.engines.postgres.engine import PostgresEngine
from tuner.engines.postgres.session import LOCK_KEY, PostgresApplySession
from tuner.errors import ApplyError, BackupError, DatabaseError, EngineError
from tuner.plantypes import Plan


@pytest.fixture
def url(pg_url: str) -> str:
    """A scratch database with a table `t` of 1000 rows, `dup` holding duplicates."""
    pg(pg_url, "CREATE TABLE t (id int PRIMARY KEY, a int, b text, dup int)")
    pg(pg_url, "INSERT INTO t SELECT g, g % 97, 'row ' || g, g % 3 FROM generate_series(1, 1000) g")
    return pg_url


@pytest.fixture
def stand_in_inspect(monkeypatch: pytest.MonkeyPatch) -> None:
    """PostgreSQL inspection is not on this branch yet: report the state plans are made for."""
    monkeypatch.setattr(PostgresEngine, "inspect", lambda self, target: EMPTY)


def session(url: str, options: ApplyOptions) -> PostgresApplySession:
    """An apply session whose stale check and read-back see the plans' state."""
    return PostgresApplySession(url, options, lambda: EMPTY)


def apply(url: str, plan: Plan, options: ApplyOptions) -> ApplyResult:
    """Apply `plan` through the engine-neutral flow; the session is always closed."""
    s = session(url, options)
    try:
        return apply_in_session(plan, s, options)
    finally:
        s.close()


def setting_step(url: str, name: str, value: str) -> HandStep:
    return HandStep("set_setting", name,
                    f"ALTER DATABASE {qi(dbname(url))} SET {qi(name)} = '{value}';")


def advisory_holders(url: str) -> int:
    """Sessions holding tuner's lock on this database (pg_locks shows every database of the
    server, where other test runs apply too): a bigint key is classid (high half), objid (low
    half)."""
    unsigned = LOCK_KEY & 0xFFFF_FFFF_FFFF_FFFF
    return pg(url, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objsubid = 1 "
                   "AND granted AND classid::bigint = %s AND objid::bigint = %s AND database = "
                   "(SELECT oid FROM pg_database WHERE datname = current_database())",
              [unsigned >> 32, unsigned & 0xFFFF_FFFF])[0][0]


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# -- the happy path: backup, history, steps, rollback script ---------------------------------
def test_apply_backs_up_records_history_and_runs_every_step(url: str, tmp_path: Path) -> None:
    pg(url, f"ALTER DATABASE {qi(dbname(url))} SET work_mem = '2MB'")
    plan = hand_plan([
        HandStep("create_index", "public.t_a", "CREATE INDEX IF NOT EXISTS t_a ON t (a);",
                 transactional=True),
        setting_step(url, "work_mem", "8MB"),
        HandStep("create_index", "public.t_b",
                 "CREATE INDEX CONCURRENTLY IF NOT EXISTS t_b ON t (b);"),
        HandStep("analyze", "public.t", "ANALYZE t;"),
    ])
    folder = tmp_path / "backups"
    result = apply(url, plan, ApplyOptions(backup_dir=folder))
    assert result.status == "applied"
    assert [s.number for s, _ in result.steps] == [1, 2, 3, 4]
    assert indexes(url) == {"t_pkey": True, "t_a": True, "t_b": True}
    assert db_setting(url, "work_mem") == "8MB"
    assert advisory_holders(url) == 0  # released at the end

    [row] = history_rows(url)
    assert row["operation"] == "apply" and row["status"] == "applied"
    assert row["steps_total"] == 4 and row["steps_applied"] == 4
    assert row["plan_sha256"] == plan.plan_hash and row["profile_name"] == "hand"
    assert row["finished_at"] and row["failed_step"] is None
    assert row["backup_path"] == str(result.backup.path)

    # the backup: one owner-only folder of three owner-only files
    backup = result.backup.path
    assert backup.parent == folder.absolute() and mode(backup) == 0o700 and mode(folder) == 0o700
    assert sorted(p.name for p in backup.iterdir()) == ["rollback.sql", "schema.sql",
                                                        "settings.json"]
    assert all(mode(p) == 0o600 for p in backup.iterdir())
    assert "CREATE TABLE public.t" in (backup / "schema.sql").read_text()
    snapshot = json.loads((backup / "settings.json").read_text())
    [work_mem] = snapshot["settings"]
    assert work_mem["name"] == "work_mem" and work_mem["database_value"] == "2MB"
    assert work_mem["context"] == "user" and work_mem["scope"] == "database"
    assert {(o["kind"], o["name"], o["definition"]) for o in snapshot["objects"]} == {
        ("index", "t_a", None), ("index", "t_b", None)}

    # the rollback script puts the old database-level value back and drops the new indexes
    script = (backup / "rollback.sql").read_text()
    assert f"ALTER DATABASE {qi(dbname(url))} SET \"work_mem\" = '2MB';" in script
    psql = subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-f",
                           str(backup / "rollback.sql"), url], capture_output=True, text=True)
    assert psql.returncode == 0, psql.stderr
    assert db_setting(url, "work_mem") == "2MB"
    assert indexes(url) == {"t_pkey": True}


def test_rollback_script_resets_a_setting_that_had_no_database_value(url: str,
                                                                     tmp_path: Path) -> None:
    pg(url, "CREATE INDEX t_a ON t (a)")
    pg(url, "CREATE VIEW v AS SELECT id, a FROM t")
    plan = hand_plan([HandStep("drop_view", "v", "DROP VIEW v;", True),
                      HandStep("create_view", "v", "CREATE VIEW v AS SELECT b, id FROM t;", True),
                      setting_step(url, "work_mem", "16MB"),
                      HandStep("drop_index", "t_a", "DROP INDEX CONCURRENTLY IF EXISTS t_a;")])
    result = apply(url, plan, ApplyOptions(backup_dir=tmp_path))
    assert db_setting(url, "work_mem") == "16MB" and "t_a" not in indexes(url)
    script = (result.backup.path / "rollback.sql").read_text()
    assert f"ALTER DATABASE {qi(dbname(url))} RESET \"work_mem\";" in script
    assert "CREATE INDEX t_a ON public.t USING btree (a);" in script
    psql = subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-f",
                           str(result.backup.path / "rollback.sql"), url],
                          capture_output=True, text=True)
    assert psql.returncode == 0, psql.stderr
    assert db_setting(url, "work_mem") is None and indexes(url)["t_a"] is True
    assert [r[0] for r in pg(url, "SELECT attname FROM pg_attribute WHERE attrelid = 'v'::regclass "
                                  "ORDER BY attnum")] == ["id", "a"]


def test_full_backup_mode_dumps_the_data_with_pg_dump_custom_format(url: str,
                                                                    tmp_path: Path) -> None:
    plan = hand_plan([HandStep("create_index", "t_a", "CREATE INDEX t_a ON t (a);", True)])
    result = apply(url, plan, ApplyOptions(backup_dir=tmp_path, backup_mode="full"))
    dump = result.backup.path / "database.dump"
    assert mode(dump) == 0o600 and dump.read_bytes()[:5] == b"PGDMP"
    listing = subprocess.run(["pg_restore", "--list", str(dump)], capture_output=True,
                             text=True, check=True).stdout
    assert "TABLE DATA public t" in listing


def test_history_command_lists_postgres_applies(capsys: pytest.CaptureFixture[str], url: str,
                                                tmp_path: Path) -> None:
    r = run(capsys, "history", "--db", url)
    assert r.code == 0 and "No applies recorded." in r.out
    assert json.loads(run(capsys, "history", "--db", url, "--format", "json").out) == []
    apply(url, hand_plan([HandStep("create_index", "t_a", "CREATE INDEX t_a ON t (a);",
                                   True)]), ApplyOptions(no_backup=True))
    r = run(capsys, "history", "--db", url)
    assert r.code == 0 and "apply      applied  hand v1" in r.out and "(no backup)" in r.out
    [row] = json.loads(run(capsys, "history", "--db", url, "--format", "json").out)
    assert row["status"] == "applied" and row["no_backup"] == 1 and row["steps_applied"] == 1


def test_cli_apply_of_a_saved_plan(capsys: pytest.CaptureFixture[str], url: str, tmp_path: Path,
                                   stand_in_inspect: None) -> None:
    plan = write_plan(tmp_path / "plan.sql", [
        HandStep("create_index", "t_b", "CREATE INDEX CONCURRENTLY IF NOT EXISTS t_b ON t (b);")])
    r = run(capsys, "apply", "--plan", plan, "--db", url, "--yes", "--backup-dir",
            tmp_path / "b", "--format", "json")
    assert r.code == 0, r.err
    data = json.loads(r.out)
    assert data["status"] == "applied" and [s["number"] for s in data["steps"]] == [1]
    assert Path(data["backup"], "rollback.sql").is_file()
    assert indexes(url)["t_b"] is True


def test_cli_apply_failure_is_one_line_naming_what_ran(capsys: pytest.CaptureFixture[str],
                                                      url: str, tmp_path: Path,
                                                      stand_in_inspect: None) -> None:
    plan = write_plan(tmp_path / "plan.sql", [
        HandStep("create_index", "t_b", "CREATE INDEX CONCURRENTLY IF NOT EXISTS t_b ON t (b);"),
        HandStep("create_index", "t_dup", "CREATE UNIQUE INDEX CONCURRENTLY t_dup ON t (dup);"),
        HandStep("analyze", "t", "ANALYZE t;")])
    r = run(capsys, "apply", "--plan", plan, "--db", url, "--yes", "--backup-dir",
            tmp_path / "b")
    assert_error_last(r, "step 2 (create_index t_dup) failed", "step 1 was applied and stays",
                      "step 3 was not run", "invalid index", "Backup: ")
    [row] = history_rows(url)
    assert row["status"] == "failed" and row["failed_step"] == 2
    assert advisory_holders(url) == 0


# -- locking ----------------------------------------------------------------------------------
def test_a_second_apply_is_refused_while_the_first_holds_the_lock(
        capsys: pytest.CaptureFixture[str], url: str, tmp_path: Path) -> None:
    first = session(url, ApplyOptions())
    try:
        pid = first.conn.info.backend_pid
        with pytest.raises(DatabaseError) as exc:
            session(url, ApplyOptions())
        message = str(exc.value)
        assert "another tuner apply is running" in message and "nothing was changed" in message
        assert f"pid {pid}" in message and "'tuner apply'" in message and "\n" not in message
        # the CLI says the same in one line, and changes nothing
        plan = write_plan(tmp_path / "plan.sql", [
            HandStep("create_index", "t_a", "CREATE INDEX t_a ON t (a);", True)])
        r = run(capsys, "apply", "--plan", plan, "--db", url, "--yes")
        assert_error_last(r, "another tuner apply is running", f"pid {pid}")
        assert "t_a" not in indexes(url) and history_rows(url) == []
        assert not (tmp_path / ".tuner-backups").exists()
    finally:
        first.close()
    assert advisory_holders(url) == 0
    session(url, ApplyOptions()).close()  # free again


def test_the_lock_is_visible_while_held(url: str) -> None:
    s = session(url, ApplyOptions())
    try:
        assert advisory_holders(url) == 1
    finally:
        s.close()
    assert advisory_holders(url) == 0


def test_the_lock_is_per_database(url: str, pg_admin_url: str) -> None:
    other = session(pg_admin_url, ApplyOptions())
    try:
        session(url, ApplyOptions()).close()
    finally:
        other.close()


# -- pg_dump checks, before any change ----------------------------------------------------------
@pytest.fixture
def bare_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """PATH is one empty folder: no pg_dump."""
    folder = tmp_path / "bin"
    folder.mkdir()
    monkeypatch.setenv("PATH", str(folder))
    yield folder


def assert_nothing_changed(url: str, backups: Path) -> None:
    assert indexes(url) == {"t_pkey": True}
    assert history_rows(url) == []
    assert pg(url, "SELECT to_regnamespace('tuner')")[0][0] is None
    assert not backups.exists() or not any(backups.iterdir())
    assert advisory_holders(url) == 0


def test_missing_pg_dump_fails_before_any_change(url: str, tmp_path: Path,
                                                 bare_path: Path) -> None:
    plan = hand_plan([HandStep("create_index", "t_a", "CREATE INDEX t_a ON t (a);", True)])
    backups = tmp_path / "backups"
    with pytest.raises(BackupError) as exc:
        apply(url, plan, ApplyOptions(backup_dir=backups))
    message = str(exc.value)
    assert "pg_dump not found on PATH" in message and "nothing was changed" in message
    assert "postgresql-client-" in message and "\n" not in message
    assert_nothing_changed(url, backups)


def test_pg_dump_older_than_the_server_fails_before_any_change(url: str, tmp_path: Path,
                                                               bare_path: Path) -> None:
    fake = bare_path / "pg_dump"
    fake.write_text("#!/bin/sh\necho 'pg_dump (PostgreSQL) 9.6.24'\n")
    fake.chmod(0o755)
    plan = hand_plan([HandStep("create_index", "t_a", "CREATE INDEX t_a ON t (a);", True)])
    backups = tmp_path / "backups"
    with pytest.raises(BackupError, match=r"pg_dump 9\.6\.24 is older than the server"):
        apply(url, plan, ApplyOptions(backup_dir=backups))
    assert_nothing_changed(url, backups)


def test_no_backup_needs_no_pg_dump(url: str, bare_path: Path) -> None:
    plan = hand_plan([HandStep("create_index", "t_a", "CREATE INDEX t_a ON t (a);", True)])
    result = apply(url, plan, ApplyOptions(no_backup=True))
    assert result.status == "applied" and result.backup is None
    assert history_rows(url)[0]["no_backup"] == 1


# -- failures -----------------------------------------------------------------------------------
def test_failing_concurrent_step_reports_what_ran(url: str, tmp_path: Path) -> None:
    plan = hand_plan([
        HandStep("create_index", "t_a", "CREATE INDEX IF NOT EXISTS t_a ON t (a);", True),
        HandStep("create_index", "t_b", "CREATE INDEX CONCURRENTLY IF NOT EXISTS t_b ON t (b);"),
        HandStep("create_index", "t_dup",
                 "CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS t_dup ON t (dup);"),
        HandStep("analyze", "t", "ANALYZE t;"),
    ])
    with pytest.raises(ApplyError) as exc:
        apply(url, plan, ApplyOptions(backup_dir=tmp_path / "b"))
    err = exc.value
    assert err.step == 3 and err.applied == [1, 2] and "t_dup" in (err.sql or "")
    message = str(err)
    assert "\n" not in message and "could not create unique index" in message
    assert "steps 1, 2 were applied and stay" in message and "step 4 was not run" in message
    assert f"Backup: {err.backup}" in message and Path(err.backup, "rollback.sql").is_file()
    [row] = history_rows(url)
    assert row["status"] == "failed" and row["failed_step"] == 3 and row["steps_applied"] == 2
    assert row["failed_sql"].startswith("CREATE UNIQUE INDEX CONCURRENTLY")
    assert row["error"] == message and row["finished_at"]
    assert advisory_holders(url) == 0
    # PostgreSQL leaves the failed concurrent build behind as an invalid index
    assert indexes(url) == {"t_pkey": True, "t_a": True, "t_b": True, "t_dup": False}


def test_failing_transactional_step_rolls_back_the_whole_phase(url: str,
                                                               tmp_path: Path) -> None:
    plan = hand_plan([
        HandStep("create_index", "t_a", "CREATE INDEX t_a ON t (a);", True),
        HandStep("create_index", "t_dup", "CREATE UNIQUE INDEX t_dup ON t (dup);", True),
        HandStep("create_index", "t_b", "CREATE INDEX CONCURRENTLY t_b ON t (b);"),
    ])
    with pytest.raises(ApplyError) as exc:
        apply(url, plan, ApplyOptions(no_backup=True))
    assert exc.value.step == 2 and exc.value.applied == []
    assert "rolled back" in str(exc.value)
    assert indexes(url) == {"t_pkey": True}
    [row] = history_rows(url)
    assert row["status"] == "failed" and row["steps_applied"] == 0 and row["failed_step"] == 2
    assert advisory_holders(url) == 0


def test_keep_prunes_only_this_databases_backup_folders(url: str, tmp_path: Path) -> None:
    folder = tmp_path / "b"
    folder.mkdir()
    (folder / "unrelated").mkdir()
    made = []
    for name in ("t_a", "t_b", "t_c"):
        pg(url, "DROP INDEX IF EXISTS t_a, t_b, t_c")
        plan = hand_plan([HandStep("create_index", name, f"CREATE INDEX {name} ON t (a);",
                                   True)])
        made.append(apply(url, plan, ApplyOptions(backup_dir=folder, keep=2)))
    assert made[-1].pruned == [made[0].backup.path]
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        ["unrelated", made[1].backup.path.name, made[2].backup.path.name])


def test_restore_of_a_postgres_backup_says_how(capsys: pytest.CaptureFixture[str], url: str,
                                               tmp_path: Path) -> None:
    r = run(capsys, "restore", tmp_path / "some-backup", "--db", url, "--yes")
    assert_error_last(r, "rollback.sql", "psql")
    with pytest.raises(EngineError):
        PostgresEngine().restore_backup(tmp_path, url, backup_dir=None, keep=1,
                                        verify="quick", busy_timeout_ms=0)



def test_a_table_locked_beyond_the_busy_timeout_fails_the_backup_before_any_change(
        url: str, tmp_path: Path) -> None:
    import psycopg

    backups = tmp_path / "backups"
    with psycopg.connect(url) as holder:  # a transaction holding ACCESS EXCLUSIVE on t
        holder.execute("LOCK TABLE t IN ACCESS EXCLUSIVE MODE")
        plan = hand_plan([HandStep("create_index", "t_b",
                                   "CREATE INDEX CONCURRENTLY t_b ON t (b);")])
        with pytest.raises(BackupError) as exc:
            apply(url, plan, ApplyOptions(backup_dir=backups, busy_timeout_ms=300))
        holder.rollback()
    assert "--busy-timeout" in str(exc.value) and "nothing was changed" in str(exc.value)
    assert_nothing_changed(url, backups)


def test_a_second_apply_during_a_running_apply_is_refused(url: str, tmp_path: Path) -> None:
    """Two real applies at once: the first one sleeps in a step while holding the lock."""
    import threading

    slow = hand_plan([HandStep("analyze", "t", "SELECT pg_sleep(1.5);")])
    done: list[ApplyResult] = []
    first = threading.Thread(target=lambda: done.append(
        apply(url, slow, ApplyOptions(no_backup=True))))
    first.start()
    try:
        for _ in range(100):  # until the first apply holds the lock
            if advisory_holders(url):
                break
            threading.Event().wait(0.05)
        with pytest.raises(DatabaseError, match="another tuner apply is running"):
            apply(url, hand_plan([HandStep("create_index", "t_a", "CREATE INDEX t_a ON t (a);",
                                           True)]), ApplyOptions(no_backup=True))
    finally:
        first.join(timeout=30)
    assert done and done[0].status == "applied"
    assert [r["status"] for r in history_rows(url)] == ["applied"]
    assert "t_a" not in indexes(url) and advisory_holders(url) == 0


def test_a_plan_for_one_engine_is_refused_on_the_other(capsys: pytest.CaptureFixture[str],
                                                       tmp_path: Path) -> None:
    import sqlite3

    db = tmp_path / "bot.db"
    sqlite3.connect(db).close()
    plan = write_plan(tmp_path / "plan.sql", [HandStep("analyze", "t", "SELECT 1;")])
    r = run(capsys, "apply", "--plan", plan, "--db", db, "--yes")
    assert_error_last(r, "made for a postgresql database", str(db), "sqlite")


def rollback_of(setting: dict) -> str:
    base = {"name": "x", "setting": "1", "unit": None, "source": "default", "context": "sighup",
            "scope": "system", "database_value": None, "system_readable": True,
            "system_value": None, "was": "1 (source: default)"}
    return rollback_script({"database": "app", "plan_sha256": "ab" * 32, "taken_at": "now",
                            "settings": [{**base, **setting}], "objects": []})


def test_rollback_script_for_system_settings() -> None:
    """ALTER SYSTEM is server-wide: rendered, not run, on the shared test server."""
    reset = rollback_of({"name": "random_page_cost"})
    assert 'ALTER SYSTEM RESET "random_page_cost";' in reset
    assert reset.rstrip().endswith("SELECT pg_reload_conf();")
    put_back = rollback_of({"name": "shared_buffers", "context": "postmaster",
                            "system_value": "1GB"})
    assert "ALTER SYSTEM SET \"shared_buffers\" = '1GB';" in put_back
    assert "only after a server restart" in put_back
    unknown = rollback_of({"name": "random_page_cost", "system_readable": False})
    assert "\nALTER SYSTEM" not in unknown
    assert '-- ALTER SYSTEM RESET "random_page_cost";' in unknown
    injected = rollback_of({"name": "work_mem", "context": "user", "scope": "database",
                            "database_value": "1MB'; DROP TABLE t; --"})
    assert "'1MB''; DROP TABLE t; --'" in injected and "pg_reload_conf" not in injected
