"""The workload commands of the CLI: demo-db, demo, bench, check and advise. They print; the
work is in tuner.workload. `tuner.cli` registers them on its group."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import click

from tuner import cli_fleet
from tuner.api import make_plan
from tuner.apply import ApplyOptions, apply_plan
from tuner.cli_common import (
    CONTEXT,
    FleetArgs,
    db_option,
    db_or_fleet,
    emit,
    format_option,
    note,
    out,
    profile_argument,
    refuse_overwriting_db,
    scan_threshold_option,
    server_settings_option,
    write_atomic,
)
from tuner.cli_loop import run_workload_demo
from tuner.engines.lookup import ENGINES, engine_name_for_target
from tuner.engines.lookup import display as redact
from tuner.errors import TunerError
from tuner.planfile import render_plan_file
from tuner.profile import load_profile
from tuner.report import (
    advise_text,
    advise_written_text,
    bench_noise_warning,
    bench_text,
    check_text,
    plan_text,
)
from tuner.version import __version__
from tuner.workload.advise.run import advise
from tuner.workload.advise.workload import as_profile_query
from tuner.workload.advise.write import indexes_block, queries_block, write_advice
from tuner.workload.bench.html import bench_html
from tuner.workload.bench.run import bench, bench_compare, database_scoped
from tuner.workload.check import check
from tuner.workload.demo.run import DemoRequest, demo_loader, prepare_demo


@click.command("demo-db", context_settings=CONTEXT)
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


@click.command("demo", context_settings=CONTEXT)
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
@server_settings_option
@click.option("--workload", is_flag=True,
              help="SQLite: instead of the bundled profile, run the bot's own operations "
                   "(tuner.runtime.bot) with capture on against the untuned copy, advise from "
                   "the capture, apply the advice, and replay the capture before and after.")
@click.option("--ops", default=2000, show_default=True, type=click.IntRange(1),
              help="With --workload: the bot operations to run and capture.")
def demo_cmd(engine: str | None, db: str | None, workdir: str, participants: int, seed: int,
             force: bool, server_settings: bool, workload: bool, ops: int) -> None:
    """Run tuner's main job on a demo bot database: plan and apply the bundled profile, plan
    again, and compare the hot queries before and after.

    SQLite: a pristine demo database is generated once in --workdir; every run starts from an
    untouched copy of it (demo.db), so a rerun still has changes to show. PostgreSQL
    (--engine postgresql --db URL): the demo data is loaded into that database with COPY and
    tuned there; the comparison runs first, on a scratch clone. Server-wide settings
    (ALTER SYSTEM) are left out unless --server-settings.

    --workload (SQLite) closes the loop from a capture instead: bot operations captured on the
    untuned copy, `advise --workload` on the capture, apply, replay before and after."""

    found = engine_name_for_target(db) if db else "sqlite"
    if engine is not None and engine != found:
        raise TunerError(f"--engine {engine} needs --db with a {engine} URL"
                         if db is None else f"--engine {engine} does not fit {redact(db)}, "
                         f"which names a {found} database")
    if workload and found != "sqlite":
        raise TunerError("tuner demo --workload runs on SQLite only (leave out --db)")
    folder = Path(workdir)
    target = prepare_demo(found, DemoRequest(folder, db, participants, seed, force),
                          _demo_progress(), note)
    note(f"{target.described}; profile: {target.profile}")
    if workload:
        run_workload_demo(target, folder, ops, seed)
        return
    profile = load_profile(target.profile)
    planned, left_out = (profile, []) if server_settings else database_scoped(profile)
    started = time.perf_counter()
    plan = make_plan(planned, target.work)
    elapsed = time.perf_counter() - started
    plan_file = folder / "plan.sql"
    write_atomic(plan_file, render_plan_file(plan))
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
    result = apply_plan(plan, target.work, ApplyOptions(backup_dir=folder / ".tuner-backups",
                                                        server_settings=server_settings))
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
    if warning := bench_noise_warning(report):
        note(warning)


def _demo_progress() -> Any:
    show = sys.stderr.isatty()

    def progress(table: str, done: int, total: int) -> None:
        if show:
            note(f"\r  {table}: {done:,}/{total:,} rows   ", nl=False)
            if done >= total:
                note("")

    return progress


# -- bench -----------------------------------------------------------------------------------
@click.command("bench", context_settings=CONTEXT)
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

    refuse_overwriting_db(html_file, db, "--html")
    loaded = load_profile(profile)
    if not loaded.queries:
        raise TunerError(f"{profile}: profile {loaded.name} declares no queries to measure")
    if compare:
        report = bench_compare(db, loaded, runs=runs, warmup=warmup, on_step=note)
    else:
        report = bench(db, loaded, runs=runs, warmup=warmup)
    if html_file:
        write_atomic(Path(html_file), bench_html(report), "the HTML report")
        note(f"HTML report written to {html_file}.")
    emit(fmt, report.as_dict(), bench_text(report))
    if warning := bench_noise_warning(report):
        note(warning)


@click.command("check", context_settings=CONTEXT)
@profile_argument
@db_or_fleet
@scan_threshold_option
@format_option("text", "json", default="text")
def check_cmd(profile: str, db: str, fleet: FleetArgs | None, scan_threshold: int,
              fmt: str) -> None:
    """Drift and health for CI and cron: exit 0 when the database matches PROFILE and no
    declared query scans a large table; exit 3 with what drifted and which queries scan.

    Use `plan --detailed-exitcode` to ask "is there anything to apply?" (2 = yes); use `check`
    to gate a deploy or alert from cron on drift AND on hot queries that lost their index."""
    if fleet:
        return cli_fleet.check(fleet, profile, scan_threshold, fmt)
    report = check(load_profile(profile), db, scan_threshold)
    emit(fmt, report.as_dict(), check_text(report, redact(db)) + "\n")
    if not report.healthy:
        raise click.exceptions.Exit(3)


@click.command("advise", context_settings=CONTEXT)
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
@click.option("--workload", "capture", metavar="CAPTURE", type=click.Path(dir_okay=False),
              help="A capture file (tuner capture): its top reads, weighted by captured time, "
                   "join the declared queries, and its writes give each index a maintenance "
                   "cost; an index is recommended only where the read time it saves exceeds "
                   "its write cost. With --write, the captured reads are added as `queries:`.")
@click.option("--only-workload", is_flag=True,
              help="With --workload: advise on the captured reads only, not the declared "
                   "queries.")
def advise_cmd(profile: str, db: str, scan_threshold: int, fmt: str, write: bool,
               create_extension: bool, capture: str | None, only_workload: bool) -> None:
    """Recommend indexes for PROFILE's declared queries, and flag indexes that earn nothing.

    Read-only on the database: each query is only EXPLAINed, read-only. Candidates are never
    built over the data: SQLite tries them in an in-memory copy of the schema with statistics
    sampled from the data; PostgreSQL as HypoPG hypothetical indexes in one session, weighed
    by the server's own statistics. --format yaml prints an `indexes:` block to paste into the
    profile; --write adds it to PROFILE instead (then `tuner plan` / `tuner apply` build it)."""

    try:
        original = Path(profile).read_bytes()       # before loading: --write refuses if it changes
    except OSError:
        original = b""                              # load_profile names the problem
    loaded = load_profile(profile)
    if only_workload and not capture:
        raise TunerError("--only-workload needs --workload CAPTURE")
    if not loaded.queries and not capture:
        raise TunerError(f"{profile}: profile {loaded.name} declares no queries to advise on "
                         "(pass --workload CAPTURE to advise on a captured workload)")
    advice = advise(loaded, db, scan_threshold, create_extension=create_extension,
                    workload=capture, only_workload=only_workload)
    recs = advice.to_write()
    queries = [as_profile_query(q) for q in advice.captured]
    if fmt == "json":
        out(json.dumps(advice.as_dict(), indent=2))
    elif fmt == "yaml":
        out(f"# Advised from {redact(db)} by tuner {__version__}.")
        out(indexes_block([r.as_profile() for r in recs], [r.notes() for r in recs]))
        if queries:
            out(queries_block(queries))
    else:
        out(advise_text(advice, redact(db)))
    if write:
        written = write_advice(profile, original, [r.as_profile() for r in recs],
                               [r.notes() for r in recs], queries)
        note(advise_written_text(written, advice))


COMMANDS = (demo_db_cmd, demo_cmd, bench_cmd, check_cmd, advise_cmd)
