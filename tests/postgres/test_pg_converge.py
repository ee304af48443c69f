"""Convergence through `tuner apply` on PostgreSQL: every golden case under tests/cases_pg/ that
plans without an error is applied with the CLI (backup, advisory lock, history and all) on a
fresh load of its setup.sql, and `tuner plan --detailed-exitcode` must then exit 0.

tests/postgres/test_pg_cases.py proves the plan file runs as reviewed in psql; this proves
`tuner apply` itself gets there, including its stale check and read-back."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import run
from pg_helpers import run_setup
from pg_plans import history_rows
from test_pg_cases import CASES, CASES_DIR, _expect

APPLIED = [name for name in CASES if not _expect(CASES_DIR / name).get("error")]


@pytest.mark.parametrize("name", APPLIED)
def test_pg_case_converges_through_tuner_apply(name: str, pg_url: str, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    case = CASES_DIR / name
    run_setup(pg_url, (case / "setup.sql").read_text(encoding="utf-8"))
    profile = case / "profile.yaml"
    changes = "-- tuner:step " in (case / "plan.sql").read_text(encoding="utf-8")
    first = run(capsys, "plan", profile, "--db", pg_url, "--detailed-exitcode")
    assert first.code == (2 if changes else 0), (first.out, first.err)
    r = run(capsys, "apply", profile, "--db", pg_url, "--yes", "--backup-dir",
            tmp_path / "backups")
    assert r.code == 0, r.err
    again = run(capsys, "plan", profile, "--db", pg_url, "--detailed-exitcode")
    assert again.code == 0, again.out + again.err
    assert [row["status"] for row in history_rows(pg_url)] == (["applied"] if changes else [])
    # and applying once more is a no-op
    r = run(capsys, "apply", profile, "--db", pg_url, "--yes", "--backup-dir",
            tmp_path / "backups")
    assert r.code == 0 and "No changes" in r.out, r.out + r.err
