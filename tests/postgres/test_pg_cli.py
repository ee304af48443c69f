"""The CLI against a real PostgreSQL: plan (text, SQL, JSON, --detailed-exitcode, TUNER_DB),
the bundled PostgreSQL profile, inspect round trips, and one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from helpers import assert_error_last, run, write
from pg_helpers import configured, run_setup

from tuner.planfile import parse_plan_file

ROOT = Path(__file__).resolve().parents[2]
PG_BOT = ROOT / "profiles" / "telegram-bot-postgres.yaml"
BOT_SCHEMA = ROOT / "tests" / "cases_pg" / "bot_from_scratch" / "setup.sql"


@pytest.fixture
def bot_url(pg_url: str) -> str:
    """A scratch database with the bot's schema and a little data."""
    run_setup(pg_url, BOT_SCHEMA.read_text(encoding="utf-8"))
    return pg_url


def run_steps_except_alter_system(url: str, plan_text: str) -> None:
    """Execute a saved plan statement by statement, in autocommit, skipping ALTER SYSTEM (the
    test server is shared; restart-required settings are tested with a harmless GUC)."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        for step in parse_plan_file(plan_text).steps:
            for statement in step.statements:
                if not statement.startswith("ALTER SYSTEM"):
                    conn.execute(statement)


def test_plan_bundled_profile(capsys: pytest.CaptureFixture[str], bot_url: str,
                              tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The server is shared: someone may have written the profile's shared_buffers already
    # (it waits for a restart), and then there is nothing to plan for it, only to report.
    preset = configured(bot_url, "shared_buffers") == "1GB"
    r = run(capsys, "plan", PG_BOT, "--db", bot_url, "--detailed-exitcode")
    assert r.code == 2, r.err
    assert "CREATE" not in r.out and "(postgresql)" in r.out
    assert "+ index participants_event_status on participants (event_id, status)" in r.out
    if preset:
        assert "pending restart: shared_buffers is 1GB" in r.out
        assert "Plan: 7 to create, 0 to replace, 0 to drop, 4 settings." in r.out
    else:
        assert "RESTART REQUIRED: shared_buffers" in r.out
        assert "Plan: 7 to create, 0 to replace, 0 to drop, 5 settings." in r.out

    r = run(capsys, "plan", PG_BOT, "--db", bot_url, "--format", "json")
    data = json.loads(r.out)
    assert data["engine"] == "postgresql" and data["changes"] is True
    # only the views run in a transaction; index builds and settings never do
    assert all(s["transactional"] == s["kind"].endswith("_view") for s in data["steps"])
    kinds = {s["object"]: s["sql"] for s in data["steps"]}
    assert kinds["participants_event_status"].startswith("CREATE INDEX CONCURRENTLY IF NOT "
                                                         "EXISTS")
    if not preset:
        assert kinds["shared_buffers"] == "ALTER SYSTEM SET \"shared_buffers\" = '1GB';"
    assert {s["name"] for s in data["runtime_settings"]} == {
        "work_mem", "random_page_cost", "effective_cache_size", "default_statistics_target"}

    monkeypatch.setenv("TUNER_DB", bot_url)
    plan_file = tmp_path / "plan.sql"
    r = run(capsys, "plan", PG_BOT, "--out", plan_file, "--format", "sql")
    assert r.code == 0 and r.out == plan_file.read_text(encoding="utf-8")
    assert "psql -v ON_ERROR_STOP=1" in r.out
    lines = [line.strip() for line in r.out.splitlines()]
    assert lines.count("BEGIN;") == lines.count("COMMIT;") == 1  # around the views
    assert lines.index("COMMIT;") < lines.index(next(x for x in lines
                                                     if x.startswith("CREATE INDEX")))

    run_steps_except_alter_system(bot_url, plan_file.read_text(encoding="utf-8"))
    r = run(capsys, "plan", PG_BOT, "--format", "json")
    left = [s["object"] for s in json.loads(r.out)["steps"]]
    assert left == ([] if preset else ["shared_buffers"]), left


def test_inspect_round_trips(capsys: pytest.CaptureFixture[str], bot_url: str,
                             tmp_path: Path) -> None:
    plan_file = tmp_path / "plan.sql"
    assert run(capsys, "plan", PG_BOT, "--db", bot_url, "--out", plan_file).code == 0
    run_steps_except_alter_system(bot_url, plan_file.read_text(encoding="utf-8"))
    r = run(capsys, "inspect", "--db", bot_url)
    assert r.code == 0, r.err
    inspected = yaml.safe_load(r.out)
    assert inspected["engine"] == "postgresql" and inspected["prune"] is True
    assert inspected["settings"]["work_mem"] == "32MB"
    names = {i["name"]: i for i in inspected["indexes"]}
    assert names["participants_event_status"]["include"] == ["user_id"]
    assert "participants_pkey" not in names          # constraint-owned: never in a profile
    assert "idx_participants_status" in names        # made by hand: kept, as prune would drop
    path = write(tmp_path / "inspected.yaml", r.out)
    r = run(capsys, "plan", path, "--db", bot_url, "--detailed-exitcode")
    assert r.code == 0, r.out
    assert "No changes." in r.out

    r = run(capsys, "inspect", "--db", bot_url, "--format", "json")
    assert json.loads(r.out)["indexes"] == inspected["indexes"]


def test_one_line_errors(capsys: pytest.CaptureFixture[str], bot_url: str,
                         tmp_path: Path) -> None:
    bad = write(tmp_path / "bad.yaml", "profile: p\nversion: 1\nengine: postgresql\nindexes:\n"
                                       "  - name: x\n    table: nosuch\n    columns: [a]\n")
    assert_error_last(run(capsys, "plan", bad, "--db", bot_url),
                      f"{bad}:6: indexes[0].table", "'nosuch' does not exist")
    taken = write(tmp_path / "taken.yaml", "profile: p\nversion: 1\nengine: postgresql\n"
                                           "indexes:\n  - name: users\n    table: events\n"
                                           "    columns: [date]\n")
    assert_error_last(run(capsys, "plan", taken, "--db", bot_url),
                      "indexes[0].name", "taken by the table users")
    owned = write(tmp_path / "owned.yaml", "profile: p\nversion: 1\nengine: postgresql\n"
                                           "indexes:\n  - name: users_pkey\n    table: users\n"
                                           "    columns: [username]\n")
    assert_error_last(run(capsys, "plan", owned, "--db", bot_url),
                      "indexes[0].name", "PRIMARY KEY constraint on users")
    long = write(tmp_path / "long.yaml", "profile: p\nversion: 1\nengine: postgresql\n"
                                         f"views:\n  - name: {'v' * 64}\n"
                                         "    sql: SELECT 1 AS one\n")
    assert_error_last(run(capsys, "plan", long, "--db", bot_url),
                      "views[0].name", "63-byte limit")
    sqlite_profile = ROOT / "profiles" / "telegram-bot.yaml"
    assert_error_last(run(capsys, "plan", sqlite_profile, "--db", bot_url),
                      "is for engine sqlite", "postgresql database")
    wrong = bot_url.rsplit("/", 1)[0] + "/no_such_database_here"
    assert_error_last(run(capsys, "plan", PG_BOT, "--db", wrong),
                      "no_such_database_here", "cannot connect")
