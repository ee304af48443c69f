"""tuner on a shared PostgreSQL server: a server-wide setting someone else left pending does not
become this profile's business (plan, check, a saved plan's stale check), and server-wide steps
(ALTER SYSTEM, the reload) run only when asked for with `tuner apply --server-settings`.

The fixture `pending_shared_buffers` writes shared_buffers with ALTER SYSTEM (pending until a
restart, which never comes) and puts postgresql.auto.conf back afterwards."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from helpers import run, write
from test_pg_bench import CHECK_PROFILE as SMALL

from tuner.engines.postgres.demo import load_demo
from tuner.resources import bundled_profile

PG_BOT = bundled_profile("telegram-bot-postgres")


def test_pending_setting_outside_the_profile(capsys: pytest.CaptureFixture[str],
                                             pending_shared_buffers: str, pg_url: str,
                                             tmp_path: Path) -> None:
    load_demo(pg_url, 300)
    profile = write(tmp_path / "small.yaml", SMALL)
    r = run(capsys, "plan", profile, "--db", pg_url, "--format", "json")
    assert r.code == 0, r.err
    assert not [w for w in json.loads(r.out)["warnings"] if "shared_buffers" in w]
    plan_file = tmp_path / "plan.sql"
    assert run(capsys, "plan", profile, "--db", pg_url, "--out", plan_file).code == 0
    assert "shared_buffers" not in plan_file.read_text(encoding="utf-8")
    r = run(capsys, "apply", "--plan", plan_file, "--db", pg_url, "--yes", "--no-backup")
    assert r.code == 0, r.err
    r = run(capsys, "check", profile, "--db", pg_url, "--format", "json")
    assert r.code == 0, r.out + r.err
    d = json.loads(r.out)
    assert d["pending"] == [] and "shared_buffers" in d["pending_elsewhere"]
    r = run(capsys, "check", profile, "--db", pg_url)
    assert r.code == 0 and r.out.startswith(f"OK: {pg_url} matches the profile")
    assert "Pending (not drift)" not in r.out
    mentions = [line for line in r.out.splitlines() if "shared_buffers" in line]
    assert mentions == [mentions[0]] and mentions[0].startswith("Also pending on the server")


def test_pending_setting_the_profile_declares(capsys: pytest.CaptureFixture[str],
                                              pending_shared_buffers: str, pg_url: str,
                                              tmp_path: Path) -> None:
    load_demo(pg_url, 300)
    profile = write(tmp_path / "small.yaml", SMALL.replace(
        "  work_mem: 16MB\n", f"  work_mem: 16MB\n  shared_buffers: {pending_shared_buffers}\n"))
    assert run(capsys, "apply", profile, "--db", pg_url, "--yes", "--no-backup").code == 0
    r = run(capsys, "plan", profile, "--db", pg_url, "--detailed-exitcode")
    assert r.code == 0, r.out  # written, waiting for a restart: nothing to apply
    assert f"pending restart: shared_buffers is {pending_shared_buffers}" in r.out
    r = run(capsys, "check", profile, "--db", pg_url, "--format", "json")
    assert r.code == 0, r.out + r.err
    assert [p["setting"] for p in json.loads(r.out)["pending"]] == ["shared_buffers"]


def test_unmanaged_server_wide_settings_are_not_a_plans_state() -> None:
    """Someone's ALTER SYSTEM elsewhere on the server does not make a saved plan stale; one
    the profile manages does."""
    from tuner.model import Setting, State
    from tuner.plantypes import prior_state

    state = State(engine="postgresql", settings={
        "shared_buffers": Setting("shared_buffers", "1GB", source="postgresql.auto.conf",
                                  server_wide=True),
        "work_mem": Setting("work_mem", "32MB", source="database")})
    assert prior_state(state, ["work_mem"])["settings"] == {"work_mem": "32MB"}
    assert prior_state(state, ["shared_buffers"])["settings"] == {"shared_buffers": "1GB",
                                                                 "work_mem": "32MB"}


def auto_conf(url: str) -> list[tuple]:
    """postgresql.auto.conf as the server reads it: (name, setting) per line."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute("SELECT name, setting FROM pg_file_settings WHERE sourcefile "
                            "LIKE '%%postgresql.auto.conf' ORDER BY seqno").fetchall()


def test_apply_skips_server_wide_steps_unless_asked(capsys: pytest.CaptureFixture[str],
                                                    pending_shared_buffers: str, pg_url: str,
                                                    tmp_path: Path) -> None:
    load_demo(pg_url, 300)
    r = run(capsys, "plan", PG_BOT, "--db", pg_url, "--format", "json")
    steps = {s["object"]: s for s in json.loads(r.out)["steps"]}
    assert steps["shared_buffers"]["server_wide"] is True
    assert [o for o, s in steps.items() if s["server_wide"]] == ["shared_buffers"]
    r = run(capsys, "plan", PG_BOT, "--db", pg_url, "--out", tmp_path / "plan.sql")
    assert "! setting shared_buffers  [server-wide]" in r.out
    assert (f"[server-wide] step {steps['shared_buffers']['number']} changes the whole server"
            in r.out) and "--server-settings" in r.out
    assert "server_wide=true object=\"shared_buffers\"" in (tmp_path / "plan.sql").read_text()

    files = auto_conf(pg_url)
    r = run(capsys, "apply", "--plan", tmp_path / "plan.sql", "--db", pg_url, "--yes",
            "--backup-dir", tmp_path / "b")
    assert r.code == 0, r.err
    assert (f"Skipped 1 server-wide step (changing the whole server, every database on it): "
            f"step {steps['shared_buffers']['number']} set_setting shared_buffers. Apply "
            "again with --server-settings to include it.") in r.out
    assert auto_conf(pg_url) == files                  # the shared server was not touched
    [backup] = (tmp_path / "b").iterdir()
    rollback = (backup / "rollback.sql").read_text(encoding="utf-8")
    assert "shared_buffers" not in rollback and "\nALTER SYSTEM" not in rollback
    assert "pg_reload_conf" not in rollback and 'RESET "work_mem"' in rollback

    # converged but for the server-wide step: plan still shows it, marked; apply skips it
    r = run(capsys, "plan", PG_BOT, "--db", pg_url, "--detailed-exitcode")
    assert r.code == 2 and "Plan: 0 to create, 0 to replace, 0 to drop, 1 setting." in r.out
    assert "shared_buffers  [server-wide]" in r.out
    r = run(capsys, "check", PG_BOT, "--db", pg_url, "--scan-threshold", 10**9)
    assert r.code == 3 and "  set_setting shared_buffers [server-wide]: " in r.out
    r = run(capsys, "apply", PG_BOT, "--db", pg_url, "--yes", "--format", "json")
    assert r.code == 0, r.err
    d = json.loads(r.out)
    assert d["status"] == "no_changes" and d["backup"] is None
    assert [s["object"] for s in d["skipped_server_wide"]] == ["shared_buffers"]
    assert auto_conf(pg_url) == files
    r = run(capsys, "apply", PG_BOT, "--db", pg_url, "--yes")
    assert r.code == 0 and r.out.splitlines()[-2:] == [
        "Nothing applied; no backup taken.",
        "Skipped 1 server-wide step (changing the whole server, every database on it): "
        "step 1 set_setting shared_buffers. Apply again with --server-settings to include it."]


SIGHUP = """\
profile: sighup
version: 1
engine: postgresql
settings:
  work_mem: 16MB
  checkpoint_warning: 45s     # sighup: ALTER SYSTEM, then a reload
"""


def test_apply_with_server_settings_runs_them(capsys: pytest.CaptureFixture[str],
                                              pending_shared_buffers: str,
                                              keep_auto_conf: Callable[[str], None],
                                              pg_url: str, tmp_path: Path) -> None:
    keep_auto_conf("checkpoint_warning")
    profile = write(tmp_path / "sighup.yaml", SIGHUP)
    r = run(capsys, "apply", profile, "--db", pg_url, "--yes", "--server-settings",
            "--backup-dir", tmp_path / "b")
    assert r.code == 0, r.err
    assert "Skipped" not in r.out + r.err
    assert ("checkpoint_warning", "45s") in auto_conf(pg_url)
    [backup] = (tmp_path / "b").iterdir()
    rollback = (backup / "rollback.sql").read_text(encoding="utf-8")
    # only what this plan changed: not the shared_buffers someone else left pending
    assert 'ALTER SYSTEM RESET "checkpoint_warning";' in rollback or \
        'ALTER SYSTEM SET "checkpoint_warning"' in rollback
    assert "shared_buffers" not in rollback and "SELECT pg_reload_conf();" in rollback
    r = run(capsys, "plan", profile, "--db", pg_url, "--detailed-exitcode")
    assert r.code == 0, r.out
