"""tuner advise: problems, candidate indexes evaluated on a schema-only copy, a small set, flags."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
import yaml
from helpers import run, sha

from tuner import load_profile
from tuner.engines.sqlite.demo import create_demo_db
from tuner.engines.sqlite.inspect import open_readonly, read_state
from tuner.model import State
from tuner.workload.advise.run import advise
from tuner.workload.advise.search import parse_query
from tuner.workload.shape import Where, candidates

ROOT = Path(__file__).resolve().parents[2]
BOT = ROOT / "profiles" / "telegram-bot.yaml"
STATUS_ONLY = {"name": "declined_count",
               "sql": "SELECT COUNT(*) FROM participants WHERE status = 'declined'"}


def _profile(path: Path, extra: list[dict] | None = None) -> Path:
    """The bundled queries, no indexes."""
    queries = yaml.safe_load(BOT.read_text(encoding="utf-8"))["queries"] + (extra or [])
    path.write_text(yaml.safe_dump({"profile": "advise-test", "version": 1, "engine": "sqlite",
                                    "queries": queries}), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("advise") / "pristine.db"
    create_demo_db(path, 20_000)
    conn = sqlite3.connect(path)
    conn.execute("ANALYZE")
    conn.commit()
    conn.close()
    return path


@pytest.fixture
def db(tmp_path: Path, pristine: Path) -> Path:
    path = tmp_path / "bot.db"
    path.write_bytes(pristine.read_bytes())
    return path


def _execute(db: Path, *statements: str) -> None:
    conn = sqlite3.connect(db)
    for sql in statements:
        conn.execute(sql)
    conn.execute("ANALYZE")
    conn.commit()
    conn.close()


def _state(db: Path) -> State:
    conn = open_readonly(str(db))
    try:
        return read_state(conn)
    finally:
        conn.close()


def test_equality_query_gets_a_composite_leading_with_event_id(tmp_path: Path, db: Path) -> None:
    digest = sha(db)
    advice = advise(load_profile(_profile(tmp_path / "p.yaml")), str(db))
    assert any(p["query"] == "latest_messages" and p["kind"] == "scan" for p in advice.problems)
    recs = [r for r in advice.recommendations if "latest_messages" in r.queries]
    assert len(recs) == 1
    assert recs[0].table == "messages" and recs[0].columns[:2] == ("event_id", "timestamp")
    assert "rows visited" in recs[0].reason
    assert sha(db) == digest                                    # advise never writes


def test_a_served_query_gets_no_recommendation(tmp_path: Path, db: Path) -> None:
    _execute(db, "CREATE INDEX messages_chat ON messages(event_id, timestamp)")
    advice = advise(load_profile(_profile(tmp_path / "p.yaml")), str(db))
    assert not any(p["query"] == "latest_messages" for p in advice.problems)
    assert not any("latest_messages" in r.queries for r in advice.recommendations)
    assert not any(r.table == "messages" for r in advice.recommendations)


def test_status_only_query_gets_no_lone_status_index(tmp_path: Path, db: Path) -> None:
    advice = advise(load_profile(_profile(tmp_path / "p.yaml", [STATUS_ONLY])), str(db))
    assert any(p["query"] == "declined_count" for p in advice.problems)
    assert not any("declined_count" in r.queries for r in advice.recommendations)
    assert not any(r.columns[0] == "status" for r in advice.recommendations)


def test_partial_index_for_a_literal_predicate(tmp_path: Path, db: Path) -> None:
    advice = advise(load_profile(_profile(tmp_path / "p.yaml")), str(db))
    recs = [r for r in advice.recommendations if "upcoming_events" in r.queries]
    assert len(recs) == 1 and recs[0].where and "active" in recs[0].where
    assert "status" not in recs[0].columns


def test_redundant_and_unused_existing_indexes_are_flagged(tmp_path: Path, db: Path) -> None:
    _execute(db, "CREATE INDEX participants_event ON participants(event_id)",
             "CREATE INDEX participants_status ON participants(status)")
    advice = advise(load_profile(_profile(tmp_path / "p.yaml")), str(db))
    reasons = {f["index"]: [] for f in advice.flags}
    for f in advice.flags:
        reasons[f["index"]].append(f["reason"])
    assert any("prefix of" in r and "UNIQUE" in r for r in reasons["participants_event"])
    assert any("distinct values" in r for r in reasons["participants_status"])
    assert any("no declared query uses it" in r for r in reasons["participants_status"])
    assert not any(f["index"].startswith("sqlite_autoindex") for f in advice.flags)


def test_the_attendee_list_is_covered_by_widening_the_counts_index(tmp_path: Path,
                                                                   db: Path) -> None:
    """confirmed_participants is a SEARCH through the UNIQUE(event_id, user_id) autoindex (no
    problem, so no candidates of its own) reading thousands of rows of the demo's big event:
    participant_counts' (event_id, status) gains user_id so that both read only the index, as
    the bundled profile's hand-chosen index does. latest_messages (LIMIT 50) and the index
    scan of 200 events get no wider index."""
    advice = advise(load_profile(_profile(tmp_path / "p.yaml")), str(db))
    by_query = {q: r for r in advice.recommendations for q in r.queries}
    assert by_query["confirmed_participants"].columns == ("event_id", "status", "user_id")
    assert by_query["participant_counts"] is by_query["confirmed_participants"]
    assert "user_id added so confirmed_participants" in by_query["participant_counts"].reason
    assert by_query["latest_messages"].columns == ("event_id", "timestamp")
    assert by_query["created_events"].columns == ("creator_id", "date")


def test_convergence(capsys: pytest.CaptureFixture[str], tmp_path: Path, db: Path) -> None:
    """advise --write, then tuner apply: advising again finds nothing, and every declared
    query of the bundled profile is a SEARCH with no SCAN of a large table (events, 200 rows
    here, may still be scanned where the planner prefers it)."""
    profile = _profile(tmp_path / "p.yaml")
    before = advise(load_profile(profile), str(db))
    assert {p["query"] for p in before.problems if p["kind"] == "scan"}
    r = run(capsys, "advise", profile, "--db", db, "--format", "yaml")
    assert r.code == 0, r.err
    block = yaml.safe_load(r.out)
    assert block["indexes"] and all("comment" in e for e in block["indexes"])
    assert len({(e["table"], tuple(e["columns"])) for e in block["indexes"]}) == len(
        block["indexes"])
    r = run(capsys, "advise", profile, "--db", db, "--write")
    assert r.code == 0, r.err
    written = load_profile(profile)
    assert written.version == 2
    assert [i.name for i in written.indexes] == [e["name"] for e in block["indexes"]]
    # The advisor's set is no larger than the bundled profile's hand-chosen one.
    assert len(written.indexes) <= len(load_profile(BOT).indexes)
    r = run(capsys, "apply", profile, "--db", db, "--yes", "--no-backup")
    assert r.code == 0, r.err
    after = advise(load_profile(profile), str(db))
    assert after.recommendations == []
    assert not any(p["kind"] == "scan" for p in after.problems)
    assert not any("no declared query uses it" in f["reason"] for f in after.flags)
    conn = sqlite3.connect(db)
    for query in written.queries:
        plan = [row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + query.sql,
                                               query.params)]
        assert any(line.startswith("SEARCH") for line in plan), (query.name, plan)
    conn.close()
    # ...and no SCAN of a large table: tuner check agrees (no drift, no large scan).
    r = run(capsys, "check", profile, "--db", db)
    assert r.code == 0, (r.out, r.err)


def test_json_shape(capsys: pytest.CaptureFixture[str], tmp_path: Path, db: Path) -> None:
    r = run(capsys, "advise", _profile(tmp_path / "p.yaml"), "--db", db, "--format", "json")
    assert r.code == 0, r.err
    data = json.loads(r.out)
    assert set(data) == {"problems", "recommendations", "flags", "notes", "pending"}
    assert {"query", "kind", "table", "rows", "plan"} <= set(data["problems"][0])
    assert set(data["recommendations"][0]) == {"name", "table", "columns", "include", "where",
                                               "queries", "reason", "declared"}


def test_text_and_help(capsys: pytest.CaptureFixture[str], tmp_path: Path, db: Path) -> None:
    r = run(capsys, "advise", "--help")
    assert r.code == 0 and "--scan-threshold" in r.out and "yaml" in r.out
    assert "--write" in r.out and "version" in r.out
    r = run(capsys, "advise", _profile(tmp_path / "p.yaml"), "--db", db)
    assert r.code == 0, r.err
    assert "Recommended indexes:" in r.out and "serves: latest_messages" in r.out


def test_parse_query_reads_structure_with_a_parser(db: Path) -> None:
    state = _state(db)
    shape = parse_query(
        "SELECT e.id, e.title FROM participants p JOIN events e ON e.id = p.event_id "
        "WHERE p.user_id = :u AND p.status IN ('a', 'b') AND e.date BETWEEN 1 AND 2 "
        "ORDER BY e.date LIMIT 5", state)
    p, e = shape.uses["participants"], shape.uses["events"]
    assert [(c, n) for c, n, _ in p.eq] == [("user_id", 1), ("status", 2)]
    assert p.joins == ["event_id"] and e.joins == ["id"]
    assert e.ranges == [("date", 2)] and e.order == ["date"] and shape.limit == 5
    assert shape.names["p"] == "participants"


def test_a_limit_given_as_a_parameter_is_a_limit(db: Path) -> None:
    """Captured reads bind their LIMIT (`LIMIT ?` becomes `LIMIT :p2`): it stops the query
    early all the same, so it gets no covering candidate (a covering index visiting only
    LIMIT rows adds write cost and saves little)."""
    state = _state(db)
    sql = ("SELECT user_id, text, timestamp FROM messages WHERE event_id = :p1 "
           "ORDER BY timestamp DESC LIMIT :p2")
    shape = parse_query(sql, state, params={"p1": 3, "p2": 50})
    assert shape.limited and shape.limit == 50
    unknown = parse_query(sql, state)
    assert unknown.limited and unknown.limit is None
    assert not parse_query("SELECT id FROM messages WHERE event_id = :e", state).limited
    cands = candidates(shape.uses["messages"], shape, state)
    assert [c.columns for c in cands] == [("event_id", "timestamp")]
    free = parse_query(sql.replace(" LIMIT :p2", ""), state)
    assert ("event_id", "timestamp", "text", "user_id") in \
        [c.columns for c in candidates(free.uses["messages"], free, state)]


def test_an_in_list_of_literals_gives_a_partial_candidate(db: Path) -> None:
    state = _state(db)
    shape = parse_query(
        "SELECT e.id, e.title, e.date FROM participants p JOIN events e ON e.id = p.event_id "
        "WHERE p.user_id = :u AND p.status IN ('confirmed', 'pending') ORDER BY e.date", state)
    use = shape.uses["participants"]
    assert ("status", 2, ("confirmed", "pending")) in use.eq
    cands = candidates(use, shape, state)
    partial = [c for c in cands if c.where]
    assert partial and all(c.where == Where("status", ("confirmed", "pending"))
                           for c in partial)
    assert ("user_id", "event_id") in [c.columns for c in partial]
    assert partial[0].where.sql == "\"status\" IN ('confirmed', 'pending')"
    assert "status_confirmed_pending" in partial[0].default_name()
    # An IN list holding a parameter is no constant condition.
    shape = parse_query("SELECT id FROM participants WHERE user_id = :u "
                        "AND status IN ('a', :s)", state)
    assert not [c for c in candidates(shape.uses["participants"], shape, state) if c.where]


def test_parse_query_reads_each_select_core(db: Path) -> None:
    state = _state(db)
    shape = parse_query(
        "WITH mine AS (SELECT event_id FROM participants WHERE user_id = :u) "
        "SELECT e.title, (SELECT COUNT(*) FROM messages m WHERE m.event_id = e.id) AS n "
        "FROM events e WHERE e.id IN (SELECT event_id FROM mine) "
        "UNION ALL SELECT title, 0 FROM events WHERE creator_id = :c", state)
    assert shape.note is None and "mine" in shape.derived
    by_table: dict[str, list] = {}
    for core in shape.parts():
        for table, use in core.uses.items():
            by_table.setdefault(table, []).append([c for c, _, _ in use.eq])
    assert by_table["participants"] == [["user_id"]]
    assert by_table["messages"] == [["event_id"]]           # m.event_id = e.id: a value
    assert sorted(by_table["events"]) == [[], ["creator_id"]]


def test_parse_query_notes_what_it_cannot_read(db: Path) -> None:
    state = _state(db)
    shape = parse_query("SELECT id FROM users WHERE username LIKE :u ESCAPE", state)
    assert shape.uses == {} and shape.note and shape.note.startswith("not analysed")
    shape = parse_query("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) "
                        "SELECT i FROM n LIMIT 3", state)
    assert shape.uses == {} and "no table of the database" in (shape.note or "")
