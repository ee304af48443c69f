"""What every command module of the CLI shares: click settings, the options defined once, and
the two ways to print (data to stdout, progress and notes to stderr)."""

from __future__ import annotations

import functools
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
from click.core import ParameterSource

from tuner.engines.lookup import engine_for
from tuner.errors import TunerError

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}

DB_HELP = ("The database: an SQLite file, or a postgresql://user@host:port/dbname URL "
           "(needs the postgres extra). Defaults to $TUNER_DB.")
db_option = click.option("--db", "db", envvar="TUNER_DB", required=True, metavar="PATH",
                         help=DB_HELP)
profile_argument = click.argument("profile", type=click.Path(dir_okay=False))
scan_threshold_option = click.option(
    "--scan-threshold", default=10_000, show_default=True, type=click.IntRange(1),
    metavar="ROWS", help="A SCAN of a table with at least this many rows (estimated) is a "
                         "problem: check fails, advise looks for an index.")


@dataclass(frozen=True)
class FleetArgs:
    """`--fleet SPEC` and how to run it (tuner.fleet.RunOptions, before defaults)."""

    spec: str
    jobs: int | None
    canary: int
    max_failures: int | None


FLEET_OPTIONS = (
    click.option("--fleet", "fleet", metavar="SPEC",
                 help="Many databases instead of --db: a glob ('tenants/*.db'), a folder (its "
                      "*.db, *.sqlite, *.sqlite3 files) or a file listing paths or URLs, one a "
                      "line. Each is processed as by a single command (own lock, backup, "
                      "history); one summary at the end."),
    click.option("--jobs", "-j", type=click.IntRange(1), default=None, metavar="N",
                 help="With --fleet: databases processed at once (default: the CPU cores)."),
    click.option("--canary", type=click.IntRange(0), default=0, metavar="N",
                 help="With --fleet: process the first N databases first, and start no "
                      "other unless all of them succeeded."),
    click.option("--max-failures", type=click.IntRange(1), default=None, metavar="K",
                 help="With --fleet: start no more databases once K have failed (the ones "
                      "running finish)."),
)


def db_or_fleet(command: Any) -> Any:
    """`--db`, or `--fleet SPEC` with `--jobs`, `--canary` and `--max-failures`: the targets of
    plan, apply, check and history. The command gets `db` (None with a fleet) and `fleet`
    (a FleetArgs, or None)."""
    @functools.wraps(command)
    def wrapper(*args: Any, db: str | None, fleet: str | None, jobs: int | None, canary: int,
                max_failures: int | None, **kwargs: Any) -> Any:
        typed = click.get_current_context().get_parameter_source("db")
        if fleet is not None and typed == ParameterSource.COMMANDLINE:
            raise click.UsageError("give --db or --fleet, not both")
        if fleet is None:
            if not db:
                raise click.UsageError("Missing option '--db' (or --fleet SPEC for many "
                                       "databases)")
            if jobs is not None or canary or max_failures is not None:
                raise click.UsageError("--jobs, --canary and --max-failures need --fleet")
            return command(*args, db=db, fleet=None, **kwargs)
        return command(*args, db=None, fleet=FleetArgs(fleet, jobs, canary, max_failures),
                       **kwargs)

    for option in reversed(FLEET_OPTIONS):
        wrapper = option(wrapper)
    return click.option("--db", "db", envvar="TUNER_DB", metavar="PATH",
                        help=DB_HELP + " Or --fleet.")(wrapper)


def confirm(question: str, yes: bool) -> None:
    """Ask on the terminal unless --yes; with no terminal and no --yes, refuse."""
    if yes:
        return
    if not sys.stdin.isatty():
        raise TunerError("refusing to go on without --yes: there is no terminal to confirm "
                         "on; nothing was changed")
    if not click.confirm(question, default=False, err=True):
        raise TunerError("not confirmed; nothing was changed")


def format_option(*choices: str, default: str) -> Any:
    """`--format` with the given choices."""
    return click.option("--format", "fmt", type=click.Choice(choices), default=default,
                        show_default=True, help="Output format.")


def out(text: str = "", nl: bool = True) -> None:
    """Data, to stdout."""
    click.echo(text, nl=nl)


def emit(fmt: str, data: Any, text: str) -> None:
    """A command's result: `data` as indented JSON with --format json, else `text` as is."""
    if fmt == "json":
        out(json.dumps(data, indent=2))
    else:
        out(text, nl=False)


server_settings_option = click.option(
    "--server-settings", is_flag=True,
    help="Also apply the steps that change the whole server, not just this database "
         "(PostgreSQL: ALTER SYSTEM and the configuration reload, which write the server's "
         "postgresql.auto.conf). Skipped, and said so, unless given.")


def note(text: str, nl: bool = True) -> None:
    """Progress and notes, to stderr."""
    click.echo(text, err=True, nl=nl)


def refuse_overwriting_db(out_file: str | None, db: str, option: str) -> None:
    """Refuse an output file that is the database itself or one of its companions."""
    if out_file and Path(out_file).resolve() in {
            Path(f).resolve() for f in engine_for(db).files(db)}:
        raise TunerError(f"{out_file}: {option} would overwrite the database {db}; "
                         "write to another file")


def write_atomic(path: Path, text: str, what: str = "the plan file") -> None:
    """Write `text` to `path` through a temporary file and a rename: never half a file."""
    tmp = path.with_name(path.name + ".tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        raise TunerError(f"{path}: cannot write {what}: {exc.strerror or exc}") from None
