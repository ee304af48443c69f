"""The command line: click commands, and the only place that prints.

Every TunerError becomes one line on stderr and exit code 1 here, in `main`; usage errors
exit 1 too (never click's 2, which `plan --detailed-exitcode` reserves for "changes pending").
Data goes to stdout; progress, notes and errors go to stderr.
"""

from __future__ import annotations

import json
import os
import sys
import time
import traceback
from pathlib import Path
from typing import Any

import click
import yaml

from tuner import __version__
from tuner.api import engine_for, make_plan
from tuner.apply import ApplyOptions, Event, apply_plan_file
from tuner.engines import ENGINES, engine_name_for_target
from tuner.engines.postgres_conn import redact
from tuner.engines.sqlite_inspect import COMPANIONS
from tuner.errors import DatabaseError, TunerError
from tuner.planfile import parse_plan_file, render_plan_file
from tuner.profile import load_profile, schema
from tuner.report import (
    advise_text,
    advise_written_text,
    apply_summary,
    bench_text,
    check_text,
    file_steps_text,
    history_text,
    plan_json,
    plan_text,
    state_as_profile,
)

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}

# -- shared options, defined once ------------------------------------------------------------
db_option = click.option(
    "--db", "db", envvar="TUNER_DB", required=True, metavar="PATH",
    help="The database: an SQLite file, or a postgresql://user@host:port/dbname URL "
         "(needs the postgres extra). Defaults to $TUNER_DB.")
profile_argument = click.argument("profile", type=click.Path(dir_okay=False))
scan_threshold_option = click.option(
    "--scan-threshold", default=10_000, show_default=True, type=click.IntRange(1),
    metavar="ROWS", help="A SCAN of a table with at least this many rows (estimated) is a "
                         "problem: check fails, advise looks for an index.")


def format_option(*choices: str, default: str) -> Any:
    """`--format` with the given choices."""
    return click.option("--format", "fmt", type=click.Choice(choices), default=default,
                        show_default=True, help="Output format.")


def out(text: str = "", nl: bool = True) -> None:
    """Data, to stdout."""
    click.echo(text, nl=nl)


def note(text: str, nl: bool = True) -> None:
    """Progress and notes, to stderr."""
    click.echo(text, err=True, nl=nl)


# -- the group -------------------------------------------------------------------------------
@click.group(context_settings=CONTEXT)
@click.version_option(__version__, "--version", "-V", prog_name="tuner")
@click.option("--debug", is_flag=True, help="Show the full traceback of an error.")
def cli(debug: bool) -> None:
    """tuner: declarative database tuning. Profiles (YAML, in git) declare pragmas, indexes,
    views and the workload; `tuner plan` shows what would change and why, as reviewable SQL.

    \b
    Exit codes: 0 success; 1 any error (bad input included);
    2 changes pending (plan --detailed-exitcode only).
    """


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
            results.append({"path": path, "valid": False, "error": str(exc)})
            if fmt == "text":
                note(f"error: {exc}")
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
    out(f"# Inspected from {db} by tuner {__version__}.")
    out(yaml.safe_dump(profile, sort_keys=False, allow_unicode=True, width=100), nl=False)


@cli.command("plan", context_settings=CONTEXT)
@profile_argument
@db_option
@click.option("--out", "out_file", type=click.Path(dir_okay=False, writable=True),
              help="Write the SQL plan file here (the saved plan `tuner apply --plan` runs), "
                   "whatever --format prints.")
@format_option("text", "sql", "json", default="text")
@click.option("--detailed-exitcode", is_flag=True,
              help="Exit 0 when there are no changes, 2 when changes are pending.")
def plan_cmd(profile: str, db: str, out_file: str | None, fmt: str,
             detailed_exitcode: bool) -> None:
    """Show what it takes to bring the database at --db to PROFILE, and why.

    Read-only: inspects the database, diffs it against the profile and prints an idempotent
    plan. Exit codes: 0 success (no changes, with --detailed-exitcode), 1 error,
    2 changes pending (only with --detailed-exitcode)."""
    _refuse_overwriting_db(out_file, db, "--out")
    plan = make_plan(load_profile(profile), db)
    text = render_plan_file(plan) if out_file or fmt == "sql" else ""
    if out_file:
        _write_atomic(Path(out_file), text)
        note(f"Plan written to {out_file} ({len(plan.steps)} steps).")
    if fmt == "json":
        out(json.dumps(plan_json(plan), indent=2))
    elif fmt == "sql":
        out(text, nl=False)
    else:
        out(plan_text(plan), nl=False)
    if detailed_exitcode and not plan.empty:
        raise click.exceptions.Exit(2)


def _refuse_overwriting_db(out_file: str | None, db: str, option: str) -> None:
    if out_file and Path(out_file).resolve() in {
            Path(db + suffix).resolve() for suffix in ("", *COMPANIONS)}:
        raise TunerError(f"{out_file}: {option} would overwrite the database {db}; "
                         "write to another file")


def _write_atomic(path: Path, text: str, what: str = "the plan file") -> None:
    tmp = path.with_name(path.name + ".tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        raise TunerError(f"{path}: cannot write {what}: {exc.strerror or exc}") from None


@cli.command("demo-db", context_settings=CONTEXT)
@click.argument("path", metavar="PATH_OR_URL", type=click.Path(dir_okay=False))
@click.option("--engine", type=click.Choice(ENGINES), default=None,
              help="sqlite: a file to create; postgresql: a postgresql:// URL whose database "
                   "gets the demo tables, loaded with COPY. Default: from PATH_OR_URL's form.")
@click.option("--participants", default=100_000, show_default=True, type=click.IntRange(0),
              help="Participants to generate (messages: the same number).")
@click.option("--seed", default=42, show_default=True, type=int,
              help="Random seed: the same seed gives the same database.")
@click.option("--force", is_flag=True,
              help="Replace an existing database (on PostgreSQL: drop the demo tables first).")
def demo_db_cmd(path: str, engine: str | None, participants: int, seed: int,
                force: bool) -> None:
    """Create the bot's demo database at PATH_OR_URL: untuned, skewed, deterministic. The same
    parameters give the same rows in an SQLite file and in a PostgreSQL database."""
    found = engine_name_for_target(path)
    if engine is not None and engine != found:
        raise TunerError(f"--engine {engine} does not fit {redact(path)}, which names "
                         f"a {found} database")
    _build_demo(path, participants, seed, force)


def _build_demo(path: str, participants: int, seed: int, force: bool) -> None:
    from tuner.workload.demo import demo_loader

    show = sys.stderr.isatty()

    def progress(table: str, done: int, total: int) -> None:
        if show:
            note(f"\r  {table}: {done:,}/{total:,} rows   ", nl=False)

    stats = demo_loader(path)(path, participants, seed=seed, force=force, on_progress=progress)
    if show:
        note("")
    counts = ", ".join(f"{n:,} {t}" for t, n in stats.rows.items())
    note(f"Created {stats.path}: {counts} in {stats.seconds:.1f} s "
         f"({stats.rows_per_second:,.0f} rows/s).")


@cli.command("demo", context_settings=CONTEXT)
@click.option("--engine", type=click.Choice(ENGINES), default=None,
              help="sqlite (the default): a demo file in --workdir; postgresql: the demo "
                   "tables loaded with COPY into the database at --db. Default: from --db.")
@click.option("--db", "db", default=None, metavar="URL",
              help="PostgreSQL only: the postgresql:// URL of the database that gets the demo "
                   "tables and is tuned.")
@click.option("--workdir", default=".tuner-demo", show_default=True,
              type=click.Path(file_okay=False),
              help="Folder for the plan file and the backups (SQLite: also the pristine demo "
                   "database and the working copy).")
@click.option("--participants", default=100_000, show_default=True, type=click.IntRange(0),
              help="Size of the demo database.")
@click.option("--seed", default=42, show_default=True, type=int, help="Random seed.")
@click.option("--force", is_flag=True,
              help="PostgreSQL: drop existing demo tables in --db first (refused without).")
@click.option("--server-settings", is_flag=True,
              help="Also apply the profile's server-wide settings (PostgreSQL: ALTER SYSTEM, "
                   "which changes the whole server's postgresql.auto.conf). Left out unless "
                   "asked for.")
def demo_cmd(engine: str | None, db: str | None, workdir: str, participants: int, seed: int,
             force: bool, server_settings: bool) -> None:
    """Run tuner's main job on a demo bot database: plan and apply the bundled profile, plan
    again, and compare the hot queries before and after.

    SQLite: a pristine demo database is generated once in --workdir; every run starts from an
    untouched copy of it (demo.db), so a rerun still has changes to show. PostgreSQL
    (--engine postgresql --db URL): the demo data is loaded into that database with COPY and
    tuned there; the comparison runs first, on a scratch clone. Server-wide settings
    (ALTER SYSTEM) are left out unless --server-settings."""
    from tuner.workload.bench import bench_compare, database_scoped
    from tuner.workload.demo_run import DemoRequest, prepare_demo

    found = engine_name_for_target(db) if db else "sqlite"
    if engine is not None and engine != found:
        raise TunerError(f"--engine {engine} needs --db with a {engine} URL"
                         if db is None else f"--engine {engine} does not fit {redact(db)}, "
                         f"which names a {found} database")
    folder = Path(workdir)
    target = prepare_demo(found, DemoRequest(folder, db, participants, seed, force),
                          _demo_progress(), note)
    note(f"{target.described}; profile: {target.profile}")
    profile = load_profile(target.profile)
    planned, left_out = (profile, []) if server_settings else database_scoped(profile)
    started = time.perf_counter()
    plan = make_plan(planned, target.work)
    elapsed = time.perf_counter() - started
    plan_file = folder / "plan.sql"
    _write_atomic(plan_file, render_plan_file(plan))
    out(plan_text(plan), nl=False)
    out("")
    out(f"Planned in {elapsed * 1000:.0f} ms; the SQL plan is in {plan_file}.")
    for item in left_out:
        out(f"Left out of this demo: {item.name} ({item.reason}); pass --server-settings to "
            "apply it too.")
    note("Measuring what the profile buys (tuner bench --compare, on a copy of the untuned "
         "database) ...")
    report = bench_compare(target.untuned, profile, runs=10, warmup=1, on_step=note)
    out("")
    out("Applying it (tuner apply --yes):")
    result = apply_plan_file(parse_plan_file(plan_file.read_text(encoding="utf-8")),
                             target.work, ApplyOptions(backup_dir=folder / ".tuner-backups"))
    if result.backup:
        out(f"  backup: {result.backup.path} ({result.backup.seconds:.2f} s)")
    for step, seconds in result.steps:
        out(f"  step {step.number:>2} {step.kind:<14} {step.object:<28} {seconds:8.3f} s")
    out(f"  total {result.seconds:.2f} s")
    out("")
    out("Planning again:")
    out(plan_text(make_plan(planned, target.work)), nl=False)
    out("")
    out("What the profile buys on this data (tuner bench --compare, measured on a copy of "
        "the untuned database):")
    out(bench_text(report), nl=False)


def _demo_progress() -> Any:
    show = sys.stderr.isatty()

    def progress(table: str, done: int, total: int) -> None:
        if show:
            note(f"\r  {table}: {done:,}/{total:,} rows   ", nl=False)
            if done >= total:
                note("")

    return progress


# -- bench -----------------------------------------------------------------------------------
@cli.command("bench", context_settings=CONTEXT)
@profile_argument
@db_option
@click.option("--compare", is_flag=True,
              help="Measure before and after applying PROFILE, on a throwaway copy of the "
                   "database (the database itself is only read).")
@click.option("--runs", default=20, show_default=True, type=click.IntRange(1),
              help="Timed runs per query.")
@click.option("--warmup", default=2, show_default=True, type=click.IntRange(0),
              help="Untimed runs per query first.")
@click.option("--html", "html_file", type=click.Path(dir_okay=False), metavar="FILE",
              help="Also write the report as one self-contained HTML page (table and a log-"
                   "scale bar chart of the latencies; no external assets).")
@format_option("text", "json", default="text")
def bench_cmd(profile: str, db: str, compare: bool, runs: int, warmup: int,
              html_file: str | None, fmt: str) -> None:
    """Time the profile's declared queries on the database, with their query plans.

    Read-only: the queries run on a read-only connection that refuses any write. With
    --compare, the database is copied (SQLite: online backup to a temporary folder;
    PostgreSQL: pg_dump/pg_restore into a scratch database, dropped at the end), the copy is
    tuned exactly as `tuner apply` would (server-wide settings left out, and said so), and
    timed before and after, with the cost of a batch insert before and after."""
    from tuner.workload.bench import bench, bench_compare

    _refuse_overwriting_db(html_file, db, "--html")
    loaded = load_profile(profile)
    if not loaded.queries:
        raise TunerError(f"{profile}: profile {loaded.name} declares no queries to measure")
    if compare:
        report = bench_compare(db, loaded, runs=runs, warmup=warmup, on_step=note)
    else:
        report = bench(db, loaded, runs=runs, warmup=warmup)
    if html_file:
        from tuner.workload.html import bench_html

        _write_atomic(Path(html_file), bench_html(report), "the HTML report")
        note(f"HTML report written to {html_file}.")
    if fmt == "json":
        out(json.dumps(report.as_dict(), indent=2))
    else:
        out(bench_text(report), nl=False)


@cli.command("check", context_settings=CONTEXT)
@profile_argument
@db_option
@scan_threshold_option
@format_option("text", "json", default="text")
def check_cmd(profile: str, db: str, scan_threshold: int, fmt: str) -> None:
    """Drift and health for CI and cron: exit 0 when the database matches PROFILE and no
    declared query scans a large table; exit 3 with what drifted and which queries scan.

    Use `plan --detailed-exitcode` to ask "is there anything to apply?" (2 = yes); use `check`
    to gate a deploy or alert from cron on drift AND on hot queries that lost their index."""
    from tuner.workload.check import check

    report = check(load_profile(profile), db, scan_threshold)
    if fmt == "json":
        out(json.dumps(report.as_dict(), indent=2))
    else:
        out(check_text(report, redact(db)))
    if not report.healthy:
        raise click.exceptions.Exit(3)


@cli.command("advise", context_settings=CONTEXT)
@profile_argument
@db_option
@scan_threshold_option
@format_option("text", "yaml", "json", default="text")
@click.option("--write", is_flag=True,
              help="Add the recommended indexes to PROFILE's `indexes:` list, each with its "
                   "reason as a YAML comment, and bump `version` by one. The rest of the file "
                   "(comments, layout) is kept byte for byte; flagged indexes are only "
                   "reported, never removed.")
@click.option("--create-extension", is_flag=True,
              help="PostgreSQL: run CREATE EXTENSION hypopg in the database if the server has "
                   "HypoPG but the database does not (otherwise advise stops and says so).")
def advise_cmd(profile: str, db: str, scan_threshold: int, fmt: str, write: bool,
               create_extension: bool) -> None:
    """Recommend indexes for PROFILE's declared queries, and flag indexes that earn nothing.

    Read-only on the database: each query is only EXPLAINed, read-only. Candidates are never
    built over the data: SQLite tries them in an in-memory copy of the schema with statistics
    sampled from the data; PostgreSQL as HypoPG hypothetical indexes in one session, weighed
    by the server's own statistics. --format yaml prints an `indexes:` block to paste into the
    profile; --write adds it to PROFILE instead (then `tuner plan` / `tuner apply` build it)."""
    from tuner.workload.advise import advise
    from tuner.workload.advise_write import indexes_block, write_advice

    try:
        original = Path(profile).read_bytes()       # before loading: --write refuses if it changes
    except OSError:
        original = b""                              # load_profile names the problem
    loaded = load_profile(profile)
    if not loaded.queries:
        raise TunerError(f"{profile}: profile {loaded.name} declares no queries to advise on")
    advice = advise(loaded, db, scan_threshold, create_extension=create_extension)
    recs = advice.to_write()
    if fmt == "json":
        out(json.dumps(advice.as_dict(), indent=2))
    elif fmt == "yaml":
        out(f"# Advised from {redact(db)} by tuner {__version__}.")
        out(indexes_block([r.as_profile() for r in recs], [r.notes() for r in recs]))
    else:
        out(advise_text(advice, redact(db)))
    if write:
        written = write_advice(profile, original, [r.as_profile() for r in recs],
                               [r.notes() for r in recs])
        note(advise_written_text(written, advice))


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


def confirm(question: str, yes: bool) -> None:
    """Ask on the terminal unless --yes; with no terminal and no --yes, refuse."""
    if yes:
        return
    if not sys.stdin.isatty():
        raise TunerError("refusing to go on without --yes: there is no terminal to confirm "
                         "on; nothing was changed")
    if not click.confirm(question, default=False, err=True):
        raise TunerError("not confirmed; nothing was changed")


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
@db_option
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
@busy_option
@verify_option
@format_option("text", "json", default="text")
def apply_cmd(profile: str | None, db: str, plan_path: str | None, yes: bool,
              backup_dir: str | None, keep: int, no_backup: bool, backup_mode: str,
              busy_timeout: int, verify: str, fmt: str) -> None:
    """Apply PROFILE (or a saved --plan) to the database: verified backup, then the plan's
    transactional DDL all or nothing, then settings and statistics, recorded in history.

    Shows the plan and asks first, unless --yes; with no terminal it refuses without --yes."""
    if bool(profile) == bool(plan_path):
        raise click.UsageError("give either PROFILE or --plan FILE")
    if plan_path:
        try:
            plan = parse_plan_file(Path(plan_path).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as exc:
            raise TunerError(f"{plan_path}: cannot read the plan: {exc}") from None
        review = file_steps_text(plan)
    else:
        made = make_plan(load_profile(profile or ""), db)
        if made.empty:
            if fmt == "json":
                out(json.dumps({"status": "no_changes", "steps": []}, indent=2))
            else:
                out("No changes. The database matches the profile; no backup taken.")
            return
        plan = parse_plan_file(render_plan_file(made))
        review = plan_text(made)
    steps = plan.steps()
    if not steps:
        if fmt == "json":
            out(json.dumps({"status": "no_changes", "steps": []}, indent=2))
        else:
            out("No changes in this plan; nothing to apply.")
        return
    if fmt == "text":
        out(review)
    else:
        note(review)
    confirm(f"Apply {len(steps)} steps to {db}?", yes)
    options = ApplyOptions(backup_dir=Path(backup_dir) if backup_dir else None, keep=keep,
                           no_backup=no_backup, busy_timeout_ms=busy_timeout, verify=verify,
                           backup_mode=backup_mode)
    result = apply_plan_file(plan, db, options, progress_printer())
    if fmt == "json":
        out(json.dumps(result.as_dict(), indent=2))
    else:
        out(apply_summary(result), nl=False)


@cli.command("history", context_settings=CONTEXT)
@db_option
@format_option("text", "json", default="text")
def history_cmd(db: str, fmt: str) -> None:
    """List past applies and restores recorded in the database (read-only)."""
    records = engine_for(db).read_history(db)
    if fmt == "json":
        out(json.dumps([r.as_dict() for r in records], indent=2))
    else:
        out(history_text(records), nl=False)


@cli.command("restore", context_settings=CONTEXT)
@click.argument("backup", type=click.Path(dir_okay=False))
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
    from tuner.restore import restore_backup

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
    except DatabaseError as exc:  # pragma: no cover - DatabaseError is a TunerError
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
