"""Helpers for the PostgreSQL tests: running setup scripts and plan files on a scratch
database the way a person would (psql, autocommit, stop at the first error)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tuner.planfile import parse_plan_file

PSQL = shutil.which("psql")
EXPECT_ERROR = "-- expect error"


def run_setup(url: str, script: str) -> None:
    """Run a setup script statement by statement (split at `;` ending a line, outside `$$`
    quotes), in autocommit."""
    import psycopg

    statements: list[tuple[bool, str]] = []
    buf, failing = "", False
    for line in script.splitlines():
        if not buf and line.strip() == EXPECT_ERROR:
            failing = True
            continue
        if not buf and (not line.strip() or line.lstrip().startswith("--")):
            continue
        buf += line + "\n"
        if line.rstrip().endswith(";") and buf.count("$$") % 2 == 0:
            statements.append((failing, buf))
            buf, failing = "", False
    assert not buf.strip(), f"unterminated statement in setup: {buf!r}"
    with psycopg.connect(url, autocommit=True) as conn:
        for failing, sql in statements:
            if failing:
                with pytest.raises(psycopg.Error):
                    conn.execute(sql)
            else:
                conn.execute(sql)


def run_plan_file(url: str, text: str, tmp_path: Path) -> None:
    """Execute a plan file as reviewed: psql, autocommit, stop at the first error."""
    if PSQL is not None:
        path = tmp_path / "plan.sql"
        path.write_text(text, encoding="utf-8")
        done = subprocess.run([PSQL, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url, "-f",
                               str(path)], capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, f"psql failed:\n{done.stderr}"
        return
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        for step in parse_plan_file(text).steps():
            for statement in step.statements:
                conn.execute(statement)


def configured(url: str, name: str) -> object:
    """The value new sessions of the database at `url` get for setting `name` (tuner's own
    reading: an ALTER SYSTEM value waiting for a restart counts), to assert on a shared
    server whatever was written there before the tests."""
    from tuner.engines.postgres import PostgresEngine

    return PostgresEngine().inspect(url).settings[name].value
