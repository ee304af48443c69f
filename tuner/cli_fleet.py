"""The `--fleet` branch of plan, apply, check and history: expand the SPEC, load the profile
once, run the members (tuner.fleet) and print the live line, the table or JSON, and exit
with the fleet's code. The commands in tuner.cli and tuner.cli_workload call these when
--fleet is given; the work itself is in tuner.fleet_work.

Exit codes: 0 all converged; 1 any member failed (or the fleet stopped early after a
failure); 2 plan --detailed-exitcode with changes in any member; 3 check with drift in any
member; 130 interrupted by Ctrl-C (the members in flight finished, the rest never started).
"""

from __future__ import annotations

import collections
import json
import os
import sys
import traceback
from pathlib import Path

import click

from tuner.cli_common import FleetArgs, note, out, write_atomic
from tuner.engines.lookup import display as redact
from tuner.errors import TunerError
from tuner.fleet import (
    FleetResult,
    Outcome,
    RunOptions,
    Work,
    expand,
    run_fleet,
    shared_file_names,
)
from tuner.fleet_report import EXIT_INTERRUPTED, exit_code, fleet_json, fleet_text, progress_line
from tuner.fleet_work import apply_work, check_work, history_work, plan_file_name, plan_work
from tuner.options import ApplyOptions
from tuner.plantypes import Plan
from tuner.profile import load_profile


class Live:
    """The live progress line on a terminal (stderr, rewritten with \\r); nothing off one."""

    def __init__(self, total: int):
        self.total = total
        self.counts: collections.Counter[str] = collections.Counter()
        self.tty = sys.stderr.isatty()
        self.shown = False

    def done(self, outcome: Outcome) -> None:
        """One member finished."""
        self.counts[outcome.status] += 1
        if self.tty:
            note("\r" + progress_line(self.counts, self.total), nl=False)
            self.shown = True

    def interrupted(self, running: int) -> None:
        """Ctrl-C: say what happens now."""
        self.end()
        note(f"Interrupted: letting the {running} database(s) in flight finish; starting no "
             "more.")

    def end(self) -> None:
        """Leave the last live line in place and move to a fresh line."""
        if self.shown:
            note("")
            self.shown = False


def _run(fleet: FleetArgs, targets: list[str], work: Work, verb: str) -> FleetResult:
    jobs = fleet.jobs or os.cpu_count() or 1
    note(f"{verb} {len(targets)} database(s), {jobs} at a time"
         + (f"; canary: the first {fleet.canary}" if fleet.canary else "") + " ...")
    live = Live(len(targets))
    result = run_fleet(targets, work, RunOptions(jobs, fleet.canary, fleet.max_failures),
                       on_done=live.done, on_interrupt=live.interrupted)
    live.end()
    return result


def _finish(result: FleetResult, command: str, fmt: str, detailed: bool = False) -> None:
    if click.get_current_context().find_root().params.get("debug"):
        for o in result.outcomes:
            if o.exception is not None:
                note(f"{redact(o.target)}:")
                traceback.print_exception(o.exception)
    if fmt == "json":
        out(json.dumps(fleet_json(result, command, redact, detailed), indent=2))
    else:
        out(fleet_text(result, command, redact, detailed), nl=False)
    code, _ = exit_code(result, command, detailed)
    if code:
        raise click.exceptions.Exit(code)


def plan(fleet: FleetArgs, profile: str, out_dir: str | None, fmt: str,
         detailed: bool) -> None:
    """`tuner plan PROFILE --fleet SPEC [--out DIR]`: read-only; with --out, one plan file
    per member in DIR (named by tuner.fleet_work.plan_file_name)."""
    if fmt == "sql":
        raise click.UsageError("--format sql shows one plan; with --fleet use --out DIR for "
                               "the plan files")
    targets = expand(fleet.spec)
    loaded = load_profile(profile)
    save = None
    if out_dir:
        folder = Path(out_dir)
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise TunerError(f"{out_dir}: cannot create the folder for the plan files: "
                             f"{exc.strerror or exc}") from None

        def save(target: str, text: str) -> str:
            path = folder / plan_file_name(target)
            write_atomic(path, text)
            return str(path)

    _finish(_run(fleet, targets, plan_work(loaded, save), "Planning"), "plan", fmt, detailed)


def apply(fleet: FleetArgs, profile: str | None, plan_path: str | None, yes: bool,
          options: ApplyOptions, fmt: str) -> None:
    """`tuner apply PROFILE --fleet SPEC`: each member as `tuner apply --yes` would. Without
    --yes, on a terminal only: plan the fleet, show the totals, ask once, then apply exactly
    the plans shown (a member that changed since is refused as stale)."""
    if plan_path or not profile:
        raise click.UsageError("--fleet applies a PROFILE; --plan is for one database")
    targets = expand(fleet.spec)
    shared = shared_file_names(targets) if options.backup_dir is not None else []
    if shared:
        raise TunerError(f"--backup-dir {options.backup_dir}: several databases are named "
                         f"{', '.join(shared[:3])}; their backups would share names "
                         "and --keep; leave --backup-dir out (each backs up beside itself)")
    loaded = load_profile(profile)
    plans: dict[str, Plan] = {}
    if not yes:
        if not sys.stdin.isatty():
            raise TunerError("refusing to apply to a fleet without --yes: there is no "
                             "terminal to confirm on; nothing was changed")
        planned = _run(fleet, targets, plan_work(loaded, keep=plans), "Planning")
        if planned.stopped == "interrupted":
            note("Interrupted while planning; nothing was changed.")
            raise click.exceptions.Exit(EXIT_INTERRUPTED)
        note(_review(planned))
        if not click.confirm(
                f"Apply to {planned.count('changed')} of {len(targets)} database(s)?",
                default=False, err=True):
            raise TunerError("not confirmed; nothing was changed")
    result = _run(fleet, targets, apply_work(loaded, options, plans), "Applying to")
    _finish(result, "apply", fmt)


def _review(planned: FleetResult) -> str:
    """What the single confirmation shows: members with changes, steps by kind, failures."""
    kinds = collections.Counter(s["kind"] for o in planned.outcomes for s in o.steps)
    lines = [f"{planned.count('changed')} database(s) with changes, {planned.count('ok')} "
             f"without, {planned.count('failed')} failed to plan."]
    if kinds:
        lines.append("Steps: " + ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())) + ".")
    lines += [f"  {redact(o.target)}: {o.error}" for o in planned.outcomes
              if o.status == "failed"][:10]
    return "\n".join(lines)


def check(fleet: FleetArgs, profile: str, threshold: int, fmt: str) -> None:
    """`tuner check PROFILE --fleet SPEC`: exit 3 when any member drifted or scans."""
    targets = expand(fleet.spec)
    _finish(_run(fleet, targets, check_work(load_profile(profile), threshold), "Checking"),
            "check", fmt)


def history(fleet: FleetArgs, fmt: str) -> None:
    """`tuner history --fleet SPEC`: each member's records (JSON) or its last one (table)."""
    targets = expand(fleet.spec)
    _finish(_run(fleet, targets, history_work(), "Reading the history of"), "history", fmt)
