"""Crash safety of `tuner apply`: kill -9 at many points, and a concurrent writer process.

Every test runs the real command (`python -m tuner apply PROFILE --db X --yes`) in a
subprocess on a real demo database. The kill points are found by watching the progress the
CLI prints on stderr ("Backing up to ...", "Backup: ...", "  step N: kind object 0.1 s"), plus
a few fixed delays after start. After each SIGKILL:

* `PRAGMA integrity_check` is ok (SQLite's own recovery: hot journal or WAL);
* the transactional DDL is all or nothing: none or all of the profile's indexes and views;
* no row is lost or changed: every table's row count and content checksum equal the original;
* the history has no `applied` row unless the apply really finished (a `started` row is fine);
* every finished backup file is healthy and holds the original content;
* `tuner apply --yes` again succeeds (leftover `*.partial` copies of a killed backup
  included, which it removes) and `tuner plan --detailed-exitcode` then exits 0.

The concurrent-writer test runs `tuner apply` on a WAL database while another process commits
small transactions into `messages`, and checks that every acknowledged row survives and that
the backup holds exactly a prefix of them. No mocks: timing only picks where the kill lands.
"""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import click
import pytest
from helpers import query

from tuner.cli import main
from tuner.engines.sqlite.demo import create_demo_db
from tuner.profile import load_profile
from tuner.resources import bundled_profile

# 120k participants (and as many messages): each big index build takes ~0.1 s and the VACUUM
# ~0.4 s here. The kills that matter follow a progress line, so they land inside a phase
# without it being long; a bigger database only makes the test slower.
PARTICIPANTS = 120_000
BOT = bundled_profile()
TABLES = ("users", "events", "participants", "messages")
TIMEOUT = 120


def tuner(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run the real CLI to completion."""
    return subprocess.run([sys.executable, "-m", "tuner", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=TIMEOUT)


def qi(name: str) -> str:
    """Quote an identifier (test-side SQL only)."""
    return '"' + name.replace('"', '""') + '"'


def checksum(conn: sqlite3.Connection, table: str, where: str = "") -> tuple[int, int]:
    """Row count and an exact integer checksum: the sum over rows of (every INTEGER column
    mod a prime, and every TEXT column's length and first character) weighted by the rowid.
    Computed inside SQLite, so it is fast enough to run after every kill; a lost, added or
    altered row changes it (integrity_check covers damage below the row level)."""
    def term(name: str, declared: str) -> str:
        col = qi(name)
        return (f"coalesce(length({col}) * 1000 + unicode({col}), 7)" if declared == "TEXT"
                else f"coalesce({col} % 1000003, 7)")

    cols = conn.execute("SELECT name, upper(type) FROM pragma_table_info(?)", (table,))
    row = " + ".join(term(name, declared) for name, declared in cols)
    return tuple(conn.execute(f"SELECT count(*), sum(({row}) * (rowid % 97 + 1)) "
                              f"FROM {qi(table)} {where}").fetchone())


def snapshot(db: Path, max_message: int | None = None) -> dict[str, tuple[int, int]]:
    """Content checksums of the demo tables (`messages` limited to the original rows if
    `max_message` is given)."""
    conn = sqlite3.connect(db)
    try:
        return {t: checksum(conn, t, f"WHERE rowid <= {int(max_message)}"
                            if t == "messages" and max_message is not None else "")
                for t in TABLES}
    finally:
        conn.close()


def check(db: Path, pragma: str = "integrity_check") -> str:
    conn = sqlite3.connect(db)
    try:
        return "; ".join(str(r[0]) for r in conn.execute(f"PRAGMA {pragma}").fetchmany(5))
    finally:
        conn.close()


def managed(db: Path, names: frozenset[str]) -> frozenset[str]:
    """Which of `names` (the profile's indexes and views) exist."""
    conn = sqlite3.connect(db)
    try:
        live = {r[0] for r in conn.execute("SELECT name FROM sqlite_master "
                                           "WHERE type IN ('index', 'view')")}
    finally:
        conn.close()
    return frozenset(names & live)


def history(db: Path) -> list[str]:
    """The statuses of recorded applies, oldest first ([] without a history table)."""
    conn = sqlite3.connect(db)
    try:
        if conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'tuner_history'").fetchone():
            return [r[0] for r in conn.execute("SELECT status FROM tuner_history "
                                               "WHERE operation = 'apply' ORDER BY id")]
        return []
    finally:
        conn.close()


@dataclass
class Fixture:
    """A pristine database, its profile, and what the checks compare against."""

    db: Path
    profile: Path
    objects: frozenset[str]
    content: dict[str, tuple[int, int]]


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("crash") / "pristine.db"
    create_demo_db(path, PARTICIPANTS)
    return path


def _objects(profile: Path) -> frozenset[str]:
    p = load_profile(profile)
    return frozenset([i.name for i in p.indexes] + [v.name for v in p.views])


@pytest.fixture(scope="module")
def rollback(pristine: Path) -> Fixture:
    """The untuned demo database (rollback journal) and the bundled profile."""
    return Fixture(pristine, BOT, _objects(BOT), snapshot(pristine))


@pytest.fixture(scope="module")
def wal_vacuum(pristine: Path, tmp_path_factory: pytest.TempPathFactory) -> Fixture:
    """The demo database in WAL mode, and a profile that also changes page_size: its plan
    leaves WAL, sets page_size, VACUUMs and returns to WAL."""
    folder = tmp_path_factory.mktemp("vacuum")
    db = folder / "wal.db"
    shutil.copyfile(pristine, db)
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA journal_mode = wal").fetchone()[0] == "wal"
    conn.close()
    profile = folder / "vacuum.yaml"
    profile.write_text(f"profile: vacuum\nversion: 1\nengine: sqlite\nextends: {BOT}\n"
                       "pragmas:\n  page_size: 8192\n", encoding="utf-8")
    return Fixture(db, profile, _objects(profile), snapshot(db))


def kill_at(argv: list[str], cwd: Path, trigger: str | None, delay: float) -> tuple[int, str]:
    """Start the CLI, wait for a stderr line containing `trigger` (if any) and then `delay`
    seconds, and SIGKILL it. Returns its exit status (-9 if killed) and the stderr seen."""
    proc = subprocess.Popen([sys.executable, "-m", "tuner", *argv], cwd=cwd,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    seen = []
    try:
        if trigger is not None:
            while True:
                line = proc.stderr.readline()
                seen.append(line)
                if not line or trigger in line:
                    break
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stderr.close()
    return proc.returncode, "".join(seen)


# (trigger line, delay after it): the kill lands ...
BOT_POINTS = [
    (None, 0.05),                  # ... before Python has even imported tuner
    (None, 0.6),                   # ... somewhere from planning to the DDL (machine-bound)
    ("Backing up to", 0.03),       # ... while the database is being copied
    ("Backing up to", 0.15),       # ... in the backup's copy or its quick_check
    ("Backup:", 0.0),              # ... after the backup, around the `started` row's COMMIT
    ("step 3:", 0.0),              # ... inside the index builds (step 4)
    ("step 5:", 0.0),              # ... after the last index build, before COMMIT
    ("step 8:", 0.0),              # ... after journal_mode = wal, during ANALYZE
    ("step 10:", 0.0),             # ... in the last ANALYZE or the read-back
]
VACUUM_POINTS = [
    ("step 8:", 0.0),              # ... just after leaving WAL
    ("step 9:", 0.0),              # ... as the VACUUM starts
    ("step 9:", 0.25),             # ... in the middle of the VACUUM
    ("step 10:", 0.0),             # ... after the VACUUM, returning to WAL
]


def _ids(points: list[tuple[str | None, float]]) -> list[str]:
    return [f"{(t or 'start').split()[0].lower().rstrip(':')}"
            f"{'-' + t.split()[1].rstrip(':') if t and t.startswith('step') else ''}+{d}s"
            for t, d in points]


def cli(*argv: str | Path) -> tuple[int, str]:
    """Run the CLI in-process (as `tuner ...` would); returns its exit code and stdout."""
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer), contextlib.redirect_stderr(io.StringIO()):
        try:
            main([str(a) for a in argv])
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 0
    return code, buffer.getvalue()


def _kill_and_recover(fx: Fixture, tmp_path: Path, trigger: str | None, delay: float) -> None:
    db = tmp_path / fx.db.name
    shutil.copyfile(fx.db, db)
    backups = tmp_path / ".tuner-backups"
    argv = ["apply", str(fx.profile), "--db", str(db), "--yes"]
    code, seen = kill_at(argv, tmp_path, trigger, delay)
    assert code in (0, -signal.SIGKILL), f"apply failed instead of being killed:\n{seen}"
    finished = code == 0

    assert check(db) == "ok"
    present = managed(db, fx.objects)
    assert present in (frozenset(), fx.objects), f"partial DDL survived: {sorted(present)}"
    assert snapshot(db) == fx.content, "rows were lost or changed"
    statuses = history(db)
    assert "failed" not in statuses
    if finished:
        assert statuses == ["applied"]
    elif "applied" in statuses:  # the kill came after the final history update: all done
        assert statuses == ["applied"] and present == fx.objects
        assert cli("plan", fx.profile, "--db", db, "--detailed-exitcode")[0] == 0
    copies = sorted(backups.iterdir()) if backups.is_dir() else []
    for copy in copies:
        if ".partial" not in copy.name:  # a finished backup is a healthy original
            assert check(copy, "quick_check") == "ok"
            assert snapshot(copy) == fx.content
    if trigger == "Backing up to" and delay < 0.1:
        assert any(".partial" in p.name for p in copies), \
            "the kill missed the backup copy: no partial file left to clean up"

    again, said = cli(*argv)
    assert again == 0, said
    assert not [p.name for p in backups.iterdir() if ".partial" in p.name]
    assert cli("plan", fx.profile, "--db", db, "--detailed-exitcode")[0] == 0
    assert managed(db, fx.objects) == fx.objects
    assert check(db, "quick_check") == "ok"
    assert snapshot(db) == fx.content
    if not said.startswith("No changes"):
        assert history(db)[-1] == "applied"


@pytest.mark.parametrize(("trigger", "delay"), BOT_POINTS, ids=_ids(BOT_POINTS))
def test_kill_during_apply(rollback: Fixture, tmp_path: Path, trigger: str | None,
                           delay: float) -> None:
    _kill_and_recover(rollback, tmp_path, trigger, delay)


@pytest.mark.parametrize(("trigger", "delay"), VACUUM_POINTS, ids=_ids(VACUUM_POINTS))
def test_kill_while_leaving_wal_and_vacuuming(wal_vacuum: Fixture, tmp_path: Path,
                                              trigger: str, delay: float) -> None:
    _kill_and_recover(wal_vacuum, tmp_path, trigger, delay)


WRITER = r"""
import os, sqlite3, sys, time
db, acked, stop = sys.argv[1:4]
conn = sqlite3.connect(db, timeout=30, isolation_level=None)
busy = n = 0
with open(acked, "a") as out:
    while not os.path.exists(stop):
        try:
            conn.execute("BEGIN IMMEDIATE")
            rowid = conn.execute("INSERT INTO messages(event_id, user_id, text, timestamp) "
                                 "VALUES (1, 1, ?, ?)", (f"writer {n}", n)).lastrowid
            conn.execute("COMMIT")
        except sqlite3.OperationalError as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise
            busy += 1
            time.sleep(0.01)
            continue
        out.write(f"{rowid}\n")  # acknowledged: COMMIT returned
        out.flush()
        n += 1
        time.sleep(0.002)
print(f"{n} commits, {busy} busy retries", file=sys.stderr)
"""


def _acked(path: Path) -> list[int]:
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    return [int(x) for x in text.split()]


def _wait_for(fn, timeout: float = 30.0) -> None:
    end = time.monotonic() + timeout
    while not fn():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.02)


def test_concurrent_writer_keeps_every_acknowledged_row(pristine: Path, tmp_path: Path) -> None:
    db = tmp_path / "live.db"
    shutil.copyfile(pristine, db)
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA journal_mode = wal").fetchone()[0] == "wal"
    base = conn.execute("SELECT max(rowid) FROM messages").fetchone()[0]
    conn.close()
    original = snapshot(db)
    acked_file, stop = tmp_path / "acked.txt", tmp_path / "stop"
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(db), str(acked_file),
                               str(stop)], stderr=subprocess.PIPE, text=True)
    try:
        _wait_for(lambda: len(_acked(acked_file)) >= 20)
        before = len(_acked(acked_file))
        applied = tuner("apply", BOT, "--db", db, "--yes", cwd=tmp_path)
        during = len(_acked(acked_file))
        _wait_for(lambda: len(_acked(acked_file)) >= during + 20)
    finally:
        stop.touch()
        _, writer_err = writer.communicate(timeout=TIMEOUT)
    assert writer.returncode == 0, writer_err
    assert during > before, "the writer made no progress while tuner applied"
    acked = _acked(acked_file)
    assert acked == sorted(acked) and min(acked) > base

    objects = _objects(BOT)
    if applied.returncode == 0:
        assert managed(db, objects) == objects
        assert history(db) == ["applied"]
    else:  # a clean failure: one error line, and the DDL all or nothing
        lines = applied.stderr.strip().splitlines()
        assert lines[-1].startswith("error: ") and "Traceback" not in applied.stderr
        assert managed(db, objects) in (frozenset(), objects)
    assert check(db) == "ok"
    conn = sqlite3.connect(db)
    new = [r[0] for r in conn.execute("SELECT rowid FROM messages WHERE rowid > ? "
                                      "ORDER BY rowid", (base,))]
    conn.close()
    assert new == acked, "an acknowledged row is missing, or an unacknowledged one appeared"
    assert snapshot(db, max_message=base) == original, "original rows were lost or changed"

    copies = [p for p in (tmp_path / ".tuner-backups").iterdir()]
    if applied.returncode != 0 and not copies:
        return  # failed before the backup: nothing more to check
    assert len(copies) == 1, copies
    assert check(copies[0], "quick_check") == "ok"
    conn = sqlite3.connect(copies[0])
    in_backup = [r[0] for r in conn.execute("SELECT rowid FROM messages WHERE rowid > ? "
                                            "ORDER BY rowid", (base,))]
    conn.close()
    assert in_backup == acked[:len(in_backup)], "the backup is not a prefix of the commits"
    assert before <= len(in_backup) <= during
    assert snapshot(copies[0], max_message=base) == original


# -- an apply killed after its DDL, before its ANALYZE finished ------------------------------
def _history_rows(db: Path) -> list[tuple[int, str, int, int]]:
    return query(db, "SELECT id, status, steps_applied, steps_total FROM tuner_history "
                     "ORDER BY id")


def _killed_before_analyze(pristine: Path, tmp_path: Path) -> Path:
    """A copy of the demo database with statistics, on which `tuner apply` was killed -9 once
    its DDL and journal_mode had committed and its ANALYZE steps (9-11) were running. The kill
    lands after a progress line; should it land after the last ANALYZE, try again."""
    for attempt in range(3):
        db = tmp_path / f"analyzed{attempt}.db"
        shutil.copyfile(pristine, db)
        conn = sqlite3.connect(db)
        conn.execute("ANALYZE")
        conn.close()
        code, seen = kill_at(["apply", str(BOT), "--db", str(db), "--yes"], tmp_path,
                             "step 8:", 0.0)
        assert code == -signal.SIGKILL, f"apply was not killed:\n{seen}"
        rows = _history_rows(db)
        if rows and rows[0][1] == "started" and rows[0][2] < rows[0][3]:
            assert managed(db, _objects(BOT)) == _objects(BOT)  # the DDL committed
            return db
    pytest.fail("the kill never landed inside the ANALYZE steps")


def test_a_killed_apply_is_recognized_and_its_analyze_planned_again(pristine: Path,
                                                                    tmp_path: Path) -> None:
    db = _killed_before_analyze(pristine, tmp_path)
    before = db.read_bytes()
    code, shown = cli("plan", BOT, "--db", db, "--detailed-exitcode")
    assert code == 2, shown  # not "No changes": the ANALYZE is owed
    assert db.read_bytes() == before and _history_rows(db)[0][1] == "started"  # read-only
    assert "interrupted apply found (history row 1)" in shown
    for table in ("events", "messages", "participants"):
        assert f"* analyze {table}\n      apply 1 (history row 1) was interrupted before its " \
               "ANALYZE finished" in click.unstyle(shown)
    assert "index" not in click.unstyle(shown).split("Phase 3")[0]  # nothing else to do

    code, listed = cli("history", "--db", db)
    assert code == 0 and "interrupted" in listed
    assert _history_rows(db)[0][1] == "interrupted"
    assert not Path(f"{db}-tuner.lock").exists()  # history's own lock, released

    code, applied = cli("apply", BOT, "--db", db, "--yes", "--format", "json")
    assert code == 0, applied
    assert [s["kind"] for s in json.loads(applied)["steps"]] == ["analyze"] * 3
    assert [r[1] for r in _history_rows(db)] == ["interrupted", "applied"]
    assert cli("plan", BOT, "--db", db, "--detailed-exitcode")[0] == 0


def test_apply_marks_a_killed_apply_interrupted(pristine: Path, tmp_path: Path) -> None:
    db = _killed_before_analyze(pristine, tmp_path)
    code, applied = cli("apply", BOT, "--db", db, "--yes", "--format", "json")
    assert code == 0, applied
    assert json.loads(applied)["marked_interrupted"] == [1]
    assert [r[1] for r in _history_rows(db)] == ["interrupted", "applied"]
    assert cli("plan", BOT, "--db", db, "--detailed-exitcode")[0] == 0


LIVE_APPLY = r"""
import sys
from tuner.engines.sqlite.session import acquire
lock = acquire(sys.argv[1], 0)
print("holding", flush=True)
sys.stdin.read()
lock.release()
"""


def test_a_started_row_is_left_alone_while_its_apply_lives(pristine: Path,
                                                           tmp_path: Path) -> None:
    """While a process holds the database's apply lock (as a live apply does), its `started`
    row is neither reported nor marked; once the process is gone, it is."""
    db = _killed_before_analyze(pristine, tmp_path)
    holder = subprocess.Popen([sys.executable, "-c", LIVE_APPLY, str(db)], text=True,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
        code, shown = cli("plan", BOT, "--db", db, "--detailed-exitcode")
        assert code == 0 and "interrupted" not in shown
        assert cli("history", "--db", db)[0] == 0
        assert _history_rows(db)[0][1] == "started"
        code, said = cli("apply", BOT, "--db", db, "--yes")  # its ANALYZE is its own
        assert code == 0 and said.startswith("No changes")
        assert _history_rows(db)[0][1] == "started"
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(timeout=TIMEOUT)
    assert cli("history", "--db", db)[0] == 0
    assert _history_rows(db)[0][1] == "interrupted"
