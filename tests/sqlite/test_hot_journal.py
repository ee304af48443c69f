"""A write killed half-way in rollback-journal mode leaves a hot journal beside the database.
A read-only open cannot read past it, so `plan` says what it is and what rolls it back, and
`apply` rolls it back first (as any read-write open does) and goes on."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import run, sha

from tuner.engines.sqlite.demo import create_demo_db

ROOT = Path(__file__).resolve().parents[2]
BOT = ROOT / "profiles" / "telegram-bot.yaml"

# Spill a big uncommitted UPDATE to the file through a tiny cache, then die: the journal
# holds the original pages and the file holds half-written ones.
KILLED_WRITE = """
import os, sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("PRAGMA cache_size = 10")
conn.execute("BEGIN IMMEDIATE")
conn.execute("UPDATE messages SET text = text || ' (edited)'")
os.kill(os.getpid(), 9)
"""


def count_edited(db: Path) -> int:
    conn = sqlite3.connect(db)
    try:
        return conn.execute("SELECT count(*) FROM messages WHERE text LIKE '%(edited)'")\
            .fetchone()[0]
    finally:
        conn.close()


@pytest.fixture
def hot(tmp_path: Path) -> Path:
    db = tmp_path / "bot.db"
    create_demo_db(str(db), participants=3000)
    proc = subprocess.run([sys.executable, "-c", KILLED_WRITE, str(db)], check=False)
    assert proc.returncode == -9
    journal = Path(str(db) + "-journal")
    assert journal.is_file() and journal.stat().st_size > 0, "no hot journal was left"
    return db


def test_plan_names_the_hot_journal_and_changes_nothing(hot: Path, capsys) -> None:
    before = sha(hot), sha(Path(str(hot) + "-journal"))
    r = run(capsys, "plan", BOT, "--db", hot)
    assert r.code == 1
    lines = r.err.strip().splitlines()
    assert len(lines) == 1 and "hot journal" in lines[0] and "tuner apply" in lines[0], r.err
    assert (sha(hot), sha(Path(str(hot) + "-journal"))) == before


def test_apply_rolls_the_hot_journal_back_and_converges(hot: Path, capsys) -> None:
    r = run(capsys, "apply", BOT, "--db", hot, "--yes")
    assert r.code == 0, r.err
    assert "rolled back the hot journal" in r.err
    assert not Path(str(hot) + "-journal").exists() or \
        Path(str(hot) + "-journal").stat().st_size == 0
    assert count_edited(hot) == 0                       # the killed write is undone
    conn = sqlite3.connect(hot)
    assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    conn.close()
    assert run(capsys, "plan", BOT, "--db", hot, "--detailed-exitcode").code == 0


def test_apply_with_a_bad_profile_leaves_the_hot_journal_alone(hot: Path, tmp_path: Path,
                                                                capsys) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("profile: bad\nversion: 1\nengine: sqlite\npragmas: {journal_mode: nope}\n",
                   encoding="utf-8")
    before = sha(hot), sha(Path(str(hot) + "-journal"))
    r = run(capsys, "apply", bad, "--db", hot, "--yes")
    assert r.code == 1 and "bad.yaml" in r.err and "hot journal" not in r.err
    assert (sha(hot), sha(Path(str(hot) + "-journal"))) == before
