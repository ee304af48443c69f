"""Capture wired into the SQLite runtime: tuner.connect, ConnectionPool and BatchWriter with
capture=PATH or $TUNER_CAPTURE record what the application runs (and nothing tuner runs for
itself), processes merge into one file exactly, and with capture off nothing changes. Real
SQLite files; no test looks at the clock on the wall."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from helpers import wal_demo_db

import tuner
from tuner.capture import CaptureError, Recorder, load_capture, recorder_for
from tuner.capture.normalize import normalize
from tuner.runtime.bot import BotStore

ROOT = Path(__file__).resolve().parents[2]
BOT = ROOT / "profiles" / "telegram-bot.yaml"


def by_text(path: Path) -> dict:
    return {s.text: s for s in load_capture(path).statements}


def shape(sql: str) -> str:
    return normalize(sql).text


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = wal_demo_db(tmp_path / "bot.db", 300)
    with sqlite3.connect(path) as conn:
        conn.execute("INSERT INTO events(id, title, creator_id, status) VALUES (9001, 'new', 1, "
                     "'active')")
    conn.close()
    return path


def test_the_bot_helpers_with_capture_record_every_statement(db: Path, tmp_path: Path,
                                                              monkeypatch) -> None:
    monkeypatch.delenv("TUNER_CAPTURE", raising=False)
    cap = tmp_path / "capture.db"
    with BotStore(db, BOT, capture=cap) as store:
        assert store.writer.recorder is store.pool.recorder is not None
        store.add_participants(9001, [1, 2, 3, 4, 5], now=100).result()
        store.set_status(9001, 2, "confirmed", now=200)
        store.set_status(9001, 3, "confirmed", now=200)
        store.remove_participant(9001, 5)
        store.record_message(9001, 2, "count me in", timestamp=300)
        store.record_message(9001, 3, "me too", timestamp=301)
        store.flush()
        for _ in range(3):
            assert store.confirmed(9001) == [2, 3]
        assert store.counts(9001) == {"confirmed": 2, "pending": 2}
        assert len(store.latest_messages(9001)) == 2
    texts = by_text(cap)
    # 4 writes and 3 reads; no PRAGMA of the profile, no BEGIN/COMMIT/SAVEPOINT of the writer
    assert len(texts) == 7
    assert sorted(s.kind for s in texts.values()) == [
        "delete", "insert", "insert", "select", "select", "select", "update"]
    stats = {(s.kind, s.writes): s for s in texts.values() if s.kind != "select"}
    add = stats[("insert", ("participants",))]
    assert (add.calls, add.rows, add.sample_params[:3]) == (5, 5, [9001, 1, "pending"])
    status = stats[("update", ("participants",))]
    assert (status.calls, status.rows) == (2, 2)
    assert (stats[("delete", ("participants",))].calls,
            stats[("delete", ("participants",))].rows) == (1, 1)
    assert stats[("insert", ("messages",))].calls == 2
    confirmed = texts[shape("SELECT user_id FROM participants WHERE event_id = ? AND status = "
                            "'confirmed' ORDER BY user_id")]
    assert (confirmed.calls, confirmed.rows, confirmed.sample_params) == (3, 6, [9001])
    counts = texts[shape("SELECT status, COUNT(*) FROM participants WHERE event_id = ? "
                         "GROUP BY status")]
    assert (counts.calls, counts.rows) == (1, 2)
    latest = texts[shape("SELECT user_id, text, timestamp FROM messages WHERE event_id = ? "
                         "ORDER BY timestamp DESC LIMIT ?")]
    assert (latest.calls, latest.rows, latest.reads) == (1, 2, ("messages",))
    assert all(s.total_s > 0 and s.max_s > 0 for s in texts.values())


def test_connect_records_cursors_fetches_executemany_and_scripts(db: Path,
                                                                 tmp_path: Path) -> None:
    cap = tmp_path / "capture.db"
    conn = tuner.connect(db, capture=cap)
    try:
        conn.executescript("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT);"
                           "CREATE INDEX notes_body ON notes (body);")
        conn.executemany("INSERT INTO notes (body) VALUES (?)", ((f"n{i}",) for i in range(30)))
        cur = conn.cursor()
        cur.executemany("UPDATE notes SET body = ? WHERE id = ?", [("x", 1), ("y", 2)])
        assert len(cur.execute("SELECT id FROM notes").fetchmany(10)) == 10  # then re-executed
        cur.execute("SELECT id FROM notes WHERE id > ?", (20,))
        assert sum(1 for _ in cur) == 10
        cur.execute("SELECT id FROM notes WHERE id > ?", (25,))
        assert len(cur.fetchmany(3)) == 3 and len(cur.fetchmany(3)) == 2   # short: done
        cur.close()
        assert conn.execute("SELECT body FROM notes WHERE id = ?", (3,)).fetchone() == ("n2",)
        conn.execute("SELECT body FROM notes WHERE id IN (?, ?, ?)", (1, 2, 3)).fetchall()
        conn.execute("SELECT body FROM notes WHERE id IN (?)", (4,)).fetchall()
        conn.commit()
        held = conn.execute("SELECT id FROM notes ORDER BY id")
        held.fetchone()
        del held                                # dropped before its last row: recorded too
        rec = recorder_for(cap, "sqlite")
        assert rec is not None
        rec.flush()
    finally:
        conn.close()
    texts = by_text(cap)
    script = texts[shape("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT);"
                         "CREATE INDEX notes_body ON notes (body);")]
    assert (script.kind, script.calls) == ("ddl", 1)
    insert = texts[shape("INSERT INTO notes (body) VALUES (?)")]
    assert (insert.calls, insert.observed, insert.rows, insert.sample_params) == (
        30, 30, 30, ["n0"])
    assert texts[shape("UPDATE notes SET body = ? WHERE id = ?")].calls == 2
    assert texts[shape("SELECT id FROM notes")].rows == 10
    assert texts[shape("SELECT id FROM notes WHERE id > ?")].calls == 2
    assert texts[shape("SELECT id FROM notes WHERE id > ?")].rows == 15
    one = texts[shape("SELECT body FROM notes WHERE id = ?")]
    assert (one.calls, one.rows, one.sample_params) == (1, 1, [3])
    folded = texts[shape("SELECT body FROM notes WHERE id IN (?)")]
    assert (folded.calls, folded.rows) == (2, 4)
    assert texts[shape("SELECT id FROM notes ORDER BY id")].rows == 1
    assert not [t for t in texts if t.startswith(("PRAGMA", "BEGIN", "COMMIT"))]


def test_sampling_times_some_and_scales_the_counts(db: Path, tmp_path: Path) -> None:
    cap = tmp_path / "capture.db"
    pool = tuner.ConnectionPool(db, capture=cap, sample=0.25)
    for i in range(2000):
        with pool.reader() as conn:
            conn.execute("SELECT title FROM events WHERE id = ?", (i % 50 + 1,)).fetchone()
    pool.close()
    st = by_text(cap)[shape("SELECT title FROM events WHERE id = ?")]
    assert 300 < st.observed < 700 and st.calls == 4 * st.observed


def test_capture_off_leaves_no_file_and_plain_connections(db: Path, tmp_path: Path,
                                                          monkeypatch) -> None:
    monkeypatch.delenv("TUNER_CAPTURE", raising=False)
    before = set(tmp_path.iterdir())
    conn = tuner.connect(db)
    assert type(conn) is sqlite3.Connection
    assert type(conn.execute("SELECT 1")) is sqlite3.Cursor
    conn.close()
    with tuner.ConnectionPool(db) as pool, tuner.BatchWriter(pool=pool) as w:
        assert pool.recorder is None and w.recorder is None
        with pool.reader() as c:
            assert type(c) is sqlite3.Connection
        w.insert("messages", {"event_id": 9001, "user_id": 1, "text": "x", "timestamp": 1})
    monkeypatch.setenv("TUNER_CAPTURE", str(tmp_path / "env.db"))
    with tuner.ConnectionPool(db, capture=False) as pool:   # off, whatever the environment says
        assert pool.recorder is None
    assert set(tmp_path.iterdir()) == before


APP = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    import tuner
    db, go, n, cap = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3]), sys.argv[4] or None
    while not go.exists():
        time.sleep(0.01)
    pool = tuner.ConnectionPool(db, capture=cap)
    writer = tuner.BatchWriter(pool=pool, batch_size=50)
    for i in range(n):
        with pool.reader() as conn:
            conn.execute("SELECT title FROM events WHERE id = ?", (i % 10 + 1,)).fetchall()
        writer.insert("messages", {"event_id": 9001, "user_id": i, "text": "hi",
                                   "timestamp": i})
        if i % 100 == 0:
            time.sleep(0.01)    # let the other process's flushes in between
    writer.close()
    if sys.argv[5] == "close":
        pool.close()            # else the interpreter's exit flushes
""")


def run_apps(db: Path, go: Path, n: int, env: dict, *modes: tuple[str, str]) -> None:
    procs = [subprocess.Popen([sys.executable, "-c", APP, str(db), str(go), str(n), cap, how],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for cap, how in modes]
    time.sleep(0.3)
    go.touch()
    for p in procs:
        out, err = p.communicate(timeout=180)
        assert p.returncode == 0 and not err, err


def test_two_processes_with_pools_merge_into_one_file_exactly(db: Path, tmp_path: Path) -> None:
    cap, n = tmp_path / "shared.db", 1200
    env = {k: v for k, v in os.environ.items() if k != "TUNER_CAPTURE"}
    env["PYTHONPATH"] = str(ROOT)
    run_apps(db, tmp_path / "go", n, env, (str(cap), "close"), (str(cap), "exit"))
    texts = by_text(cap)
    lookup = texts[shape("SELECT title FROM events WHERE id = ?")]
    assert (lookup.calls, lookup.observed, lookup.rows) == (2 * n, 2 * n, 2 * n)
    insert = [s for s in texts.values() if s.kind == "insert"]
    assert len(insert) == 1 and insert[0].calls == 2 * n and insert[0].rows == 2 * n
    assert insert[0].writes == ("messages",)
    assert len(texts) == 2


def test_the_environment_variable_turns_capture_on(db: Path, tmp_path: Path) -> None:
    cap = tmp_path / "env.db"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TUNER_CAPTURE": str(cap)}
    run_apps(db, tmp_path / "go", 300, env, ("", "exit"))
    lookup = by_text(cap)[shape("SELECT title FROM events WHERE id = ?")]
    assert lookup.calls == 300
    assert load_capture(cap).meta["engine"] == "sqlite"


def test_a_cursor_finalized_while_the_recorder_is_locked_is_queued_not_deadlocked(
        db: Path, tmp_path: Path) -> None:
    cap = tmp_path / "capture.db"
    rec = Recorder(cap)
    conn = tuner.connect(db, capture=rec)
    cur = conn.execute("SELECT title FROM events WHERE id = ?", (1,))
    cur.fetchone()
    with rec._lock:         # as when the garbage collector runs it inside the recorder's add()
        del cur
    assert rec.pending() == 0
    rec.close()
    conn.close()
    assert by_text(cap)[shape("SELECT title FROM events WHERE id = ?")].calls == 1


def test_a_file_that_is_not_a_capture_fails_at_once_in_one_line(db: Path, tmp_path: Path) -> None:
    junk = tmp_path / "junk.db"
    junk.write_text("not a database " * 200)
    with pytest.raises(CaptureError, match=r"junk.db: not a tuner capture file") as exc:
        tuner.ConnectionPool(db, capture=junk)
    assert "\n" not in str(exc.value)
    old = tmp_path / "old.db"
    Recorder(old).close()
    with sqlite3.connect(old) as conn:
        conn.execute("UPDATE meta SET value = '0' WHERE key = 'version'")
    conn.close()
    with pytest.raises(CaptureError, match="capture format version 0"):
        tuner.connect(db, capture=old)
    with pytest.raises(CaptureError, match="capture format version 0"):
        tuner.BatchWriter(db, capture=old)
