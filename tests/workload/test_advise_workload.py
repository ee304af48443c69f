"""tuner advise --workload: captured reads weighted by their captured time against the
maintenance cost of the captured writes; flags on indexes that only cost writes; the same
advice before and after `tuner apply`; --write adds indexes and the captured reads."""

from __future__ import annotations

import json
import random
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from helpers import run, sha

from tuner import load_profile
from tuner.capture import Recorder
from tuner.workload.advise.workload import profile_params, query_name

BY_EVENT = "SELECT id, user_id, status FROM participants WHERE event_id = ?"
BY_ACTOR = "SELECT id, action FROM audit WHERE actor = ?"
SORTED = "SELECT id, user_id FROM participants WHERE event_id = ? ORDER BY user_id"
JOIN = "INSERT INTO participants (event_id, user_id, status) VALUES (?, ?, ?)"
LOG = "INSERT INTO audit (actor, action, at) VALUES (?, ?, ?)"
HEAD = "profile: shop\nversion: 1\nengine: sqlite\n"


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("advise-workload") / "app.db"
    rnd = random.Random(7)
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE participants (id INTEGER PRIMARY KEY, event_id INTEGER, "
                 "user_id INTEGER, status TEXT)")
    conn.execute("CREATE TABLE audit (id INTEGER PRIMARY KEY, actor INTEGER, action TEXT, "
                 "at INTEGER)")
    conn.execute("CREATE INDEX audit_action ON audit (action)")
    conn.executemany("INSERT INTO participants (event_id, user_id, status) VALUES (?, ?, ?)",
                     [(rnd.randrange(2000), rnd.randrange(10**6), rnd.choice("abc"))
                      for _ in range(60_000)])
    conn.executemany("INSERT INTO audit (actor, action, at) VALUES (?, ?, ?)",
                     [(rnd.randrange(3000), f"act{rnd.randrange(50)}", i)
                      for i in range(60_000)])
    conn.execute("ANALYZE")
    conn.commit()
    conn.close()
    return path


@pytest.fixture
def db(tmp_path: Path, pristine: Path) -> Path:
    path = tmp_path / "app.db"
    path.write_bytes(pristine.read_bytes())
    return path


def _timed(conn: sqlite3.Connection, sql: str, params: Any) -> tuple[float, int]:
    started = time.perf_counter()
    rows = conn.execute(sql, params).fetchall()
    return time.perf_counter() - started, len(rows)


def capture(db: Path, path: Path, *, reads: dict[str, int], writes: dict[str, int]) -> Path:
    """Run each read `n` times for real (timed) and record it; record `n` writes, each timed on
    a real insert rolled back (multiplied: a long write-heavy period in a few statements)."""
    conn = sqlite3.connect(db)
    with Recorder(path) as rec:
        for sql, n in reads.items():
            for i in range(n):
                seconds, rows = _timed(conn, sql, (i % 50,))
                rec.record(sql, (i % 50,), seconds, rows)
        for sql, n in writes.items():
            params = [(i % 97, i, "a") for i in range(200)] if "participants" in sql else \
                [(i % 97, "act1", i) for i in range(200)]
            started = time.perf_counter()
            conn.executemany(sql, params)
            seconds = time.perf_counter() - started
            conn.rollback()
            rec.record(sql, params[0], seconds * n / 200, n, calls=n)
    conn.close()
    return path


def _advise(capsys: pytest.CaptureFixture[str], profile: Path, db: Path, cap: Path,
            *extra: str) -> dict[str, Any]:
    r = run(capsys, "advise", profile, "--db", db, "--workload", cap, "--format", "json",
            *extra)
    assert r.code == 0, r.err
    return json.loads(r.out)


def test_a_hot_scanning_read_gets_an_index_with_both_figures(capsys, tmp_path, db):
    cap = capture(db, tmp_path / "cap.db", reads={BY_EVENT: 200}, writes={JOIN: 500})
    profile = tmp_path / "p.yaml"
    profile.write_text(HEAD, encoding="utf-8")
    digest = sha(db)
    data = _advise(capsys, profile, db, cap)
    assert [q["name"] for q in data["captured_queries"]] == ["participants_by_event_id"]
    assert data["captured_queries"][0]["sql"] == BY_EVENT.replace("?", ":p1")
    recs = data["recommendations"]
    assert len(recs) == 1 and recs[0]["table"] == "participants"
    assert recs[0]["columns"][0] == "event_id"
    reason = recs[0]["reason"]
    assert "saves ~" in reason and "over the captured 200 calls of participants_by_event_id" \
        in reason
    assert "costs ~" in reason and "over 500 captured row writes into participants" in reason
    assert recs[0]["saving_s"] > recs[0]["write_cost_s"] > 0
    assert data["not_recommended"] == []
    assert sha(db) == digest                                    # advise never writes


def test_a_rare_read_on_a_write_heavy_table_is_not_worth_its_index(capsys, tmp_path, db):
    cap = capture(db, tmp_path / "cap.db", reads={BY_ACTOR: 1}, writes={LOG: 2_000_000})
    profile = tmp_path / "p.yaml"
    profile.write_text(HEAD, encoding="utf-8")
    data = _advise(capsys, profile, db, cap)
    assert data["recommendations"] == []
    [rejected] = data["not_recommended"]
    assert rejected["table"] == "audit" and rejected["columns"][0] == "actor"
    assert rejected["write_cost_s"] > rejected["saving_s"] > 0
    assert rejected["reason"].startswith("not recommended: saves ~")
    assert "over 2,000,000 captured row writes into audit" in rejected["reason"]
    assert "the writes would cost more than the reads save" in rejected["reason"]
    r = run(capsys, "advise", profile, "--db", db, "--workload", cap)
    assert "Not recommended (the writes in" in r.out and "audit_actor" in r.out


def test_an_index_only_written_is_flagged(capsys, tmp_path, db):
    cap = capture(db, tmp_path / "cap.db", reads={BY_EVENT: 20}, writes={LOG: 100_000})
    profile = tmp_path / "p.yaml"
    profile.write_text(HEAD, encoding="utf-8")
    data = _advise(capsys, profile, db, cap)
    flags = [f for f in data["flags"] if f["index"] == "audit_action" and "write_cost_s" in f]
    assert len(flags) == 1 and flags[0]["write_cost_s"] > 0 == flags[0]["saving_s"]
    assert "over 100,000 captured row writes into audit" in flags[0]["reason"]
    assert "no captured read uses it" in flags[0]["reason"]


def test_same_advice_before_and_after_apply_and_no_own_index_flagged(capsys, tmp_path, db):
    cap = capture(db, tmp_path / "cap.db", reads={SORTED: 100, BY_ACTOR: 100},
                  writes={JOIN: 1000})
    profile = tmp_path / "p.yaml"
    profile.write_text(HEAD + "indexes:\n  - name: participants_event\n    table: participants"
                       "\n    columns: [event_id]\n", encoding="utf-8")
    before = _advise(capsys, profile, db, cap)
    assert before["pending"] == ["participants_event"]
    r = run(capsys, "apply", profile, "--db", db, "--yes", "--no-backup")
    assert r.code == 0, r.err
    after = _advise(capsys, profile, db, cap)
    assert after["pending"] == []

    def names(data: dict[str, Any], part: str) -> list[tuple]:
        return sorted((x.get("name") or x.get("index"), x.get("table"),
                       tuple(x.get("columns") or ())) for x in data[part])

    for part in ("recommendations", "not_recommended", "flags"):
        assert names(before, part) == names(after, part), part
    # A wider index for the sorted read, beside the profile's own, which is never flagged.
    assert sorted((r["table"], tuple(r["columns"][:2])) for r in before["recommendations"]) \
        == [("audit", ("actor",)), ("participants", ("event_id", "user_id"))]
    assert not any(f["index"] == "participants_event" for f in before["flags"] + after["flags"])


def test_write_adds_indexes_and_queries_then_nothing_is_left(capsys, tmp_path, db):
    cap = capture(db, tmp_path / "cap.db", reads={BY_EVENT: 100}, writes={JOIN: 100})
    profile = tmp_path / "p.yaml"
    profile.write_text(HEAD + "# keep me\n", encoding="utf-8")
    r = run(capsys, "advise", profile, "--db", db, "--workload", cap, "--write")
    assert r.code == 0, r.err
    assert "participants_by_event_id" in r.err and "so bench and check watch them" in r.err
    text = profile.read_text(encoding="utf-8")
    assert "# keep me" in text and "version: 2" in text
    loaded = load_profile(profile)
    assert [q.name for q in loaded.queries] == ["participants_by_event_id"]
    assert loaded.queries[0].params["p1"] in range(50)     # the slowest execution's value
    assert [i.columns[0].column for i in loaded.indexes] == ["event_id"]
    r = run(capsys, "apply", profile, "--db", db, "--yes", "--no-backup")
    assert r.code == 0, r.err
    again = _advise(capsys, profile, db, cap)
    assert again["recommendations"] == [] and again["captured_queries"] == []
    assert again["problems"] == []
    r = run(capsys, "check", profile, "--db", db)
    assert r.code == 0, r.out


def test_only_workload_replaces_the_declared_queries(capsys, tmp_path, db):
    cap = capture(db, tmp_path / "cap.db", reads={BY_EVENT: 10}, writes={})
    profile = tmp_path / "p.yaml"
    profile.write_text(HEAD + "queries:\n  - name: by_actor\n    sql: SELECT * FROM audit "
                       "WHERE actor = :a\n    params: {a: 1}\n", encoding="utf-8")
    data = _advise(capsys, profile, db, cap, "--only-workload")
    assert {p["query"] for p in data["problems"]} == {"participants_by_event_id"}
    data = _advise(capsys, profile, db, cap)
    assert {p["query"] for p in data["problems"]} == {"participants_by_event_id", "by_actor"}
    r = run(capsys, "advise", profile, "--db", db, "--workload", cap, "--format", "yaml")
    assert r.code == 0, r.err
    pasted = yaml.safe_load(r.out)
    assert [q["name"] for q in pasted["queries"]] == ["participants_by_event_id"]
    assert {i["table"] for i in pasted["indexes"]} == {"participants", "audit"}
    r = run(capsys, "advise", profile, "--db", db, "--only-workload")
    assert r.code == 1 and "--only-workload needs --workload" in r.err


def test_parameters_and_names() -> None:
    assert profile_params("SELECT * FROM t WHERE a = ? AND b = ?") == (
        "SELECT * FROM t WHERE a = :p1 AND b = :p2", ["p1", "p2"])
    assert profile_params("SELECT * FROM t WHERE a = ?2 AND b = @x AND c = '?'") == (
        "SELECT * FROM t WHERE a = :p2 AND b = :x AND c = '?'", ["p2", "x"])
    assert profile_params("SELECT * FROM t WHERE a = %s AND b = %(b)s") == (
        "SELECT * FROM t WHERE a = :p1 AND b = :b", ["p1", "b"])
    taken = {"participants_by_event_id"}
    assert query_name("SELECT * FROM participants WHERE event_id = ?", "sqlite", taken) == \
        "participants_by_event_id_2"
    assert query_name("SELECT count(*) FROM participants WHERE status = ? GROUP BY event_id",
                      "sqlite", set()) == "count_participants_by_status_per_event_id"
    assert query_name("SELECT * FROM tuner_x", "sqlite", set()) == "q_tuner_x"


def test_a_captured_read_of_a_missing_table_is_left_out(capsys, tmp_path, db):
    cap = tmp_path / "cap.db"
    with Recorder(cap) as rec:
        rec.record("SELECT * FROM gone WHERE x = ?", (1,), 0.5, 1)
        rec.record(BY_EVENT, (3,), 0.5, 1)
    profile = tmp_path / "p.yaml"
    profile.write_text(HEAD, encoding="utf-8")
    data = _advise(capsys, profile, db, cap)
    assert [q["name"] for q in data["captured_queries"]] == ["participants_by_event_id"]
    assert data["captured_queries"][0]["params"] == {"p1": 3}
    assert any(n["query"] == "gone_by_x" and "has no table gone" in n["note"]
               for n in data["notes"])


def test_a_capture_of_another_engine_is_refused(capsys, tmp_path, db):
    cap = tmp_path / "cap.db"
    with Recorder(cap, engine="postgresql") as rec:
        rec.record(BY_EVENT, (3,), 0.5, 1)
    profile = tmp_path / "p.yaml"
    profile.write_text(HEAD, encoding="utf-8")
    r = run(capsys, "advise", profile, "--db", db, "--workload", cap)
    assert r.code == 1 and "a capture of a postgresql database" in r.err


@pytest.mark.parametrize(("where", "tried"), [("status IN ('a', 'b')", True),
                                             ("status <> 'a'", False)])
def test_an_unbuilt_index_is_tried_or_noted(capsys, tmp_path, db, where, tried):
    """A declared, unbuilt partial index advise can make hypothetical (an `=` or IN-list
    WHERE) is tried and pending; one it cannot (`<>`) gets a note instead."""
    profile = tmp_path / "p.yaml"
    profile.write_text(HEAD + "indexes:\n  - name: open_participants\n    table: participants\n"
                       f"    columns: [event_id]\n    where: {where}\n"
                       "queries:\n  - name: q\n    sql: SELECT id FROM participants WHERE "
                       "user_id = :u\n    params: {u: 1}\n", encoding="utf-8")
    r = run(capsys, "advise", profile, "--db", db, "--format", "json")
    assert r.code == 0, r.err
    data = json.loads(r.out)
    assert data["pending"] == (["open_participants"] if tried else [])
    noted = [n["note"] for n in data["notes"] if "open_participants" in n["note"]]
    if tried:
        assert noted == []
    else:
        assert any("index open_participants: declared but not built, and advise cannot try it"
                   in n for n in noted)


def test_a_declared_index_not_built_yet_is_flagged_as_such(capsys, tmp_path, db):
    cap = capture(db, tmp_path / "cap.db", reads={BY_EVENT: 20}, writes={LOG: 100_000})
    profile = tmp_path / "p.yaml"
    profile.write_text(HEAD + "indexes:\n  - name: audit_at\n    table: audit\n"
                       "    columns: [at]\n", encoding="utf-8")
    data = _advise(capsys, profile, db, cap)
    assert data["pending"] == ["audit_at"]
    by_index = {f["index"]: f for f in data["flags"]}
    assert by_index["audit_at"]["built"] is False and by_index["audit_action"]["built"] is True
    text = run(capsys, "advise", profile, "--db", db, "--workload", cap).out
    existing, _, declared = text.partition("not built yet) that would earn nothing:")
    assert "index audit_at" in declared and "index audit_at" not in \
        existing.split("Existing indexes that earn nothing:")[-1]
