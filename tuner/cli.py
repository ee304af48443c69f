"""The command line: click commands, and the only place that prints.

Every TunerError becomes one line on stderr and exit code 1 here, in `main`; usage errors
exit 1 too (never click's 2, which `plan --detailed-exitcode` reserves for "changes pending").
Data goes to stdout; progress, notes and errors go to stderr.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
import traceback
from pathlib import Path
from typing import Any

import click
import yaml

from tuner import __version__
from tuner.api import engine_for, make_plan
from tuner.errors import DatabaseError, TunerError
from tuner.planfile import render_plan_file
from tuner.profile import load_profile, schema
from tuner.report import plan_json, plan_text, state_as_profile
from tuner.resources import bundled_profile

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}

# -- shared options, defined once ------------------------------------------------------------
db_option = click.option(
    "--db", "db", envvar="TUNER_DB", required=True, metavar="PATH",
    help="The database: an SQLite file (a postgresql:// URL is reserved for the PostgreSQL "
         "engine). Defaults to $TUNER_DB.")
profile_argument = click.argument("profile", type=click.Path(dir_okay=False))


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
    if out_file and Path(out_file).resolve() in {
            Path(db + suffix).resolve() for suffix in ("", "-wal", "-shm", "-journal")}:
        raise TunerError(f"{out_file}: --out would overwrite the database {db}; "
                         "write the plan to another file")
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


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        raise TunerError(f"{path}: cannot write the plan file: {exc.strerror or exc}") from None


@cli.command("demo-db", context_settings=CONTEXT)
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--participants", default=100_000, show_default=True, type=click.IntRange(0),
              help="Participants to generate (messages: the same number).")
@click.option("--seed", default=42, show_default=True, type=int,
              help="Random seed: the same seed gives the same database.")
@click.option("--force", is_flag=True, help="Replace PATH if it exists.")
def demo_db_cmd(path: str, participants: int, seed: int, force: bool) -> None:
    """Create the bot's demo database at PATH: untuned, skewed, deterministic."""
    _build_demo(path, participants, seed, force)


def _build_demo(path: str, participants: int, seed: int, force: bool) -> None:
    from tuner.workload.demo import create_demo_db

    show = sys.stderr.isatty()

    def progress(table: str, done: int, total: int) -> None:
        if show:
            note(f"\r  {table}: {done:,}/{total:,} rows   ", nl=False)

    stats = create_demo_db(path, participants, seed=seed, force=force, on_progress=progress)
    if show:
        note("")
    counts = ", ".join(f"{n:,} {t}" for t, n in stats.rows.items())
    note(f"Created {path}: {counts} in {stats.seconds:.1f} s "
         f"({stats.rows_per_second:,.0f} rows/s).")


@cli.command("demo", context_settings=CONTEXT)
@click.option("--workdir", default=".tuner-demo", show_default=True,
              type=click.Path(file_okay=False),
              help="Folder for the pristine demo database and the working copy.")
@click.option("--participants", default=100_000, show_default=True, type=click.IntRange(0),
              help="Size of the demo database.")
@click.option("--seed", default=42, show_default=True, type=int, help="Random seed.")
def demo_cmd(workdir: str, participants: int, seed: int) -> None:
    """Run tuner's main job on a demo bot database: plan the bundled profile.

    A pristine demo database is generated once in --workdir; every run starts from an
    untouched copy of it (demo.db), so a rerun still has changes to show."""
    folder = Path(workdir)
    folder.mkdir(parents=True, exist_ok=True)
    pristine = folder / f"pristine-{participants}-{seed}.db"
    if not pristine.exists():
        note(f"Generating the demo database ({participants:,} participants), once...")
        partial = folder / (pristine.name + ".partial")
        _build_demo(str(partial), participants, seed, force=True)
        os.replace(partial, pristine)
    work = folder / "demo.db"
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(str(work) + suffix).unlink(missing_ok=True)
    shutil.copyfile(pristine, work)
    profile_path = bundled_profile()
    note(f"Working copy: {work} (from {pristine.name}); profile: {profile_path}")
    started = time.perf_counter()
    plan = make_plan(load_profile(profile_path), str(work))
    elapsed = time.perf_counter() - started
    plan_file = folder / "plan.sql"
    _write_atomic(plan_file, render_plan_file(plan))
    out(plan_text(plan), nl=False)
    out("")
    out(f"Planned in {elapsed * 1000:.0f} ms. The SQL plan is in {plan_file}; review it, then:")
    out(f"  sqlite3 -bail {work} < {plan_file}")
    out(f"  tuner plan {profile_path} --db {work} --detailed-exitcode   # exits 0: converged")


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
