"""What every command module of the CLI shares: click settings, the options defined once, and
the two ways to print (data to stdout, progress and notes to stderr)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import click

from tuner.engines.lookup import engine_for
from tuner.errors import TunerError

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}

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
