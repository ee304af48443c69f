"""tuner.engines.postgres.bench.plan_lines on real `EXPLAIN (FORMAT JSON, VERBOSE)` output.

tests/pg_explain_plans.json holds what a PostgreSQL 15 server answered for each case (its
`setup` forced the plan shape with enable_* settings); the reader must map each onto the
vocabulary SQLite's EXPLAIN QUERY PLAN uses. A live test checks that today's server still
gives the same shapes for the simple cases.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tuner.engines.postgres.bench import plan_lines

PLANS = json.loads((Path(__file__).parents[1] / "pg_explain_plans.json").read_text())

EXPECTED = {
    "seq_scan": ["SCAN t"],
    "index_scan": ["SEARCH t USING INDEX t_pkey"],
    "index_only_scan": ["SEARCH t USING COVERING INDEX t_a_b"],
    "bitmap_or": ["SEARCH t USING INDEX t_a_b", "SEARCH t USING INDEX t_b"],
    "sort_order_by": ["SCAN t", "USE TEMP B-TREE FOR ORDER BY"],
    "hash_aggregate": ["SCAN t", "USE TEMP B-TREE FOR GROUP BY"],
    "group_aggregate_sort": ["SCAN t", "USE TEMP B-TREE FOR GROUP BY"],
    "distinct_sort": ["SCAN t", "USE TEMP B-TREE FOR DISTINCT"],
    "incremental_sort": ["SEARCH t USING INDEX t_pkey",
                         "USE TEMP B-TREE FOR RIGHT PART OF ORDER BY"],
    "merge_join": ["SCAN t", "Sort (Sort Key: t.s) for a merge join", "SCAN app.u",
                   "Sort (Sort Key: u.v) for a merge join"],
    "join_schema_alias": ["SEARCH app.u USING INDEX u_pkey",
                          "SEARCH t USING COVERING INDEX t_pkey"],
    "full_index_scan": ["SCAN t USING COVERING INDEX t_pkey"],
    "subplan": ["SubPlan 1", "SCAN app.u", "SEARCH t USING COVERING INDEX t_pkey"],
}


def test_every_recorded_case_has_an_expectation() -> None:
    assert set(PLANS) == set(EXPECTED)


@pytest.mark.parametrize("case", sorted(EXPECTED))
def test_summaries(case: str) -> None:
    assert [p.summary for p in plan_lines(PLANS[case]["explain"])] == EXPECTED[case]


def test_kinds_tables_and_indexes() -> None:
    (seq,) = plan_lines(PLANS["seq_scan"]["explain"])
    assert (seq.kind, seq.table, seq.index, seq.detail) == ("scan", "t", None, "Seq Scan on t")
    (ix,) = plan_lines(PLANS["index_scan"]["explain"])
    assert (ix.kind, ix.table, ix.index) == ("search", "t", "t_pkey")
    assert ix.detail == "Index Scan using t_pkey on t (t.id = 5)"
    sort = plan_lines(PLANS["sort_order_by"]["explain"])[1]
    assert (sort.kind, sort.purpose, sort.detail) == ("temp_btree", "ORDER BY",
                                                      "Sort (Sort Key: t.s)")
    hashed = plan_lines(PLANS["hash_aggregate"]["explain"])[1]
    assert hashed.detail == "HashAggregate (Group Key: t.s)"
    # a non-default schema is kept, so `tuner check` can size the table
    assert plan_lines(PLANS["join_schema_alias"]["explain"])[0].table == "app.u"
    # a sort feeding a merge join is no temp B-tree: no ORDER BY of the query needs it
    assert {p.kind for p in plan_lines(PLANS["merge_join"]["explain"])} == {"scan", "other"}


def test_the_forms_psycopg_returns() -> None:
    explained = PLANS["seq_scan"]["explain"]
    assert plan_lines(explained) == plan_lines(explained[0]) == plan_lines(explained[0]["Plan"])
    assert plan_lines([]) == []


def test_the_server_still_answers_these_shapes(pg_url: str) -> None:
    import psycopg

    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE t (id int PRIMARY KEY, a int, b int, s text)")
        conn.execute("INSERT INTO t SELECT g, g % 100, g % 7, 'x' || g "
                     "FROM generate_series(1, 5000) g")
        conn.execute("ANALYZE t")
        for case in ("seq_scan", "index_scan", "sort_order_by"):
            got = conn.execute("EXPLAIN (FORMAT JSON, VERBOSE) " + PLANS[case]["sql"])
            assert [p.summary for p in plan_lines(got.fetchone()[0])] == EXPECTED[case]
