"""SQLite's demo: the demo data written into a fresh, deliberately untuned SQLite file
(rollback journal, default page size, no secondary indexes, no sqlite_stat1), and the working
copy `tuner demo` tunes. The rows come from tuner.workload.demo.data.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import time
from collections.abc import Iterable
from pathlib import Path

from tuner.engines.sqlite.inspect import COMPANIONS
from tuner.errors import DatabaseError, TunerError
from tuner.render import render
from tuner.resources import bundled_profile
from tuner.workload.demo.data import (
    COLUMNS,
    SCHEMA,
    DemoRequest,
    DemoStats,
    DemoTarget,
    Progress,
    Row,
    Say,
    chunked,
    demo_data,
)


def create_demo_db(path: str | os.PathLike[str], participants: int = 100_000, *, seed: int = 42,
                   messages: int | None = None, force: bool = False,
                   on_progress: Progress | None = None) -> DemoStats:
    """Build the demo database at `path` and return what was inserted.

    `participants` rows are spread over heavy-tailed events; `messages` defaults to the same
    count. The same (participants, seed, messages) always gives the same content. An existing
    path is refused unless `force` is true; the parent directory must already exist.
    """
    target = os.fspath(path)
    data = demo_data(participants, seed=seed, messages=messages)
    _prepare_path(target, force)
    start = time.perf_counter()
    try:
        con = sqlite3.connect(target, isolation_level=None)
        try:
            con.execute("PRAGMA synchronous=OFF")  # build connection only; not persisted
            con.execute("PRAGMA cache_size=-65536")
            con.executescript(SCHEMA)
            for table, rows in data.tables():
                _insert(con, table, rows, data.rows[table], on_progress)
        finally:
            con.close()
    except BaseException as exc:
        _remove(target)
        if isinstance(exc, sqlite3.Error):
            raise DatabaseError(target, f"cannot build demo database: {exc}") from exc
        raise
    return DemoStats(target, data.rows, time.perf_counter() - start)


def _prepare_path(target: str, force: bool) -> None:
    """Refuse an existing database (or a stray companion) unless forced, then clear it."""
    parent = os.path.dirname(os.path.abspath(target))
    if not os.path.isdir(parent):
        raise DatabaseError(target, f"parent directory {parent} does not exist")
    for p in filter(os.path.lexists, (target, *(target + s for s in COMPANIONS))):
        if not force:
            raise DatabaseError(p, "already exists; pass --force to replace it")
        if os.path.isdir(p) and not os.path.islink(p):
            raise DatabaseError(p, "is a directory; refusing to replace it")
    if force:
        _remove(target)


def _remove(target: str) -> None:
    for p in (target, *(target + s for s in COMPANIONS)):
        if os.path.lexists(p) and not (os.path.isdir(p) and not os.path.islink(p)):
            os.remove(p)


def _insert(con: sqlite3.Connection, table: str, rows: Iterable[Row], total: int,
            on_progress: Progress | None) -> None:
    """Insert `rows` in one transaction, in chunks, reporting progress after each chunk."""
    insert = render("sqlite", "runtime/insert", table=table, columns=COLUMNS[table])
    con.execute("BEGIN")
    for chunk in chunked(table, rows, total, on_progress):
        con.executemany(insert, chunk)
    con.execute("COMMIT")


def prepare_demo(req: DemoRequest, progress: Progress, say: Say) -> DemoTarget:
    if req.db is not None:
        raise TunerError("--db is for `tuner demo --engine postgresql`; the SQLite demo "
                         "works in --workdir")
    pristine = req.folder / f"pristine-{req.participants}-{req.seed}.db"
    if not pristine.exists():
        say(f"Generating the demo database ({req.participants:,} participants), once...")
        partial = req.folder / (pristine.name + ".partial")
        create_demo_db(str(partial), req.participants, seed=req.seed, force=True,
                       on_progress=progress)
        os.replace(partial, pristine)
    work = req.folder / "demo.db"
    for suffix in ("", *COMPANIONS):
        Path(str(work) + suffix).unlink(missing_ok=True)
    shutil.copyfile(pristine, work)
    return DemoTarget(str(work), str(pristine), bundled_profile(),
                      f"Working copy: {work} (from {pristine.name})")
