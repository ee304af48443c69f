"""PostgreSQL settings: the bundled catalog, unit normalization for every unit family (checked
against the server itself), scopes from pg_settings.context, restart-required settings that
are written once and then reported as pending, and unknown names refused."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import assert_error_last, run, write
from pg_helpers import run_plan_file

from tuner import load_profile, make_plan, render_plan_file
from tuner.engines.postgres.inspect import write_catalog
from tuner.engines.postgres.settings import catalog, render_value
from tuner.errors import ProfileError
from tuner.planfile import render_body
from tuner.resources import data_dir

UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"


def test_bundled_catalog_matches_the_server(pg_admin_url: str) -> None:
    """Every GUC of the test server is in sql/postgresql/settings.json with the same context,
    type and unit. UPDATE_GOLDEN=1 regenerates the file from the server."""
    import psycopg

    if UPDATE:
        write_catalog(pg_admin_url)
    with psycopg.connect(pg_admin_url) as conn:
        live = conn.execute("SELECT lower(name), context, vartype, unit FROM pg_settings "
                            "WHERE name NOT LIKE '%.%'").fetchall()
    bundled = catalog()
    missing = [name for name, *_ in live if name not in bundled]
    assert not missing, f"not in the bundled catalog (UPDATE_GOLDEN=1 regenerates): {missing}"
    for name, context, vartype, unit in live:
        guc = bundled[name]
        assert (guc.context, guc.vartype, guc.unit) == (context, vartype, unit), name


# One case per unit family and base unit: (setting, value, canonical, in base units).
UNITS = [
    ("track_activity_query_size", "2kB", "2kB", 2048),          # bytes
    ("track_activity_query_size", 1048576, "1MB", 1048576),
    ("work_mem", "64MB", "64MB", 65536),                        # kB
    ("work_mem", 65536, "64MB", 65536),
    ("work_mem", "1GB", "1GB", 1048576),
    ("temp_file_limit", "1TB", "1TB", 1024**3),
    ("shared_buffers", "256MB", "256MB", 32768),                # 8kB pages
    ("shared_buffers", 32768, "256MB", 32768),
    ("effective_cache_size", "3GB", "3GB", 393216),
    ("max_wal_size", "2GB", "2GB", 2048),                       # MB
    ("max_wal_size", 1024, "1GB", 1024),
    ("statement_timeout", "5min", "5min", 300000),              # ms
    ("statement_timeout", 300000, "5min", 300000),
    ("statement_timeout", "1500ms", "1500ms", 1500),
    ("statement_timeout", "2h", "2h", 7200000),
    ("checkpoint_timeout", "5min", "5min", 300),                # s
    ("checkpoint_timeout", 300, "5min", 300),
    ("checkpoint_timeout", "1d", "1d", 86400),
    ("log_rotation_age", "1d", "1d", 1440),                     # min
    ("log_rotation_age", 90, "90min", 90),
    ("vacuum_cost_delay", "500us", "500us", 0.5),               # ms, real
    ("vacuum_cost_delay", 2, "2ms", 2),
    ("statement_timeout", 0, 0, 0),                             # 0 and -1 stay numbers
    ("log_min_duration_statement", -1, -1, -1),
]


@pytest.mark.parametrize(("name", "value", "canonical", "base"), UNITS)
def test_unit_normalization(name: str, value: object, canonical: object, base: float) -> None:
    guc = catalog()[name]
    assert guc.normalize(value) == canonical
    assert guc.normalize(base) == canonical       # the server's raw form, in base units
    assert guc.normalize(str(base)) == canonical


@pytest.mark.parametrize(("name", "value", "canonical"), [
    ("jit", "off", False), ("jit", "YES", True), ("jit", 1, True), ("jit", "0", False),
    ("jit", False, False), ("enable_seqscan", "true", True),
    ("wal_level", "Replica", "replica"), ("constraint_exclusion", True, "on"),
    ("random_page_cost", "1.1", 1.1), ("default_statistics_target", "200", 200),
    ("search_path", "$user,public", '"$user", public'),
    ("search_path", '"$user", App ,x', '"$user", "App", x'),
])
def test_bool_enum_and_plain_numbers(name: str, value: object, canonical: object) -> None:
    assert catalog()[name].normalize(value) == canonical


@pytest.mark.parametrize(("name", "value", "message"), [
    ("work_mem", "64mb", "valid units"), ("work_mem", "5min", "valid units"),
    ("random_page_cost", "1MB", "takes no unit"), ("work_mem", "32kB", "below the minimum"),
    ("jit", "maybe", "expected a boolean"), ("wal_level", "max", "expected one of"),
])
def test_bad_values(name: str, value: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        catalog()[name].normalize(value)


def test_normalization_agrees_with_the_server(pg_url: str) -> None:
    """For every per-session setting with a unit: SET it to a canonical value in a session and
    read pg_settings back; the server's raw value normalizes to the same canonical value."""
    import psycopg

    checked = 0
    with psycopg.connect(pg_url, autocommit=True) as conn:
        for guc in catalog().values():
            if not guc.unit or guc.context != "user" or guc.vartype != "integer":
                continue
            for raw in (guc.min_val, (guc.min_val or 0) + 7, 1024 if guc.unit != "B" else 4096):
                if raw is None or raw <= 0 or (guc.max_val and raw > guc.max_val):
                    continue
                canonical = guc.normalize(int(raw))
                conn.execute("SELECT set_config(%s, %s, false)",
                             (guc.name, render_value(canonical)))
                setting = conn.execute("SELECT setting FROM pg_settings WHERE name = %s",
                                       (guc.name,)).fetchone()[0]
                assert guc.from_server(setting) == canonical, (guc.name, raw, setting)
                checked += 1
    assert checked > 20


# -- names ---------------------------------------------------------------------------------
def pg_profile(tmp_path: Path, settings: str) -> Path:
    return write(tmp_path / "pg.yaml", "profile: pg\nversion: 1\nengine: postgresql\n"
                                       f"settings:\n{settings}")


def test_unknown_guc_is_refused_by_validate(capsys: pytest.CaptureFixture[str],
                                            tmp_path: Path) -> None:
    path = pg_profile(tmp_path, "  work_mem: 64MB\n  wrok_mem: 64MB\n")
    r = run(capsys, "validate", path)
    assert_error_last(r, f"{path}:6", "settings.wrok_mem", "unknown PostgreSQL setting")


def test_read_only_guc_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ProfileError, match="read-only"):
        load_profile(pg_profile(tmp_path, "  block_size: 16384\n"))


def test_unknown_guc_is_refused_at_plan_time(pg_url: str, tmp_path: Path) -> None:
    """A name the bundled catalog has but this server does not (a newer server's setting)
    is refused against the server's own pg_settings."""
    profile = load_profile(pg_profile(tmp_path, "  work_mem: 64MB\n"))
    newer = dataclasses.replace(profile, data={**profile.data,
                                               "settings": {"work_mem": "64MB",
                                                            "io_combine_limit": 16}})
    with pytest.raises(ProfileError, match="io_combine_limit.*this server's pg_settings"):
        make_plan(newer, pg_url)


# -- scopes on the shared server ------------------------------------------------------------
@pytest.fixture
def system_setting(pg_admin_url: str) -> Iterator[str]:
    """A GUC a test may ALTER SYSTEM: reset on the server (and reloaded) afterwards, however
    the test ends, since postgresql.auto.conf is shared by everyone using the server."""
    import psycopg
    from psycopg import sql

    names: list[str] = []
    yield names  # type: ignore[misc]
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        for name in names:
            conn.execute(sql.SQL("ALTER SYSTEM RESET {}").format(sql.Identifier(name)))
        conn.execute("SELECT pg_reload_conf()")


def test_postmaster_setting_is_restart_required_and_not_planned_again(
        pg_url: str, tmp_path: Path, system_setting: list[str]) -> None:
    # track_activity_query_size: postmaster context, harmless, and nobody restarts the server
    # during the tests, so it stays pending.
    system_setting.append("track_activity_query_size")
    running = catalog()["track_activity_query_size"]
    profile = load_profile(pg_profile(tmp_path, "  track_activity_query_size: 2kB\n"))
    plan = make_plan(profile, pg_url)
    [step] = plan.steps
    assert step.sql == ("ALTER SYSTEM SET \"track_activity_query_size\" = '2kB';",)
    assert "RESTART REQUIRED" in step.reason and not step.transactional
    assert any(w.startswith("RESTART REQUIRED: track_activity_query_size") for w in plan.warnings)
    run_plan_file(pg_url, render_plan_file(plan), tmp_path)

    again = make_plan(profile, pg_url)
    assert again.empty, render_body(again)
    pending = [w for w in again.warnings if w.startswith("pending restart: "
                                                         "track_activity_query_size")]
    assert pending and "2kB in postgresql.auto.conf" in pending[0], again.warnings
    assert running.normalize(1024) in pending[0]


def test_sighup_setting_is_altered_system_wide_and_reloaded(
        pg_url: str, tmp_path: Path, system_setting: list[str]) -> None:
    system_setting.append("checkpoint_warning")
    profile = load_profile(pg_profile(tmp_path, "  checkpoint_warning: 45s\n"))
    plan = make_plan(profile, pg_url)
    assert [s.kind for s in plan.steps] == ["set_setting", "reload"]
    assert plan.steps[1].sql == ("SELECT pg_catalog.pg_reload_conf();",)
    run_plan_file(pg_url, render_plan_file(plan), tmp_path)
    again = make_plan(profile, pg_url)
    assert again.empty, render_body(again)


def test_database_setting_is_read_back_from_pg_db_role_setting(pg_url: str,
                                                               tmp_path: Path) -> None:
    """ALTER DATABASE SET is invisible to the session that ran it: the plan converges because
    inspection reads pg_db_role_setting, and a role-level override is a warning."""
    import psycopg
    from psycopg import sql

    role = f"tuner_test_role_{uuid.uuid4().hex[:8]}"
    database = pg_url.rsplit("/", 1)[1]
    profile = load_profile(pg_profile(tmp_path, "  work_mem: 48MB\n"))
    with psycopg.connect(pg_url, autocommit=True) as conn:
        run_plan_file(pg_url, render_plan_file(make_plan(profile, pg_url)), tmp_path)
        assert conn.execute("SHOW work_mem").fetchone()[0] == "4MB"   # this session: old
        assert make_plan(profile, pg_url).empty
        conn.execute(sql.SQL("CREATE ROLE {}").format(sql.Identifier(role)))
        try:
            conn.execute(sql.SQL("ALTER ROLE {} IN DATABASE {} SET work_mem = '1MB'").format(
                sql.Identifier(role), sql.Identifier(database)))
            plan = make_plan(profile, pg_url)
            assert plan.empty
            assert any(f"role {role} overrides it" in w for w in plan.warnings), plan.warnings
        finally:
            conn.execute(sql.SQL("ALTER ROLE {} IN DATABASE {} RESET ALL").format(
                sql.Identifier(role), sql.Identifier(database)))
            conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


def test_missing_psycopg_is_one_line_saying_what_to_install(tmp_path: Path) -> None:
    profile = pg_profile(tmp_path, "  work_mem: 64MB\n")
    code = ("import sys; sys.modules['psycopg'] = None\n"
            "from tuner.cli import main\n"
            f"main(['plan', {str(profile)!r}, '--db', 'postgresql://u@127.0.0.1:1/db'])\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 1, done
    assert done.stdout == ""
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr, done.stderr
    assert "pip install 'psycopg[binary]>=3.1' 'psycopg-pool>=3.2'" in done.stderr
    # validate needs no driver at all
    code = code.replace("'plan', ", "'validate', ").replace(
        ", '--db', 'postgresql://u@127.0.0.1:1/db'", "")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0 and done.stdout.startswith("ok: "), done


def test_catalog_file_is_shipped_data() -> None:
    data = json.loads((data_dir("sql") / "postgresql" / "settings.json").read_text())
    assert data["regenerate"] and len(data["settings"]) > 300


def test_non_superuser_is_warned_per_setting_it_cannot_apply(pg_url: str,
                                                             tmp_path: Path) -> None:
    """A role without superuser (a managed service's usual lot) gets one warning per setting
    it cannot apply, naming the setting and the privilege; planning itself works."""
    import psycopg
    from psycopg import sql

    role = f"tuner_test_role_{uuid.uuid4().hex[:8]}"
    profile = load_profile(pg_profile(tmp_path, "  work_mem: 64MB\n  checkpoint_warning: 45s\n"))
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(role)))
        try:
            as_role = pg_url.replace("postgres@", f"{role}@", 1)
            plan = make_plan(profile, as_role)
            assert [s.object for s in plan.steps] == ["checkpoint_warning", "work_mem",
                                                      "configuration"]
            text = " | ".join(plan.warnings)
            assert (f"setting checkpoint_warning: ALTER SYSTEM needs superuser or GRANT ALTER "
                    f"SYSTEM ON PARAMETER checkpoint_warning, which role {role} lacks") in text
            assert "setting work_mem: ALTER DATABASE SET needs the database's owner" in text
        finally:
            conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


def test_bundled_postgres_profile_validates(capsys: pytest.CaptureFixture[str]) -> None:
    profile = Path(__file__).resolve().parents[2] / "profiles" / "telegram-bot-postgres.yaml"
    r = run(capsys, "validate", profile)
    assert r.code == 0 and "(postgresql; 5 indexes, 2 views, 6 queries)" in r.out, r
    loaded = load_profile(profile)
    assert loaded.settings["shared_buffers"] == "1GB"
    assert {q.name for q in loaded.queries} == {q.name for q in load_profile(
        profile.with_name("telegram-bot.yaml")).queries}
