"""`tuner advise` on PostgreSQL, against the real server with HypoPG.

The held-in cases of tests/advise_cases run here too (expected.postgresql.yaml where
PostgreSQL's planner rightly differs): each loads advise_cases/schema.sql (20,000 customers,
60,000 orders) into a fresh database, runs its setup.sql and VACUUM ANALYZE, asserts the exact
recommendations and flags, then converges: `advise --write`, `tuner apply`, and advising again
recommends nothing and leaves no declared query scanning a large table. The bundled
PostgreSQL profile's queries run on a small demo. Never an assertion on wall-clock time.
"""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest
import yaml
from helpers import assert_error_last, assert_flags_and_problems, run, write

from tuner import load_profile
from tuner.engines.postgres.demo import load_demo
from tuner.resources import bundled_profile
from tuner.workload.advise.run import advise
from tuner.workload.advise.search import where_key

CASES_DIR = Path(__file__).resolve().parents[1] / "advise_cases"
CASES = sorted(p for p in CASES_DIR.iterdir() if p.is_dir())


def _load(url: str, *statements: str) -> None:
    """The cases' schema and rows, then `statements`, then VACUUM ANALYZE: the visibility
    map an index-only scan needs is then set, as autovacuum keeps it on a live database
    (without it the planner costs an Index Only Scan as a heap read per row, and whether
    autovacuum got there first would decide the advice)."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute((CASES_DIR / "schema.sql").read_text(encoding="utf-8"))
        for sql in statements:
            if sql.strip():
                conn.execute(sql)
        conn.execute("VACUUM ANALYZE")


def _pg_profile(src: Path, dest: Path) -> Path:
    data = yaml.safe_load(src.read_text(encoding="utf-8"))
    data["engine"] = "postgresql"
    dest.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return dest


def _recs(advice) -> list[tuple]:
    return sorted((r.table, tuple(r.columns), tuple(r.include), where_key(r.where),
                   tuple(r.queries)) for r in advice.recommendations)


def _converge(capsys: pytest.CaptureFixture[str], profile: Path, url: str) -> None:
    r = run(capsys, "advise", profile, "--db", url, "--write")
    assert r.code == 0, r.err
    r = run(capsys, "apply", profile, "--db", url, "--yes", "--no-backup")
    assert r.code == 0, r.err


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.name)
def test_advise_case_on_postgresql(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                   pg_hypopg_url: str, case: Path) -> None:
    setup = case / "setup.sql"
    _load(pg_hypopg_url, setup.read_text(encoding="utf-8") if setup.exists() else "")
    profile = _pg_profile(case / "profile.yaml", tmp_path / "profile.yaml")
    pg_expected = case / "expected.postgresql.yaml"
    expected = yaml.safe_load((pg_expected if pg_expected.exists()
                               else case / "expected.yaml").read_text(encoding="utf-8"))

    advice = advise(load_profile(profile), pg_hypopg_url)
    want = sorted((e["table"], tuple(e["columns"]), tuple(e.get("include") or ()),
                   where_key(e.get("where")), tuple(e["queries"])) for e in expected["recommend"])
    assert _recs(advice) == want, advice.recommendations
    assert_flags_and_problems(advice, expected)

    _converge(capsys, profile, pg_hypopg_url)
    assert len(load_profile(profile).indexes) == len(want)
    after = advise(load_profile(profile), pg_hypopg_url)
    assert after.recommendations == []
    scans = sorted({p["query"] for p in after.problems if p["kind"] == "scan"})
    assert scans == sorted(expected.get("scans_after") or [])


COVERING = """\
profile: covering
version: 1
engine: postgresql
queries:
  - name: totals_in_range
    sql: SELECT id, total FROM orders WHERE created BETWEEN :a AND :b
    params: {a: 1600000000, b: 1600030000}
"""


def test_covering_columns_go_to_include_and_are_written(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, pg_hypopg_url: str) -> None:
    """A range read of ~500 rows: the columns it returns ride in INCLUDE (an index-only scan),
    not in the key; --format yaml and --write both carry `include:`."""
    _load(pg_hypopg_url)
    with psycopg.connect(pg_hypopg_url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE orders")       # the visibility map an index-only scan needs
    profile = write(tmp_path / "covering.yaml", COVERING)
    r = run(capsys, "advise", profile, "--db", pg_hypopg_url, "--format", "yaml")
    assert r.code == 0, r.err
    block = yaml.safe_load(r.out)["indexes"]
    assert [(i["table"], i["columns"], i["include"]) for i in block] == \
        [("orders", ["created"], ["id", "total"])]
    r = run(capsys, "advise", profile, "--db", pg_hypopg_url, "--format", "json")
    rec = json.loads(r.out)["recommendations"][0]
    assert rec["include"] == ["id", "total"] and "estimated cost" in rec["reason"]
    r = run(capsys, "advise", profile, "--db", pg_hypopg_url)
    assert "orders_created_id_total ON orders(created) INCLUDE (id, total)" in r.out

    _converge(capsys, profile, pg_hypopg_url)
    assert "include: [id, total]" in profile.read_text(encoding="utf-8")
    with psycopg.connect(pg_hypopg_url) as conn:
        (definition,) = conn.execute("SELECT indexdef FROM pg_indexes "
                                     "WHERE indexname = 'orders_created_id_total'").fetchone()
    assert "INCLUDE (id, total)" in definition
    assert advise(load_profile(profile), pg_hypopg_url).recommendations == []


LOW = """\
profile: low
version: 1
engine: postgresql
queries:
  - name: open_of
    sql: SELECT id FROM orders WHERE customer_id = :c AND status = 'open'
    params: {c: 42}
"""


def test_a_lone_low_cardinality_index_is_flagged(tmp_path: Path, pg_hypopg_url: str) -> None:
    """pg_stats.n_distinct says status has three values: the lone index on it is flagged."""
    _load(pg_hypopg_url, "CREATE INDEX orders_status ON orders(status)")
    advice = advise(load_profile(write(tmp_path / "low.yaml", LOW)), pg_hypopg_url)
    reasons = [f["reason"] for f in advice.flags if f["index"] == "orders_status"]
    assert any("about 3 distinct values" in r for r in reasons), advice.flags
    assert all("status" not in r.columns[:1] for r in advice.recommendations)


# -- HypoPG and statistics ---------------------------------------------------------------------
def test_hypopg_not_created_is_an_error_naming_the_command(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, pg_url: str,
        hypopg_available: bool) -> None:
    _load(pg_url)
    profile = _pg_profile(CASES_DIR / "equality" / "profile.yaml", tmp_path / "p.yaml")
    r = run(capsys, "advise", profile, "--db", pg_url)
    assert_error_last(r, "hypopg extension is not created", "CREATE EXTENSION hypopg;",
                      "--create-extension")
    with psycopg.connect(pg_url) as conn:          # nothing was created
        assert conn.execute("SELECT count(*) FROM pg_extension "
                            "WHERE extname = 'hypopg'").fetchone()[0] == 0

    r = run(capsys, "advise", profile, "--db", pg_url, "--create-extension")
    assert r.code == 0, r.err
    assert "customers_email ON customers(email)" in r.out
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT count(*) FROM pg_extension "
                            "WHERE extname = 'hypopg'").fetchone()[0] == 1
        # the hypothetical indexes died with the session; nothing real was built
        assert conn.execute("SELECT count(*) FROM pg_indexes "
                            "WHERE tablename = 'customers'").fetchone()[0] == 1


def test_never_analyzed_tables_ask_for_analyze(capsys: pytest.CaptureFixture[str],
                                               tmp_path: Path, pg_hypopg_url: str) -> None:
    with psycopg.connect(pg_hypopg_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE customers (id int PRIMARY KEY, email text) "
                     "WITH (autovacuum_enabled = off)")
        conn.execute("INSERT INTO customers SELECT i, 'user' || i || '@example.com' "
                     "FROM generate_series(1, 20000) i")
    profile = _pg_profile(CASES_DIR / "equality" / "profile.yaml", tmp_path / "p.yaml")
    r = run(capsys, "advise", profile, "--db", pg_hypopg_url)
    assert_error_last(r, "customers have never been analyzed", "run ANALYZE customers;")


# -- the bundled profile ---------------------------------------------------------------------
def test_bundled_profile_queries_need_no_more_than_the_bundled_indexes(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, pg_hypopg_url: str) -> None:
    """The bundled PostgreSQL profile's queries, without its indexes, views and (server-wide)
    settings, on a small demo: the advisor's set is no larger than the hand-chosen one, and
    once applied every declared query searches."""
    load_demo(pg_hypopg_url, 20_000)
    bundled = yaml.safe_load(bundled_profile("telegram-bot-postgres").read_text(encoding="utf-8"))
    data = {"profile": "advise-bot", "version": 1, "engine": "postgresql",
            "queries": bundled["queries"]}
    profile = write(tmp_path / "bot.yaml", yaml.safe_dump(data, sort_keys=False))
    advice = advise(load_profile(profile), pg_hypopg_url)
    assert 1 <= len(advice.recommendations) <= len(bundled["indexes"])
    _converge(capsys, profile, pg_hypopg_url)
    after = advise(load_profile(profile), pg_hypopg_url)
    assert after.recommendations == []
    # Event 1 is the demo's huge event (over a third of the participants): for it a scan of
    # participants is the cheapest plan, and PostgreSQL's planner knows it from the
    # most-common-values statistics. Every other declared query searches.
    scans = {p["query"] for p in after.problems if p["kind"] == "scan"}
    assert scans <= {"participant_counts"}, after.problems
