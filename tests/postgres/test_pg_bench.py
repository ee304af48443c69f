"""`tuner bench`, `bench --compare` and `tuner check` on PostgreSQL, against the real server.

A small demo (2000 participants) is loaded once into a scratch database of this module; the
comparison must leave it, the server's configuration (pg_file_settings) and the list of
databases exactly as they were. Never an assertion on wall-clock time.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from helpers import assert_error_last, run, write
from psycopg import sql

from tuner.engines.postgres.demo import load_demo
from tuner.profile import load_profile
from tuner.resources import bundled_profile
from tuner.workload.bench.run import bench_compare
from tuner.workload.demo.data import TABLES

PG_PROFILE = bundled_profile("telegram-bot-postgres")

MAPPING_PROFILE = """\
profile: mapping
version: 1
engine: postgresql
settings:
  work_mem: 16MB
queries:
  - name: user_by_id
    sql: SELECT username FROM users WHERE id = :id
    params: {id: 42}
  - name: rainy_messages
    sql: SELECT id FROM messages WHERE text LIKE '%rain%'
  - name: cast_param
    sql: >-
      SELECT id, date::text FROM events WHERE date >= :now::bigint ORDER BY date LIMIT 3
    params: {now: 1700000000}
"""


@pytest.fixture(scope="module")
def demo_url(pg_admin_url: str) -> Iterator[str]:
    """One scratch database with the demo data (2000 participants) for the whole module."""
    name = f"tuner_test_bench_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = urlunsplit(urlsplit(pg_admin_url)._replace(path="/" + name))
    try:
        load_demo(url, 2000)
        yield url
    finally:
        with psycopg.connect(pg_admin_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
                         .format(sql.Identifier(name)))


def digest(url: str) -> dict:
    """The schema (relations, index and view definitions), row counts and the database's own
    settings (pg_db_role_setting)."""
    with psycopg.connect(url, autocommit=True) as conn:
        relations = conn.execute(
            "SELECT n.nspname, c.relname, c.relkind FROM pg_class c JOIN pg_namespace n "
            "ON n.oid = c.relnamespace WHERE n.nspname NOT IN ('pg_catalog', "
            "'information_schema') AND n.nspname NOT LIKE 'pg_toast%' ORDER BY 1, 2").fetchall()
        index_defs = conn.execute("SELECT indexdef FROM pg_indexes WHERE schemaname NOT IN "
                                  "('pg_catalog') ORDER BY 1").fetchall()
        views = conn.execute("SELECT viewname, definition FROM pg_views WHERE schemaname "
                             "NOT IN ('pg_catalog', 'information_schema') ORDER BY 1").fetchall()
        counts = {t: conn.execute(sql.SQL("SELECT count(*) FROM {}").format(
            sql.Identifier(t))).fetchone()[0] for t in TABLES}
        settings = conn.execute(
            "SELECT setrole, setconfig FROM pg_db_role_setting WHERE setdatabase = "
            "(SELECT oid FROM pg_database WHERE datname = current_database())").fetchall()
    return {"relations": relations, "indexes": index_defs, "views": views, "counts": counts,
            "settings": settings}


def file_settings(url: str) -> list[tuple]:
    """The server's configuration files as read now (postgresql.auto.conf included)."""
    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute("SELECT sourcefile, name, setting FROM pg_file_settings "
                            "ORDER BY 1, 2, 3").fetchall()


def database_exists(url: str, name: str) -> bool:
    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute("SELECT count(*) FROM pg_database WHERE datname = %s",
                            [name]).fetchone()[0] == 1


# -- bench -----------------------------------------------------------------------------------
def test_bench_json_maps_seq_scan_and_index_scan(capsys: pytest.CaptureFixture[str],
                                                 demo_url: str, tmp_path: Path) -> None:
    profile = write(tmp_path / "mapping.yaml", MAPPING_PROFILE)
    r = run(capsys, "bench", profile, "--db", demo_url, "--runs", 2, "--warmup", 0,
            "--format", "json")
    assert r.code == 0, r.err
    d = json.loads(r.out)
    assert d["database"] == demo_url and d["compare"] is False and d["left_out_settings"] == []
    q = {x["name"]: x for x in d["queries"]}
    assert q["user_by_id"]["rows"] == 1
    assert q["user_by_id"]["plan"] == ["SEARCH users USING INDEX users_pkey"]
    assert q["user_by_id"]["plan_detail"][0].startswith("Index Scan using users_pkey on users")
    assert q["rainy_messages"]["plan"] == ["SCAN messages"]
    assert q["rainy_messages"]["rows"] > 0
    # `:now::bigint`: the parameter is converted, the cast is kept
    assert q["cast_param"]["rows"] == 3
    for x in d["queries"]:
        assert {"median_ms", "p95_ms", "rows", "plan", "plan_detail"} <= set(x)


def test_bench_text_with_the_bundled_profile(capsys: pytest.CaptureFixture[str],
                                             demo_url: str) -> None:
    r = run(capsys, "bench", PG_PROFILE, "--db", demo_url, "--runs", 1, "--warmup", 0)
    assert r.code == 0, r.err
    assert "6 queries of profile telegram-bot-postgres" in r.out
    assert "median ms" in r.out and "Query plans:" in r.out
    assert "latest_messages: SCAN messages; USE TEMP B-TREE FOR ORDER BY" in r.out


def test_a_writing_query_is_refused_and_rolled_back(capsys: pytest.CaptureFixture[str],
                                                    pg_url: str, tmp_path: Path) -> None:
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE t (x int)")
        conn.execute("CREATE FUNCTION bump() RETURNS int LANGUAGE sql AS "
                     "'INSERT INTO t VALUES (1) RETURNING x'")
    profile = write(tmp_path / "w.yaml", "profile: w\nversion: 1\nengine: postgresql\n"
                    "queries:\n  - name: sneaky\n    sql: SELECT bump()\n")
    r = run(capsys, "bench", profile, "--db", pg_url, "--runs", 1)
    assert_error_last(r, "query sneaky is not read-only", "read-only transaction")
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT count(*) FROM t").fetchone() == (0,)


# -- bench --compare -------------------------------------------------------------------------
def test_compare_leaves_the_source_and_the_server_alone(capsys: pytest.CaptureFixture[str],
                                                       demo_url: str, tmp_path: Path) -> None:
    before, files = digest(demo_url), file_settings(demo_url)
    page = tmp_path / "report.html"
    r = run(capsys, "bench", PG_PROFILE, "--db", demo_url, "--compare", "--runs", 2,
            "--warmup", 0, "--format", "json", "--html", page)
    assert r.code == 0, r.err
    d = json.loads(r.out)
    scratch = d["scratch"]
    assert scratch.startswith("tuner_compare_") and f"scratch database {scratch}" in r.err
    assert f"Dropped the scratch database {scratch}" in r.err
    assert not database_exists(demo_url, scratch)
    assert digest(demo_url) == before
    assert file_settings(demo_url) == files
    # shared_buffers is server-wide (ALTER SYSTEM): left out, and said why
    assert [s["name"] for s in d["left_out_settings"]] == ["shared_buffers"]
    assert "postgresql.auto.conf" in d["left_out_settings"][0]["reason"]
    assert "Leaving out shared_buffers" in r.err
    assert d["compare"] and d["applied_steps"] > 0
    q = {x["name"]: x for x in d["queries"]}
    assert all(x["same_rows"] for x in d["queries"])
    assert q["latest_messages"]["before"]["plan"][0] == "SCAN messages"
    assert q["latest_messages"]["after"]["plan"] == ["SEARCH messages USING INDEX "
                                                     "messages_event_time"]
    cost = d["write_cost"]
    assert cost["measurable"] and cost["table"] in ("participants", "messages")
    assert cost["before_ms"] > 0 and cost["after_ms"] > 0
    html = page.read_text(encoding="utf-8")
    assert "<svg" in html and "latest_messages" in html
    assert "Left out of the comparison" in html and "shared_buffers" in html


def test_compare_text_says_what_was_left_out(capsys: pytest.CaptureFixture[str],
                                             demo_url: str, tmp_path: Path) -> None:
    profile = write(tmp_path / "mapping.yaml", MAPPING_PROFILE)
    r = run(capsys, "bench", profile, "--db", demo_url, "--compare", "--runs", 1,
            "--warmup", 0)
    assert r.code == 0, r.err
    assert "before vs. after the plan" in r.out and "same rows" in r.out
    assert "Left out of the comparison" not in r.out  # work_mem is per database
    r = run(capsys, "bench", PG_PROFILE, "--db", demo_url, "--compare", "--runs", 1,
            "--warmup", 0)
    assert r.code == 0, r.err
    assert "Left out of the comparison (server-wide settings" in r.out
    assert "  shared_buffers: context postmaster" in r.out


def test_compare_drops_the_clone_on_ctrl_c(demo_url: str,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    import tuner.workload.bench.run

    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    # The apply the comparison runs on its clone (bench's `tune`) is interrupted.
    monkeypatch.setattr(tuner.workload.bench.run, "apply_plan", interrupted)
    said: list[str] = []
    with pytest.raises(KeyboardInterrupt):
        bench_compare(demo_url, load_profile(PG_PROFILE), runs=1, warmup=0,
                      on_step=said.append)
    names = {w.rstrip(".") for line in said for w in line.split()
             if w.startswith("tuner_compare_")}
    assert len(names) == 1
    assert not database_exists(demo_url, names.pop())
    assert any(line.startswith("Dropped the scratch database") for line in said)


# -- check -----------------------------------------------------------------------------------
CHECK_PROFILE = """\
profile: check
version: 1
engine: postgresql
settings:
  work_mem: 16MB
indexes:
  - name: messages_event_time
    table: messages
    columns: [event_id, {column: timestamp, order: desc}]
queries:
  - name: latest_messages
    sql: >-
      SELECT id FROM messages WHERE event_id = :event_id ORDER BY timestamp DESC LIMIT 5
    params: {event_id: 3}
  - name: rainy_messages
    sql: SELECT id FROM messages WHERE text LIKE '%rain%'
"""


def test_check_exit_codes(capsys: pytest.CaptureFixture[str], pg_url: str,
                          tmp_path: Path) -> None:
    load_demo(pg_url, 300)
    profile = write(tmp_path / "check.yaml", CHECK_PROFILE)
    r = run(capsys, "check", profile, "--db", pg_url)
    assert r.code == 3, r.err
    assert r.out.startswith(f"FAIL: {pg_url}")
    assert "create_index messages_event_time" in r.out and "set_setting work_mem" in r.out
    assert run(capsys, "apply", profile, "--db", pg_url, "--yes", "--no-backup").code == 0
    r = run(capsys, "check", profile, "--db", pg_url)
    assert r.code == 0, r.out + r.err
    assert r.out.startswith(f"OK: {pg_url} matches the profile")
    # a scan of a table at or above the threshold is a regression, with the table named
    r = run(capsys, "check", profile, "--db", pg_url, "--scan-threshold", 10, "--format",
            "json")
    assert r.code == 3
    d = json.loads(r.out)
    assert d["drift"] == [] and d["pending"] == []
    # (on 300 rows the planner may scan for latest_messages too: only the sure one is asserted)
    assert ("rainy_messages", "messages") in [(s["query"], s["table"]) for s in d["scans"]]
    assert all(s["rows"] is not None for s in d["scans"])
