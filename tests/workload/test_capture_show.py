"""`tuner workload show`: a capture's statements by total time, as text and JSON, how each
read runs today in a real SQLite database (SCAN or SEARCH), and one-line errors for files
that are not captures."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from helpers import assert_error_last, run

from tuner.capture import Recorder

BY_ID = "SELECT * FROM participants WHERE id = ?"
BY_EVENT = "SELECT * FROM participants WHERE event_id = :e"
BY_IDS = "SELECT * FROM participants WHERE id IN (?, ?, ?)"
BY_STATUS = "SELECT count(*) FROM participants WHERE status = ?1"
BUMP = "UPDATE participants SET status = ? WHERE id = ?"
GONE = "SELECT * FROM no_such_table WHERE x = ?"


@pytest.fixture
def app_db(tmp_path: Path) -> Path:
    db = tmp_path / "app.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE participants (id INTEGER PRIMARY KEY, event_id INTEGER, "
                     "status TEXT)")
        conn.executemany("INSERT INTO participants VALUES (?, ?, ?)",
                         [(i, i % 40, "going") for i in range(2000)])
    conn.close()
    return db


@pytest.fixture
def capture(tmp_path: Path) -> Path:
    cap = tmp_path / "capture.db"
    with Recorder(cap) as rec:
        for i in range(50):
            rec.record(BY_ID, (i,), 0.0001, 1)
        for i in range(10):
            rec.record(BY_EVENT, {"e": i}, 0.004, 50)
        rec.record(BY_IDS, [1, 2, 3], 0.0003, 3)
        rec.record(BY_STATUS, None, 0.002, 1)           # no parameters given: NULLs bound
        rec.record(BUMP, ("done", 5), 0.001, 1)
        rec.record(GONE, (1,), 0.0002, 0)
        rec.record("SELEC broken", None, 0.00001)
    return cap


def test_text_lists_statements_by_total_time(capsys, capture):
    r = run(capsys, "workload", "show", capture)
    assert r.code == 0, r.err
    lines = r.out.splitlines()
    assert lines[0].startswith(f"Capture {capture} (sqlite): 7 statements, 65 calls")
    first = lines[2]
    assert first.split()[:4] == ["1", "82.5%", "0.040", "10"]
    assert "SELECT * FROM participants WHERE event_id = ?" in first
    assert "reads participants" in lines[3]
    assert "writes participants" in r.out
    assert "1 statement(s) could not be parsed" in r.out and "SELEC broken" in r.out


def test_json_and_top(capsys, capture):
    r = run(capsys, "workload", "show", capture, "--format", "json", "--top", "2")
    data = json.loads(r.out)
    assert (data["engine"], data["statements"], data["calls"], data["db"]) == (
        "sqlite", 7, 65, None)
    top = data["top"]
    assert [t["text"] for t in top] == ["SELECT * FROM participants WHERE event_id = ?",
                                        "SELECT * FROM participants WHERE id = ?"]
    assert top[0]["calls"] == 10 and top[0]["mean_ms"] == pytest.approx(4.0)
    assert top[0]["max_ms"] == pytest.approx(4.0)
    assert top[0]["sample_params"] == {"e": 0}          # the first of the slowest
    assert sum(t["share"] for t in top) < 1 and "access" not in top[0]
    assert [u["text"] for u in data["unparsed"]] == ["SELEC broken"]


def test_db_says_scan_or_search_for_each_read(capsys, capture, app_db):
    r = run(capsys, "workload", "show", capture, "--db", app_db, "--format", "json")
    assert r.code == 0, r.err
    access = {t["text"]: t.get("access") for t in json.loads(r.out)["top"]}
    assert access["SELECT * FROM participants WHERE event_id = ?"]["verdict"] == "SCAN"
    assert access["SELECT * FROM participants WHERE id = ?"]["verdict"] == "SEARCH"
    assert access["SELECT * FROM participants WHERE id IN (?)"]["verdict"] == "SEARCH"
    assert access["SELECT COUNT(*) FROM participants WHERE status = ?"]["verdict"] == "SCAN"
    assert access["UPDATE participants SET status = ? WHERE id = ?"] is None   # writes
    gone = access["SELECT * FROM no_such_table WHERE x = ?"]
    assert gone["verdict"] == "?" and "no such table" in gone["note"]
    text = run(capsys, "workload", "show", capture, "--db", app_db).out
    assert "SCAN participants" in text and "SEARCH participants USING INTEGER PRIMARY KEY" \
        in text


def test_db_and_capture_are_only_read(capsys, capture, app_db):
    before = app_db.read_bytes(), capture.read_bytes()
    run(capsys, "workload", "show", capture, "--db", app_db)
    assert (app_db.read_bytes(), capture.read_bytes()) == before
    assert sorted(p.name for p in capture.parent.iterdir()) == ["app.db", "capture.db"]


@pytest.mark.parametrize("make, fragment", [
    (lambda p: p.write_text("not sqlite " * 500), "not a tuner capture file: file is not a "
                                                  "database"),
    (lambda p: sqlite3.connect(p).execute("CREATE TABLE x (a)").connection.close(),
     "not a tuner capture file (an SQLite database without tuner's meta table)"),
    (lambda p: None, "no such capture file"),
])
def test_not_a_capture_is_one_line_error(capsys, tmp_path, make, fragment):
    path = tmp_path / "bad.db"
    make(path)
    assert_error_last(run(capsys, "workload", "show", path), str(path), fragment)


def test_another_version_is_one_line_error(capsys, capture):
    with sqlite3.connect(capture) as conn:
        conn.execute("UPDATE meta SET value = '2' WHERE key = 'version'")
    conn.close()
    assert_error_last(run(capsys, "workload", "show", capture), str(capture),
                      "capture format version 2; this tuner reads version 1")


def test_corrupt_capture_is_one_line_error(capsys, capture):
    data = bytearray(capture.read_bytes())
    page = int.from_bytes(data[16:18], "big")
    data[page:] = b"\xa5" * (len(data) - page)      # every page after the first: garbage
    capture.write_bytes(bytes(data))
    assert_error_last(run(capsys, "workload", "show", capture), str(capture),
                      "malformed")


def test_db_of_another_engine_is_one_line_error(capsys, capture):
    assert_error_last(run(capsys, "workload", "show", capture, "--db",
                          "postgresql://u@localhost/x"),
                      "is a postgresql database, but the capture is of a sqlite one")


def test_help(capsys):
    for argv in (["workload", "--help"], ["workload", "show", "--help"]):
        r = run(capsys, *argv)
        assert r.code == 0 and r.err == "" and f"Usage: tuner {' '.join(argv[:-1])}" in r.out
    assert "by total time" in r.out and "--db" in r.out and "--top" in r.out
