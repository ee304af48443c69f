"""tuner on a shared PostgreSQL server: a server-wide setting someone else left pending does not
become this profile's business (plan, check, a saved plan's stale check), and server-wide steps
(ALTER SYSTEM, the reload) run only when asked for with `tuner apply --server-settings`.

The fixture `pending_shared_buffers` writes shared_buffers with ALTER SYSTEM (pending until a
restart, which never comes) and puts postgresql.auto.conf back afterwards."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import run, write
from test_pg_bench import CHECK_PROFILE as SMALL

from tuner.workload.pg_demo import load_demo


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
    from tuner.plan import prior_state

    state = State(engine="postgresql", settings={
        "shared_buffers": Setting("shared_buffers", "1GB", source="postgresql.auto.conf",
                                  server_wide=True),
        "work_mem": Setting("work_mem", "32MB", source="database")})
    assert prior_state(state, ["work_mem"])["settings"] == {"work_mem": "32MB"}
    assert prior_state(state, ["shared_buffers"])["settings"] == {"shared_buffers": "1GB",
                                                                 "work_mem": "32MB"}
