"""`tuner demo --engine postgresql --db URL` end to end on a small demo, against the real
server: COPY load, plan, compare on a scratch clone, apply, plan again; the shared server's
configuration (postgresql.auto.conf) is left alone unless --server-settings is given."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
from helpers import assert_error_last, run

from tuner.model import Setting, State
from tuner.report import check_text
from tuner.workload.check import CheckReport, pending_settings


def file_settings(url: str) -> list[tuple]:
    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute("SELECT sourcefile, name, setting FROM pg_file_settings "
                            "ORDER BY 1, 2, 3").fetchall()


def test_demo_end_to_end(capsys: pytest.CaptureFixture[str], pg_url: str,
                         tmp_path: Path) -> None:
    files = file_settings(pg_url)
    work = tmp_path / "demo"
    r = run(capsys, "demo", "--engine", "postgresql", "--db", pg_url, "--participants", 500,
            "--workdir", work)
    assert r.code == 0, r.err
    assert "with COPY" in r.err and "Loaded 500 users" in r.err
    assert "+ index messages_event_time" in r.out
    assert "Left out of this demo: shared_buffers (context postmaster" in r.out
    assert "pass --server-settings" in r.out
    assert "Applying it (tuner apply --yes):" in r.out and "  backup: " in r.out
    again = r.out.split("Planning again:")[1]
    assert "No changes" in again
    assert "before vs. after the plan" in r.out and "same rows" in r.out
    scratch = [w.rstrip(".") for w in r.err.split() if w.startswith("tuner_compare_")]
    assert scratch and f"Dropped the scratch database {scratch[0]}" in r.err
    assert (work / "plan.sql").is_file()
    assert list((work / ".tuner-backups").iterdir())
    assert file_settings(pg_url) == files
    with psycopg.connect(pg_url) as conn:
        names = {row[0] for row in conn.execute("SELECT indexname FROM pg_indexes")}
        left = conn.execute("SELECT count(*) FROM pg_database WHERE datname = %s",
                            [scratch[0]]).fetchone()[0]
    assert {"messages_event_time", "participants_event_status"} <= names
    assert left == 0
    # the demo tables are there now: refused without --force
    r = run(capsys, "demo", "--engine", "postgresql", "--db", pg_url, "--participants", 500,
            "--workdir", work)
    assert_error_last(r, "already exists", "--force")


def test_demo_options_that_do_not_fit(capsys: pytest.CaptureFixture[str],
                                      tmp_path: Path) -> None:
    r = run(capsys, "demo", "--engine", "postgresql", "--workdir", tmp_path)
    assert_error_last(r, "--engine postgresql needs --db")
    r = run(capsys, "demo", "--engine", "sqlite", "--db", "postgresql://x@localhost/y",
            "--workdir", tmp_path)
    assert_error_last(r, "--engine sqlite does not fit", "postgresql database")


def test_pending_settings_are_reported_not_drift() -> None:
    state = State(engine="postgresql", settings={
        "shared_buffers": Setting("shared_buffers", "1GB", source="postgresql.auto.conf",
                                  running="128MB"),
        "work_mem": Setting("work_mem", "32MB", source="database")})
    report = CheckReport(pending=pending_settings(state))
    assert report.healthy
    assert report.pending == [{"setting": "shared_buffers", "value": "1GB",
                               "running": "128MB", "source": "postgresql.auto.conf"}]
    text = check_text(report, "postgresql://db")
    assert text.startswith("OK: ") and "Pending (not drift):" in text
    assert "shared_buffers: 1GB is written (postgresql.auto.conf)" in text
