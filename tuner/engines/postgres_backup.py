"""PostgreSQL backups before an apply: a folder of three owner-only files.

1. `schema.sql` (`pg_dump --schema-only`, the default `--backup-mode schema`) or
   `database.dump` (`pg_dump -Fc`, `--backup-mode full`: the data too);
2. `settings.json`: every setting the plan touches, with its value, source and context from
   pg_settings, its `ALTER DATABASE ... SET` value (pg_db_role_setting) and its `ALTER SYSTEM`
   value (postgresql.auto.conf, when readable), and the indexes and views the plan touches with
   their definitions before the apply;
3. `rollback.sql`: statements that put those settings, indexes and views back.

pg_dump is checked first: missing, or older than the server (pg_dump refuses to dump a newer
server), is a BackupError before anything is written. A full data dump is not needed to undo
index, view and setting changes, hence the schema default.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit, urlunsplit

from tuner.backup import Backup, backup_name, fsync_dir, is_backup_of, prepare_dir
from tuner.engines.postgres_conn import driver, redact
from tuner.engines.postgres_settings import guc_from_row, render_value
from tuner.errors import BackupError
from tuner.history import now_utc
from tuner.render import render

if TYPE_CHECKING:
    import psycopg

    from tuner.planfile import FileStep, PlanFile

ENGINE = "postgresql"
PARTIAL = ".partial"
#: pg_settings.context -> where a value is set: ALTER DATABASE (new sessions) or ALTER SYSTEM.
SCOPES = {"user": "database", "superuser": "database", "backend": "database",
          "superuser-backend": "database", "sighup": "system", "postmaster": "system"}
DUMP_COMPLETE = "-- PostgreSQL database dump complete"
#: What a backup folder holds: always rollback.sql and settings.json, and one of the dumps.
FOLDER_FILES = ("rollback.sql", "settings.json", "schema.sql", "database.dump")


def pg_dump_path(conn: psycopg.Connection) -> str:
    """The pg_dump on PATH, checked against the server's major version; BackupError if it
    is missing or older than the server."""
    return client_tool(conn, "pg_dump", "the backup before apply needs it",
                       "apply with --no-backup")


def client_tool(conn: psycopg.Connection, tool: str, needed: str, instead: str) -> str:
    """The client program `tool` (pg_dump, pg_restore) on PATH, checked against the server's
    major version; BackupError if it is missing or older than the server, saying what
    `needed` it and what to do `instead`. Nothing has changed when it is raised."""
    server = conn.info.server_version // 10000
    tools = f"the PostgreSQL {server} client tools (Debian: postgresql-client-{server})"
    found = shutil.which(tool)
    if found is None:
        raise BackupError(f"{tool} not found on PATH: {needed}; install {tools}, or "
                          f"{instead}; nothing was changed")
    try:
        answer = subprocess.run([found, "--version"], capture_output=True, text=True,
                                timeout=60).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        raise BackupError(f"{found}: cannot run {tool}: {exc}; nothing was changed") from None
    version = re.search(r"(\d+)(?:\.\d+)*", answer)
    if version is None:
        raise BackupError(f"{found}: cannot tell the {tool} version from "
                          f"{answer.strip()[:80]!r}; nothing was changed")
    if int(version.group(1)) < server:
        raise BackupError(f"{found}: {tool} {version.group(0)} is older than the server "
                          f"(PostgreSQL {server}) and cannot handle its dumps; "
                          f"install {tools} or put them first on PATH, or {instead}; nothing "
                          "was changed")
    return found


def backup_label(conn: psycopg.Connection) -> str:
    """What names this database's backups: `<dbname>@<host>_<port>`, made file-name safe."""
    text = f"{conn.info.dbname}@{conn.info.host}_{conn.info.port}"
    return re.sub(r"[^A-Za-z0-9_.@-]", "_", text)


def take_backup(conn: psycopg.Connection, url: str, plan: PlanFile, folder: Path, mode: str,
                on_locked: Callable[[], None], lock_wait_ms: int = 0,
                runs: Callable[[FileStep], bool] = lambda step: True) -> Backup:
    """pg_dump, settings.json and rollback.sql into a new owner-only folder under `folder`.
    Nothing is left behind on failure; `on_locked` runs after pg_dump is found usable.
    pg_dump gives up after `lock_wait_ms` waiting for a table lock (0: waits forever).
    Settings and rollback cover the steps this apply `runs` (server-wide ones may not)."""
    started = time.perf_counter()
    pg_dump = pg_dump_path(conn)
    on_locked()
    snapshot = read_snapshot(conn, plan, mode, [s for s in plan.steps() if runs(s)])
    prepare_dir(folder)
    label = backup_label(conn)
    _remove_leftovers(folder, label)
    final = folder.absolute() / backup_name(label, plan.plan_hash, suffix="")
    partial = final.with_name(final.name + PARTIAL)
    try:
        partial.mkdir(mode=0o700)
        os.chmod(partial, 0o700)
        dump = partial / ("database.dump" if mode == "full" else "schema.sql")
        verified = _dump(pg_dump, url, dump, mode, lock_wait_ms)
        _write(partial / "settings.json", json.dumps(snapshot, indent=2, default=str) + "\n")
        _write(partial / "rollback.sql", rollback_script(snapshot) + "\n")
        os.replace(partial, final)
        fsync_dir(final)
        fsync_dir(final.parent)
    except OSError as exc:
        shutil.rmtree(partial, ignore_errors=True)
        raise BackupError(f"{final}: cannot write the backup: {exc.strerror or exc}; "
                          "nothing was changed") from None
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    size = sum(p.stat().st_size for p in final.iterdir())
    return Backup(final, size, 0, time.perf_counter() - started, verified)


def _remove_leftovers(folder: Path, label: str) -> None:
    """Folders of a killed apply's backup. Safe: this apply holds tuner's advisory lock."""
    for path in folder.iterdir():
        if path.name.endswith(PARTIAL) and path.is_dir() and is_backup_of(
                path.name[:-len(PARTIAL)], label, suffix=""):
            shutil.rmtree(path, ignore_errors=True)


def _dump(pg_dump: str, url: str, target: Path, mode: str, lock_wait_ms: int) -> str:
    """Run pg_dump into `target` (owner-only); return how the dump was verified."""
    url, password = _without_password(url)
    env = dict(os.environ)
    if password is not None:  # never on the command line, where `ps` shows it
        env["PGPASSWORD"] = password
    args = [pg_dump, "--no-password", "--file", str(target),
            *([f"--lock-wait-timeout={lock_wait_ms}"] if lock_wait_ms > 0 else []),
            *(["--format=custom"] if mode == "full" else ["--schema-only"]), "--dbname", url]
    done = subprocess.run(args, env=env, capture_output=True, text=True, umask=0o077)
    if done.returncode != 0:
        why = next((line for line in done.stderr.splitlines() if line.strip()), "failed")
        # `pg_dump: error: query failed: ERROR:  permission denied ...`: one message, once.
        why = re.sub(r"\s+", " ", re.sub(r"pg_dump: (error: )?|ERROR: ", "", why))
        hint = ("; another session holds a lock on a table beyond the busy timeout: retry, "
                "or raise --busy-timeout" if "timeout" in done.stderr else "")
        if "permission denied" in done.stderr:
            hint = ("; pg_dump reads (and locks) every table and schema of the database, so "
                    "the role needs SELECT and USAGE on all of them: grant them, apply as a "
                    "role that has them, or apply with --no-backup")
        raise BackupError(f"pg_dump failed (exit {done.returncode}): {why.strip()}{hint}; "
                          "nothing was changed")
    os.chmod(target, 0o600)
    if mode == "full":
        pg_restore = Path(pg_dump).with_name("pg_restore")
        if pg_restore.exists() and subprocess.run(
                [str(pg_restore), "--list", str(target)], capture_output=True).returncode:
            raise BackupError(f"{target}: pg_restore --list cannot read the dump; nothing "
                              "was changed")
        return "pg_restore --list" if pg_restore.exists() else "pg_dump exit status"
    with open(target, "rb") as dumped:
        dumped.seek(max(0, target.stat().st_size - 512))
        if DUMP_COMPLETE.encode() not in dumped.read():
            raise BackupError(f"{target}: the schema dump is incomplete; nothing was changed")
    return "dump complete"


def _without_password(url: str) -> tuple[str, str | None]:
    """The URL without its password, and the password."""
    parts = urlsplit(url)
    if parts.password is None:
        return url, None
    userinfo, _, hostport = parts.netloc.rpartition("@")
    user = userinfo.split(":", 1)[0]
    return urlunsplit(parts._replace(netloc=f"{user}@{hostport}")), unquote(parts.password)


def _write(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
        out.flush()
        os.fsync(out.fileno())


# -- what the plan touches, as it is now ----------------------------------------------------
def touched_settings(steps: list[FileStep]) -> list[str]:
    """The settings the apply changes: those of its set_setting steps (a setting the plan
    merely declares, already as wanted, is not touched, and not rolled back)."""
    return sorted({s.object for s in steps if s.kind == "set_setting"})


def touched_objects(steps: list[FileStep]) -> list[tuple[str, str]]:
    """(kind, name) of the indexes and views a plan creates, replaces or drops, latest step
    first: undoing runs in reverse."""
    seen: list[tuple[str, str]] = []
    for step in reversed(steps):
        kind = "index" if step.kind.endswith("_index") else (
            "view" if step.kind.endswith("_view") else None)
        if kind and (kind, step.object) not in seen:
            seen.append((kind, step.object))
    return seen


def read_snapshot(conn: psycopg.Connection, plan: PlanFile, mode: str,
                  steps: list[FileStep]) -> dict[str, Any]:
    """settings.json: what the apply's `steps` touch, settings and objects, as it is before
    the apply."""
    names = touched_settings(steps)
    database = conn.info.dbname
    return {"format": 1, "database": database, "server_version": conn.info.server_version,
            "taken_at": now_utc(), "plan_sha256": plan.plan_hash, "backup_mode": mode,
            "settings": _settings(conn, names), "objects": _objects(conn, steps)}


def _settings(conn: psycopg.Connection, names: list[str]) -> list[dict[str, Any]]:
    if not names:
        return []
    cur = conn.execute(render(ENGINE, "backup/settings"), [names])
    cols = [c.name for c in cur.description or ()]
    found = {r[0]: dict(zip(cols, r, strict=True)) for r in cur.fetchall()}
    database = dict(str(item).split("=", 1) for item in (
        r[0] for r in conn.execute(render(ENGINE, "backup/database_settings")).fetchall()))
    try:
        system: dict[str, str] | None = {r[0]: r[1] for r in conn.execute(
            render(ENGINE, "backup/system_settings"), [names]).fetchall()}
    except driver().errors.InsufficientPrivilege:
        system = None
    out = []
    for name in names:
        row = found.get(name)
        if row is None:
            out.append({"name": name, "scope": None, "why": "not a setting this server knows"})
            continue
        scope = SCOPES.get(row["context"])
        # pg_settings gives base units (524288 of 8kB): show what a person writes, `4GB`.
        was = render_value(guc_from_row(row).from_server(row["setting"]))
        row.update(name=name, scope=scope, database_value=database.get(name),
                   system_readable=system is not None,
                   system_value=None if system is None else system.get(name),
                   was=f"{was} (source: {row['source']})")
        if scope is None:
            row["why"] = f"context {row['context']}: tuner does not change it"
        out.append(row)
    return out


def _objects(conn: psycopg.Connection, steps: list[FileStep]) -> list[dict[str, Any]]:
    """The touched indexes and views, their definitions read with search_path = pg_catalog so
    that every name in them is schema-qualified (the rollback runs under any search_path)."""
    with conn.transaction():
        conn.execute(render(ENGINE, "backup/qualify_names"))
        return [_object(conn, kind, name) for kind, name in touched_objects(steps)]


def _object(conn: psycopg.Connection, kind: str, name: str) -> dict[str, Any]:
    """One index or view by its plan name (`schema.name`, or `name` in public), exactly as
    written: no case folding."""
    schema, _, short = name.rpartition(".")
    schema = schema or "public"
    found = conn.execute(render(ENGINE, "backup/object"), [schema, short]).fetchone()
    if found is None:
        return {"kind": kind, "schema": schema, "name": short, "definition": None}
    definition = (found[3] or "").strip()
    if kind == "view" and definition and not definition.endswith(";"):
        definition += ";"
    return {"kind": kind, "schema": found[0], "name": found[1], "definition": definition or None,
            "valid": found[4]}


def rollback_script(snapshot: dict[str, Any]) -> str:
    """rollback.sql: ALTER DATABASE/SYSTEM SET or RESET for every setting, pg_reload_conf
    when a system setting is among them, then the indexes and views dropped and recreated."""
    return render(ENGINE, "backup/rollback", database=snapshot["database"],
                  plan_hash=snapshot["plan_sha256"], taken_at=snapshot["taken_at"],
                  settings=snapshot["settings"], objects=snapshot["objects"],
                  reload=any(s.get("scope") == "system" for s in snapshot["settings"]))



# -- what to do with a backup instead of `tuner restore` --------------------------------------
def how_to_undo(backup: Path, target: str) -> str:
    """Why `tuner restore` refuses `backup` for the database at `target`, and what to run
    instead: the backup folder's own rollback.sql with psql, or its dump with pg_restore."""
    url = redact(target)
    folder = backup if backup.is_dir() else (backup.parent if backup.name in FOLDER_FILES
                                             else None)
    if folder is None or not (folder / "rollback.sql").is_file():
        return (f"{backup} is not a tuner PostgreSQL backup (a folder holding rollback.sql and "
                "settings.json), and tuner restore does not run PostgreSQL backups anyway: "
                "undo an apply with its backup folder's rollback script, psql -v "
                f"ON_ERROR_STOP=1 -f <backup folder>/rollback.sql '{url}'; nothing was changed")
    what = (f"{backup} is a PostgreSQL backup folder" if folder == backup else
            f"{backup} is part of the PostgreSQL backup folder {folder}")
    text = (f"{what}, and tuner restore does not run PostgreSQL backups; nothing was changed. "
            "Undo that apply's settings, indexes and views with its rollback script: psql -v "
            f"ON_ERROR_STOP=1 -f {folder / 'rollback.sql'} '{url}'")
    if (folder / "database.dump").is_file():
        text += ("; or bring back the whole database, data included, as it was at the "
                 f"backup: pg_restore --clean --if-exists -d '{url}' {folder / 'database.dump'}")
    return text
