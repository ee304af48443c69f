"""An apply killed -9 on PostgreSQL after its index build committed and before its ANALYZE:
the next plan reports it and plans the ANALYZE again, the next apply marks it `interrupted`.

The kill lands at a fixed point, not a timed one: a trigger on tuner's history table makes
the update that follows the index build wait for an advisory lock the test holds, and the
test kills the apply once its backend is seen waiting there (pg_stat_activity). The server
drops the dead apply's advisory lock when its backend ends, which is how the next command
tells it from a live one.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import click
import psycopg
import pytest
from helpers import run, write
from pg_plans import history_rows, indexes, pg
from test_pg_apply import advisory_holders

from tuner.engines.postgres import history as postgres_history

PROFILE = """\
profile: interrupted
version: 1
engine: postgresql
indexes:
  - {name: t_a_id, table: t, columns: [a, id]}
"""
HOLD_KEY = 4242  # the test's own advisory lock (advisory locks are per database)
HOLD = f"""
CREATE FUNCTION public.hold_history() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN PERFORM pg_advisory_xact_lock({HOLD_KEY}); RETURN NEW; END $$;
CREATE TRIGGER hold BEFORE UPDATE ON tuner.tuner_history FOR EACH ROW
WHEN (NEW.status = 'started' AND NEW.steps_applied >= 1) EXECUTE FUNCTION public.hold_history();
"""
WAITING = ("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND "
           "application_name = 'tuner apply' AND wait_event_type = 'Lock' AND "
           "wait_event = 'advisory'")


def _until(check, what: str, proc: subprocess.Popen | None = None) -> None:
    for _ in range(1200):
        if check():
            return
        if proc is not None and proc.poll() is not None:
            pytest.fail(f"apply ended before {what}: {proc.communicate()}")
        time.sleep(0.05)
    pytest.fail(f"never saw {what}")


def test_a_killed_apply_is_recognized_and_its_analyze_planned_again(
        capsys: pytest.CaptureFixture[str], pg_url: str, tmp_path: Path) -> None:
    pg(pg_url, "CREATE TABLE t (id int PRIMARY KEY, a int)")
    pg(pg_url, "INSERT INTO t SELECT g, g % 7 FROM generate_series(1, 1000) g")
    pg(pg_url, "ANALYZE t")
    with psycopg.connect(pg_url, autocommit=True) as conn:
        postgres_history.ensure_table(conn)
        conn.execute(HOLD)
    profile = write(tmp_path / "p.yaml", PROFILE)

    with psycopg.connect(pg_url, autocommit=True) as holder:
        holder.execute("SELECT pg_advisory_lock(%s)", [HOLD_KEY])
        proc = subprocess.Popen([sys.executable, "-m", "tuner", "apply", str(profile), "--db",
                                 pg_url, "--yes", "--no-backup"], cwd=tmp_path,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            _until(lambda: pg(pg_url, WAITING)[0][0] == 1,
                   "the apply waiting after its index build", proc)
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.communicate()
    # The holder is gone: the dead apply's backend finishes its update, then ends.
    _until(lambda: advisory_holders(pg_url) == 0, "the dead apply's lock released")
    pg(pg_url, "DROP TRIGGER hold ON tuner.tuner_history")
    assert proc.returncode == -signal.SIGKILL
    assert indexes(pg_url) == {"t_pkey": True, "t_a_id": True}  # the build committed
    [row] = history_rows(pg_url)
    assert row["status"] == "started" and row["steps_applied"] < row["steps_total"] == 2

    r = run(capsys, "plan", profile, "--db", pg_url, "--detailed-exitcode")
    assert r.code == 2, r.out + r.err  # not "No changes": the ANALYZE is owed
    shown = click.unstyle(r.out)
    assert "* analyze t\n      apply 1 (history row 1) was interrupted before its ANALYZE " \
           "finished" in shown
    assert "interrupted apply found (history row 1)" in shown
    assert history_rows(pg_url)[0]["status"] == "started"  # plan wrote nothing

    r = run(capsys, "apply", profile, "--db", pg_url, "--yes", "--no-backup", "--format",
            "json")
    assert r.code == 0, r.err
    data = json.loads(r.out)
    assert data["marked_interrupted"] == [1]
    assert [(s["kind"], s["object"]) for s in data["steps"]] == [("analyze", "t")]
    assert [h["status"] for h in history_rows(pg_url)] == ["interrupted", "applied"]
    assert run(capsys, "plan", profile, "--db", pg_url, "--detailed-exitcode").code == 0
    assert advisory_holders(pg_url) == 0
