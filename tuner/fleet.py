"""Fleets: one profile over many databases. This module owns what a fleet is (expanding a
`--fleet` SPEC into its members), the outcome of one member, and the runner that processes
the members on a thread pool with the canary, the failure limit and Ctrl-C.

The work done on each member is the very code path of a single command (tuner.fleet_work),
so every database keeps its own lock, backup, history and stale check. The runner is
engine-neutral and never prints: it reports through callbacks, which tuner.cli_fleet turns
into the live line and the summary.

Why threads: the cost a fleet saves is the ~0.4 s start-up of one process per database;
SQLite and psycopg release the GIL while they work, so threads also overlap the I/O.
"""

from __future__ import annotations

import glob
import os
import time
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tuner.errors import TunerError

#: File names a directory SPEC picks up (non-recursively).
DB_SUFFIXES = (".db", ".sqlite", ".sqlite3")
#: Files beside a database that are never members themselves (SQLite's journal, WAL, shm,
#: tuner's apply lock file).
NOT_MEMBERS = ("-journal", "-wal", "-shm", "-tuner.lock", ".partial", ".tmp")
#: The first bytes of every SQLite database: such a file is a member, not a list of them.
SQLITE_MAGIC = b"SQLite format 3\x00"

#: Member statuses. `ok`: nothing to do (converged, healthy, read); `changed`: changes planned
#: or applied, or drift found; `failed`: an error, in `error`; `skipped`: never started
#: (the canary or --max-failures stopped the fleet, or Ctrl-C).
STATUSES = ("ok", "changed", "failed", "skipped")


class FleetError(TunerError):
    """The fleet itself is unusable (an empty glob, an unreadable list file): nothing ran."""


@dataclass
class Outcome:
    """What happened to one member."""

    target: str
    status: str
    seconds: float = 0.0
    steps: list[dict[str, Any]] = field(default_factory=list)
    backup: str | None = None
    history_id: int | None = None
    plan_file: str | None = None
    error: str | None = None
    #: The command's own data for this member (a check report, history records).
    detail: dict[str, Any] | None = None
    #: A non-TunerError (a bug in tuner), kept for --debug.
    exception: BaseException | None = None

    def as_dict(self) -> dict[str, Any]:
        """The machine-readable entry (the target as given; the CLI redacts it)."""
        out = {"target": self.target, "status": self.status, "changes": len(self.steps),
               "steps": self.steps, "seconds": round(self.seconds, 3),
               "backup": self.backup, "history_id": self.history_id,
               "plan_file": self.plan_file, "error": self.error}
        if self.detail is not None:
            out.update(self.detail)
        return out


@dataclass
class FleetResult:
    """Every member's outcome, in the fleet's order, and why the fleet stopped early if it
    did (`stopped`: `canary`, `max_failures` or `interrupted`)."""

    outcomes: list[Outcome]
    stopped: str | None = None
    seconds: float = 0.0

    def count(self, status: str) -> int:
        """How many members ended with `status`."""
        return sum(1 for o in self.outcomes if o.status == status)

    def totals(self) -> dict[str, int]:
        """Members per status, and in all."""
        return {"databases": len(self.outcomes), **{s: self.count(s) for s in STATUSES}}


@dataclass
class RunOptions:
    """How to run a fleet: threads, the canary (the first N members, all finished before any
    other starts) and the failure limit (start no member once K have failed)."""

    jobs: int = os.cpu_count() or 1
    canary: int = 0
    max_failures: int | None = None


# -- the members -----------------------------------------------------------------------------
def expand(spec: str) -> list[str]:
    """The members a SPEC names, in a stable order, each once: a glob (`tenants/*.db`,
    sorted), a directory (its *.db, *.sqlite and *.sqlite3 files, sorted), or a list file
    (one path or URL a line, in that order; `#` comments and blank lines skipped; relative
    paths are relative to the list file's folder). A listed path that does not exist stays a
    member: it fails on its own, with its own error."""
    if glob.has_magic(spec):
        found = [p for p in sorted(glob.glob(spec, recursive=True))
                 if os.path.isfile(p) and not p.endswith(NOT_MEMBERS)]
        if not found:
            raise FleetError(f"--fleet {spec}: the pattern matches no database file")
        return found
    path = Path(spec)
    if path.is_dir():
        found = [str(p) for p in sorted(path.iterdir())
                 if p.is_file() and p.name.endswith(DB_SUFFIXES)]
        if not found:
            raise FleetError(f"--fleet {spec}: the folder holds no *.db, *.sqlite or "
                             "*.sqlite3 file")
        return found
    return _read_list(path, spec)


def _read_list(path: Path, spec: str) -> list[str]:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise FleetError(f"--fleet {spec}: no such file, folder or matching pattern") from None
    except OSError as exc:
        raise FleetError(f"--fleet {spec}: cannot read the list: "
                         f"{exc.strerror or exc}") from None
    if raw.startswith(SQLITE_MAGIC):
        raise FleetError(f"--fleet {spec}: this is a database, not a list of them; use "
                         f"--db {spec}, or a glob or folder")
    try:
        lines = raw.decode("utf-8").splitlines()
    except UnicodeDecodeError:
        raise FleetError(f"--fleet {spec}: not a list of databases (not UTF-8 text)") from None
    members = []
    for line in lines:
        entry = line.strip()
        if not entry or entry.startswith("#"):
            continue
        if "://" not in entry and not os.path.isabs(entry):
            entry = str(path.parent / entry)
        members.append(entry)
    members = list(dict.fromkeys(members))
    if not members:
        raise FleetError(f"--fleet {spec}: the list names no database")
    return members


def shared_file_names(targets: Iterable[str]) -> list[str]:
    """File names that two members share (URLs aside): their backups in one --backup-dir
    would share names and retention."""
    seen: dict[str, int] = {}
    for target in targets:
        if "://" not in target:
            name = Path(target).name
            seen[name] = seen.get(name, 0) + 1
    return sorted(n for n, c in seen.items() if c > 1)


# -- the runner ------------------------------------------------------------------------------
Work = Callable[[str], Outcome]


def attempt(target: str, work: Work) -> Outcome:
    """Run `work` on one member; an error becomes a `failed` outcome, never an exception:
    one member's failure never stops the others."""
    started = time.perf_counter()
    try:
        outcome = work(target)
    except TunerError as exc:
        outcome = Outcome(target, "failed", error=str(exc))
    except Exception as exc:  # a bug in tuner: this member fails, the fleet goes on
        outcome = Outcome(target, "failed", exception=exc,
                          error=f"internal error: {type(exc).__name__}: {exc} (this is a bug "
                                "in tuner; run with --debug for the traceback)")
    outcome.seconds = time.perf_counter() - started
    return outcome


def run_fleet(targets: list[str], work: Work, options: RunOptions,
              on_done: Callable[[Outcome], None] | None = None,
              on_interrupt: Callable[[int], None] | None = None) -> FleetResult:
    """Run `work` on every member, `options.jobs` at a time. No new member starts once the
    canary had a failure or `max_failures` members failed; members already running always
    finish. Ctrl-C (KeyboardInterrupt in this, the main thread) does the same: the running
    members finish (`on_interrupt` is told how many), the rest are `skipped`.
    `on_done` is called in this thread as each member finishes."""
    started = time.perf_counter()
    done: dict[int, Outcome] = {}
    stopped: str | None = None
    report = on_done or (lambda outcome: None)
    canary = min(options.canary, len(targets))
    with ThreadPoolExecutor(max_workers=max(1, options.jobs),
                            thread_name_prefix="tuner-fleet") as pool:
        running: set[Future[Outcome]] = set()
        failures = 0
        try:
            for number, target in enumerate(targets):
                if number == canary and canary:  # all of the canary first, then the rest
                    while running:
                        failures += _collect(running, report)
                while len(running) >= max(1, options.jobs):
                    failures += _collect(running, report)
                stopped = _stop_reason(number, canary, failures, options, done)
                if stopped:
                    break
                running.add(pool.submit(_attempt_into, done, number, target, work))
            while running:
                failures += _collect(running, report)
        except KeyboardInterrupt:
            stopped = "interrupted"
            if on_interrupt is not None:
                on_interrupt(len(running))
            _finish(running, report)
    outcomes = [done.get(i) or Outcome(t, "skipped", error=_skipped(stopped))
                for i, t in enumerate(targets)]
    return FleetResult(outcomes, stopped, time.perf_counter() - started)


def _attempt_into(done: dict[int, Outcome], number: int, target: str, work: Work) -> Outcome:
    """`attempt`, its outcome recorded by the worker itself: a member that started is never
    reported as not started, even when Ctrl-C lands between submitting and tracking it."""
    outcome = done[number] = attempt(target, work)
    return outcome


def _collect(running: set[Future[Outcome]], report: Callable[[Outcome], None]) -> int:
    """Wait for at least one running member to finish; report it; return the new failures."""
    finished, _ = wait(running, return_when=FIRST_COMPLETED)
    failures = 0
    for future in finished:
        running.discard(future)
        outcome = future.result()
        failures += outcome.status == "failed"
        report(outcome)
    return failures


def _finish(running: set[Future[Outcome]], report: Callable[[Outcome], None]) -> None:
    """After Ctrl-C: wait for the members in flight (a second Ctrl-C cannot stop a thread,
    so it waits on)."""
    while running:
        try:
            _collect(running, report)
        except KeyboardInterrupt:
            continue


def _stop_reason(number: int, canary: int, failures: int, options: RunOptions,
                 done: dict[int, Outcome]) -> str | None:
    if canary and number >= canary and any(done[i].status == "failed" for i in range(canary)):
        return "canary"
    if options.max_failures is not None and failures >= options.max_failures:
        return "max_failures"
    return None


def _skipped(stopped: str | None) -> str:
    return {"canary": "not started: a canary database failed",
            "max_failures": "not started: --max-failures was reached",
            "interrupted": "not started: interrupted (Ctrl-C)"}.get(
                stopped or "", "not started")
