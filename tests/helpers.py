"""Helpers the test files share: running the CLI in-process, and reading a database's
schema, data and pragmas to prove what changed and what did not."""

from __future__ import annotations

import contextlib
import difflib
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tuner.cli import main


@dataclass
class Result:
    """What one CLI run produced."""

    code: int
    out: str
    err: str


def run(capsys: pytest.CaptureFixture[str], *argv: object) -> Result:
    """Run the CLI in-process; main() always ends with SystemExit."""
    capsys.readouterr()
    with pytest.raises(SystemExit) as exc:
        main([str(a) for a in argv])
    captured = capsys.readouterr()
    code = exc.value.code
    return Result(code if isinstance(code, int) else 0, captured.out, captured.err)


def assert_error_last(r: Result, *fragments: str) -> None:
    """Exit 1, no traceback, and one `error: ` line, the last on stderr (notes may precede
    it), containing every fragment."""
    assert r.code == 1, (r.code, r.out, r.err)
    assert "Traceback" not in r.err and "internal error" not in r.err, r.err
    last = r.err.rstrip("\n").splitlines()[-1]
    assert last.startswith("error: ") and r.err.count("error: ") == 1, r.err
    for fragment in fragments:
        assert fragment in last, (fragment, last)


def sha(path: Path) -> str:
    """sha256 of a file's bytes."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def quote(name: str) -> str:
    """An SQL identifier, quoted (tests build their own probe queries)."""
    return '"' + name.replace('"', '""') + '"'


def write(path: Path, text: str) -> Path:
    """Write `text` to `path` and return the path."""
    path.write_text(text, encoding="utf-8")
    return path


def user_tables(con: sqlite3.Connection) -> list[str]:
    """The application's tables: no sqlite_* and no tuner_* ones."""
    return [r[0] for r in con.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
        "AND name NOT LIKE 'tuner_%' ORDER BY name")]


def data_digest(db: Path) -> dict[str, tuple[int, str]]:
    """Every user table's row count and a checksum of its content, in rowid order."""
    con = sqlite3.connect(db)
    try:
        out = {}
        for table in user_tables(con):
            h = hashlib.sha256()
            n = 0
            for row in con.execute(f"SELECT * FROM {quote(table)} ORDER BY rowid"):
                h.update(repr(row).encode())
                n += 1
            out[table] = (n, h.hexdigest())
        return out
    finally:
        con.close()


def query(db: Path, sql: str) -> list[tuple]:
    """The rows of one query, on a connection of its own."""
    con = sqlite3.connect(db)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def schema(db: Path) -> list[tuple]:
    """sqlite_master without tuner's own history table."""
    return query(db, "SELECT type, name, tbl_name, sql FROM sqlite_master "
                     "WHERE name NOT LIKE 'tuner_%' ORDER BY type, name")


def has_object(db: Path, name: str) -> bool:
    """True when the database has a table, index, view or trigger of that name."""
    con = sqlite3.connect(db)
    try:
        return con.execute("SELECT count(*) FROM sqlite_master WHERE name = ?",
                           (name,)).fetchone()[0] == 1
    finally:
        con.close()


def pragma(db: Path, name: str) -> object:
    """One pragma's value, read on a fresh connection."""
    con = sqlite3.connect(db)
    try:
        return con.execute(f"PRAGMA {name}").fetchone()[0]
    finally:
        con.close()


def history(capsys: pytest.CaptureFixture[str], db: Path) -> list[dict]:
    """`tuner history --format json` as data."""
    r = run(capsys, "history", "--db", db, "--format", "json")
    assert r.code == 0, r.err
    return json.loads(r.out)


@contextlib.contextmanager
def made_read_only(db: Path) -> Iterator[Path]:
    """The database made read-only while inside: chmod 0o444, plus `chattr +i` when running as
    root (root ignores file modes); skips the test where neither works."""
    os.chmod(db, 0o444)
    immutable = False
    if os.access(db, os.W_OK):
        chattr = shutil.which("chattr")
        if chattr is None or subprocess.run([chattr, "+i", str(db)],
                                            capture_output=True).returncode != 0:
            os.chmod(db, 0o644)
            pytest.skip("running as root and chattr +i is unavailable: cannot make the "
                        "database read-only")
        immutable = True
    try:
        yield db
    finally:
        if immutable:
            subprocess.run([shutil.which("chattr") or "chattr", "-i", str(db)], check=True)
        os.chmod(db, 0o644)


def wal_demo_db(path: Path, participants: int) -> Path:
    """A small demo database in WAL mode, as an application running tuned would have it."""
    from tuner.engines.sqlite.demo import create_demo_db

    create_demo_db(path, participants)
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=wal")
    conn.close()
    return path


def compare_golden(case: Path, body: str, update: bool) -> None:
    """Compare a rendered plan body with the case's plan.sql, or rewrite it when `update`
    (UPDATE_GOLDEN=1); a difference fails with a unified diff."""
    golden = case / "plan.sql"
    if update:
        golden.write_text(body, encoding="utf-8")
        return
    assert golden.is_file(), f"{golden} is missing (run with UPDATE_GOLDEN=1 to create it)"
    want = golden.read_text(encoding="utf-8")
    if body != want:
        delta = "".join(difflib.unified_diff(
            want.splitlines(keepends=True), body.splitlines(keepends=True),
            fromfile=f"{case.name}/plan.sql (expected)", tofile="rendered plan body"))
        pytest.fail(f"plan body differs from {case.name}/plan.sql "
                    f"(UPDATE_GOLDEN=1 rewrites it):\n{delta}", pytrace=False)


def assert_flags_and_problems(advice: object, expected: dict) -> None:
    """An advise case's flags (index names, and a fragment of each reason) and, where the
    case gives them, the queries with problems, in order."""
    flagged: dict[str, list[str]] = {}
    for f in advice.flags:  # type: ignore[attr-defined]
        flagged.setdefault(f["index"], []).append(f["reason"])
    wanted = expected.get("flags") or []
    assert set(flagged) == {f["index"] for f in wanted}, flagged
    for f in wanted:
        assert any(f["reason"] in reason for reason in flagged[f["index"]]), flagged
    if "problems" in expected:
        assert [p["query"] for p in advice.problems] == expected["problems"]  # type: ignore[attr-defined]
