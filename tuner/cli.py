"""The command line: click commands, and the only place that prints.

Every TunerError becomes one line on stderr and exit code 1 here, in `main`; usage errors
exit 1 too (never click's 2, which `plan --detailed-exitcode` reserves for "changes pending").
Data goes to stdout; progress, notes and errors go to stderr.
"""

from __future__ import annotations

import json
import sys
import traceback
from pathlib import Path
from typing import Any

import click
import yaml

from tuner import cli_fleet
from tuner.api import engine_for, make_plan, read_history, recover
from tuner.apply import ApplyOptions, Event, apply_plan
from tuner.cli_capture import COMMANDS as CAPTURE_COMMANDS
from tuner.cli_common import (
    CONTEXT,
    FleetArgs,
    confirm,
    db_option,
    db_or_fleet,
    emit,
    format_option,
    note,
    out,
    profile_argument,
    refuse_overwriting_db,
    server_settings_option,
    write_atomic,
)
from tuner.cli_workload import COMMANDS as WORKLOAD_COMMANDS
from tuner.errors import TunerError
from tuner.planfile import parse_plan_file, render_plan_file
from tuner.profile import load_profile, schema
from tuner.report import (
    apply_summary,
    file_steps_text,
    history_text,
    plan_json,
    plan_text,
    skipped_text,
    state_as_profile,
)
from tuner.restore import restore_backup, restore_refusal
from tuner.version import __version__

#: What apply prints with --format json when there is nothing to do.
NO_CHANGES = {"status": "no_changes", "steps": []}


# -- the group -------------------------------------------------------------------------------
@click.group(context_settings=CONTEXT)
@click.version_option(__version__, "--version", "-V", prog_name="tuner")
@click.option("--debug", is_flag=True, help="Show the full traceback of an error.")
def cli(debug: bool) -> None:
    """tuner: declarative database tuning. Profiles (YAML, in git) declare pragmas, indexes,
    views and the workload; `tuner plan` shows what would change and why, as reviewable SQL.

    \b
    Exit codes: 0 success; 1 any error (bad input included);
    2 changes pending (plan --detailed-exitcode only); 3 drift or a scanning hot query
    (check only); 130 interrupted (Ctrl-C). With --fleet: 1 if any database failed, else 2
    or 3 if any database has changes or drift.
    """


for _command in (*WORKLOAD_COMMANDS, *CAPTURE_COMMANDS):
    cli.add_command(_command)


@cli.command("validate", context_settings=CONTEXT)
@click.argument("profiles", nargs=-1, required=True, type=click.Path(dir_okay=False))
@format_option("text", "json", default="text")
def validate_cmd(profiles: tuple[str, ...], fmt: str) -> None:
    """Check PROFILES (schema, extends, semantics) without touching any database."""
    results = []
    for path in profiles:
        try:
            p = load_profile(path)
        except TunerError as exc:
            problems = [str(p) for p in getattr(exc, "problems", [exc])]
            results.append({"path": path, "valid": False, "error": str(exc),
                            "problems": problems})
            if fmt == "text":
                for problem in problems:
                    note(f"error: {problem}")
            continue
        results.append({"path": path, "valid": True, "profile": p.name, "version": p.version,
                        "engine": p.engine, "indexes": len(p.indexes), "views": len(p.views),
                        "queries": len(p.queries)})
        if fmt == "text":
            out(f"ok: {path}: profile {p.name} v{p.version} ({p.engine}; {len(p.indexes)} "
                f"indexes, {len(p.views)} views, {len(p.queries)} queries)")
    if fmt == "json":
        out(json.dumps(results, indent=2))
    if not all(r["valid"] for r in results):
        raise click.exceptions.Exit(1)


@cli.command("schema", context_settings=CONTEXT)
def schema_cmd() -> None:
    """Print the profile JSON Schema (draft 2020-12), e.g. for an editor's YAML server."""
    out(json.dumps(schema(), indent=2))


@cli.command("inspect", context_settings=CONTEXT)
@db_option
@format_option("yaml", "json", default="yaml")
@click.option("--name", help="Profile name to write (default: the database file's name).")
def inspect_cmd(db: str, fmt: str, name: str | None) -> None:
    """Print the live database as a profile (with prune: true), read-only.

    Planned against the same database, the output gives no changes."""
    engine = engine_for(db)
    state = engine.inspect(db)
    profile = state_as_profile(state, name or Path(db).stem, engine.settings_key)
    if fmt == "json":
        out(json.dumps(profile, indent=2))
        return
    out(f"# Inspected from {engine.display(db)} by tuner {__version__}.")
    out(yaml.safe_dump(profile, sort_keys=False, allow_unicode=True, width=100), nl=False)


@cli.command("plan", context_settings=CONTEXT)
@profile_argument
@db_or_fleet
@click.option("--out", "out_file", type=click.Path(writable=True),
              help="Write the SQL plan file here (the saved plan `tuner apply --plan` runs), "
                   "whatever --format prints. With --fleet: a folder, one plan file per "
                   "database.")
@format_option("text", "sql", "json", default="text")
@click.option("--detailed-exitcode", is_flag=True,
              help="Exit 0 when there are no changes, 2 when changes are pending.")
def plan_cmd(profile: str, db: str, fleet: FleetArgs | None, out_file: str | None, fmt: str,
             detailed_exitcode: bool) -> None:
    """Show what it takes to bring the database at --db to PROFILE, and why.

    Read-only: inspects the database, diffs it against the profile and prints an idempotent
    plan. Exit codes: 0 success (no changes, with --detailed-exitcode), 1 error,
    2 changes pending (only with --detailed-exitcode)."""
    if fleet:
        return cli_fleet.plan(fleet, profile, out_file, fmt, detailed_exitcode)
    if out_file and Path(out_file).is_dir():
        raise click.UsageError(f"--out {out_file} is a folder: one database's plan is a file")
    refuse_overwriting_db(out_file, db, "--out")
    plan = make_plan(load_profile(profile), db)
    text = render_plan_file(plan) if out_file or fmt == "sql" else ""
    if out_file:
        write_atomic(Path(out_file), text)
        note(f"Plan written to {out_file} ({len(plan.steps)} steps).")
    if fmt == "json":
        out(json.dumps(plan_json(plan), indent=2))
    elif fmt == "sql":
        out(text, nl=False)
    else:
        out(plan_text(plan), nl=False)
    if detailed_exitcode and not plan.empty:
        raise click.exceptions.Exit(2)


# -- apply, history, restore ------------------------------------------------------------------
backup_dir_option = click.option(
    "--backup-dir", type=click.Path(file_okay=False),
    help="Where backups go (default: .tuner-backups/ beside the database).")
keep_option = click.option("--keep", default=10, show_default=True, type=click.IntRange(1),
                           help="Keep the newest N of tuner's own backups of this database.")
busy_option = click.option("--busy-timeout", default=5000, show_default=True,
                           type=click.IntRange(0), metavar="MS",
                           help="How long to wait for another connection's lock.")
verify_option = click.option("--verify", type=click.Choice(["quick", "full"]), default="quick",
                             show_default=True,
                             help="Check backups with PRAGMA quick_check, or integrity_check.")
yes_option = click.option("--yes", "-y", is_flag=True, help="Do it without asking.")


def progress_printer() -> Any:
    """An on_event callback that reports apply progress on stderr."""
    tty = sys.stderr.isatty()

    def on_event(event: Event) -> None:
        if event.kind == "backup_start":
            note(f"Backing up to {event.path}/ ...")
        elif event.kind == "backup_progress" and tty and event.total > 64 << 20:
            width = 30
            filled = width * event.done // max(event.total, 1)
            note(f"\r  [{'#' * filled}{'.' * (width - filled)}] "
                 f"{event.done / 1e6:,.0f}/{event.total / 1e6:,.0f} MB", nl=False)
            if event.done >= event.total:
                note("")
        elif event.kind == "backup_done":
            note(f"Backup: {event.path} ({event.seconds:.2f} s, verified)")
        elif event.kind == "step_start" and event.step is not None and tty:
            note(f"  step {event.step.number}: {event.step.kind} {event.step.object} ...",
                 nl=False)
        elif event.kind == "step_done" and event.step is not None:
            line = f"{event.seconds:.3f} s"
            note(f" {line}" if tty else
                 f"  step {event.step.number}: {event.step.kind} {event.step.object} {line}")
        elif event.kind == "readback":
            note("Reading back every setting and object ...")
        elif event.kind == "pruned":
            note(f"Removed {event.total} old backup(s) beyond --keep.")

    return on_event


@cli.command("apply", context_settings=CONTEXT)
@click.argument("profile", required=False, type=click.Path(dir_okay=False))
@db_or_fleet
@click.option("--plan", "plan_path", type=click.Path(dir_okay=False),
              help="Apply a plan saved by `tuner plan --out`, exactly as reviewed. Refused if "
                   "the database changed since, or the file was edited.")
@yes_option
@backup_dir_option
@keep_option
@click.option("--no-backup", is_flag=True, help="Apply without a backup (recorded in history).")
@click.option("--backup-mode", type=click.Choice(["schema", "full"]), default="schema",
              show_default=True,
              help="PostgreSQL: `schema` dumps the schema (pg_dump --schema-only) with a "
                   "settings snapshot and a rollback script; `full` dumps the data too "
                   "(pg_dump -Fc). SQLite always copies the whole file.")
@server_settings_option
@busy_option
@verify_option
@format_option("text", "json", default="text")
def apply_cmd(profile: str | None, db: str, fleet: FleetArgs | None, plan_path: str | None,
              yes: bool, backup_dir: str | None, keep: int, no_backup: bool, backup_mode: str,
              server_settings: bool, busy_timeout: int, verify: str, fmt: str) -> None:
    """Apply PROFILE (or a saved --plan) to the database: verified backup, then the plan's
    transactional DDL all or nothing, then settings and statistics, recorded in history.

    Shows the plan and asks first, unless --yes; with no terminal it refuses without --yes.
    Steps that change the whole server (PostgreSQL: ALTER SYSTEM) are skipped, and said so,
    unless --server-settings."""
    if bool(profile) == bool(plan_path):
        raise click.UsageError("give either PROFILE or --plan FILE")
    options = ApplyOptions(backup_dir=Path(backup_dir) if backup_dir else None, keep=keep,
                           no_backup=no_backup, busy_timeout_ms=busy_timeout, verify=verify,
                           backup_mode=backup_mode, server_settings=server_settings)
    if fleet:
        return cli_fleet.apply(fleet, profile, plan_path, yes, options, fmt)
    if plan_path:
        try:
            saved = parse_plan_file(Path(plan_path).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as exc:
            raise TunerError(f"{plan_path}: cannot read the plan: {exc}") from None
    else:
        loaded = load_profile(profile or "")
    # Only once the input is known good: SQLite's own recovery (a hot journal) writes.
    for line in recover(db, busy_timeout):
        note(line)
    if plan_path:
        plan, review = saved, file_steps_text(saved)
    else:
        made = make_plan(loaded, db)
        if made.empty:
            emit(fmt, NO_CHANGES, "No changes. The database matches the profile; no backup "
                 "taken.\n")
            return
        plan, review = made, plan_text(made)
    steps = plan.steps
    if not steps:
        emit(fmt, NO_CHANGES, "No changes in this plan; nothing to apply.\n")
        return
    running = [s for s in steps if options.runs(s)]

    def review_and_confirm() -> None:  # after every check that needs no answer
        if fmt == "text":
            out(review)
        else:
            note(review)
        if running and not yes:
            if len(running) < len(steps):  # said before the question; the summary says it again
                note(skipped_text([s for s in steps if not options.runs(s)]), nl=False)
            confirm(f"Apply {len(running)} steps to {engine_for(db).display(db)}?", yes)

    result = apply_plan(plan, db, options, progress_printer(), review_and_confirm)
    emit(fmt, result.as_dict(), apply_summary(result))


@cli.command("history", context_settings=CONTEXT)
@db_or_fleet
@format_option("text", "json", default="text")
def history_cmd(db: str, fleet: FleetArgs | None, fmt: str) -> None:
    """List past applies and restores recorded in the database.

    Read-only, except that the `started` row of an apply whose process is gone (killed) is
    marked `interrupted`."""
    if fleet:
        return cli_fleet.history(fleet, fmt)
    records = read_history(db)
    emit(fmt, [r.as_dict() for r in records], history_text(records))


@cli.command("restore", context_settings=CONTEXT)
@click.argument("backup", type=click.Path())
@db_option
@yes_option
@backup_dir_option
@keep_option
@busy_option
@verify_option
@format_option("text", "json", default="text")
def restore_cmd(backup: str, db: str, yes: bool, backup_dir: str | None, keep: int,
                busy_timeout: int, verify: str, fmt: str) -> None:
    """Put BACKUP back in place of the database at --db.

    Verifies the backup, takes a safety backup of the current database, copies the backup
    back (WAL-safe), restores its journal mode and page size, and keeps the history."""
    refusal = restore_refusal(Path(backup), db)
    if refusal:
        raise TunerError(refusal)
    note(f"Restoring {backup} over {db} replaces the whole database: every write made since "
         "the backup was taken will be lost. A safety backup of the current database is "
         "taken first.")
    confirm(f"Restore {backup} over {db}?", yes)
    result = restore_backup(Path(backup), db,
                            backup_dir=Path(backup_dir) if backup_dir else None, keep=keep,
                            verify=verify, busy_timeout_ms=busy_timeout)
    if fmt == "json":
        out(json.dumps(result.as_dict(), indent=2))
    else:
        out(f"Restored {backup} in {result.seconds:.2f} s; the database as it was is saved "
            f"in {result.safety_backup.path}; history id {result.history_id}.")


# -- entry point -----------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> None:
    """Console entry point: run the CLI and map every failure to exit code 1."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    try:
        code = cli.main(args=args, prog_name="tuner", standalone_mode=False)
    except click.exceptions.NoArgsIsHelpError as exc:
        out(exc.ctx.get_help() if exc.ctx else "")
        code = 0
    except click.UsageError as exc:
        hint = f" (see 'tuner {exc.ctx.command_path.split(' ', 1)[-1]} --help')" \
            if exc.ctx and " " in exc.ctx.command_path else " (see 'tuner --help')"
        note(f"error: {exc.format_message()}{hint}")
        code = 1
    except click.ClickException as exc:
        note(f"error: {exc.format_message()}")
        code = 1
    except click.Abort:
        note("Aborted.")
        code = 1
    except TunerError as exc:
        if debug:
            traceback.print_exc()
        note(f"error: {exc}")
        code = 1
    except BrokenPipeError:
        sys.stderr.close()
        code = 1
    except KeyboardInterrupt:
        note("Interrupted.")
        code = 130
    except Exception as exc:  # a bug: say so in one line unless --debug
        if debug:
            traceback.print_exc()
        note(f"error: internal error: {type(exc).__name__}: {exc} "
             "(this is a bug in tuner; run with --debug for the traceback)")
        code = 1
    sys.exit(code if isinstance(code, int) else 0)
