"""`tuner advise --workload` on PostgreSQL with HypoPG: a hot captured read gets its index with
the read saving and the modelled write cost in the reason, a rare read on a write-heavy table
does not, and --write then apply leaves nothing to advise."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest
from helpers import run

from tuner import load_profile
from tuner.capture import Recorder

CASES_DIR = Path(__file__).resolve().parents[1] / "advise_cases"
BY_CUSTOMER = "SELECT id, total FROM orders WHERE customer_id = %s"
BY_EMAIL = "SELECT id FROM customers WHERE email = %s"
SIGN_UP = "INSERT INTO customers (id, email, name, country, created) VALUES (%s, %s, %s, %s, %s)"


def _setup(url: str, cap: Path, sign_ups: int) -> Path:
    """The advise cases' schema, analyzed; a capture of 5,000 order lookups, one slow lookup
    by email, and `sign_ups` inserts into customers."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute((CASES_DIR / "schema.sql").read_text(encoding="utf-8"))
        conn.execute("VACUUM ANALYZE")
    with Recorder(cap, engine="postgresql") as rec:
        rec.record(BY_CUSTOMER, (42,), 0.004 * 5000, 3, calls=5000)
        rec.record(BY_EMAIL, ("user7@example.com",), 0.5, 1)
        if sign_ups:
            rec.record(SIGN_UP, (1, "a@b", "A", "c1", 0), sign_ups / 1e5, sign_ups,
                       calls=sign_ups)
    return cap


def test_workload_on_postgresql(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                pg_hypopg_url: str) -> None:
    cap = _setup(pg_hypopg_url, tmp_path / "cap.db", sign_ups=3_000_000)
    profile = tmp_path / "p.yaml"
    profile.write_text("profile: shop\nversion: 1\nengine: postgresql\n", encoding="utf-8")
    r = run(capsys, "advise", profile, "--db", pg_hypopg_url, "--workload", cap,
            "--format", "json")
    assert r.code == 0, r.err
    data = json.loads(r.out)
    assert [q["name"] for q in data["captured_queries"]] == ["orders_by_customer_id",
                                                             "customers_by_email"]
    [rec_] = data["recommendations"]
    assert rec_["table"] == "orders" and rec_["columns"][0] == "customer_id"
    assert "over the captured 5,000 calls of orders_by_customer_id" in rec_["reason"]
    assert "costs nothing: the capture wrote no row of orders" in rec_["reason"]
    [rejected] = data["not_recommended"]
    assert rejected["table"] == "customers" and rejected["columns"][0] == "email"
    assert "over 3,000,000 captured row writes into customers" in rejected["reason"]
    assert rejected["write_cost_s"] > rejected["saving_s"]

    r = run(capsys, "advise", profile, "--db", pg_hypopg_url, "--workload", cap, "--write")
    assert r.code == 0, r.err
    loaded = load_profile(profile)
    assert loaded.queries[0].sql == "SELECT id, total FROM orders WHERE customer_id = :p1"
    r = run(capsys, "apply", profile, "--db", pg_hypopg_url, "--yes", "--no-backup")
    assert r.code == 0, r.err
    r = run(capsys, "advise", profile, "--db", pg_hypopg_url, "--workload", cap,
            "--format", "json")
    again = json.loads(r.out)
    assert again["recommendations"] == [] and again["captured_queries"] == []
    assert [n["name"] for n in again["not_recommended"]] == [rejected["name"]]


def test_same_advice_before_and_after_apply_on_postgresql(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, pg_hypopg_url: str) -> None:
    """The profile's unbuilt index is a hypothetical one named as the profile names it: the
    plans use it, so it is neither recommended again nor flagged as unused."""
    cap = _setup(pg_hypopg_url, tmp_path / "cap.db", sign_ups=0)
    profile = tmp_path / "p.yaml"
    profile.write_text("profile: shop\nversion: 1\nengine: postgresql\nindexes:\n"
                       "  - name: orders_customer\n    table: orders\n"
                       "    columns: [customer_id]\n", encoding="utf-8")

    def advised() -> dict:
        r = run(capsys, "advise", profile, "--db", pg_hypopg_url, "--workload", cap,
                "--format", "json")
        assert r.code == 0, r.err
        return json.loads(r.out)

    before = advised()
    assert before["pending"] == ["orders_customer"]
    r = run(capsys, "apply", profile, "--db", pg_hypopg_url, "--yes", "--no-backup")
    assert r.code == 0, r.err
    after = advised()
    assert after["pending"] == []
    for part in ("recommendations", "not_recommended", "flags"):
        assert [(x.get("name") or x.get("index"), x.get("table")) for x in before[part]] == \
            [(x.get("name") or x.get("index"), x.get("table")) for x in after[part]], part
    assert [r["table"] for r in before["recommendations"]] == ["customers"]
    assert not any(f["index"] == "orders_customer" for f in before["flags"] + after["flags"])


def test_partial_index_write_cost_scaled_by_the_rows_it_keeps(tmp_path: Path,
                                                              pg_hypopg_url: str) -> None:
    """Only the rows a partial index's WHERE keeps get an entry, so its modelled write cost
    is the full index's times the planner's estimate of that share."""
    from tuner.engines.postgres.advise import PgEvaluator, hypopg_schema
    from tuner.engines.postgres.engine import PostgresEngine
    from tuner.workload.shape import Candidate, Where

    with psycopg.connect(pg_hypopg_url, autocommit=True) as conn:
        conn.execute((CASES_DIR / "schema.sql").read_text(encoding="utf-8"))
        conn.execute("UPDATE orders SET status = 'lost' WHERE id % 100 = 0")
        conn.execute("VACUUM ANALYZE")
    path = tmp_path / "p.yaml"
    path.write_text("profile: shop\nversion: 1\nengine: postgresql\n", encoding="utf-8")
    profile = load_profile(path)
    state = PostgresEngine().inspect(pg_hypopg_url)
    evaluator = PgEvaluator(pg_hypopg_url, profile, state,
                            hypopg_schema(pg_hypopg_url, create=False))
    try:
        full = evaluator.write_cost(Candidate("orders", ("customer_id",)))
        lost = evaluator.write_cost(Candidate("orders", ("customer_id",),
                                              Where("status", "lost")))
        two = evaluator.write_cost(Candidate("orders", ("customer_id",),
                                             Where("status", ("open", "paid"))))
    finally:
        evaluator.close()
    assert full > 0
    assert lost < full * 0.05          # 600 of 60,000 rows
    assert 0.5 < two / full < 0.8      # about 39,600 of 60,000
