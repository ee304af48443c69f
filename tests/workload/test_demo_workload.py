"""`tuner demo --workload` and its parts (tuner.workload.demo.workload, .loop): the bot's own
operations captured on an untuned demo copy, advise from the capture, apply, replay before
and after. Structure only, never wall-clock: after the apply every captured hot read is a
SEARCH, advising again recommends nothing, the replay runs the captured statements and leaves
the database as it was, and the driver is deterministic."""

from __future__ import annotations

import re
import shutil
import sqlite3
from pathlib import Path

import pytest
from helpers import assert_error_last, run

from tuner.capture.store import load_capture
from tuner.engines.sqlite.demo import create_demo_db
from tuner.profile import load_profile
from tuner.resources import bundled_profile
from tuner.workload.demo.data import DemoTarget
from tuner.workload.demo.loop import CAPTURE_NAME, PROFILE_NAME, LoopReport, workload_loop
from tuner.workload.demo.workload import MIX, drive, replay, replayable

N = 20_000
OPS = 800


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("wl") / "pristine.db"
    create_demo_db(path, N, seed=42)
    return path


@pytest.fixture(scope="module")
def loop(pristine: Path, tmp_path_factory: pytest.TempPathFactory) -> LoopReport:
    folder = tmp_path_factory.mktemp("loop")
    work = folder / "demo.db"
    shutil.copyfile(pristine, work)
    target = DemoTarget(str(work), str(pristine), bundled_profile(), "test")
    return workload_loop(target, folder, ops=OPS, seed=7, say=lambda _text: None)


def _counts(db: str | Path) -> dict[str, int]:
    conn = sqlite3.connect(db)
    try:
        return {t: conn.execute(f"SELECT count(*), total(id) FROM {t}").fetchone()
                for t in ("participants", "messages", "events", "users")}
    finally:
        conn.close()


def test_drive_is_deterministic_and_runs_every_kind(pristine: Path, tmp_path: Path) -> None:
    shapes = []
    for k in (1, 2):
        db, cap = tmp_path / f"c{k}.db", tmp_path / f"cap{k}.db"
        shutil.copyfile(pristine, db)
        stats = drive(db, None, capture=cap, ops=OPS, seed=3)
        assert stats.total == OPS and all(stats.ops[kind] > 0 for kind in MIX), stats.ops
        shapes.append(sorted((s.fingerprint, s.kind, s.calls)
                             for s in load_capture(cap).statements))
    assert shapes[0] == shapes[1]
    kinds = {kind for _fp, kind, _calls in shapes[0]}
    assert {"select", "insert", "upsert", "update", "delete"} <= kinds


def test_replay_runs_the_capture_and_leaves_the_database_as_it_was(loop: LoopReport) -> None:
    work = loop.target.work
    before = _counts(work)
    again = replay(loop.capture, work, cap=3)
    assert _counts(work) == before
    captured = replayable(loop.capture)
    assert [r.statement.fingerprint for r in again.statements] == \
        [s.fingerprint for s in captured]
    assert all(r.runs == min(r.statement.calls, 3) for r in again.statements)
    assert again.write_seconds > 0 and again.read_seconds > 0


def test_after_the_apply_every_hot_read_is_a_search(loop: LoopReport) -> None:
    assert loop.passes[0].applied and loop.passes[0].applied.status == "applied"
    assert loop.settled and loop.passes[-1].applied is None
    assert len(loop.hot_reads) >= 4
    before = {fp: loop.access_before[fp].verdict for fp in loop.hot_reads}
    after = {fp: loop.access_after[fp].verdict for fp in loop.hot_reads}
    assert "SCAN" in before.values(), before
    assert set(after.values()) == {"SEARCH"}, after
    assert {a.verdict for a in loop.access_after.values()} == {"SEARCH"}   # every read
    advised = load_profile(loop.profile)
    assert advised.indexes and advised.queries      # the advice was written like --write
    assert loop.again == []                         # advising again: nothing more
    names = [i.name for i in advised.indexes]
    assert len(names) == len(set(names)) == sum(len(p.added) for p in loop.passes)


def test_before_and_after_run_the_same_workload(loop: LoopReport) -> None:
    b, a = loop.before.by_fingerprint(), loop.after.by_fingerprint()
    assert loop.same and set(b) == set(a) and b
    assert all(b[fp].calls == a[fp].calls for fp in b)
    assert loop.before.driven.ops == loop.after.driven.ops
    assert loop.after is not loop.before
    sb, sa = loop.sample_before.by_fingerprint(), loop.sample_after.by_fingerprint()
    assert set(sb) == set(sa) == set(b)
    assert all(sb[fp].runs == sa[fp].runs for fp in sb)


def test_demo_workload_cli(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    r = run(capsys, "demo", "--workload", "--workdir", tmp_path, "--participants", N,
            "--ops", OPS)
    assert r.code == 0, r.err
    assert "; the same statements and calls)" in r.out and "  total " in r.out
    assert "sample replay" in r.out
    line = next(ln for ln in r.out.splitlines() if ln.startswith("After the apply: "))
    counts = re.findall(r"(\d+) of (\d+)", line)
    assert len(counts) == 2 and all(a == b and int(a) > 0 for a, b in counts), line
    assert "nothing more to recommend" in r.out
    assert (tmp_path / CAPTURE_NAME).exists() and (tmp_path / PROFILE_NAME).exists()


def test_demo_workload_refuses_postgresql(capsys: pytest.CaptureFixture[str],
                                          tmp_path: Path) -> None:
    r = run(capsys, "demo", "--workload", "--workdir", tmp_path,
            "--db", "postgresql://127.0.0.1:5432/nowhere")
    assert_error_last(r, "--workload runs on SQLite only")
