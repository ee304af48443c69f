"""Tests for `tuner bench` and tuner.workload.bench: query plans, --compare on copies only,
the read-only guard, JSON shape. Real SQLite files; never an assertion on wall-clock time."""

from __future__ import annotations

import contextlib
import io
import json
import sqlite3
from pathlib import Path

import pytest
from helpers import assert_error_last, run, sha, write

from tuner.cli import main
from tuner.engines.sqlite.bench import classify
from tuner.engines.sqlite.demo import create_demo_db
from tuner.errors import TunerError
from tuner.profile import Query, load_profile
from tuner.resources import bundled_profile
from tuner.workload.bench.run import bench

PROFILE_INDEXES = {"participants_event_status", "participants_user_active",
                   "messages_event_time", "events_upcoming", "events_creator_date"}


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("bench") / "bot.db"
    create_demo_db(path, 3000)
    return path


@pytest.fixture(scope="module")
def compared(demo: Path) -> tuple[dict, str, set[str]]:
    """One --compare run in JSON, the database's sha256 before it, and the folder listing."""
    before = sha(demo)
    listing = {p.name for p in demo.parent.iterdir()}
    buf = io.StringIO()
    with pytest.raises(SystemExit) as exc, contextlib.redirect_stdout(buf):
        main(["bench", str(bundled_profile()), "--db", str(demo), "--compare",
              "--runs", "2", "--warmup", "0", "--format", "json"])
    assert exc.value.code == 0
    return json.loads(buf.getvalue()), before, listing


# -- the EXPLAIN QUERY PLAN parser -----------------------------------------------------------
@pytest.mark.parametrize(("detail", "kind", "table", "index", "summary"), [
    ("SCAN users", "scan", "users", None, "SCAN users"),
    ("SCAN TABLE users AS u", "scan", "users", None, "SCAN users"),
    ("SEARCH p USING COVERING INDEX participants_event_status (event_id=? AND status=?)",
     "search", "p", "participants_event_status",
     "SEARCH p USING COVERING INDEX participants_event_status"),
    ("SEARCH TABLE events USING INDEX events_upcoming (date>?)", "search", "events",
     "events_upcoming", "SEARCH events USING INDEX events_upcoming"),
    ("SEARCH e USING INTEGER PRIMARY KEY (rowid=?)", "search", "e", None,
     "SEARCH e USING INTEGER PRIMARY KEY"),
    ("USE TEMP B-TREE FOR ORDER BY", "temp_btree", None, None, "USE TEMP B-TREE FOR ORDER BY"),
    ("USE TEMP B-TREE FOR GROUP BY", "temp_btree", None, None, "USE TEMP B-TREE FOR GROUP BY"),
    ("USE TEMP B-TREE FOR DISTINCT", "temp_btree", None, None, "USE TEMP B-TREE FOR DISTINCT"),
    ("CORRELATED SCALAR SUBQUERY 1", "other", None, None, "CORRELATED SCALAR SUBQUERY 1"),
])
def test_classify(detail: str, kind: str, table: str | None, index: str | None,
                  summary: str) -> None:
    line = classify(detail)
    assert (line.kind, line.table, line.index, line.summary) == (kind, table, index, summary)


# -- plain bench -----------------------------------------------------------------------------
def test_bench_untuned_plans_scan_or_use_the_autoindex(demo: Path) -> None:
    profile = load_profile(bundled_profile())
    report = bench(str(demo), profile, runs=2, warmup=0)
    assert [q.query.name for q in report.queries] == [q.name for q in profile.queries]
    for q in report.queries:
        assert q.result.rows >= 0 and q.result.median_ms >= 0
        assert q.result.p95_ms >= 0
        for line in q.result.plan:
            if line.kind == "search":
                assert line.index is None or line.index.startswith("sqlite_autoindex"), line
        assert any(line.kind == "scan" or (line.index or "").startswith("sqlite_autoindex")
                   for line in q.result.plan), q.query.name


def test_bench_json_shape(capsys: pytest.CaptureFixture[str], demo: Path) -> None:
    r = run(capsys, "bench", bundled_profile(), "--db", demo, "--runs", "2", "--warmup", "0",
            "--format", "json")
    assert r.code == 0, r.err
    data = json.loads(r.out)
    assert data["database"] == str(demo) and data["profile"]["name"] == "telegram-bot"
    assert data["compare"] is False and data["write_cost"] is None
    for q in data["queries"]:
        assert {"name", "median_ms", "p95_ms", "rows", "plan"} <= set(q)
        assert "before" not in q and "speedup" not in q
        assert all(isinstance(s, str) for s in q["plan"])


def test_bench_text(capsys: pytest.CaptureFixture[str], demo: Path) -> None:
    r = run(capsys, "bench", bundled_profile(), "--db", demo, "--runs", "1")
    assert r.code == 0, r.err
    assert "confirmed_participants" in r.out and "median ms" in r.out
    assert "Query plans:" in r.out


# -- --compare -------------------------------------------------------------------------------
def test_compare_uses_the_profile_indexes_after(compared: tuple[dict, str, set[str]]) -> None:
    data, _, _ = compared
    assert data["compare"] is True and data["applied_steps"] > 0
    used = set()
    for q in data["queries"]:
        assert {"before", "after", "speedup", "same_rows", "median_ms", "p95_ms", "rows",
                "plan"} <= set(q)
        assert q["same_rows"] is True
        assert q["after"]["plan"] == q["plan"]
        assert all(line.startswith("SCAN") or "sqlite_autoindex" in line
                   or "INTEGER PRIMARY KEY" in line or line.startswith("USE TEMP")
                   for line in q["before"]["plan"]), q["before"]["plan"]
        used |= {line.split()[-1] for line in q["after"]["plan"] if line.startswith("SEARCH")}
    assert PROFILE_INDEXES <= used


def test_compare_leaves_the_database_alone(demo: Path,
                                           compared: tuple[dict, str, set[str]]) -> None:
    _, before, listing = compared
    assert sha(demo) == before
    assert {p.name for p in demo.parent.iterdir()} == listing


def test_compare_write_cost(compared: tuple[dict, str, set[str]]) -> None:
    cost = compared[0]["write_cost"]
    assert {"table", "batch", "measurable", "reason", "before_ms", "after_ms", "ratio",
            "skipped"} <= set(cost)
    assert cost["measurable"] is True and cost["table"] in {"messages", "participants"}
    assert cost["batch"] == 2000


def test_compare_text(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    db = tmp_path / "small.db"
    create_demo_db(db, 300)
    r = run(capsys, "bench", bundled_profile(), "--db", db, "--compare", "--runs", "1",
            "--warmup", "0")
    assert r.code == 0, r.err
    assert "before ms" in r.out and "speedup" in r.out and "after:" in r.out
    assert "Write cost:" in r.out and "NO (results differ)" not in r.out


# -- read-only -------------------------------------------------------------------------------
def test_validate_rejects_a_writing_with(capsys: pytest.CaptureFixture[str],
                                         tmp_path: Path) -> None:
    path = write(tmp_path / "w.yaml", "profile: w\nversion: 1\nengine: sqlite\nqueries:\n"
                 "  - name: sneaky_delete\n"
                 "    sql: WITH x AS (SELECT 1) DELETE FROM users\n")
    r = run(capsys, "validate", path)
    assert_error_last(r, "sneaky_delete", "DELETE", "queries[0].sql")


def test_validate_accepts_a_reading_with(capsys: pytest.CaptureFixture[str],
                                         tmp_path: Path) -> None:
    path = write(tmp_path / "r.yaml", "profile: r\nversion: 1\nengine: sqlite\nqueries:\n"
                 "  - name: cte\n"
                 "    sql: WITH d AS (SELECT 1 AS n) SELECT n FROM d\n")
    assert run(capsys, "validate", path).code == 0


@pytest.mark.parametrize("sql", ["DELETE FROM users",
                                 "WITH x AS (SELECT 1) DELETE FROM users",
                                 "UPDATE users SET username = NULL",
                                 "CREATE TABLE t(x)"])
def test_the_guard_blocks_writes_at_run_time(tmp_path: Path, sql: str) -> None:
    db = tmp_path / "g.db"
    create_demo_db(db, 50)
    before = sha(db)
    with pytest.raises(TunerError, match="query wipe is not read-only"):
        bench(str(db), load_profile(bundled_profile()), runs=1, warmup=0,
              queries=[Query("wipe", sql)])
    assert sha(db) == before
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM users").fetchone()[0] > 0


# -- errors and help -------------------------------------------------------------------------
def test_missing_database(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    r = run(capsys, "bench", bundled_profile(), "--db", tmp_path / "nope.db")
    assert_error_last(r, "nope.db")
    assert not (tmp_path / "nope.db").exists()


def test_profile_without_queries(capsys: pytest.CaptureFixture[str], demo: Path,
                                 tmp_path: Path) -> None:
    path = write(tmp_path / "e.yaml", "profile: e\nversion: 1\nengine: sqlite\n")
    assert_error_last(run(capsys, "bench", path, "--db", demo), "declares no queries")


def test_help(capsys: pytest.CaptureFixture[str]) -> None:
    r = run(capsys, "bench", "--help")
    assert r.code == 0
    for option in ("--db", "--compare", "--runs", "--warmup", "--format"):
        assert option in r.out


# -- noise -----------------------------------------------------------------------------------
IDENTICAL = """\
profile: identical
version: 1
engine: sqlite
queries:
  - name: confirmed_participants
    sql: SELECT user_id FROM participants WHERE event_id = :event_id AND status = 'confirmed'
    params: {event_id: 1}
  - name: user_messages
    sql: SELECT count(*) FROM messages WHERE user_id = :user_id
    params: {user_id: 3}
"""


def test_compare_of_an_identical_copy_is_within_noise(capsys: pytest.CaptureFixture[str],
                                                      demo: Path, tmp_path: Path) -> None:
    """No change at all, three runs: whatever ratio the clock shows, bench must not present
    it as real. Three runs a side can never tell two samples apart (the smallest two-sided
    Mann-Whitney p-value of 3 against 3 is 0.1), so this holds whatever the times are."""
    profile = write(tmp_path / "identical.yaml", IDENTICAL)
    r = run(capsys, "bench", profile, "--db", demo, "--compare", "--runs", "3", "--format",
            "json")
    assert r.code == 0, r.err
    data = json.loads(r.out)
    assert data["applied_steps"] == 0
    assert [q["within_noise"] for q in data["queries"]] == [True, True]
    assert data["write_cost"]["within_noise"] is True
    warnings = [line for line in r.err.splitlines() if "within noise" in line]
    assert len(warnings) == 1 and "--runs" in warnings[0], r.err
    text = run(capsys, "bench", profile, "--db", demo, "--compare", "--runs", "3")
    assert text.code == 0, text.err
    rows = [line for line in text.out.splitlines() if line.startswith(
        ("confirmed_participants", "user_messages"))][:2]
    assert len(rows) == 2 and all("within noise" in line for line in rows), text.out
    cost = next(line for line in text.out.splitlines() if line.startswith("Write cost:"))
    assert ("slower" in cost or "faster" in cost or "same" in cost) and "within noise" in cost


def test_noise_test_on_made_up_samples() -> None:
    from tuner.workload.noise import change_words, within_noise

    fast, slow = [1.0, 1.1, 1.05, 0.98, 1.02, 1.07], [2.0, 2.2, 2.1, 1.95, 2.05, 2.3]
    assert within_noise(fast, slow) is False and within_noise(slow, fast) is False
    assert within_noise(fast[:3], slow[:3]) is True  # 3 against 3: never told apart
    assert within_noise(fast, [x + 0.01 for x in reversed(fast)]) is True
    assert within_noise([1.0] * 30, [1.0] * 30) is True
    assert within_noise(fast * 6, slow * 6) is False  # the large-sample branch
    assert change_words(10.0, 15.8) == "1.58x slower"
    assert change_words(15.8, 10.0) == "1.58x faster"
    assert change_words(10.0, 10.0) == "the same"
