"""A password in a --db URL never reaches output, plan files or errors (trust auth ignores it)."""

from __future__ import annotations

from pathlib import Path

from helpers import run

ROOT = Path(__file__).resolve().parents[2]
PG_PROFILE = ROOT / "profiles" / "telegram-bot-postgres.yaml"
SQLITE_PROFILE = ROOT / "profiles" / "telegram-bot.yaml"
SECRET = "sekrit-do-not-print"


def with_password(url: str) -> str:
    scheme, rest = url.split("://", 1)
    user, host = rest.split("@", 1)
    return f"{scheme}://{user}:{SECRET}@{host}"


def test_no_password_in_plans_inspect_or_errors(pg_url: str, tmp_path: Path, capsys) -> None:
    url = with_password(pg_url)
    plan_file = tmp_path / "p.sql"
    assert run(capsys, "demo-db", url, "--participants", "200").code == 0
    outputs = [run(capsys, "plan", PG_PROFILE, "--db", url, "--out", plan_file),  # exit 2
               run(capsys, "plan", PG_PROFILE, "--db", url, "--format", "json"),
               run(capsys, "inspect", "--db", url),
               run(capsys, "plan", SQLITE_PROFILE, "--db", url)]
    assert [r.code for r in outputs[1:3]] == [0, 0], [r.err for r in outputs]
    assert outputs[3].code == 1 and "is a postgresql database" in outputs[3].err
    assert plan_file.is_file() and "***" in plan_file.read_text()
    for r in outputs:
        assert SECRET not in r.out and SECRET not in r.err
    assert SECRET not in plan_file.read_text()
    applied = run(capsys, "apply", "--plan", plan_file, "--db", url, "--yes", "--format", "json")
    assert applied.code == 0, applied.err
    assert SECRET not in applied.out and SECRET not in applied.err
