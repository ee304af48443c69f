"""What a PostgreSQL backup says to people: old setting values in the units a person writes
(`was 4GB`, not a count of 8kB pages glued to its unit), and `tuner restore` given a PostgreSQL
backup (its folder or a file in it) refusing at once, before any warning, naming the folder's
real rollback.sql and dump. And `tuner restore` given a folder for an SQLite database."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import psycopg
import pytest
from helpers import assert_error_last, run, write

PROFILE = """\
profile: words
version: 1
engine: postgresql
settings:
  work_mem: 16MB
  effective_cache_size: 3GB
"""


def shown(url: str, name: str) -> str:
    """The setting as the server shows it, in its unit form (`4GB`)."""
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT current_setting(%s)", [name]).fetchone()[0]


@pytest.fixture
def before(pg_url: str) -> dict[str, str]:
    """The profile's settings as the server shows them before the apply."""
    return {name: shown(pg_url, name) for name in ("work_mem", "effective_cache_size")}


@pytest.fixture
def backup(capsys: pytest.CaptureFixture[str], before: dict[str, str], pg_url: str,
           tmp_path: Path) -> Path:
    """The backup folder (full mode: database.dump) of one apply on a scratch database."""
    profile = write(tmp_path / "words.yaml", PROFILE)
    r = run(capsys, "apply", profile, "--db", pg_url, "--yes", "--backup-mode", "full",
            "--backup-dir", tmp_path / "b")
    assert r.code == 0, r.err
    [folder] = (tmp_path / "b").iterdir()
    return folder


def test_old_values_are_in_the_settings_units(backup: Path, before: dict[str, str]) -> None:
    rollback = (backup / "rollback.sql").read_text(encoding="utf-8")
    was = {s["name"]: s["was"] for s in json.loads(
        (backup / "settings.json").read_text(encoding="utf-8"))["settings"]}
    assert before["effective_cache_size"].endswith("B")  # 4GB here, as PostgreSQL shows it
    for name, value in before.items():
        assert was[name].startswith(f"{value} (source: "), was
        assert f"-- setting {name}: was {value} (source: " in rollback


def test_restore_of_a_postgres_backup_refuses_first(capsys: pytest.CaptureFixture[str],
                                                    backup: Path, pg_url: str) -> None:
    rollback, dump = backup / "rollback.sql", backup / "database.dump"
    r = run(capsys, "restore", backup, "--db", pg_url)   # no --yes, no terminal: no question
    assert_error_last(r, f"{backup} is a PostgreSQL backup folder", "nothing was changed",
                      f"psql -v ON_ERROR_STOP=1 -f {rollback} '{pg_url}'",
                      f"pg_restore --clean --if-exists -d '{pg_url}' {dump}")
    assert r.err.count("\n") == 1 and "replaces the whole database" not in r.err
    r = run(capsys, "restore", rollback, "--db", pg_url, "--yes")
    assert_error_last(r, f"{rollback} is part of the PostgreSQL backup folder {backup}",
                      f"-f {rollback} '{pg_url}'")
    assert "rollback.sql/rollback.sql" not in r.err and r.err.count("\n") == 1
    r = run(capsys, "restore", backup.parent / "elsewhere.db", "--db", pg_url)
    assert_error_last(r, "is not a tuner PostgreSQL backup", "<backup folder>/rollback.sql")


def test_restore_of_a_folder_onto_sqlite(capsys: pytest.CaptureFixture[str],
                                         tmp_path: Path) -> None:
    db = tmp_path / "app.db"
    sqlite3.connect(db).close()
    folder = tmp_path / ".tuner-backups"
    folder.mkdir()
    r = run(capsys, "restore", folder, "--db", db, "--yes")
    assert_error_last(r, f"{folder} is a directory, not an SQLite backup",
                      "give one of the backup files in it")
    assert r.err.count("\n") == 1
    write(folder / "rollback.sql", "-- tuner rollback script\n")
    r = run(capsys, "restore", folder, "--db", db)
    assert_error_last(r, "a PostgreSQL backup folder, not an SQLite backup",
                      f"-f {folder / 'rollback.sql'}")
