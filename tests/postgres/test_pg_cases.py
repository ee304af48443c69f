"""Golden plan cases for PostgreSQL: one test per folder under tests/cases_pg/.

Each folder holds `setup.sql` (run statement by statement in autocommit on a fresh scratch
database; a statement after a `-- expect error` line must fail, which is how a failed
CREATE INDEX CONCURRENTLY leaves an invalid index behind), `profile.yaml` and `plan.sql`, the
expected plan body (the scratch database's name reads `{{database}}`). An optional
`expect.yaml` holds `error:` (planning fails with a TunerError containing it), `warnings:`
(each must appear in a warning) and `runtime:` (per-session settings the plan reports).

Then the plan must converge without tuner apply: the plan file is executed as written (psql
-v ON_ERROR_STOP=1 -f: the views in its BEGIN ... COMMIT, the rest in autocommit; or
statement by statement with psycopg where psql is missing),
planning again gives no changes, and running the file a second time changes nothing.

`UPDATE_GOLDEN=1 pytest tests/postgres/test_pg_cases.py` rewrites the plan.sql files.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import yaml
from helpers import compare_golden
from pg_helpers import run_plan_file, run_setup

from tuner import load_profile, make_plan, render_plan_file
from tuner.errors import TunerError
from tuner.planfile import render_body

CASES_DIR = Path(__file__).parents[1] / "cases_pg"
CASES = sorted(p.name for p in CASES_DIR.iterdir() if (p / "profile.yaml").is_file())
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"


def database_of(url: str) -> str:
    return url.rsplit("/", 1)[1]


def _expect(case: Path) -> dict[str, Any]:
    path = case / "expect.yaml"
    return (yaml.safe_load(path.read_text(encoding="utf-8")) or {}) if path.is_file() else {}


def _as_list(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else list(value or [])


@pytest.mark.parametrize("name", CASES)
def test_pg_case(name: str, pg_url: str, tmp_path: Path) -> None:
    case = CASES_DIR / name
    expect = _expect(case)
    run_setup(pg_url, (case / "setup.sql").read_text(encoding="utf-8"))
    profile = load_profile(case / "profile.yaml")

    errors = _as_list(expect.get("error"))
    if errors:
        with pytest.raises(TunerError) as info:
            make_plan(profile, pg_url)
        for text in errors:
            assert text in str(info.value), f"error {str(info.value)!r} lacks {text!r}"
        return

    plan = make_plan(profile, pg_url)
    body = render_body(plan)
    compare_golden(case, body.replace(f'"{database_of(pg_url)}"', '"{{database}}"'), UPDATE)
    for text in _as_list(expect.get("warnings")):
        assert any(text in w for w in plan.warnings), f"no warning has {text!r}: {plan.warnings}"
    runtime = {s.name: s.value for s in plan.runtime}
    for setting, value in (expect.get("runtime") or {}).items():
        assert runtime.get(setting) == value, f"runtime {setting}: {runtime}"
    # views run in one transaction, before the index builds, which never run in one
    views = [s for s in plan.steps if s.kind.endswith("_view")]
    assert all(s.transactional for s in views)
    assert not any(s.transactional for s in plan.steps if s.kind.endswith("_index"))
    assert body.count("BEGIN;") == body.count("COMMIT;") == (1 if views else 0)
    numbers = [s.number for s in plan.steps if s.phase == 1]
    assert numbers[:len(views)] == [s.number for s in views], "views first in phase 1"

    script = render_plan_file(plan)
    run_plan_file(pg_url, script, tmp_path)
    again = make_plan(profile, pg_url)
    assert again.empty, "planning again is not empty:\n" + render_body(again)
    run_plan_file(pg_url, script, tmp_path)
    again = make_plan(profile, pg_url)
    assert again.empty, "after running the plan twice:\n" + render_body(again)
