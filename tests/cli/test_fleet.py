"""`--fleet`: one profile over many databases (issue 13).

Real SQLite files in tmp_path (small demo databases, copied), real PostgreSQL scratch
databases; the CLI runs in-process, except for kill -9 and Ctrl-C, which need a process of
their own. Nothing asserts on wall-clock time: timing only picks where a signal lands.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import (
    assert_error_last,
    has_object,
    history,
    made_read_only,
    run,
    schema,
    wal_demo_db,
    write,
)

from tuner.api import make_plan
from tuner.engines.sqlite.demo import create_demo_db
from tuner.fleet_work import plan_file_name
from tuner.profile import load_profile
from tuner.resources import bundled_profile

BOT = bundled_profile()
TIMEOUT = 120


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small untuned demo database (rollback journal)."""
    path = tmp_path_factory.mktemp("fleet") / "small.db"
    create_demo_db(path, 200)
    return path


@pytest.fixture(scope="module")
def small_wal(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A demo database in WAL mode: the bundled plan is then all transactional DDL plus
    ANALYZE, so a database is either fully applied or untouched after any kill."""
    return wal_demo_db(tmp_path_factory.mktemp("fleet-wal") / "wal.db", 3000)


def copies(source: Path, folder: Path, names: list[str]) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for name in names:
        shutil.copyfile(source, folder / name)
        out.append(folder / name)
    return out


def doc(r) -> dict:
    return json.loads(r.out)


def by_name(document: dict) -> dict[str, dict]:
    return {Path(d["target"]).name: d for d in document["databases"]}


def schema_sha(db: Path) -> str:
    return hashlib.sha256(repr(schema(db)).encode()).hexdigest()


def has_history(db: Path) -> bool:
    return has_object(db, "tuner_history")


def statuses(db: Path) -> list[str]:
    """History statuses of applies, read directly (works mid-apply too)."""
    con = sqlite3.connect(db, timeout=10)
    try:
        if not con.execute("SELECT 1 FROM sqlite_master WHERE name = 'tuner_history'"
                           ).fetchone():
            return []
        return [r[0] for r in con.execute("SELECT status FROM tuner_history "
                                          "WHERE operation = 'apply' ORDER BY id")]
    finally:
        con.close()


def integrity(db: Path) -> str:
    con = sqlite3.connect(db)
    try:
        return con.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        con.close()


# -- specs -------------------------------------------------------------------------------------
def test_glob_plan_apply_check_history(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                       small: Path) -> None:
    dbs = copies(small, tmp_path / "tenants", ["a.db", "b.db", "c.db"])
    spec = str(tmp_path / "tenants" / "*.db")
    steps = len(make_plan(load_profile(BOT), str(dbs[0])).steps)

    r = run(capsys, "plan", BOT, "--fleet", spec, "--detailed-exitcode", "--format", "json")
    assert r.code == 2, r.err
    planned = doc(r)
    assert planned["totals"] == {"databases": 3, "ok": 0, "changed": 3, "failed": 0,
                                 "skipped": 0}
    assert planned["exit_code"] == 2 and "3 database(s) have changes" in planned["exit_reason"]
    assert [d["target"] for d in planned["databases"]] == [str(p) for p in dbs]
    for entry in planned["databases"]:
        assert set(entry) >= {"target", "status", "changes", "steps", "seconds", "backup",
                              "error"}
        assert entry["status"] == "changed" and entry["changes"] == steps
        assert entry["backup"] is None and entry["error"] is None
    r = run(capsys, "plan", BOT, "--fleet", spec)  # no --detailed-exitcode
    assert r.code == 0 and "all converged" not in r.out
    assert "exit 0: planned; 3 database(s) have changes" in r.out

    r = run(capsys, "apply", BOT, "--fleet", spec, "--yes", "--jobs", "2", "--format", "json")
    assert r.code == 0, r.err
    applied = doc(r)
    assert applied["totals"]["changed"] == 3 and applied["exit_code"] == 0
    for entry, db in zip(applied["databases"], dbs, strict=True):
        assert entry["changes"] == steps
        assert Path(entry["backup"]).is_file()
        assert Path(entry["backup"]).parent == (db.parent / ".tuner-backups").resolve()
        [row] = history(capsys, db)
        assert row["status"] == "applied" and row["id"] == entry["history_id"]

    r = run(capsys, "plan", BOT, "--fleet", spec, "--detailed-exitcode")
    assert r.code == 0, r.out
    assert "exit 0: all converged" in r.out and "3 no changes" in r.out
    assert run(capsys, "check", BOT, "--fleet", spec).code == 0
    r = run(capsys, "history", "--fleet", spec, "--format", "json")
    assert r.code == 0
    for entry in doc(r)["databases"]:
        assert [h["status"] for h in entry["history"]] == ["applied"]
    r = run(capsys, "apply", BOT, "--fleet", spec, "--yes")  # converged: nothing to back up
    assert r.code == 0 and "3 no changes, 0 applied" in r.out
    assert len(list((tmp_path / "tenants" / ".tuner-backups").iterdir())) == 3


def test_check_exits_3_when_any_database_drifted(capsys: pytest.CaptureFixture[str],
                                                 tmp_path: Path, small: Path) -> None:
    tuned, untuned = copies(small, tmp_path / "f", ["tuned.db", "untuned.db"])
    assert run(capsys, "apply", BOT, "--db", tuned, "--yes").code == 0
    r = run(capsys, "check", BOT, "--fleet", tmp_path / "f")
    assert r.code == 3, r.out
    assert "exit 3: 1 database(s) drifted" in r.out
    lines = {line.split()[0]: line for line in r.out.splitlines() if line.startswith(str(tmp_path))}
    assert " healthy " in lines[str(tuned)] and " drift " in lines[str(untuned)]
    r = run(capsys, "check", BOT, "--fleet", tmp_path / "f", "--format", "json")
    entries = by_name(doc(r))
    assert entries["tuned.db"]["healthy"] is True and entries["untuned.db"]["healthy"] is False
    assert entries["untuned.db"]["changes"] > 0 and doc(r)["exit_code"] == 3


def test_directory_spec_takes_database_files_only(capsys: pytest.CaptureFixture[str],
                                                   tmp_path: Path, small: Path) -> None:
    folder = tmp_path / "dir"
    copies(small, folder, ["b.sqlite", "a.db", "c.sqlite3"])
    write(folder / "notes.txt", "not a member\n")
    write(folder / "a.db-wal", "")
    (folder / "sub").mkdir()
    copies(small, folder / "sub", ["deeper.db"])
    r = run(capsys, "plan", BOT, "--fleet", folder, "--format", "json")
    assert r.code == 0, r.err
    assert [Path(d["target"]).name for d in doc(r)["databases"]] == [
        "a.db", "b.sqlite", "c.sqlite3"]


def test_list_file_with_a_missing_member(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                         small: Path) -> None:
    one, two = copies(small, tmp_path / "dbs", ["one.db", "two.db"])
    listing = write(tmp_path / "fleet.txt",
                    f"# tenants\ndbs/one.db\n\n{two}\ndbs/missing.db\ndbs/one.db\n")
    r = run(capsys, "plan", BOT, "--fleet", listing, "--format", "json")
    assert r.code == 1
    document = doc(r)
    assert [Path(d["target"]).name for d in document["databases"]] == [
        "one.db", "two.db", "missing.db"]  # relative to the list's folder, each once
    entries = by_name(document)
    assert entries["missing.db"]["status"] == "failed"
    assert "no such database file" in entries["missing.db"]["error"]
    assert entries["one.db"]["status"] == entries["two.db"]["status"] == "changed"
    assert document["exit_reason"] == "exit 1: 1 database(s) failed"
    r = run(capsys, "plan", BOT, "--fleet", listing)
    assert "Errors:" in r.out and f"{tmp_path}/dbs/missing.db: " in r.out
    assert not (tmp_path / "dbs" / "missing.db").exists()


@pytest.mark.parametrize("spec", ["none/*.db", "emptydir", "nothing.txt", "list.txt",
                                  "small.db"])
def test_a_spec_naming_no_database_is_one_line_error(capsys: pytest.CaptureFixture[str],
                                                     tmp_path: Path, small: Path,
                                                     spec: str) -> None:
    (tmp_path / "emptydir").mkdir()
    write(tmp_path / "list.txt", "# only a comment\n\n")
    shutil.copyfile(small, tmp_path / "small.db")
    fragment = {"none/*.db": "matches no database", "emptydir": "holds no",
                "nothing.txt": "no such file", "list.txt": "names no database",
                "small.db": "is a database, not a list"}[spec]
    assert_error_last(run(capsys, "plan", BOT, "--fleet", tmp_path / spec), "--fleet",
                      fragment)


def test_fleet_option_usage(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                            small: Path) -> None:
    copies(small, tmp_path, ["a.db"])
    assert_error_last(run(capsys, "plan", BOT, "--db", tmp_path / "a.db", "--fleet",
                          tmp_path), "not both")
    assert_error_last(run(capsys, "plan", BOT, "--db", tmp_path / "a.db", "--jobs", "2"),
                      "need --fleet")
    assert_error_last(run(capsys, "plan", BOT), "--db")
    assert_error_last(run(capsys, "plan", BOT, "--fleet", tmp_path, "--format", "sql"),
                      "--out DIR")
    assert_error_last(run(capsys, "plan", BOT, "--db", tmp_path / "a.db", "--out", tmp_path),
                      "is a folder")
    # apply to a fleet with no terminal to ask on: refused, nothing changed
    assert_error_last(run(capsys, "apply", BOT, "--fleet", tmp_path), "--yes")
    assert not has_history(tmp_path / "a.db")


def test_plan_out_writes_one_applicable_plan_per_database(capsys: pytest.CaptureFixture[str],
                                                          tmp_path: Path, small: Path) -> None:
    [east] = copies(small, tmp_path / "east", ["shop.db"])
    [west] = copies(small, tmp_path / "west", ["shop.db"])
    listing = write(tmp_path / "fleet.txt", f"{east}\n{west}\n")
    r = run(capsys, "plan", BOT, "--fleet", listing, "--out", tmp_path / "plans",
            "--format", "json")
    assert r.code == 0, r.err
    files = [Path(d["plan_file"]) for d in doc(r)["databases"]]
    assert len(set(files)) == 2 and all(f.parent == tmp_path / "plans" for f in files)
    assert sorted(p.name for p in (tmp_path / "plans").iterdir()) == sorted(f.name for f in files)
    assert files[0].name == plan_file_name(str(east)) and files[0].name.startswith("shop.db-")
    assert_error_last(run(capsys, "apply", BOT, "--fleet", listing, "--yes", "--backup-dir",
                          tmp_path / "backups"), "several databases are named shop.db")
    assert not (tmp_path / "backups").exists() and not has_history(east)
    for plan_file, db in zip(files, (east, west), strict=True):
        assert run(capsys, "apply", "--plan", plan_file, "--db", db, "--yes").code == 0
        assert run(capsys, "plan", BOT, "--db", db, "--detailed-exitcode").code == 0


def test_plan_file_names_hide_url_passwords() -> None:
    name = plan_file_name("postgresql://bot:s3cret@db.internal:5433/tenant_7")
    assert "s3cret" not in name and name.startswith("tenant_7@db.internal_5433-")
    assert "/" not in plan_file_name("../../etc/passwd")


# -- stopping early ----------------------------------------------------------------------------
def corrupt(path: Path) -> Path:
    path.write_bytes(os.urandom(8192))
    return path


def test_a_failed_canary_stops_the_fleet(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                         small: Path) -> None:
    folder = tmp_path / "f"
    folder.mkdir()
    corrupt(folder / "a.db")
    rest = copies(small, folder, ["b.db", "c.db", "d.db", "e.db"])
    before = {db: schema_sha(db) for db in rest}
    r = run(capsys, "apply", BOT, "--fleet", folder, "--yes", "--canary", "1", "--jobs", "2",
            "--format", "json")
    assert r.code == 1
    document = doc(r)
    assert document["stopped"] == "canary"
    assert [d["status"] for d in document["databases"]] == ["failed"] + ["skipped"] * 4
    assert all("canary" in d["error"] for d in document["databases"][1:])
    assert "a canary failed, so 4 were not started" in document["exit_reason"]
    assert all(schema_sha(db) == before[db] and not has_history(db) for db in rest)

    # a healthy canary: the rest follows
    shutil.copyfile(small, folder / "a.db")
    r = run(capsys, "apply", BOT, "--fleet", folder, "--yes", "--canary", "2", "--format",
            "json")
    assert r.code == 0 and doc(r)["totals"]["changed"] == 5


def test_max_failures_stops_starting_more(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                          small: Path) -> None:
    folder = tmp_path / "f"
    folder.mkdir()
    for name in ("a1.db", "a2.db", "a3.db"):
        corrupt(folder / name)
    good = copies(small, folder, ["b1.db", "b2.db"])
    r = run(capsys, "apply", BOT, "--fleet", folder, "--yes", "--jobs", "1",
            "--max-failures", "2", "--format", "json")
    assert r.code == 1
    document = doc(r)
    assert [d["status"] for d in document["databases"]] == [
        "failed", "failed", "skipped", "skipped", "skipped"]
    assert document["stopped"] == "max_failures"
    assert "--max-failures reached, so 3 were not started" in document["exit_reason"]
    assert not any(has_history(db) for db in good)
    # without the limit every member is tried: failures never stop the others
    r = run(capsys, "apply", BOT, "--fleet", folder, "--yes", "--jobs", "1", "--format", "json")
    assert [d["status"] for d in doc(r)["databases"]] == ["failed"] * 3 + ["changed"] * 2


def test_corrupt_locked_and_read_only_members(capsys: pytest.CaptureFixture[str],
                                              tmp_path: Path, small: Path,
                                              write_lock) -> None:
    folder = tmp_path / "f"
    good = copies(small, folder, ["g1.db", "g2.db", "g3.db", "locked.db", "readonly.db"])[:3]
    corrupt(folder / "corrupt.db")
    write_lock(folder / "locked.db")
    with made_read_only(folder / "readonly.db"):
        r = run(capsys, "apply", BOT, "--fleet", folder, "--yes", "--busy-timeout", "200")
    assert r.code == 1, r.out
    assert "Traceback" not in r.err and "internal error" not in r.out
    errors = r.out.split("Errors:\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert len(errors) == 3
    said = {Path(line.strip().split(": ", 1)[0]).name: line for line in errors}
    assert "not an SQLite database" in said["corrupt.db"]
    assert "locked" in said["locked.db"] and "nothing has changed" in said["locked.db"]
    assert "read-only" in said["readonly.db"]
    for line in errors:  # each names its database once
        name = line.strip().split(": ", 1)[0]
        assert line.count(name) == 1, line
    assert "exit 1: 3 database(s) failed" in r.out
    for db in good:
        assert statuses(db) == ["applied"]
    assert statuses(folder / "locked.db") == [] and statuses(folder / "readonly.db") == []
    listing = write(tmp_path / "good.txt", "".join(f"{db}\n" for db in good))
    assert run(capsys, "plan", BOT, "--fleet", listing, "--detailed-exitcode").code == 0


# -- kill -9 and Ctrl-C ------------------------------------------------------------------------
def start_fleet_apply(folder: Path, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "tuner", "apply", str(BOT), "--fleet",
                             str(folder), "--yes", "--jobs", "2", *extra], cwd=folder.parent,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for_first_applied(proc: subprocess.Popen[str], first: list[Path]) -> None:
    """Until the first members' history shows an `applied` row (or the process ended)."""
    end = time.monotonic() + TIMEOUT
    while proc.poll() is None and time.monotonic() < end:
        if any("applied" in statuses(db) for db in first if db.exists()):
            return
        time.sleep(0.005)


def wal_fleet(small_wal: Path, folder: Path, n: int) -> list[Path]:
    return copies(small_wal, folder, [f"m{i:02d}.db" for i in range(n)])


def test_kill_9_leaves_each_database_applied_or_untouched(capsys: pytest.CaptureFixture[str],
                                                          tmp_path: Path,
                                                          small_wal: Path) -> None:
    dbs = wal_fleet(small_wal, tmp_path / "f", 30)
    original = schema_sha(dbs[0])
    profile = load_profile(BOT)
    proc = start_fleet_apply(tmp_path / "f")
    try:
        wait_for_first_applied(proc, dbs[:2])
        os.kill(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL
    applied = untouched = converged = 0
    for db in dbs:
        assert integrity(db) == "ok", db
        left = {s.kind for s in make_plan(profile, str(db)).steps}
        if schema_sha(db) == original:
            assert "applied" not in statuses(db)
            untouched += 1
        else:  # the DDL is all there; a kill before the end may leave its ANALYZE to redo
            assert left <= {"analyze"}, f"{db.name}: partly applied: {sorted(left)} left"
            applied += 1
        converged += not left
    assert applied >= 1 and untouched >= 1, (applied, untouched)

    r = run(capsys, "apply", BOT, "--fleet", tmp_path / "f", "--yes", "--format", "json")
    assert r.code == 0, r.out
    assert doc(r)["totals"] == {"databases": 30, "ok": converged, "changed": 30 - converged,
                                "failed": 0, "skipped": 0}
    assert run(capsys, "plan", BOT, "--fleet", tmp_path / "f", "--detailed-exitcode").code == 0
    assert not [p for p in (tmp_path / "f" / ".tuner-backups").iterdir() if ".partial" in p.name]
    for db in dbs:  # a killed apply's row is `started` or `interrupted`, never `failed`
        assert set(statuses(db)) <= {"started", "interrupted", "applied"} and statuses(db)


def test_ctrl_c_finishes_the_databases_in_flight(tmp_path: Path, small_wal: Path) -> None:
    dbs = wal_fleet(small_wal, tmp_path / "f", 40)
    original = schema_sha(dbs[0])
    proc = start_fleet_apply(tmp_path / "f", "--format", "json")
    try:
        wait_for_first_applied(proc, dbs[:2])
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, err
    assert "Interrupted: letting the" in err and "Traceback" not in err
    document = json.loads(out)
    assert document["stopped"] == "interrupted" and document["exit_code"] == 130
    by_status: dict[str, list[Path]] = {}
    for entry in document["databases"]:
        by_status.setdefault(entry["status"], []).append(Path(entry["target"]))
    assert set(by_status) == {"changed", "skipped"}, by_status.keys()
    for db in by_status["changed"]:
        assert statuses(db) == ["applied"]
    for db in by_status["skipped"]:
        assert statuses(db) == [] and schema_sha(db) == original
    assert document["totals"]["skipped"] == len(by_status["skipped"]) >= 1
    assert f"exit 130: interrupted; {len(by_status['skipped'])} database(s) not started" == \
        document["exit_reason"]


# -- PostgreSQL --------------------------------------------------------------------------------
PG_PROFILE = """profile: tenants
version: 1
engine: postgresql
settings:
  work_mem: 24MB
indexes:
  - name: participants_event_status
    table: participants
    columns: [event_id, status]
"""


def test_postgres_fleet_from_a_list_of_urls(capsys: pytest.CaptureFixture[str],
                                            tmp_path: Path, pg_url: str,
                                            pg_url2: str) -> None:
    from pg_helpers import run_setup

    setup = (Path(__file__).parents[1] / "cases_pg" / "bot_from_scratch" / "setup.sql").read_text(
        encoding="utf-8")
    for url in (pg_url, pg_url2):
        run_setup(url, setup)
    profile = write(tmp_path / "tenants.yaml", PG_PROFILE)
    listing = write(tmp_path / "tenants.txt", f"{pg_url}\n{pg_url2}\n")
    r = run(capsys, "plan", profile, "--fleet", listing, "--detailed-exitcode", "--format",
            "json")
    assert r.code == 2, r.err
    assert [d["target"] for d in doc(r)["databases"]] == [pg_url, pg_url2]
    assert [[s["kind"] for s in d["steps"]] for d in doc(r)["databases"]] == [
        ["create_index", "set_setting", "analyze"]] * 2
    assert run(capsys, "check", profile, "--fleet", listing).code == 3
    r = run(capsys, "apply", profile, "--fleet", listing, "--yes", "--backup-dir",
            tmp_path / "backups", "--format", "json")
    assert r.code == 0, r.out + r.err
    backups = [Path(d["backup"]) for d in doc(r)["databases"]]
    assert len(set(backups)) == 2 and all((b / "schema.sql").is_file() for b in backups)
    assert run(capsys, "plan", profile, "--fleet", listing, "--detailed-exitcode").code == 0
    assert run(capsys, "check", profile, "--fleet", listing).code == 0
    r = run(capsys, "history", "--fleet", listing, "--format", "json")
    assert [[h["status"] for h in d["history"]] for d in doc(r)["databases"]] == [
        ["applied"], ["applied"]]

