"""Tests for tuner.workload.demo.data: schema, determinism, skew, refusal rules, untuned state."""

from __future__ import annotations

import hashlib
import random
import sqlite3
import statistics
from collections.abc import Iterator
from pathlib import Path

import pytest

from tuner.engines.sqlite.demo import create_demo_db
from tuner.errors import DatabaseError, TunerError
from tuner.workload.demo import data as demo
from tuner.workload.demo.data import DemoStats

N = 20_000
TABLES = ("users", "events", "participants", "messages")
COLUMNS = {
    "users": [("id", "INTEGER", 1), ("username", "TEXT", 0), ("chat_id", "INTEGER", 0),
              ("created_at", "INTEGER", 0)],
    "events": [("id", "INTEGER", 1), ("title", "TEXT", 0), ("creator_id", "INTEGER", 0),
               ("date", "INTEGER", 0), ("location", "TEXT", 0), ("description", "TEXT", 0),
               ("status", "TEXT", 0)],
    "participants": [("id", "INTEGER", 1), ("event_id", "INTEGER", 0), ("user_id", "INTEGER", 0),
                     ("status", "TEXT", 0), ("joined_at", "INTEGER", 0),
                     ("updated_at", "INTEGER", 0)],
    "messages": [("id", "INTEGER", 1), ("event_id", "INTEGER", 0), ("user_id", "INTEGER", 0),
                 ("text", "TEXT", 0), ("timestamp", "INTEGER", 0)],
}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, DemoStats]:
    path = tmp_path_factory.mktemp("demo") / "demo.db"
    return path, create_demo_db(path, N, seed=42)


@pytest.fixture
def con(built: tuple[Path, DemoStats]) -> Iterator[sqlite3.Connection]:
    c = sqlite3.connect(f"file:{built[0]}?mode=ro", uri=True)
    yield c
    c.close()


def table_digest(path: Path) -> dict[str, str]:
    c = sqlite3.connect(path)
    try:
        return {t: hashlib.sha256(repr(c.execute(f"SELECT * FROM {t} ORDER BY id").fetchall())
                                  .encode()).hexdigest() for t in TABLES}
    finally:
        c.close()


def test_schema_columns_and_unique_autoindexes(con: sqlite3.Connection) -> None:
    names = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")]
    assert names == list(TABLES)
    for table, expected in COLUMNS.items():
        info = con.execute(f"PRAGMA table_info({table})").fetchall()
        assert [(r[1], r[2], r[5]) for r in info] == expected
    unique = {t: sorted(tuple(r[2] for r in con.execute(f"PRAGMA index_info({i[1]})"))
                        for i in con.execute(f"PRAGMA index_list({t})") if i[3] == "u" and i[2])
              for t in TABLES}
    assert unique == {"users": [("chat_id",), ("username",)], "events": [],
                      "participants": [("event_id", "user_id")], "messages": []}
    fks = {t: sorted((r[3], r[2], r[4]) for r in con.execute(f"PRAGMA foreign_key_list({t})"))
           for t in TABLES}
    assert fks["events"] == [("creator_id", "users", "id")]
    assert fks["participants"] == [("event_id", "events", "id"), ("user_id", "users", "id")]
    assert fks["messages"] == [("event_id", "events", "id"), ("user_id", "users", "id")]


def test_row_counts_match_stats(built: tuple[Path, DemoStats], con: sqlite3.Connection) -> None:
    path, stats = built
    counts = {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}
    assert counts == stats.rows
    assert counts["participants"] == N and counts["messages"] == N
    assert counts["events"] >= 10 and counts["users"] >= N // 10
    assert stats.path == str(path) and stats.total_rows == sum(counts.values())
    assert stats.seconds > 0 and stats.rows_per_second > 0


def test_skewed_event_sizes(con: sqlite3.Connection) -> None:
    sizes = dict(con.execute("SELECT event_id, count(*) FROM participants GROUP BY event_id"))
    all_sizes = [sizes.get(e, 0) for (e,) in con.execute("SELECT id FROM events")]
    assert max(all_sizes) >= 0.20 * N
    assert statistics.median(all_sizes) <= 50
    n_users = con.execute("SELECT count(*) FROM users").fetchone()[0]
    assert max(all_sizes) <= min(n_users, 100_000)
    biggest = max(sizes, key=sizes.__getitem__)
    per_event = dict(con.execute("SELECT event_id, count(*) FROM messages GROUP BY event_id"))
    assert per_event[biggest] >= 0.15 * N  # messages follow the big events


def test_status_mix_and_time_ranges(con: sqlite3.Connection) -> None:
    share = {s: c / N for s, c in con.execute(
        "SELECT status, count(*) FROM participants GROUP BY status")}
    assert set(share) == {"confirmed", "pending", "declined"}
    assert abs(share["confirmed"] - 0.60) < 0.03 and abs(share["pending"] - 0.25) < 0.03
    n_events = con.execute("SELECT count(*) FROM events").fetchone()[0]
    ev = {s: c / n_events for s, c in con.execute(
        "SELECT status, count(*) FROM events GROUP BY status")}
    assert set(ev) == {"active", "cancelled", "completed"} and 0.55 < ev["active"] < 0.85
    lo, hi = con.execute("SELECT min(date), max(date) FROM events").fetchone()
    assert demo.EPOCH - demo.YEAR <= lo and hi <= demo.EPOCH + demo.YEAR // 2
    assert con.execute("SELECT count(*) FROM participants WHERE updated_at < joined_at"
                       " OR (status = 'pending' AND updated_at != joined_at)").fetchone()[0] == 0
    stamps = [r[0] for r in con.execute("SELECT timestamp FROM messages ORDER BY id")]
    assert stamps[0] < stamps[len(stamps) // 2] < stamps[-1] <= demo.EPOCH
    assert con.execute("SELECT count(*) FROM users WHERE username NOT LIKE 'user_%'"
                       " OR chat_id IS NULL").fetchone()[0] == 0


def test_untuned_and_consistent(built: tuple[Path, DemoStats], con: sqlite3.Connection,
                                tmp_path: Path) -> None:
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    fresh = sqlite3.connect(tmp_path / "fresh.db")
    fresh.execute("CREATE TABLE t(x)")
    assert con.execute("PRAGMA page_size").fetchone()[0] == \
        fresh.execute("PRAGMA page_size").fetchone()[0]
    fresh.close()
    origins = [i[3] for t in TABLES for i in con.execute(f"PRAGMA index_list({t})")]
    assert origins and "c" not in origins
    names = {r[0] for r in con.execute("SELECT name FROM sqlite_master")}
    assert not any(n.startswith("sqlite_stat") for n in names)
    assert con.execute("PRAGMA foreign_key_check").fetchall() == []
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert not Path(f"{built[0]}-journal").exists() and not Path(f"{built[0]}-wal").exists()


def test_deterministic_per_seed(built: tuple[Path, DemoStats], tmp_path: Path) -> None:
    again = tmp_path / "again.db"
    create_demo_db(again, N, seed=42)
    first = table_digest(built[0])
    assert table_digest(again) == first
    other = tmp_path / "other.db"
    create_demo_db(other, N, seed=7)
    differs = table_digest(other)
    assert all(differs[t] != first[t] for t in TABLES)


def test_refuses_existing_path_and_leaves_it_alone(tmp_path: Path) -> None:
    path = tmp_path / "keep.db"
    path.write_bytes(b"precious bytes\x00\x01")
    with pytest.raises(DatabaseError, match="already exists; pass --force to replace it") as exc:
        create_demo_db(path, 100)
    assert str(path) in str(exc.value)
    assert path.read_bytes() == b"precious bytes\x00\x01"
    (tmp_path / "dir.db").mkdir()
    with pytest.raises(DatabaseError, match="already exists"):
        create_demo_db(tmp_path / "dir.db", 100)
    with pytest.raises(DatabaseError, match="is a directory"):
        create_demo_db(tmp_path / "dir.db", 100, force=True)
    assert (tmp_path / "dir.db").is_dir()


def test_force_replaces_file_and_companions(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    path.write_bytes(b"not a database")
    for suffix in ("-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").write_bytes(b"stale")
    stats = create_demo_db(path, 500, force=True)
    assert stats.rows["participants"] == 500
    for suffix in ("-wal", "-shm", "-journal"):
        assert not Path(f"{path}{suffix}").exists()
    c = sqlite3.connect(path)
    assert c.execute("SELECT count(*) FROM participants").fetchone()[0] == 500
    c.close()


def test_user_errors(tmp_path: Path) -> None:
    with pytest.raises(DatabaseError, match="does not exist"):
        create_demo_db(tmp_path / "missing" / "x.db", 10)
    assert not (tmp_path / "missing").exists()
    with pytest.raises(TunerError, match="--participants must be >= 0"):
        create_demo_db(tmp_path / "neg.db", -1)
    assert not (tmp_path / "neg.db").exists()


def test_zero_participants(tmp_path: Path) -> None:
    path = tmp_path / "zero.db"
    stats = create_demo_db(path, 0)
    c = sqlite3.connect(path)
    counts = {t: c.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}
    c.close()
    assert counts["users"] > 0 and counts["events"] >= 10
    assert counts["participants"] == 0 and counts["messages"] == 0
    assert counts == stats.rows


def test_messages_override_keeps_participants(tmp_path: Path) -> None:
    create_demo_db(tmp_path / "a.db", 2_000, seed=3)
    stats = create_demo_db(tmp_path / "b.db", 2_000, seed=3, messages=300)
    assert stats.rows["messages"] == 300
    a, b = table_digest(tmp_path / "a.db"), table_digest(tmp_path / "b.db")
    assert a["participants"] == b["participants"] and a["messages"] != b["messages"]


def test_progress_reported_per_chunk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(demo, "CHUNK", 1_000)
    calls: list[tuple[str, int, int]] = []
    create_demo_db(tmp_path / "p.db", 3_500, messages=0, on_progress=lambda *a: calls.append(a))
    parts = [c for c in calls if c[0] == "participants"]
    assert parts == [("participants", d, 3_500) for d in (1_000, 2_000, 3_000, 3_500)]
    assert ("messages", 0, 0) in calls
    assert [c[0] for c in calls if c[1] == c[2]] == list(TABLES)


def test_big_builds_cap_single_events() -> None:
    sizes = demo._event_sizes(random.Random(42), 2_000_000, 20_000, 100_000)
    assert sum(sizes) == 2_000_000 and max(sizes) == 100_000
    assert sum(s == 100_000 for s in sizes) >= 3
    assert statistics.median(sizes) <= 50
