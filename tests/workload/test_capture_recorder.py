"""tuner.capture.recorder and store: aggregation in memory, sampling, flushing, forked
children, several processes merging into one capture file, and files that are not captures.
Real SQLite files; no test looks at the clock on the wall."""

from __future__ import annotations

import itertools
import os
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from tuner.capture import CaptureError, Recorder, load_capture, recorder_for
from tuner.capture.recorder import jsonable
from tuner.capture.store import VERSION

LOOKUP = "SELECT * FROM participants WHERE id = ?"


def by_text(path: Path) -> dict:
    return {s.text: s for s in load_capture(path).statements}


def test_aggregates_per_shape_and_flushes_at_close(tmp_path):
    cap = tmp_path / "c.db"
    with Recorder(cap) as rec:
        for i in range(100):
            rec.record(LOOKUP, (i,), 0.001, 1)
        for n in (1, 3, 50):
            rec.record(f"SELECT * FROM t WHERE id IN ({', '.join('?' * n)})", list(range(n)),
                       0.002 * n, n)
        rec.record("INSERT INTO t VALUES (?, ?)", (1, b"\x00\x01"), 0.5, 200, calls=200)
        assert rec.pending() == 3 and not load_capture(cap).statements
    stats = by_text(cap)
    lookup = stats[LOOKUP]
    assert (lookup.calls, lookup.observed, lookup.rows, lookup.kind) == (100, 100, 100, "select")
    assert lookup.total_s == pytest.approx(0.1) and lookup.max_s == pytest.approx(0.001)
    assert lookup.sample_params == [0] and sum(lookup.latency.values()) == 100
    assert lookup.percentile(0.5) <= lookup.max_s
    folded = stats["SELECT * FROM t WHERE id IN (?)"]
    assert (folded.calls, folded.rows) == (3, 54)
    assert folded.max_s == pytest.approx(0.1) and folded.sample_params == list(range(50))
    insert = stats["INSERT INTO t VALUES (?, ?)"]
    assert (insert.calls, insert.writes, insert.rows) == (200, ("t",), 200)
    assert insert.max_s == pytest.approx(0.5 / 200)                # per execution
    assert insert.sample_params == [1, {"bytes": 2}]


def test_flushes_when_the_interval_passed_from_the_recording_thread(tmp_path):
    cap = tmp_path / "c.db"
    ticks = itertools.count()                   # a clock that advances one per record
    rec = Recorder(cap, flush_every=10, clock=lambda: next(ticks))
    rec.check_every = 1
    for i in range(25):
        rec.record(LOOKUP, (i,), 0.001, 1)
    assert rec.flushes == 2 and 10 < by_text(cap)[LOOKUP].calls < 25
    rec.close()
    assert by_text(cap)[LOOKUP].calls == 25 and rec.flushes == 3


def test_sampling_scales_counts(tmp_path):
    cap = tmp_path / "c.db"
    with Recorder(cap, sample=0.25, seed=7) as rec:
        for i in range(4000):
            rec.record(LOOKUP, (i,), 0.001, 1)
    st = by_text(cap)[LOOKUP]
    assert 800 < st.observed < 1200
    assert st.calls == 4 * st.observed and st.rows == st.calls
    assert st.total_s == pytest.approx(0.001 * st.calls)


def test_bad_arguments_are_one_line_errors(tmp_path):
    with pytest.raises(CaptureError, match="sample must be in"):
        Recorder(tmp_path / "c.db", sample=0)


def test_unparsed_statements_are_counted_and_listed(tmp_path):
    cap = tmp_path / "c.db"
    with Recorder(cap) as rec:
        for _ in range(3):
            rec.record("SELEC * FORM t WHERE x = 'a'", None, 0.01)
        rec.record(LOOKUP, (1,), 0.001, 1)
    capture = load_capture(cap)
    [bad] = capture.unparsed
    assert (bad.kind, bad.calls, bad.text) == ("unparsed", 3, "SELEC * FORM t WHERE x = ?")
    assert bad.error and bad.sample_sql == "SELEC * FORM t WHERE x = 'a'"
    with sqlite3.connect(cap) as conn:
        assert conn.execute("SELECT count(*) FROM unparsed").fetchone() == (1,)


def test_a_failed_flush_keeps_its_numbers(tmp_path):
    cap = tmp_path / "c.db"
    rec = Recorder(cap)
    rec.record(LOOKUP, (1,), 0.001, 1)
    cap.unlink()
    cap.write_bytes(b"not a database at all" * 100)
    with pytest.raises(CaptureError, match="not a tuner capture file"):
        rec.flush()
    rec.record(LOOKUP, (2,), 0.003, 1)
    assert rec.failures == 1 and rec.pending() == 1
    cap.unlink()
    rec.close()
    st = by_text(cap)[LOOKUP]
    assert st.calls == 2 and st.max_s == pytest.approx(0.003) and st.sample_params == [2]


def test_a_forked_child_does_not_flush_the_parents_numbers(tmp_path):
    cap = tmp_path / "c.db"
    rec = Recorder(cap)
    for i in range(10):
        rec.record(LOOKUP, (i,), 0.001, 1)
    pid = os.fork()
    if pid == 0:                                # the child: its own 5, then exit
        try:
            for i in range(5):
                rec.record(LOOKUP, (i,), 0.001, 1)
            rec.close()
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    rec.close()
    assert by_text(cap)[LOOKUP].calls == 15


WRITER = textwrap.dedent("""
    import itertools, os, sys, time
    from tuner.capture import Recorder
    path, go, n, who = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    while not os.path.exists(go):
        time.sleep(0.001)
    ticks = itertools.count()
    rec = Recorder(path, flush_every=37, clock=lambda: next(ticks))
    rec.check_every = 1
    for i in range(n):
        rec.record("SELECT * FROM t WHERE id = ?", (i,), 0.001, 1)
        rec.record("UPDATE t SET n = n + 1 WHERE id = ?", (i,), 0.002, 1)
        rec.record("SELECT * FROM " + who + " WHERE x IN (1, 2, 3)", None, 0.0005, 2)
    rec.close()
    print(rec.flushes)
""")


def test_two_processes_merge_into_one_capture_file(tmp_path):
    cap, go, n = tmp_path / "shared.db", tmp_path / "go", 1500
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(cap), str(go), str(n), who],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
             for who in ("a", "b")]
    time.sleep(0.2)                             # both start together: they race to create it
    go.touch()
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        assert int(out) > 50                    # many flushes each, interleaved
    stats = by_text(cap)
    lookup = stats["SELECT * FROM t WHERE id = ?"]
    update = stats["UPDATE t SET n = n + ? WHERE id = ?"]
    assert lookup.calls == 2 * n and update.calls == 2 * n
    assert update.writes == ("t",) and update.kind == "update"
    assert lookup.total_s == pytest.approx(0.001 * 2 * n)
    assert sum(lookup.latency.values()) == 2 * n
    assert stats["SELECT * FROM a WHERE x IN (?)"].rows == 2 * n
    assert stats["SELECT * FROM b WHERE x IN (?)"].calls == n
    with sqlite3.connect(cap) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert conn.execute("SELECT count(*) FROM meta WHERE key = 'format'").fetchone() == (1,)


def test_files_that_are_not_captures(tmp_path):
    app = tmp_path / "app.db"
    with sqlite3.connect(app) as conn:
        conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY)")
    with pytest.raises(CaptureError, match="app.db: not a tuner capture file"):
        Recorder(app)
    with sqlite3.connect(app) as conn:          # untouched
        assert [r[0] for r in conn.execute("SELECT name FROM sqlite_master")] == ["t"]
    text = tmp_path / "notes.txt"
    text.write_text("hello " * 1000)
    with pytest.raises(CaptureError, match="notes.txt: not a tuner capture file"):
        load_capture(text)
    with pytest.raises(CaptureError, match="no such capture file"):
        load_capture(tmp_path / "missing.db")


def test_another_version_or_engine_is_refused(tmp_path):
    cap = tmp_path / "c.db"
    Recorder(cap).close()
    with pytest.raises(CaptureError, match="a capture of a sqlite database"):
        Recorder(cap, engine="postgresql")
    with sqlite3.connect(cap) as conn:
        conn.execute("UPDATE meta SET value = '99' WHERE key = 'version'")
    with pytest.raises(CaptureError, match=f"version 99; this tuner reads version {VERSION}"):
        load_capture(cap)


def test_recorder_for_shares_one_per_file_and_reads_the_environment(tmp_path, monkeypatch):
    monkeypatch.delenv("TUNER_CAPTURE", raising=False)
    assert recorder_for(None, "sqlite") is None
    a = recorder_for(tmp_path / "c.db", "sqlite")
    assert recorder_for(str(tmp_path / "c.db"), "sqlite") is a
    assert recorder_for(a, "sqlite") is a
    monkeypatch.setenv("TUNER_CAPTURE", str(tmp_path / "env.db"))
    b = recorder_for(None, "sqlite")
    assert b is not None and b.path == tmp_path / "env.db"
    a.close()
    b.close()
    assert recorder_for(tmp_path / "c.db", "sqlite") is not a      # closed: a new one


def test_jsonable_params():
    assert jsonable((1, 2.5, None, True, "x" * 500, b"abc", {"k": [object]})) == [
        1, 2.5, None, True, "x" * 200 + "...", {"bytes": 3}, {"k": [repr(object)]}]


def test_threads_recording_while_flushing_lose_nothing(tmp_path):
    cap = tmp_path / "c.db"
    ticks = itertools.count()
    rec = Recorder(cap, flush_every=50, clock=lambda: next(ticks))
    rec.check_every = 1

    def work(k: int) -> None:
        for i in range(1000):
            rec.record(LOOKUP, (i,), 0.001, 1)
            rec.record(f"SELECT * FROM t{k} WHERE a = ?", (i,), 0.002, 2)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    rec.close()
    stats = by_text(cap)
    assert rec.flushes > 10 and stats[LOOKUP].calls == 4000
    assert [stats[f"SELECT * FROM t{k} WHERE a = ?"].rows for k in range(4)] == [2000] * 4
