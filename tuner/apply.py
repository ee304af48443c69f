"""apply_plan_file(plan, db, ...): stale check -> verified backup -> history row `started` ->
the transactional DDL in one BEGIN IMMEDIATE ... COMMIT -> the non-transactional settings ->
ANALYZE -> read-back -> history row `applied` or `failed`.

Apply runs only what a plan file says, exactly as written: `tuner apply PROFILE` renders its
plan to that same form first. Progress goes to an `on_event` callback; nothing prints here.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tuner import __version__
from tuner import history as hist
from tuner.backup import (
    Backup,
    FreeSpace,
    copy_locked,
    default_dir,
    finish_backup,
    free_space,
    prune_backups,
)
from tuner.engines.sqlite_inspect import database_error, open_readwrite, read_state
from tuner.errors import ApplyError, BackupError, PlanFileError, StalePlanError, TunerError
from tuner.model import State, key
from tuner.plan import jsonable, prior_state, state_fingerprint
from tuner.planfile import FileStep, PlanFile

PHASE_NAMES = {1: "transactional DDL", 2: "settings", 3: "statistics"}


@dataclass(frozen=True)
class Event:
    """Progress of an apply: `kind` is one of backup_start, backup_progress, backup_done,
    step_start, step_done, readback, pruned."""

    kind: str
    step: FileStep | None = None
    seconds: float | None = None
    done: int = 0
    total: int = 0
    path: str | None = None


@dataclass
class ApplyOptions:
    """How to apply: backups, locking and verification."""

    backup_dir: Path | None = None
    keep: int = 10
    no_backup: bool = False
    busy_timeout_ms: int = 5000
    verify: str = "quick"
    free: FreeSpace = free_space


@dataclass
class ApplyResult:
    """What an apply did."""

    status: str
    plan_hash: str
    history_id: int | None = None
    backup: Backup | None = None
    steps: list[tuple[FileStep, float]] = field(default_factory=list)
    seconds: float = 0.0
    pruned: list[Path] = field(default_factory=list)
    planned: list[int] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """The machine-readable summary."""
        return {
            "status": self.status, "plan_hash": self.plan_hash, "history_id": self.history_id,
            "backup": str(self.backup.path) if self.backup else None,
            "backup_seconds": round(self.backup.seconds, 3) if self.backup else None,
            "steps": [{"number": s.number, "kind": s.kind, "object": s.object, "phase": s.phase,
                       "seconds": round(t, 4)} for s, t in self.steps],
            "seconds": round(self.seconds, 3),
            "pruned_backups": [str(p) for p in self.pruned],
        }


def stale_changes(manifest: dict[str, Any], state: State) -> list[str]:
    """What differs between the state a plan was made for and `state`, in short phrases."""
    before = manifest.get("prior", {}).get("objects", {})
    now = prior_state(state)["objects"]
    out = []
    for name in sorted(set(before) | set(now)):
        if name not in now:
            out.append(f"{name.replace(':', ' ', 1)} was removed")
        elif name not in before:
            out.append(f"{name.replace(':', ' ', 1)} was added")
        elif before[name] != now[name]:
            what = name.replace(":", " ", 1)
            out.append(f"{what} changed: {before[name]} -> {now[name]}"
                       if name.startswith("pragma:") else f"{what} changed")
    return out


def check_fresh(plan: PlanFile, state: State) -> None:
    """Refuse a plan whose database no longer matches the state it was made for."""
    if state_fingerprint(prior_state(state)) == plan.manifest.get("fingerprint"):
        return
    changes = stale_changes(plan.manifest, state)
    detail = "; ".join(changes[:5]) + (f"; and {len(changes) - 5} more" if len(changes) > 5
                                       else "")
    raise StalePlanError("stale plan: the database changed since the plan was made"
                         + (f" ({detail})" if detail else "")
                         + "; nothing was changed. Run `tuner plan` again.", changes)


def apply_plan_file(plan: PlanFile, db: str, options: ApplyOptions | None = None,
                    on_event: Callable[[Event], None] | None = None) -> ApplyResult:
    """Apply a saved (or freshly rendered) plan to the SQLite database at `db`."""
    options = options or ApplyOptions()
    emit = on_event or (lambda event: None)
    if not plan.intact:
        raise PlanFileError("the plan body was edited after the plan was made (its checksum "
                            "no longer matches the header); make a new plan")
    steps = plan.steps()
    result = ApplyResult(status="no_changes", plan_hash=plan.plan_hash,
                         planned=[s.number for s in steps])
    started = time.perf_counter()
    conn = open_readwrite(db, timeout=options.busy_timeout_ms / 1000)
    try:
        check_fresh(plan, _read(conn, db))
        if not steps:
            return result
        result.backup, result.history_id = _backup_and_record(conn, db, plan, steps, options,
                                                              emit)
        _run(conn, db, plan, steps, result, emit)
        emit(Event("readback"))
        problems = readback_problems(plan.manifest, _read(conn, db))
        if problems:
            raise _fail(conn, result, "read-back after apply: " + "; ".join(problems), None,
                        None)
        result.status = "applied"
        result.seconds = time.perf_counter() - started
        hist.update(conn, result.history_id, status="applied", finished_at=hist.now_utc(),
                    duration_s=round(result.seconds, 3),
                    steps_applied=len(result.steps))
        if result.backup is not None:
            folder = options.backup_dir or default_dir(Path(db))
            result.pruned = prune_backups(folder, Path(db), options.keep)
            if result.pruned:
                emit(Event("pruned", total=len(result.pruned)))
        return result
    finally:
        conn.close()


def _read(conn: sqlite3.Connection, db: str) -> State:
    try:
        return read_state(conn)
    except sqlite3.Error as exc:
        raise database_error(db, exc) from None


def _begin(conn: sqlite3.Connection, db: str) -> None:
    try:
        conn.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as exc:
        if "locked" in str(exc) or "busy" in str(exc):
            raise TunerError(f"{db}: database is locked by another connection (another "
                             "tuner apply, or the application's writer) beyond the busy "
                             "timeout; nothing has changed. Retry, or raise --busy-timeout") \
                from None
        raise database_error(db, exc) from None


def _backup_and_record(conn: sqlite3.Connection, db: str, plan: PlanFile,
                       steps: list[FileStep], options: ApplyOptions,
                       emit: Callable[[Event], None]) -> tuple[Backup | None, int]:
    """Take the verified backup, then commit a `started` history row.

    The byte copy runs under the write lock (nobody commits during it); its verification
    runs after the lock is released, so the application is blocked only for the copy. The
    history row is written under a second lock, after the freshness check is repeated."""
    backup = None
    if not options.no_backup:
        try:  # a smaller WAL makes a faster copy; a busy checkpoint is harmless
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        except sqlite3.Error:
            pass
        folder = options.backup_dir or default_dir(Path(db))
        _begin(conn, db)
        try:
            check_fresh(plan, _read(conn, db))
            emit(Event("backup_start", path=str(folder)))
            copy = copy_locked(conn, Path(db), folder, plan.plan_hash, free=options.free,
                               on_progress=lambda d, t: emit(Event("backup_progress",
                                                                   done=d, total=t)))
        finally:
            conn.execute("ROLLBACK")  # nothing was written: this only releases the lock
        backup = finish_backup(copy, options.verify)
        emit(Event("backup_done", path=str(backup.path), seconds=backup.seconds))
    _begin(conn, db)
    try:
        check_fresh(plan, _read(conn, db))
        profile = plan.manifest.get("profile", {})
        row = hist.HistoryRow(
            operation="apply", status="started", started_at=hist.now_utc(),
            tuner_version=__version__, profile_name=profile.get("name"),
            profile_version=profile.get("version"), profile_sha256=profile.get("sha256"),
            plan_sha256=plan.plan_hash, steps_total=len(steps),
            backup_path=str(backup.path) if backup else None,
            no_backup=int(options.no_backup))
        row_id = hist.insert(conn, row)
        conn.execute("COMMIT")
        return backup, row_id
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def _run(conn: sqlite3.Connection, db: str, plan: PlanFile, steps: list[FileStep],
         result: ApplyResult, emit: Callable[[Event], None]) -> None:
    transactional = [s for s in steps if s.transactional]
    if transactional:
        _begin(conn, db)
        try:
            check_fresh(plan, _read(conn, db))
            done = []
            for step in transactional:
                done.append((step, _execute(conn, step, emit, result)))
            hist.update(conn, result.history_id, steps_applied=len(done))
            conn.execute("COMMIT")
            result.steps += done
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
    for step in (s for s in steps if not s.transactional):
        result.steps.append((step, _execute(conn, step, emit, result)))
        hist.update(conn, result.history_id, steps_applied=len(result.steps))


def _execute(conn: sqlite3.Connection, step: FileStep, emit: Callable[[Event], None],
             result: ApplyResult) -> float:
    """Run one step's statements; a failure updates history and raises ApplyError."""
    emit(Event("step_start", step=step))
    started = time.perf_counter()
    for sql in step.statements:
        try:
            rows = conn.execute(sql).fetchall()
        except sqlite3.Error as exc:
            raise _fail(conn, result, _explain(step, exc), step, sql) from None
        want = _pragma_target(step, sql)
        if want is not None and rows and str(rows[0][0]).lower() != want:
            raise _fail(conn, result, f"step {step.number}: journal_mode reads back "
                        f"{rows[0][0]}, wanted {want}: another connection is probably open "
                        "(changing the journal mode needs the only connection); stop the "
                        "application and apply again", step, sql)
    seconds = time.perf_counter() - started
    emit(Event("step_done", step=step, seconds=seconds))
    return seconds


def _pragma_target(step: FileStep, sql: str) -> str | None:
    """`PRAGMA journal_mode = X` answers with the mode it got: the value to compare with."""
    if step.kind == "set_pragma" and step.object == "journal_mode" and "=" in sql:
        return sql.split("=", 1)[1].strip().rstrip(";").strip().lower()
    return None


def _explain(step: FileStep, exc: sqlite3.Error) -> str:
    text = f"step {step.number} ({step.kind} {step.object}) failed: {exc}"
    if "locked" in str(exc) and step.kind == "set_pragma":
        text += (" (leaving WAL mode, or changing page_size, needs every other connection "
                 "closed: stop the application and apply again)")
    return text


def _fail(conn: sqlite3.Connection, result: ApplyResult, message: str,
          step: FileStep | None, sql: str | None) -> ApplyError:
    """Roll back an open transaction, record the failure, and build the ApplyError."""
    if conn.in_transaction:
        conn.execute("ROLLBACK")
    committed = [s.number for s, _ in result.steps]
    if step is not None and step.transactional:
        message += "; the transaction was rolled back and the schema is exactly as before"
    else:
        left = [n for n in result.planned
                if n not in committed and (step is None or n != step.number)]
        message += ("; " + _steps(committed, "applied and stay") if committed
                    else "; no step was applied")
        if left:
            message += "; " + _steps(left, "not run")
        message += "; run `tuner plan` to see what is left"
    if result.backup is not None:
        message += f". Backup: {result.backup.path}"
    if result.history_id is not None:
        try:
            hist.update(conn, result.history_id, status="failed", finished_at=hist.now_utc(),
                        failed_step=step.number if step else None, failed_sql=sql,
                        error=message, steps_applied=len(committed))
        except sqlite3.Error:
            pass  # the history row stays `started`: honest, if less precise
    return ApplyError(message, step=step.number if step else None, sql=sql, applied=committed,
                      backup=str(result.backup.path) if result.backup else None)


def _steps(numbers: list[int], what: str) -> str:
    """`step 1 was applied and stays`, `steps 3, 4 were not run`."""
    if len(numbers) == 1:
        return f"step {numbers[0]} was {what.replace(' stay', ' stays')}"
    return f"steps {', '.join(str(n) for n in numbers)} were {what}"


def readback_problems(manifest: dict[str, Any], state: State) -> list[str]:
    """Everything in the database that does not match the plan's desired state."""
    desired = manifest.get("desired", {})
    problems = []
    for name, want in desired.get("settings", {}).items():
        have = state.settings.get(name)
        if have is None or have.value != want:
            problems.append(f"pragma {name} reads back {have.value if have else None}, "
                            f"wanted {want}")
    for kind, live in (("indexes", state.indexes), ("views", state.views)):
        for name, spec in desired.get(kind, {}).items():
            obj = live.get(key(name))
            if obj is None:
                problems.append(f"{kind[:-2] if kind == 'indexes' else 'view'} {name} is "
                                "missing")
            elif jsonable(obj.signature) != spec.get("signature"):
                problems.append(f"{name} differs from the plan's definition")
    return problems


__all__ = ["ApplyError", "ApplyOptions", "ApplyResult", "BackupError", "Event",
           "apply_plan_file", "check_fresh", "readback_problems"]
