"""apply_plan(plan, db, ...): stale check -> verified backup -> history row `started` (and
the rows of interrupted applies marked `interrupted`, tuner.interrupted) ->
the transactional steps in one transaction -> the non-transactional steps one by one ->
statistics -> read-back -> history row `applied` or `failed`.

Apply runs a Plan (tuner.plantypes), the one type from the planner to here: made by
`tuner plan`'s own code, or read back from a reviewed plan file (tuner.planfile), whose
statements are the file's, exactly as written. It is engine-neutral: the engine's apply session
(tuner.engines.base.ApplySession) owns the connection, the exclusion of other applies, the
backup, the history store and the statements. Progress goes to an `on_event` callback;
nothing prints here.

Steps marked server-wide (they change every database on the server, not just this one) run
only with `ApplyOptions.server_settings`; without it they are skipped and listed as such.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tuner.backup import Backup
from tuner.engines.base import ApplySession, StepFailed
from tuner.engines.lookup import engine_name_for_target, engine_named
from tuner.errors import ApplyError, BackupError, PlanFileError, StalePlanError, TunerError
from tuner.history import HistoryRow, now_utc, row_problem
from tuner.interrupted import apply_detail
from tuner.interrupted import mark as mark_interrupted
from tuner.model import State, key
from tuner.options import ApplyOptions, Event
from tuner.plantypes import Manifest, Plan, Step, jsonable, prior_state, state_fingerprint
from tuner.profile_limits import text_problem
from tuner.version import __version__

PHASE_NAMES = {1: "transactional DDL", 2: "settings", 3: "statistics"}


@dataclass
class ApplyResult:
    """What an apply did."""

    status: str
    plan_hash: str
    history_id: int | None = None
    backup: Backup | None = None
    steps: list[tuple[Step, float]] = field(default_factory=list)
    seconds: float = 0.0
    pruned: list[Path] = field(default_factory=list)
    planned: list[int] = field(default_factory=list)
    #: Server-wide steps of the plan left out (no --server-settings).
    skipped: list[Step] = field(default_factory=list)
    #: History rows of interrupted applies this apply marked as such.
    interrupted: list[int] = field(default_factory=list)

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
            "skipped_server_wide": [{"number": s.number, "kind": s.kind, "object": s.object}
                                    for s in self.skipped],
            "marked_interrupted": self.interrupted,
        }


def stale_changes(manifest: Manifest, state: State) -> list[str]:
    """What differs between the state a plan was made for and `state`, in short phrases."""
    prior = manifest.prior
    before = prior.get("objects", {})
    current = prior_state(state, manifest.managed_settings)
    now = current["objects"]
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
    # SQLite also fingerprints its pragmas as `pragma:` objects: named once, above.
    settings = [c for c in _setting_changes(prior, jsonable(current))
                if f"pragma:{c.split()[1]}" not in set(before) | set(now)]
    return out + settings


def _setting_changes(before: dict[str, Any], now: dict[str, Any]) -> list[str]:
    """Settings set, changed or reset since the plan was made (`settings` holds the explicit
    ones, `defaults` the managed ones that were not set explicitly)."""
    out = []
    was_set, is_set = before.get("settings", {}), now.get("settings", {})
    was_default, is_default = before.get("defaults", {}), now.get("defaults", {})
    for name in sorted(set(was_set) | set(is_set) | set(was_default) | set(is_default)):
        old = was_set.get(name, was_default.get(name))
        new = is_set.get(name, is_default.get(name))
        if name in is_set and name not in was_set:
            out.append(f"setting {name} was set to {new}" + (
                f", over the default {old}" if old is not None else ""))
        elif name in was_set and name not in is_set:
            out.append(f"setting {name} was reset (it was set to {old})")
        elif old != new:
            out.append(f"setting {name} changed: {old} -> {new}")
    return out


def check_fresh(plan: Plan, state: State) -> None:
    """Refuse a plan whose database no longer matches the state it was made for."""
    prior = prior_state(state, plan.manifest.managed_settings)
    if state_fingerprint(prior) == plan.manifest.fingerprint:
        return
    changes = stale_changes(plan.manifest, state)
    detail = "; ".join(changes[:5]) + (f"; and {len(changes) - 5} more" if len(changes) > 5
                                       else "")
    raise StalePlanError("stale plan: the database changed since the plan was made"
                         + (f" ({detail})" if detail else "")
                         + "; nothing was changed. Run `tuner plan` again.", changes)


def apply_plan(plan: Plan, db: str, options: ApplyOptions | None = None,
                    on_event: Callable[[Event], None] | None = None,
                    confirm: Callable[[], None] | None = None) -> ApplyResult:
    """Apply a saved (or freshly rendered) plan to the database `db` (a path or a URL).

    Every refusal that needs no answer from anyone comes first: an edited plan, the wrong
    engine, a database that cannot be opened, another apply, a stale plan, a write lock held
    beyond the busy timeout. Only then is `confirm` called (the CLI shows the plan and asks
    there); it raises to stop, having changed nothing."""
    options = options or ApplyOptions()
    if not plan.intact:
        raise PlanFileError("the plan body was edited after the plan was made (its checksum "
                            "no longer matches the header); make a new plan")
    engine = engine_named(engine_name_for_target(db))
    made_for = plan.manifest.engine
    if made_for is not None and made_for != engine.name:
        raise PlanFileError(f"the plan was made for a {made_for} database, but {db} is a "
                            f"{engine.name} database; make a new plan")
    session = engine.apply_session(db, options)
    try:
        if confirm is not None:
            check_fresh(plan, session.read_state())
            session.begin()  # SQLite: the write lock, waiting up to the busy timeout
            session.rollback()
            confirm()
        return apply_in_session(plan, session, options, on_event)
    finally:
        session.close()


def apply_in_session(plan: Plan, session: ApplySession, options: ApplyOptions,
                     on_event: Callable[[Event], None] | None = None) -> ApplyResult:
    """The engine-neutral apply, on an open session (the caller closes it)."""
    emit = on_event or (lambda event: None)
    steps = [s for s in plan.steps if options.runs(s)]
    result = ApplyResult(status="no_changes", plan_hash=plan.plan_hash,
                         planned=[s.number for s in steps],
                         skipped=[s for s in plan.steps if not options.runs(s)])
    started = time.perf_counter()
    check_fresh(plan, session.read_state())
    if not steps:
        return result
    row = _history_row(plan, steps, options)
    folder = options.backup_dir or session.default_backup_dir()
    result.backup, result.history_id, result.interrupted = _backup_and_record(
        session, plan, row, folder, options, emit)
    _run(session, plan, steps, result, emit)
    emit(Event("readback"))
    problems = readback_problems(plan.manifest, session.read_state(),
                                 {s.object for s in result.skipped})
    if problems:
        raise _fail(session, result, "read-back after apply: " + "; ".join(problems), None,
                    None)
    result.status = "applied"
    result.seconds = time.perf_counter() - started
    session.update_history(result.history_id, status="applied", finished_at=now_utc(),
                           duration_s=round(result.seconds, 3),
                           steps_applied=len(result.steps))
    if result.backup is not None:
        result.pruned = session.prune_backups(folder, options.keep)
        if result.pruned:
            emit(Event("pruned", total=len(result.pruned)))
    return result


def _history_row(plan: Plan, steps: list[Step], options: ApplyOptions) -> HistoryRow:
    """The `started` row, built and checked before the backup: anything that would fail
    after the backup is taken (a plan header whose profile version does not fit the history
    table, a statement no driver can send) fails here, with nothing changed."""
    for step in steps:
        for sql in step.statements:
            problem = text_problem(sql)
            if problem:
                raise PlanFileError(f"step {step.number}: the statement contains {problem}; "
                                    "nothing was changed")
    profile = plan.manifest.profile
    row = HistoryRow(
        operation="apply", status="started", started_at=now_utc(),
        tuner_version=__version__, profile_name=profile.name,
        profile_version=profile.version, profile_sha256=profile.sha256,
        plan_sha256=plan.plan_hash, steps_total=len(steps), no_backup=int(options.no_backup),
        detail=apply_detail([s.object for s in steps if s.kind == "analyze"]))
    problem = row_problem(row)
    if problem:
        raise PlanFileError(f"the plan's header cannot be recorded in the history table: "
                            f"{problem}; nothing was changed")
    return row


def _backup_and_record(session: ApplySession, plan: Plan, row: HistoryRow,
                       folder: Path, options: ApplyOptions,
                       emit: Callable[[Event], None]) -> tuple[Backup | None, int, list[int]]:
    """Take the verified backup, then commit a `started` history row, marking the rows of
    interrupted applies in the same transaction (their ids are returned); the freshness check
    is repeated once other writers are excluded, before each."""
    backup = None
    if not options.no_backup:
        def locked() -> None:
            check_fresh(plan, session.read_state())
            emit(Event("backup_start", path=str(folder)))

        backup = session.take_backup(plan, folder, locked,
                                     lambda d, t: emit(Event("backup_progress", done=d,
                                                             total=t)))
        emit(Event("backup_done", path=str(backup.path), seconds=backup.seconds))
    session.begin()
    try:
        check_fresh(plan, session.read_state())
        marked = mark_interrupted(session)
        row.started_at = now_utc()
        row.backup_path = str(backup.path) if backup else None
        row_id = session.insert_history(row)
        session.commit()
        return backup, row_id, marked
    except BaseException:
        session.rollback()
        raise


def _run(session: ApplySession, plan: Plan, steps: list[Step], result: ApplyResult,
         emit: Callable[[Event], None]) -> None:
    transactional = [s for s in steps if s.transactional]
    assert result.history_id is not None, "the history row is written before any step"
    if transactional:
        session.begin()
        try:
            check_fresh(plan, session.read_state())
            done = []
            for step in transactional:
                done.append((step, _execute(session, step, emit, result)))
            session.update_history(result.history_id, steps_applied=len(done))
            session.commit()
            result.steps += done
        except BaseException:
            session.rollback()
            raise
    for step in (s for s in steps if not s.transactional):
        result.steps.append((step, _execute(session, step, emit, result)))
        session.update_history(result.history_id, steps_applied=len(result.steps))


def _execute(session: ApplySession, step: Step, emit: Callable[[Event], None],
             result: ApplyResult) -> float:
    """Run one step's statements; a failure updates history and raises ApplyError."""
    emit(Event("step_start", step=step))
    started = time.perf_counter()
    for sql in step.statements:
        try:
            session.execute(step, sql)
        except StepFailed as exc:
            raise _fail(session, result, exc.message, step, sql) from None
    seconds = time.perf_counter() - started
    emit(Event("step_done", step=step, seconds=seconds))
    return seconds


def _fail(session: ApplySession, result: ApplyResult, message: str,
          step: Step | None, sql: str | None) -> ApplyError:
    """Roll back an open transaction, record the failure, and build the ApplyError."""
    session.rollback()
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
            session.update_history(result.history_id, status="failed", finished_at=now_utc(),
                                   failed_step=step.number if step else None, failed_sql=sql,
                                   error=message, steps_applied=len(committed))
        except TunerError:
            pass  # the history row stays `started`: honest, if less precise
    return ApplyError(message, step=step.number if step else None, sql=sql, applied=committed,
                      backup=str(result.backup.path) if result.backup else None)


def _steps(numbers: list[int], what: str) -> str:
    """`step 1 was applied and stays`, `steps 3, 4 were not run`."""
    if len(numbers) == 1:
        return f"step {numbers[0]} was {what.replace(' stay', ' stays')}"
    return f"steps {', '.join(str(n) for n in numbers)} were {what}"


def readback_problems(manifest: Manifest, state: State,
                      skipped: set[str] | frozenset[str] = frozenset()) -> list[str]:
    """Everything in the database that does not match the plan's desired state, but for the
    settings whose steps were `skipped`."""
    desired = manifest.desired
    problems = []
    for name, want in desired.get("settings", {}).items():
        have = state.settings.get(name)
        if name not in skipped and (have is None or have.value != want):
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
           "apply_in_session", "apply_plan", "check_fresh", "readback_problems"]
