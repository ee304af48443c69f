"""BatchWriter against real SQLite files: order, isolated constraint failures, backpressure,
flush/close, name checks at the call, stats, upsert, and kill -9 of a writing process."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from helpers import wal_demo_db

from tuner.engines.sqlite.runtime import ConnectionPool
from tuner.runtime.batch import BatchWriter
from tuner.runtime.tickets import (
    BatchError,
    ManyResult,
    QueueFull,
    UnknownName,
    WriterClosed,
)

ROOT = Path(__file__).resolve().parents[2]
PCOLS = ["event_id", "user_id", "status", "joined_at", "updated_at"]
FREE_USER = 10_000  # above the demo's user ids: (event, FREE_USER + i) pairs are free
CHAT = 10**12  # above the demo's chat ids (UNIQUE)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return wal_demo_db(tmp_path / "bot.db", 200)


def query(db: Path, sql: str, params: tuple = ()) -> list[tuple]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def existing_pair(db: Path) -> tuple[int, int]:
    return query(db, "SELECT event_id, user_id FROM participants ORDER BY id LIMIT 1")[0]


def part(event: int, user: int, status: str = "confirmed") -> dict:
    return {"event_id": event, "user_id": user, "status": status, "joined_at": 1, "updated_at": 1}


def test_profile_sizes_the_writer_and_keywords_override(db: Path, tmp_path: Path) -> None:
    profile = tmp_path / "p.yaml"
    profile.write_text("profile: p\nversion: 1\nengine: sqlite\nruntime:\n"
                       "  batch: {size: 7, flush_interval: 0.25, queue_size: 70}\n")
    with BatchWriter(db, profile) as w:
        assert (w.batch_size, w.flush_interval, w.queue_size) == (7, 0.25, 70)
    with BatchWriter(db, profile, batch_size=3, flush_interval=1, queue_size=9) as w:
        assert (w.batch_size, w.flush_interval, w.queue_size) == (3, 1.0, 9)
    with BatchWriter(db) as w:
        assert (w.batch_size, w.flush_interval, w.queue_size) == (1000, 0.5, 10_000)


def test_the_profile_configures_the_writer_connection(db: Path) -> None:
    # The bot profile turns foreign_keys on for every connection: a participant of a user that
    # does not exist is rejected, alone, with SQLite's error.
    user = query(db, "SELECT id FROM users WHERE id NOT IN "
                     "(SELECT user_id FROM participants WHERE event_id = 1) LIMIT 1")[0][0]
    with BatchWriter(db, ROOT / "profiles" / "telegram-bot.yaml", flush_interval=0.01) as w:
        good = w.insert("participants", part(1, user, "fk-ok"))
        bad = w.insert("participants", part(1, FREE_USER, "fk-bad"))
        with pytest.raises(sqlite3.IntegrityError, match="FOREIGN KEY"):
            bad.result(timeout=10)
        assert good.result(timeout=10) is None
    assert query(db, "SELECT user_id FROM participants WHERE status LIKE 'fk-%'") == [(user,)]


def test_insert_update_delete_of_one_participant_keep_their_order(db: Path) -> None:
    with BatchWriter(db, batch_size=64, flush_interval=0.05) as w:
        for i in range(150):
            key = {"event_id": 1, "user_id": FREE_USER + i}
            w.insert("participants", part(1, FREE_USER + i, "pending"))
            w.update("participants", {"status": "confirmed", "updated_at": 2}, where=key)
            if i % 3 == 0:
                w.delete("participants", where=key)
            else:
                w.update("participants", {"status": f"final-{i}"}, where=key)
        w.flush()
    got = dict(query(db, "SELECT user_id - ?, status FROM participants WHERE user_id >= ? "
                         "AND updated_at = 2", (FREE_USER, FREE_USER)))
    assert got == {i: f"final-{i}" for i in range(150) if i % 3}


def test_alternating_shapes_on_one_row_end_with_the_last_one(db: Path) -> None:
    uid = query(db, "SELECT max(id) FROM users")[0][0] + 1
    with BatchWriter(db, batch_size=25, flush_interval=0.05) as w:
        w.insert("users", {"id": uid, "username": "v-start"})
        for v in range(201):  # ends with an upsert; any reordering of shapes shows
            if v % 2:
                w.update("users", {"username": f"v{v}"}, where={"id": uid})
            else:
                row = {"id": uid, "username": f"v{v}", "chat_id": CHAT + v}
                w.upsert("users", row, key=["id"])
    got = query(db, "SELECT username, chat_id FROM users WHERE id = ?", (uid,))
    assert got == [("v200", CHAT + 200)]


def test_threads_submitting_at_once_keep_each_threads_order(db: Path) -> None:
    with BatchWriter(db, batch_size=100, flush_interval=0.01, queue_size=300) as w:
        def produce(t: int) -> None:
            for i in range(400):
                w.insert("messages", {"event_id": t, "user_id": i, "text": "threads"})

        threads = [threading.Thread(target=produce, args=(t,)) for t in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        w.flush(timeout=10)
        assert w.stats()["committed"] == 1600
    for t in range(4):
        got = [r[0] for r in query(db, "SELECT user_id FROM messages WHERE text = 'threads' "
                                        "AND event_id = ? ORDER BY id", (t,))]
        assert got == list(range(400))


def test_steady_load_keeps_the_queue_bounded(db: Path) -> None:
    # One SQL shape under steady load joins one run that never drains: the rows taken from
    # it must be cut off, or every row ever submitted would stay in memory.
    with BatchWriter(db, batch_size=100, flush_interval=0.01, queue_size=500) as w:
        held = []
        for i in range(20_000):
            w.insert("messages", {"event_id": 1, "user_id": i, "text": "steady"})
            if i % 1000 == 999:
                with w._lock:
                    held.append(sum(len(run.rows) for run in w._queue))
        w.flush(timeout=20)
    assert max(held) <= 500
    assert query(db, "SELECT count(*) FROM messages WHERE text = 'steady'") == [(20_000,)]


def test_awkward_but_real_names_are_quoted_not_refused(db: Path) -> None:
    conn = sqlite3.connect(db)
    conn.execute('CREATE TABLE "odd ""t""; --" (id INTEGER PRIMARY KEY, "we""ird col" TEXT '
                 'UNIQUE, "select" INTEGER)')
    conn.commit()
    conn.close()
    with BatchWriter(db) as w:
        w.insert('odd "t"; --', {'we"ird col': "a", "select": 1})
        w.upsert('odd "t"; --', {'we"ird col': "a", "select": 2}, key='we"ird col')
        w.insert_many('odd "t"; --', [("b", 3)], columns=['we"ird col', "select"])
        w.delete('odd "t"; --', where={"select": 3})
    assert query(db, 'SELECT "we""ird col", "select" FROM "odd ""t""; --"') == [("a", 2)]


def test_constraint_failures_fail_only_their_rows(db: Path) -> None:
    ev, user = existing_pair(db)
    before = query(db, "SELECT count(*) FROM participants")[0][0]
    with BatchWriter(db, batch_size=1000, flush_interval=60) as w:
        tickets = [w.insert("participants",
                            part(ev, user) if i in (3, 7) else part(2, FREE_USER + i))
                   for i in range(10)]
        rows = [(3, FREE_USER + i, "pending", 1, 1) for i in range(12)]
        rows[4] = (ev, user, "dup-of-existing", 1, 1)
        rows[9] = rows[2]  # duplicate of a row earlier in the same list
        bulk = w.insert_many("participants", rows, columns=PCOLS)
        last = w.insert("participants", part(4, FREE_USER))
        w.flush()
    for i, t in enumerate(tickets):
        if i in (3, 7):
            assert isinstance(t.exception(), sqlite3.IntegrityError)
            with pytest.raises(sqlite3.IntegrityError):
                t.result()
        else:
            assert t.result() is None and t.exception() is None
    result = bulk.result()
    assert isinstance(result, ManyResult) and result.committed == 10
    assert [(r.index, r.row) for r in result.rejected] == [(4, rows[4]), (9, rows[2])]
    assert all(isinstance(r.error, sqlite3.IntegrityError) for r in result.rejected)
    assert last.result() is None
    assert query(db, "SELECT count(*) FROM participants")[0][0] == before + 8 + 10 + 1


def test_insert_many_spans_batches_and_takes_dicts(db: Path) -> None:
    ev, user = existing_pair(db)
    rows = [part(5, FREE_USER + i) for i in range(230)]
    rows[170] = part(ev, user)
    with BatchWriter(db, batch_size=50, flush_interval=0.05) as w:
        before = w.insert("participants", part(6, FREE_USER))
        result = w.insert_many("participants", rows).result(timeout=10)
        assert before.done()
        with pytest.raises(BatchError, match="row 1 is not a dict with the keys of row 0"):
            w.insert_many("participants", [part(7, 1), {"event_id": 7}])
        assert w.insert_many("participants", []).result() == ManyResult()
        assert w.stats()["batches"] >= 5
    assert result.committed == 229 and [r.index for r in result.rejected] == [170]
    assert result.rejected[0].row is rows[170]
    assert query(db, "SELECT count(*) FROM participants WHERE event_id = 5 AND user_id >= ?",
                 (FREE_USER,)) == [(229,)]


def test_full_queue_blocks_then_raises_and_drops_nothing(db: Path) -> None:
    blocker = sqlite3.connect(db, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")  # the writer's BEGIN waits: nothing commits
    w = BatchWriter(db, batch_size=1, flush_interval=0.01, queue_size=2, submit_timeout=0.2)
    accepted, refused = [], None
    for i in range(6):
        started = time.monotonic()
        try:
            accepted.append((i, w.insert("messages", {"id": 900_000 + i, "text": "bp"})))
        except QueueFull:
            refused = i
            assert time.monotonic() - started >= 0.19
            break
    assert refused is not None and 2 <= len(accepted) <= 3
    assert not any(t.done() for _i, t in accepted)
    blocker.execute("COMMIT")
    blocker.close()
    w.flush(timeout=10)
    w.close()
    assert all(t.result() is None for _i, t in accepted)
    got = [r[0] - 900_000 for r in query(db, "SELECT id FROM messages WHERE text = 'bp'")]
    assert sorted(got) == [i for i, _t in accepted]


def test_writes_go_through_the_pool_writer(db: Path) -> None:
    with ConnectionPool(db, size=1) as pool, BatchWriter(pool=pool, batch_size=1,
                                                         flush_interval=0.01, queue_size=2,
                                                         submit_timeout=0.2) as w:
        lease = pool.writer()
        lease.__enter__()  # the application holds the one writer: the batch writer waits
        accepted = []
        with pytest.raises(QueueFull):
            for i in range(6):
                accepted.append(w.insert("messages", {"id": 800_000 + i, "text": "pool"}))
        lease.__exit__(None, None, None)
        w.flush(timeout=10)
        assert all(t.done() and t.exception() is None for t in accepted)
        assert pool.stats()["borrowed"] >= 2
    assert query(db, "SELECT count(*) FROM messages WHERE text = 'pool'") == [(len(accepted),)]


def test_flush_close_and_submit_after_close(db: Path) -> None:
    w = BatchWriter(db, batch_size=1000, flush_interval=60)
    first = [w.insert("messages", {"text": f"f{i}"}) for i in range(5)]
    with pytest.raises(TimeoutError):
        first[0].result(timeout=0.05)  # no batch is full and the interval is a minute
    assert not any(t.done() for t in first)
    w.flush(timeout=10)
    assert all(t.done() for t in first)
    second = [w.insert("messages", {"text": f"c{i}"}) for i in range(5)]
    w.close()
    assert all(t.done() and t.exception() is None for t in second)
    assert query(db, "SELECT count(*) FROM messages WHERE text GLOB '[fc][0-9]'") == [(10,)]
    with pytest.raises(WriterClosed):
        w.insert("messages", {"text": "late"})
    with pytest.raises(WriterClosed):
        w.delete("events", where={"id": 1})
    w.close()  # twice is harmless


@pytest.mark.parametrize("call", [
    lambda w: w.insert("participants; DROP TABLE users", {"status": "x"}),
    lambda w: w.insert('x" --', {"status": "x"}),
    lambda w: w.insert("no_such_table", {"status": "x"}),
    lambda w: w.insert("participants", {"no_such_column": 1}),
    lambda w: w.insert("participants", {'status" = 1; DROP TABLE users; --': 1}),
    lambda w: w.insert_many("users", [(1,)], columns=["id); DROP TABLE users; --"]),
    lambda w: w.update("users", {"username": "x"}, where={"id = id OR 1": 1}),
    lambda w: w.delete('users" WHERE 1; --', where={"id": 1}),
    lambda w: w.upsert("users", {"id": 1, 'x") DO NOTHING --': 1}, key=["id"]),
    lambda w: w.upsert("users", {"id": 1, 'y" --': 2}, key=['y" --']),
])
def test_unknown_and_hostile_names_are_refused_at_the_call(db: Path, call) -> None:
    counts = query(db, "SELECT (SELECT count(*) FROM users), (SELECT count(*) FROM participants)")
    with BatchWriter(db, flush_interval=0.01) as w:
        with pytest.raises(UnknownName):
            call(w)
        assert w.stats()["queued"] == 0
    assert query(db, "SELECT (SELECT count(*) FROM users), (SELECT count(*) FROM participants)"
                 ) == counts


def test_statement_that_cannot_compile_is_refused_at_the_call(db: Path) -> None:
    with BatchWriter(db) as w, pytest.raises(BatchError, match="ON CONFLICT"):
        w.upsert("participants", {"status": "x", "joined_at": 1}, key=["status"])


def test_stats_count_committed_failed_and_batches(db: Path) -> None:
    ev, user = existing_pair(db)
    with BatchWriter(db, batch_size=10, flush_interval=60) as w:
        for i in range(25):
            w.insert("participants", part(8, FREE_USER + i))
        w.insert("participants", part(ev, user))
        w.insert("participants", part(ev, user))
        assert w.stats()["queued"] >= 7  # 27 submitted, at most two batches of 10 written
        w.flush(timeout=10)
        stats = w.stats()
    assert stats["queued"] == 0 and stats["committed"] == 25 and stats["failed"] == 2
    assert stats["batches"] == 3 and stats["rows_per_second"] > 0


def test_upsert_updates_on_conflict_and_inserts_otherwise(db: Path) -> None:
    ev, user = existing_pair(db)
    before = query(db, "SELECT id, count(*) OVER () FROM participants "
                       "WHERE event_id = ? AND user_id = ?", (ev, user))
    with BatchWriter(db) as w:
        a = w.upsert("participants", part(ev, user, "upserted"), key=["event_id", "user_id"])
        b = w.upsert("participants", part(9, FREE_USER, "new"), key=("event_id", "user_id"))
    assert a.result() is None and b.result() is None
    assert query(db, "SELECT id, status FROM participants WHERE event_id = ? AND user_id = ?",
                 (ev, user)) == [(before[0][0], "upserted")]
    assert query(db, "SELECT status FROM participants WHERE event_id = 9 AND user_id = ?",
                 (FREE_USER,)) == [("new",)]


def test_update_and_delete_where_none_matches_null(db: Path) -> None:
    with BatchWriter(db) as w:
        w.insert("messages", {"id": 700_000, "event_id": None, "text": "null-event"})
        w.update("messages", {"text": "found"}, where={"event_id": None, "id": 700_000})
        w.flush()
        assert query(db, "SELECT text FROM messages WHERE id = 700000") == [("found",)]
        w.delete("messages", where={"event_id": None, "text": "found"})
    assert query(db, "SELECT count(*) FROM messages WHERE id = 700000") == [(0,)]


WRITER = """
import collections, sys
from tuner.runtime.batch import BatchWriter
w = BatchWriter(sys.argv[1], batch_size=40, flush_interval=0.005, queue_size=400)
pending, i = collections.deque(), 0
while True:
    row = {"id": 2_000_000 + i, "event_id": 1, "user_id": 1, "text": "kill", "timestamp": i}
    pending.append((2_000_000 + i, w.insert("messages", row)))
    i += 1
    while pending and pending[0][1].done():
        n, ticket = pending.popleft()
        ticket.result()
        print(n, flush=True)
"""


def test_kill_9_loses_nothing_that_was_acknowledged(db: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(db)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    acked: list[int] = []
    timer = threading.Timer(15, proc.kill)  # never hang the suite
    timer.start()
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            acked.append(int(line))
            if len(acked) >= 3000:
                os.kill(proc.pid, signal.SIGKILL)
                break
        out, err = proc.communicate(timeout=10)
    finally:
        timer.cancel()
    acked += [int(x) for x in out.split()]
    assert proc.returncode == -signal.SIGKILL, err
    assert len(acked) >= 3000
    written = {r[0] for r in query(db, "SELECT id FROM messages WHERE text = 'kill'")}
    assert set(acked) <= written
    assert query(db, "PRAGMA integrity_check") == [("ok",)]


def test_insert_many_logs_rejected_rows_once(db: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A caller that never reads the ticket still hears of rejected rows: one warning per
    insert_many (not per batch), with the count and the first error."""
    ev, user = existing_pair(db)
    rows = [(8, FREE_USER + i, "pending", 1, 1) for i in range(120)]
    rows[30] = rows[110] = (ev, user, "dup-of-existing", 1, 1)
    with caplog.at_level("WARNING", logger="tuner.runtime"):
        with BatchWriter(db, batch_size=50, flush_interval=0.05) as w:
            w.insert_many("participants", rows, columns=PCOLS)  # the ticket is ignored
            w.insert_many("participants", [(9, FREE_USER, "pending", 1, 1)], columns=PCOLS)
    warnings = [r for r in caplog.records if r.name == "tuner.runtime"]
    assert len(warnings) == 1 and warnings[0].levelname == "WARNING"
    message = warnings[0].getMessage()
    assert "insert_many into 'participants'" in message
    assert "2 of 120 rows rejected" in message
    assert "first: row 30" in message and "UNIQUE constraint failed" in message
