"""tuner.engines.postgres.demo against a real PostgreSQL server: the same rows, keys and constraints
as the SQLite demo for the same parameters, refusal and --force, all-or-nothing, progress, and
`tuner demo-db` with a URL."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import psycopg
import pytest
from helpers import assert_error_last, run

from tuner.engines.postgres.demo import load_demo
from tuner.engines.sqlite.demo import create_demo_db
from tuner.errors import DatabaseError
from tuner.workload.demo import data as demo
from tuner.workload.demo.data import TABLES

N = 2_000
PG_UNIQUE = """
SELECT c.conrelid::regclass::text, array_agg(a.attname::text ORDER BY k.n)
FROM pg_constraint c, unnest(c.conkey) WITH ORDINALITY AS k(attnum, n), pg_attribute a
WHERE c.contype = %s AND a.attrelid = c.conrelid AND a.attnum = k.attnum
  AND c.connamespace = 'public'::regnamespace
GROUP BY c.oid, c.conrelid
"""
PG_FKS = """
SELECT c.conrelid::regclass::text, a.attname::text, c.confrelid::regclass::text,
       fa.attname::text
FROM pg_constraint c JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
JOIN pg_attribute fa ON fa.attrelid = c.confrelid AND fa.attnum = c.confkey[1]
WHERE c.contype = 'f' AND c.connamespace = 'public'::regnamespace
"""


def sqlite_schema(con: sqlite3.Connection) -> dict[str, object]:
    """Columns, unique keys, primary keys and foreign keys of the SQLite demo."""
    columns = {t: [r[1] for r in con.execute(f"PRAGMA table_info({t})")] for t in TABLES}
    unique = sorted((t, [r[2] for r in con.execute(f"PRAGMA index_info({i[1]})")])
                    for t in TABLES for i in con.execute(f"PRAGMA index_list({t})")
                    if i[2] and i[3] == "u")
    primary = sorted((t, [r[1] for r in con.execute(f"PRAGMA table_info({t})") if r[5]])
                     for t in TABLES)
    fks = sorted((t, r[3], r[2], r[4]) for t in TABLES
                 for r in con.execute(f"PRAGMA foreign_key_list({t})"))
    return {"columns": columns, "unique": unique, "primary": primary, "fks": fks}


def pg_schema(conn: psycopg.Connection) -> dict[str, object]:
    columns = {t: [r[0] for r in conn.execute(
        "SELECT column_name::text FROM information_schema.columns WHERE table_name = %s "
        "ORDER BY ordinal_position", (t,))] for t in TABLES}
    unique = sorted(tuple(r) for r in conn.execute(PG_UNIQUE, ("u",)))
    primary = sorted(tuple(r) for r in conn.execute(PG_UNIQUE, ("p",)))
    fks = sorted(tuple(r) for r in conn.execute(PG_FKS))
    return {"columns": columns, "unique": [(t, list(c)) for t, c in unique],
            "primary": [(t, list(c)) for t, c in primary], "fks": fks}


def test_same_rows_keys_and_constraints_as_the_sqlite_demo(pg_url: str,
                                                           tmp_path: Path) -> None:
    stats = load_demo(pg_url, N, seed=3)
    lite_stats = create_demo_db(tmp_path / "demo.db", N, seed=3)
    assert stats.rows == lite_stats.rows
    assert stats.path == pg_url and stats.rows_per_second > 0
    lite = sqlite3.connect(tmp_path / "demo.db")
    with psycopg.connect(pg_url) as conn:
        counts = {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}
        assert counts == stats.rows and counts["participants"] == N
        for table in TABLES:
            pg_rows = conn.execute(f"SELECT * FROM {table} ORDER BY id").fetchall()
            assert pg_rows == lite.execute(f"SELECT * FROM {table} ORDER BY id").fetchall()
        assert pg_schema(conn) == sqlite_schema(lite)
        # ANALYZE ran: the planner has statistics for every table.
        analyzed = {r[0] for r in conn.execute("SELECT DISTINCT tablename::text FROM pg_stats "
                                                "WHERE schemaname = 'public'")}
        assert analyzed == set(TABLES)
        # The identities moved past the copied ids: the bot can insert without one.
        new_id = conn.execute("INSERT INTO users (username) VALUES ('new') RETURNING id")
        assert new_id.fetchone()[0] == counts["users"] + 1
    lite.close()


def test_existing_tables_are_refused_unless_forced(pg_url: str) -> None:
    load_demo(pg_url, 300, messages=0)
    with pytest.raises(DatabaseError, match="table users already exists; pass --force"):
        load_demo(pg_url, 500)
    with psycopg.connect(pg_url, autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM participants").fetchone() == (300,)
        conn.execute("CREATE VIEW busy AS SELECT event_id FROM participants")
    stats = load_demo(pg_url, 500, force=True)           # drops the view with the tables
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT count(*) FROM participants").fetchone() == (500,)
        assert conn.execute("SELECT to_regclass('busy')").fetchone() == (None,)
    assert stats.rows["messages"] == 500


def test_a_failed_load_leaves_nothing_behind(pg_url: str) -> None:
    with psycopg.connect(pg_url, autocommit=True) as conn:
        # Fails the load late: after the COPY, when the keys are added (ALTER TABLE).
        conn.execute("CREATE FUNCTION stop() RETURNS event_trigger LANGUAGE plpgsql AS "
                     "$$BEGIN RAISE EXCEPTION 'stopped by the test'; END$$")
        conn.execute("CREATE EVENT TRIGGER stop ON ddl_command_end "
                     "WHEN TAG IN ('ALTER TABLE') EXECUTE FUNCTION stop()")
    with pytest.raises(DatabaseError, match="cannot load the demo data: stopped by") as exc:
        load_demo(pg_url, 300)
    assert "\n" not in str(exc.value)
    with psycopg.connect(pg_url) as conn:
        left = conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
        assert left.fetchone() == (0,)
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("DROP EVENT TRIGGER stop")
    assert load_demo(pg_url, 300).rows["participants"] == 300


def test_progress_per_chunk_for_every_table(pg_url: str,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(demo, "CHUNK", 500)
    calls: list[tuple[str, int, int]] = []
    load_demo(pg_url, 1_800, messages=0, on_progress=lambda *a: calls.append(a))
    assert [c for c in calls if c[0] == "participants"] == [
        ("participants", d, 1_800) for d in (500, 1_000, 1_500, 1_800)]
    assert ("messages", 0, 0) in calls
    assert [c[0] for c in calls if c[1] == c[2]] == list(TABLES)


def test_demo_db_command_loads_a_url(pg_url: str, tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    r = run(capsys, "demo-db", pg_url, "--participants", 400, "--engine", "postgresql")
    assert r.code == 0, r.err
    assert f"Created {pg_url}: 400 users, 10 events, 400 participants" in r.err
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT count(*) FROM messages").fetchone() == (400,)
    r = run(capsys, "demo-db", pg_url, "--participants", 400)
    assert_error_last(r, "already exists", "--force")
    r = run(capsys, "demo-db", tmp_path / "x.db", "--engine", "postgresql")
    assert_error_last(r, "--engine postgresql does not fit", "sqlite database")
    assert not (tmp_path / "x.db").exists()
