"""The `tuner workload` commands of the CLI: reading capture files. They print; the work is
in tuner.capture. `tuner.cli` registers the group."""

from __future__ import annotations

import click

from tuner.capture.show import show, show_text
from tuner.capture.store import load_capture
from tuner.cli_common import CONTEXT, emit, format_option


@click.group("workload", context_settings=CONTEXT)
def workload_group() -> None:
    """Read what the application really runs: capture files written by tuner.connect,
    ConnectionPool and BatchWriter with capture=PATH (or $TUNER_CAPTURE)."""


@workload_group.command("show", context_settings=CONTEXT)
@click.argument("capture", type=click.Path(dir_okay=False))
@click.option("--top", default=20, show_default=True, type=click.IntRange(1),
              help="Show this many statements, by total time.")
@click.option("--db", "db", default=None, metavar="PATH",
              help="Also say how each read runs today in this SQLite database (SCAN or "
                   "SEARCH, by EXPLAIN QUERY PLAN of its sample; read-only).")
@format_option("text", "json", default="text")
def show_cmd(capture: str, top: int, db: str | None, fmt: str) -> None:
    """Show the statements in CAPTURE by total time: share, calls, mean, p95 and max time,
    kind and tables; statements that could not be parsed are listed at the end."""
    report = show(load_capture(capture), top, db)
    emit(fmt, report.as_dict(), show_text(report))


COMMANDS = (workload_group,)
