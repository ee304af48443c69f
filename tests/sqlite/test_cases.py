"""Golden cases: one test per folder under tests/cases/.

Each folder holds `setup.sql` (builds the starting database), `profile.yaml` and `plan.sql`, the
expected plan body (`render_body`, without the header and its time and path). An optional
`expect.yaml` adds assertions:

    error: "substring"        # planning must fail with a TunerError containing it (or a list)
    warnings: ["substring"]   # each must appear in one of plan.warnings
    no_warnings: true         # plan.warnings must be empty
    not_warnings: ["text"]    # no warning may contain these
    unmanaged: ["substring"]  # each must appear in one of plan.unmanaged
    runtime: {synchronous: normal}  # connection settings the plan reports, not plans
    after: {page_size: 8192}  # persistent pragmas read back once the plan has run

Then the plan must converge: executing the whole plan file leaves nothing to plan, running it
again changes nothing, the same holds with the real shell (`sqlite3 -bail db < plan.sql`, twice),
and no table loses or gains a row, no table or trigger disappears.

`UPDATE_GOLDEN=1 pytest tests/sqlite/test_cases.py` rewrites the plan.sql files from the current
code.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from helpers import compare_golden

from tuner import load_profile, make_plan, render_plan_file
from tuner.errors import TunerError
from tuner.planfile import render_body
from tuner.render import ident

CASES_DIR = Path(__file__).parents[1] / "cases"
CASES = sorted(p.name for p in CASES_DIR.iterdir() if (p / "profile.yaml").is_file())
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"
SQLITE3 = shutil.which("sqlite3")


def _expect(case: Path) -> dict[str, Any]:
    path = case / "expect.yaml"
    if not path.is_file():
        return {}
    return yaml.safe_load(path.read_text(encoding="utf-8")) or {}


def _as_list(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else list(value or [])


def _build(case: Path, db: Path) -> None:
    conn = sqlite3.connect(db, isolation_level=None)
    try:
        conn.executescript((case / "setup.sql").read_text(encoding="utf-8"))
    finally:
        conn.close()


def _snapshot(db: Path) -> dict[str, Any]:
    """Row counts of every table, and the definitions of tables and triggers (never touched)."""
    conn = sqlite3.connect(db)
    try:
        objects = conn.execute(
            "SELECT type, name, sql FROM sqlite_master WHERE type IN ('table', 'trigger') "
            "AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY type, name").fetchall()
        rows = {name: conn.execute("SELECT count(*) FROM " + ident(name)).fetchone()[0]
                for otype, name, _ in objects if otype == "table"}
    finally:
        conn.close()
    return {"objects": objects, "rows": rows}


def _pragma(db: Path, name: str) -> Any:
    conn = sqlite3.connect(db)
    try:
        return conn.execute("PRAGMA " + name).fetchone()[0]
    finally:
        conn.close()


def _run_script(db: Path, script: str) -> None:
    conn = sqlite3.connect(db, isolation_level=None)
    try:
        conn.executescript(script)
    finally:
        conn.close()


def _run_shell(db: Path, script: str) -> None:
    assert SQLITE3 is not None
    done = subprocess.run([SQLITE3, "-bail", str(db)], input=script, text=True,
                          capture_output=True, timeout=60)
    assert done.returncode == 0, f"sqlite3 -bail failed:\n{done.stderr}"


def _assert_converged(profile: Any, db: Path, expect: dict[str, Any], when: str) -> None:
    again = make_plan(profile, str(db))
    assert again.empty, (f"{when}: planning again is not empty:\n" + render_body(again))
    for name, value in (expect.get("after") or {}).items():
        assert _pragma(db, name) == value, f"{when}: PRAGMA {name}"


@pytest.mark.parametrize("name", CASES)
def test_case(name: str, tmp_path: Path) -> None:
    case = CASES_DIR / name
    expect = _expect(case)
    start = tmp_path / "start.db"
    _build(case, start)
    profile = load_profile(case / "profile.yaml")

    errors = _as_list(expect.get("error"))
    if errors:
        with pytest.raises(TunerError) as info:
            make_plan(profile, str(start))
        for text in errors:
            assert text in str(info.value), f"error {str(info.value)!r} lacks {text!r}"
        return

    db = tmp_path / "db.db"
    shutil.copyfile(start, db)
    plan = make_plan(profile, str(db))
    compare_golden(case, render_body(plan), UPDATE)
    for text in _as_list(expect.get("warnings")):
        assert any(text in w for w in plan.warnings), f"no warning has {text!r}: {plan.warnings}"
    for text in _as_list(expect.get("not_warnings")):
        assert not any(text in w for w in plan.warnings), f"{text!r} in {plan.warnings}"
    if expect.get("no_warnings"):
        assert not plan.warnings, f"unexpected warnings: {plan.warnings}"
    runtime = {s.name: s.value for s in plan.runtime}
    for setting, value in (expect.get("runtime") or {}).items():
        assert runtime.get(setting) == value, f"runtime {setting}: {runtime}"
    for text in _as_list(expect.get("unmanaged")):
        assert any(text in u for u in plan.unmanaged), f"{text!r} not in {plan.unmanaged}"
    before = _snapshot(start)

    script = render_plan_file(plan)
    _run_script(db, script)
    _assert_converged(profile, db, expect, "after the plan")
    _run_script(db, script)
    _assert_converged(profile, db, expect, "after the plan ran twice")
    assert _snapshot(db) == before, "the plan changed tables, triggers or row counts"

    if SQLITE3 is None:
        pytest.skip("the sqlite3 shell is not installed: shell convergence not checked")
    shell_db = tmp_path / "shell.db"
    shutil.copyfile(start, shell_db)
    (tmp_path / "plan.sql").write_text(script, encoding="utf-8")
    _run_shell(shell_db, script)
    _assert_converged(profile, shell_db, expect, "after sqlite3 -bail")
    _run_shell(shell_db, script)
    _assert_converged(profile, shell_db, expect, "after sqlite3 -bail ran twice")
    assert _snapshot(shell_db) == before, "the plan changed tables, triggers or row counts"
