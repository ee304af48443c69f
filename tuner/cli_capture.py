"""The capture commands of the CLI: `tuner workload show` reads capture files, `tuner capture
--db` writes one from a server's own statistics. They print; the work is in tuner.capture.
`tuner.cli` registers them."""

from __future__ import annotations

import click

from tuner.capture.server import ServerCapture, capture_server
from tuner.capture.show import show, show_text
from tuner.capture.store import load_capture
from tuner.cli_common import CONTEXT, db_option, emit, format_option


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


@click.command("capture", context_settings=CONTEXT)
@db_option
@click.option("--out", "out_file", required=True, type=click.Path(dir_okay=False),
              metavar="CAPTURE", help="The capture file to write (merged into if it exists).")
@click.option("--reset", is_flag=True,
              help="Then reset the server's statistics for this database, so that the next "
                   "capture adds only what ran since this one.")
@format_option("text", "json", default="text")
def capture_cmd(db: str, out_file: str, reset: bool, fmt: str) -> None:
    """Read what a PostgreSQL database has run, from pg_stat_statements (calls, total and max
    time, rows), into a capture file that `tuner workload show` reads. The server counts since
    its last reset: capture into a new file, or pass --reset every time. On SQLite the
    application's runtime captures (capture=PATH, or TUNER_CAPTURE=PATH python app.py)."""
    result = capture_server(db, out_file, reset=reset)
    emit(fmt, result.as_dict(), capture_text(result))


def capture_text(c: ServerCapture) -> str:
    lines = [f"{c.path}: {c.statements} statement(s), {c.calls:,} call(s), "
             f"{c.total_s:,.3f} s from {c.target}"]
    if c.unparsed:
        lines.append(f"{c.unparsed} statement(s) could not be parsed (kept, kind 'unparsed')")
    if c.hidden:
        lines.append(f"{c.hidden} statement(s) left out: the server hides their text from "
                     "this role")
    if c.reset:
        lines.append("the server's statistics for this database were reset")
    return "\n".join(lines) + "\n"


COMMANDS = (workload_group, capture_cmd)
