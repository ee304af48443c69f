"""PostgreSQL through the whole CLI, against the real server: a saved plan refused as stale after
someone else's DDL or settings change; a non-superuser role meeting permission errors; a failed
concurrent build that leaves an invalid index, converging on the next apply; and views with
undeclared dependents recreated, never silently dropped."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import assert_error_last, run, write
from pg_plans import db_setting, dbname, history_rows, indexes, pg, qi
from test_pg_apply import advisory_holders

PROFILE = """\
profile: harden
version: 1
engine: postgresql
settings:
  work_mem: 16MB
indexes:
  - name: t_a
    table: t
    columns: [a]
"""


@pytest.fixture
def url(pg_url: str) -> str:
    """A scratch database with a table `t` of 100 rows."""
    pg(pg_url, "CREATE TABLE t (id int PRIMARY KEY, a int, b int)")
    pg(pg_url, "INSERT INTO t SELECT g, g % 7, g % 3 FROM generate_series(1, 100) g")
    return pg_url


def with_user(url: str, user: str) -> str:
    """`url` connecting as `user` (trust auth: no password)."""
    scheme, rest = url.split("://", 1)
    return f"{scheme}://{user}@{rest.split('@', 1)[1]}"


# -- stale plans --------------------------------------------------------------------------------
def saved_plan(capsys: pytest.CaptureFixture[str], url: str, tmp_path: Path,
               profile: str = PROFILE) -> tuple[Path, Path]:
    path = write(tmp_path / "harden.yaml", profile)
    plan = tmp_path / "plan.sql"
    r = run(capsys, "plan", path, "--db", url, "--out", plan)
    assert r.code == 0, r.err
    return path, plan


def assert_refused_unchanged(capsys: pytest.CaptureFixture[str], url: str, plan: Path,
                             tmp_path: Path, *fragments: str) -> None:
    before = (indexes(url), db_setting(url, "work_mem"))
    r = run(capsys, "apply", "--plan", plan, "--db", url, "--yes", "--backup-dir",
            tmp_path / "backups")
    assert_error_last(r, "stale plan", "nothing was changed", *fragments)
    assert (indexes(url), db_setting(url, "work_mem")) == before
    assert history_rows(url) == [] and advisory_holders(url) == 0
    assert not (tmp_path / "backups").exists() or not any((tmp_path / "backups").iterdir())


def test_a_plan_is_stale_after_someone_creates_an_index(
        capsys: pytest.CaptureFixture[str], url: str, tmp_path: Path) -> None:
    _, plan = saved_plan(capsys, url, tmp_path)
    pg(url, "CREATE INDEX t_b ON t (b)")
    assert_refused_unchanged(capsys, url, plan, tmp_path, "index t_b was added")
    pg(url, "DROP INDEX t_b")  # back as it was: the plan applies
    r = run(capsys, "apply", "--plan", plan, "--db", url, "--yes", "--no-backup")
    assert r.code == 0, r.err
    assert indexes(url)["t_a"] is True and db_setting(url, "work_mem") == "16MB"


def test_a_stale_plan_without_a_terminal_or_yes_is_refused_as_stale(
        capsys: pytest.CaptureFixture[str], url: str, tmp_path: Path) -> None:
    _, plan = saved_plan(capsys, url, tmp_path)
    pg(url, "CREATE INDEX t_b ON t (b)")
    proc = subprocess.run([sys.executable, "-m", "tuner", "apply", "--plan", str(plan), "--db",
                           url], stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=60, cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("error: stale plan") and "index t_b was added" in last, proc.stderr
    assert "--yes" not in proc.stderr and proc.stdout == ""
    assert "t_a" not in indexes(url) and history_rows(url) == []
    assert advisory_holders(url) == 0


def test_a_plan_is_stale_after_someone_changes_a_setting_it_touches(
        capsys: pytest.CaptureFixture[str], url: str, tmp_path: Path) -> None:
    _, plan = saved_plan(capsys, url, tmp_path)
    pg(url, f"ALTER DATABASE {qi(dbname(url))} SET work_mem = '8MB'")
    assert_refused_unchanged(capsys, url, plan, tmp_path, "setting work_mem was set to 8MB",
                             "over the default 4MB")


def test_a_plan_is_stale_even_when_the_new_setting_equals_the_default(
        capsys: pytest.CaptureFixture[str], url: str, tmp_path: Path) -> None:
    """An explicit value that equals the default still changes what the database holds (and
    what a rollback must restore)."""
    _, plan = saved_plan(capsys, url, tmp_path)
    pg(url, f"ALTER DATABASE {qi(dbname(url))} SET work_mem = '4MB'")
    assert_refused_unchanged(capsys, url, plan, tmp_path, "setting work_mem was set to 4MB")


def test_a_plan_is_stale_after_a_touched_setting_is_changed_or_reset(
        capsys: pytest.CaptureFixture[str], url: str, tmp_path: Path) -> None:
    pg(url, f"ALTER DATABASE {qi(dbname(url))} SET work_mem = '2MB'")
    _, plan = saved_plan(capsys, url, tmp_path)
    pg(url, f"ALTER DATABASE {qi(dbname(url))} SET work_mem = '3MB'")
    assert_refused_unchanged(capsys, url, plan, tmp_path,
                             "setting work_mem changed: 2MB -> 3MB")
    pg(url, f"ALTER DATABASE {qi(dbname(url))} RESET work_mem")
    assert_refused_unchanged(capsys, url, plan, tmp_path,
                             "setting work_mem was reset (it was set to 2MB)")


# -- a role that is not a superuser ---------------------------------------------------------------
@pytest.fixture
def app_role(url: str, pg_admin_url: str) -> Iterator[str]:
    """A LOGIN role without superuser, shaped like an application's role on a managed
    service: it owns table `t` and may create in schema public and in the database (tuner's
    history schema), but owns neither the database nor anything server-wide. Returns a URL
    connecting as it; the role is dropped afterwards."""
    role = f"tuner_app_{uuid.uuid4().hex[:8]}"
    pg(pg_admin_url, f"CREATE ROLE {qi(role)} LOGIN NOSUPERUSER")
    try:
        pg(url, f"GRANT CREATE ON DATABASE {qi(dbname(url))} TO {qi(role)}")
        pg(url, f"GRANT CREATE ON SCHEMA public TO {qi(role)}")
        pg(url, f"ALTER TABLE t OWNER TO {qi(role)}")
        yield with_user(url, role)
    finally:
        pg(url, f"REASSIGN OWNED BY {qi(role)} TO CURRENT_USER")
        pg(url, f"DROP OWNED BY {qi(role)} CASCADE")
        pg(pg_admin_url, f"DROP ROLE IF EXISTS {qi(role)}")


SYSTEM_PROFILE = """\
profile: managed
version: 1
engine: postgresql
settings:
  # sighup: ALTER SYSTEM, which the role may not run (nothing is written to the server)
  log_autovacuum_min_duration: 10s
  work_mem: 16MB
indexes:
  - name: t_a
    table: t
    columns: [a]
"""


def test_alter_system_denied_to_a_non_superuser(capsys: pytest.CaptureFixture[str], url: str,
                                                app_role: str, tmp_path: Path) -> None:
    profile = write(tmp_path / "managed.yaml", SYSTEM_PROFILE)
    r = run(capsys, "plan", profile, "--db", app_role)
    assert r.code == 0, r.err
    assert "setting log_autovacuum_min_duration: ALTER SYSTEM needs superuser" in r.out
    assert "setting work_mem: ALTER DATABASE SET needs the database's owner" in r.out

    r = run(capsys, "apply", profile, "--db", app_role, "--yes", "--server-settings",
            "--backup-dir", tmp_path / "b")
    assert_error_last(r, "(set_setting log_autovacuum_min_duration) failed",
                      'permission denied to set parameter "log_autovacuum_min_duration"',
                      "GRANT ALTER SYSTEM ON PARAMETER log_autovacuum_min_duration",
                      "step 1 was applied and stays", "were not run", "Backup: ")
    backup = r.err.rstrip().rsplit("Backup: ", 1)[1]
    assert Path(backup, "rollback.sql").is_file() and Path(backup, "schema.sql").is_file()
    # the concurrent index build ran outside any transaction and stays; nothing else ran
    assert indexes(url) == {"t_pkey": True, "t_a": True}
    assert db_setting(url, "work_mem") is None
    [row] = history_rows(url)
    assert row["status"] == "failed" and row["steps_applied"] == 1
    assert row["failed_step"] == 2 and row["backup_path"] == backup
    assert row["failed_sql"].startswith("ALTER SYSTEM SET")
    assert advisory_holders(url) == 0
    # history reads as the role too
    r = run(capsys, "history", "--db", app_role)
    assert r.code == 0 and "failed" in r.out


def test_alter_database_denied_to_a_role_that_does_not_own_it(
        capsys: pytest.CaptureFixture[str], url: str, app_role: str, tmp_path: Path) -> None:
    profile = write(tmp_path / "harden.yaml", PROFILE)
    r = run(capsys, "apply", profile, "--db", app_role, "--yes", "--no-backup")
    assert_error_last(r, "(set_setting work_mem) failed", "must be owner of database",
                      "setting work_mem: ALTER DATABASE ... SET needs the database's owner",
                      "step 1 was applied and stays")
    assert indexes(url)["t_a"] is True and db_setting(url, "work_mem") is None
    assert [row["status"] for row in history_rows(url)] == ["failed"]
    # an owner applies the rest: the plan converges
    role = app_role.split("://", 1)[1].split("@", 1)[0]
    pg(url, f"ALTER DATABASE {qi(dbname(url))} OWNER TO {qi(role)}")
    r = run(capsys, "apply", profile, "--db", app_role, "--yes", "--no-backup")
    assert r.code == 0, r.err
    assert run(capsys, "plan", profile, "--db", app_role, "--detailed-exitcode").code == 0


def test_pg_dump_denied_fails_clearly_before_any_change(
        capsys: pytest.CaptureFixture[str], url: str, app_role: str, tmp_path: Path) -> None:
    pg(url, "CREATE TABLE secret (x int)")  # owned by the superuser, not granted to the role
    profile = write(tmp_path / "harden.yaml", PROFILE)
    r = run(capsys, "apply", profile, "--db", app_role, "--yes", "--backup-dir",
            tmp_path / "b")
    assert_error_last(r, "pg_dump failed", "permission denied for table secret",
                      "--no-backup", "nothing was changed")
    assert indexes(url) == {"t_pkey": True} and history_rows(url) == []
    assert not (tmp_path / "b").exists() or not any((tmp_path / "b").iterdir())
    assert advisory_holders(url) == 0


# -- a failed concurrent build, then a re-run -----------------------------------------------------
UNIQUE_PROFILE = """\
profile: unique
version: 1
engine: postgresql
indexes:
  - name: t_a
    table: t
    columns: [a]
  - name: t_b_unique
    table: t
    columns: [b]
    unique: true
  - name: t_id_b
    table: t
    columns: [id, b]
"""


def test_a_failed_unique_build_leaves_an_invalid_index_and_the_next_apply_converges(
        capsys: pytest.CaptureFixture[str], url: str, tmp_path: Path) -> None:
    profile = write(tmp_path / "unique.yaml", UNIQUE_PROFILE)
    r = run(capsys, "apply", profile, "--db", url, "--yes", "--backup-dir", tmp_path / "b")
    assert_error_last(r, "(create_index t_b_unique) failed", "could not create unique index",
                      "invalid index", "step 1 was applied and stays", "were not run",
                      "Backup: ")
    assert indexes(url) == {"t_pkey": True, "t_a": True, "t_b_unique": False}
    assert [row["status"] for row in history_rows(url)] == ["failed"]

    # planning sees the invalid index: still duplicates, so the rebuild would fail again
    r = run(capsys, "plan", profile, "--db", url, "--detailed-exitcode")
    assert r.code == 2 and "t_b_unique on t is INVALID" in r.out
    assert "the live index is INVALID" in r.out

    pg(url, "UPDATE t SET b = id")  # the data fixed: b is unique now
    r = run(capsys, "apply", profile, "--db", url, "--yes", "--backup-dir", tmp_path / "b")
    assert r.code == 0, r.err
    assert indexes(url) == {"t_pkey": True, "t_a": True, "t_b_unique": True, "t_id_b": True}
    assert pg(url, "SELECT indisunique FROM pg_index WHERE indexrelid = 't_b_unique'::regclass"
              ) == [(True,)]
    assert run(capsys, "plan", profile, "--db", url, "--detailed-exitcode").code == 0
    assert [row["status"] for row in history_rows(url)] == ["failed", "applied"]


# -- views with dependents ------------------------------------------------------------------------
VIEWS_PROFILE = """\
profile: views
version: 1
engine: postgresql
views:
  # n becomes integer: CREATE OR REPLACE VIEW cannot change a column's type, so counts is
  # dropped and created, and with it busy_events, which reads it and is not declared
  - name: counts
    sql: SELECT event_id, count(*)::int AS n FROM participants GROUP BY event_id
"""


def view_def(url: str, name: str) -> str | None:
    found = pg(url, "SELECT pg_get_viewdef(to_regclass(%s))", [name])
    return found[0][0] if found and found[0][0] else None


def test_an_undeclared_dependent_view_is_recreated_by_apply(
        capsys: pytest.CaptureFixture[str], pg_url: str, tmp_path: Path) -> None:
    url = pg_url
    pg(url, "CREATE TABLE participants (id serial PRIMARY KEY, event_id int, status text)")
    pg(url, "INSERT INTO participants (event_id, status) SELECT g % 5, 'ok' "
            "FROM generate_series(1, 100) g")
    pg(url, "CREATE VIEW counts AS SELECT event_id, count(*) AS n FROM participants "
            "GROUP BY event_id")
    pg(url, "CREATE VIEW busy_events AS SELECT event_id, n FROM counts WHERE n > 10")
    pg(url, "CREATE VIEW busy_ids AS SELECT event_id FROM busy_events")
    before = {v: view_def(url, v) for v in ("busy_events", "busy_ids")}
    profile = write(tmp_path / "views.yaml", VIEWS_PROFILE)

    r = run(capsys, "plan", profile, "--db", url)
    assert r.code == 0, r.err
    assert "reads view counts, which is dropped and created again; recreated verbatim" in r.out
    assert "reads view busy_events, which is dropped and created again" in r.out

    r = run(capsys, "apply", profile, "--db", url, "--yes", "--backup-dir", tmp_path / "b")
    assert r.code == 0, r.err
    # both dependents are back, as they were (busy_events now sees n as integer)
    assert {v: view_def(url, v) for v in ("busy_events", "busy_ids")} == before
    assert pg(url, "SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE "
                   "attrelid = 'busy_events'::regclass AND attname = 'n'") == [("integer",)]
    assert pg(url, "SELECT count(*) FROM busy_ids") == [(5,)]
    assert run(capsys, "plan", profile, "--db", url, "--detailed-exitcode").code == 0


def acl(url: str, view: str) -> tuple:
    return pg(url, "SELECT pg_get_userbyid(relowner), relacl::text[], obj_description(oid) "
                   "FROM pg_class WHERE oid = to_regclass(%s)", [view])[0]


def test_a_recreated_view_gets_its_owner_privileges_and_comment_back(
        capsys: pytest.CaptureFixture[str], pg_url: str, pg_admin_url: str,
        tmp_path: Path) -> None:
    """DROP VIEW takes a view's GRANTs, owner and comment with it: an application reading a
    view recreated without its GRANT would fail. The plan puts them back."""
    url = pg_url
    role = f"tuner_reader_{uuid.uuid4().hex[:8]}"
    pg(pg_admin_url, f"CREATE ROLE {qi(role)} NOLOGIN")
    try:
        pg(url, "CREATE TABLE participants (id serial PRIMARY KEY, event_id int)")
        pg(url, "CREATE VIEW counts AS SELECT event_id, count(*) AS n FROM participants "
                "GROUP BY event_id")
        pg(url, "CREATE VIEW busy_events AS SELECT event_id, n FROM counts WHERE n > 10")
        pg(url, f"GRANT SELECT ON counts TO {qi(role)} WITH GRANT OPTION")
        pg(url, "GRANT SELECT ON busy_events TO PUBLIC")
        pg(url, f"GRANT SELECT ON participants TO {qi(role)}")
        pg(url, f"ALTER VIEW busy_events OWNER TO {qi(role)}")
        pg(url, "COMMENT ON VIEW busy_events IS 'it''s; for the dashboard'")
        before = {v: acl(url, v) for v in ("counts", "busy_events")}
        profile = write(tmp_path / "views.yaml", VIEWS_PROFILE)
        r = run(capsys, "plan", profile, "--db", url, "--format", "sql")
        assert f'GRANT SELECT ON "public"."counts" TO "{role}" WITH GRANT OPTION;' in r.out
        assert f'ALTER VIEW "public"."busy_events" OWNER TO "{role}";' in r.out
        assert "its owner, privileges and comment are put back" in r.out
        r = run(capsys, "apply", profile, "--db", url, "--yes", "--no-backup")
        assert r.code == 0, r.err
        assert {v: acl(url, v) for v in ("counts", "busy_events")} == before
        assert run(capsys, "plan", profile, "--db", url, "--detailed-exitcode").code == 0
    finally:
        pg(url, f"DROP OWNED BY {qi(role)} CASCADE")
        pg(pg_admin_url, f"DROP ROLE IF EXISTS {qi(role)}")


def test_a_failing_view_step_rolls_back_every_view_drop(
        capsys: pytest.CaptureFixture[str], pg_url: str, tmp_path: Path) -> None:
    """Views run in one transaction: when creating one fails after its dependents were dropped
    (here an event trigger refuses CREATE VIEW once the plan is saved), they all come back."""
    url = pg_url
    pg(url, "CREATE TABLE participants (id serial PRIMARY KEY, event_id int)")
    pg(url, "CREATE VIEW counts AS SELECT event_id, count(*) AS n FROM participants "
            "GROUP BY event_id")
    pg(url, "CREATE VIEW busy_events AS SELECT event_id, n FROM counts WHERE n > 10")
    before = {v: view_def(url, v) for v in ("counts", "busy_events")}
    profile = write(tmp_path / "views.yaml", VIEWS_PROFILE)
    plan = tmp_path / "plan.sql"
    assert run(capsys, "plan", profile, "--db", url, "--out", plan).code == 0
    pg(url, "CREATE FUNCTION no_views() RETURNS event_trigger LANGUAGE plpgsql AS $$ BEGIN "
            "RAISE EXCEPTION 'no new views today'; END $$")
    pg(url, "CREATE EVENT TRIGGER no_views ON ddl_command_start WHEN TAG IN ('CREATE VIEW') "
            "EXECUTE FUNCTION no_views()")
    r = run(capsys, "apply", "--plan", plan, "--db", url, "--yes", "--backup-dir",
            tmp_path / "b")
    assert_error_last(r, "(replace_view counts) failed", "no new views today",
                      "the transaction was rolled back", "Backup: ")
    assert {v: view_def(url, v) for v in ("counts", "busy_events")} == before
    [row] = history_rows(url)
    assert row["status"] == "failed" and row["steps_applied"] == 0
    pg(url, "DROP EVENT TRIGGER no_views")
    r = run(capsys, "apply", "--plan", plan, "--db", url, "--yes", "--no-backup")
    assert r.code == 0, r.err
    assert run(capsys, "plan", profile, "--db", url, "--detailed-exitcode").code == 0
