"""Owns loading the demo bot data into PostgreSQL: the same tables, constraints and rows as the
SQLite demo (tuner.workload.demo.data), written with COPY.

The rows come from the SQLite demo's own generator (`demo_data(...).tables()`), so the same
parameters give the same content in both engines. The whole load is one transaction: the
tables are created bare, filled with `COPY ... FROM STDIN`, then given their keys and
constraints (faster than maintaining them row by row, as
https://www.postgresql.org/docs/current/populate.html explains), and committed; ANALYZE
follows. A failure leaves nothing behind. Nothing is printed; progress goes to a callback.
"""

from __future__ import annotations

import time

from tuner.engines.postgres.conn import connect, driver, first_line, is_postgres_url, redact
from tuner.errors import DatabaseError, TunerError
from tuner.render import render
from tuner.resources import bundled_profile
from tuner.workload.demo.data import (
    COLUMNS,
    TABLES,
    DemoRequest,
    DemoStats,
    DemoTarget,
    Progress,
    Say,
    chunked,
    demo_data,
)


def load_demo(url: str, participants: int = 100_000, *, seed: int = 42,
              messages: int | None = None, force: bool = False,
              on_progress: Progress | None = None) -> DemoStats:
    """Create the demo tables in the database at `url` and load the demo rows with COPY.

    Takes the same parameters as create_demo_db and gives the same rows. Existing demo tables
    are refused unless `force` is true, which drops them first (with what depends on them,
    such as views of an earlier apply). Returns DemoStats whose path is the URL without its
    password."""
    data = demo_data(participants, seed=seed, messages=messages)
    psycopg = driver()
    where = redact(url)
    start = time.perf_counter()
    with connect(url, autocommit=False) as conn:
        try:
            existing = [row[0] for row in conn.execute(
                render("postgresql", "demo/existing"), {"tables": list(TABLES)})]
            if existing and not force:
                raise DatabaseError(where, f"table {existing[0]} already exists; pass --force "
                                           "to replace the demo tables")
            if existing:
                conn.execute(render("postgresql", "demo/drop", tables=TABLES))
            conn.execute(render("postgresql", "demo/tables"))
            with conn.cursor() as cur:
                for table, rows in data.tables():
                    copy_sql = render("postgresql", "demo/copy", table=table,
                                      columns=COLUMNS[table])
                    with cur.copy(copy_sql) as copy:
                        for chunk in chunked(table, rows, data.rows[table], on_progress):
                            for row in chunk:
                                copy.write_row(row)
            conn.execute(render("postgresql", "demo/constraints"))
            for table in TABLES:
                conn.execute(render("postgresql", "demo/sync_identity", table=table))
            conn.commit()
            conn.autocommit = True
            conn.execute(render("postgresql", "demo/analyze", tables=TABLES))
        except psycopg.Error as exc:
            raise DatabaseError(where, f"cannot load the demo data: {first_line(exc)}") from None
    return DemoStats(where, data.rows, time.perf_counter() - start)


def prepare_demo(req: DemoRequest, progress: Progress, say: Say) -> DemoTarget:
    if req.db is None or not is_postgres_url(req.db):
        raise TunerError("tuner demo --engine postgresql needs --db postgresql://user@host/"
                         "dbname: the database that gets the demo tables")
    say(f"Loading the demo data ({req.participants:,} participants) into {redact(req.db)} "
        "with COPY ...")
    stats = load_demo(req.db, req.participants, seed=req.seed, force=req.force,
                      on_progress=progress)
    counts = ", ".join(f"{n:,} {t}" for t, n in stats.rows.items())
    return DemoTarget(req.db, req.db, bundled_profile("telegram-bot-postgres"),
                      f"Loaded {counts} into {stats.path} in {stats.seconds:.1f} s")
