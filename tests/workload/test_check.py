"""tuner check: exit 0 when converged and healthy, 3 on drift or a large scan."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from helpers import run, sha, write

from tuner import load_profile, make_plan, render_plan_file
from tuner.engines.sqlite.demo import create_demo_db
from tuner.engines.sqlite.engine import SQLiteEngine
from tuner.workload.check import check
from tuner.workload.shape import aliases

ROOT = Path(__file__).resolve().parents[2]
BOT = ROOT / "profiles" / "telegram-bot.yaml"


@pytest.fixture
def untuned(tmp_path: Path) -> Path:
    path = tmp_path / "bot.db"
    create_demo_db(path, 12_000)
    return path


def tune(db: Path, profile: Path = BOT) -> None:
    conn = sqlite3.connect(db)
    conn.executescript(render_plan_file(make_plan(profile, str(db))))
    conn.close()


def test_untuned_database_fails_with_drift_and_scans(capsys: pytest.CaptureFixture[str],
                                                     untuned: Path) -> None:
    digest = sha(untuned)
    r = run(capsys, "check", BOT, "--db", untuned, "--format", "json")
    assert r.code == 3, r.err
    report = json.loads(r.out)
    assert report["healthy"] is False
    assert {"create_index"} <= {d["kind"] for d in report["drift"]}
    scanned = {(s["query"], s["table"]) for s in report["scans"]}
    assert ("latest_messages", "messages") in scanned
    assert ("user_events", "participants") in scanned        # `SCAN p` mapped to its table
    assert sha(untuned) == digest                              # check never writes


def test_tuned_database_passes(capsys: pytest.CaptureFixture[str], untuned: Path) -> None:
    tune(untuned)
    r = run(capsys, "check", BOT, "--db", untuned)
    assert r.code == 0, (r.out, r.err)
    assert r.out.startswith("OK:")


def test_a_dropped_index_is_drift_and_a_regression(capsys: pytest.CaptureFixture[str],
                                                   untuned: Path) -> None:
    tune(untuned)
    conn = sqlite3.connect(untuned)
    conn.execute("DROP INDEX messages_event_time")
    conn.commit()
    conn.close()
    r = run(capsys, "check", BOT, "--db", untuned)
    assert r.code == 3
    assert "messages_event_time" in r.out and "latest_messages: SCAN messages" in r.out


def test_threshold_decides_what_is_large(untuned: Path) -> None:
    tune(untuned)
    profile = load_profile(BOT)
    assert check(profile, str(untuned)).healthy
    conn = sqlite3.connect(untuned)
    conn.execute("DROP INDEX events_upcoming")
    conn.commit()
    conn.close()
    small = check(profile, str(untuned), threshold=1_000_000)
    assert [(d["kind"], d["object"]) for d in small.drift] == [
        ("create_index", "events_upcoming"), ("analyze", "events")]
    assert small.scans == []
    tiny = check(profile, str(untuned), threshold=10)
    assert any(s["query"] == "upcoming_events" and s["table"] == "events"
               for s in tiny.scans)


def test_aliases_map_query_names_to_tables(untuned: Path) -> None:
    tables = SQLiteEngine().inspect(str(untuned)).tables
    sql = ("SELECT e.id FROM participants p JOIN events AS e ON e.id = p.event_id "
           "WHERE p.user_id = 1")
    assert aliases(sql, dict(tables)) == {"participants": "participants", "p": "participants",
                                          "events": "events", "e": "events"}


def test_bad_input_is_exit_1_not_3(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    r = run(capsys, "check", BOT, "--db", tmp_path / "missing.db")
    assert r.code == 1 and r.err.startswith("error: ")
    bad = write(tmp_path / "bad.yaml", "profile: x\nversion: 0\nengine: sqlite\n")
    assert run(capsys, "check", bad, "--db", tmp_path / "missing.db").code == 1
