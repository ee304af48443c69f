"""tuner.engines.postgres.conn.to_psycopg: `:name` parameters to psycopg's `%(name)s` without
breaking casts, strings, quoted identifiers, comments or literal `%`; then run for real on
PostgreSQL, the bot profile's queries included, against the demo data."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import psycopg
import pytest

import tuner
from tuner.engines.postgres.conn import to_psycopg
from tuner.engines.postgres.demo import load_demo
from tuner.engines.sqlite.demo import create_demo_db
from tuner.errors import TunerError

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("sql, expected, names", [
    # plain parameters, repeated ones, keyword names, after operators and brackets
    ("SELECT * FROM t WHERE a = :a", "SELECT * FROM t WHERE a = %(a)s", ("a",)),
    ("SELECT :a + :b + :a", "SELECT %(a)s + %(b)s + %(a)s", ("a", "b")),
    ("WHERE d=:date AND u=:user AND n>=:now LIMIT :limit",
     "WHERE d=%(date)s AND u=%(user)s AND n>=%(now)s LIMIT %(limit)s",
     ("date", "user", "now", "limit")),
    ("SELECT (:x),[:y],:user_id2,:_p", "SELECT (%(x)s),[%(y)s],%(user_id2)s,%(_p)s",
     ("x", "y", "user_id2", "_p")),
    ("SELECT :CamelCase", "SELECT %(CamelCase)s", ("CamelCase",)),
    # casts stay casts, also right after a parameter
    ("SELECT a::text, :x::int, :y :: date", "SELECT a::text, %(x)s::int, %(y)s :: date",
     ("x", "y")),
    ("SELECT CAST(:x AS bigint)::text", "SELECT CAST(%(x)s AS bigint)::text", ("x",)),
    # string literals of every kind keep their colons
    ("SELECT 'a:b', 'it''s :x', :y", "SELECT 'a:b', 'it''s :x', %(y)s", ("y",)),
    ("SELECT E'\\' :x', :y", "SELECT E'\\' :x', %(y)s", ("y",)),
    ("SELECT 'a\\', :y", "SELECT 'a\\', %(y)s", ("y",)),  # standard strings: \ is no escape
    ("SELECT $$ :x $$, $f$ :y $f$, :z", "SELECT $$ :x $$, $f$ :y $f$, %(z)s", ("z",)),
    ("SELECT U&':x', B'101', X'1F', :z", "SELECT U&':x', B'101', X'1F', %(z)s", ("z",)),
    # quoted identifiers
    ('SELECT "a:b", ":x" FROM "t:u" WHERE "c" = :c',
     'SELECT "a:b", ":x" FROM "t:u" WHERE "c" = %(c)s', ("c",)),
    # comments, nested block comments included
    ("SELECT 1 -- :x\nWHERE a = :a", "SELECT 1 -- :x\nWHERE a = %(a)s", ("a",)),
    ("SELECT /* :x /* :y */ :z */ :a", "SELECT /* :x /* :y */ :z */ %(a)s", ("a",)),
    # every literal % doubled: operator, LIKE pattern, comment, identifier
    ("SELECT a % 2 FROM t WHERE n LIKE 'user_%' AND x = :x -- 100%",
     "SELECT a %% 2 FROM t WHERE n LIKE 'user_%%' AND x = %(x)s -- 100%%", ("x",)),
    ('SELECT "pct%" FROM t', 'SELECT "pct%%" FROM t', ()),
    ("SELECT '%(x)s'", "SELECT '%%(x)s'", ()),
    # colons that are not parameters
    ("SELECT arr[1:2], arr[lo:hi], arr[1:n], x:y", "SELECT arr[1:2], arr[lo:hi], arr[1:n], x:y",
     ()),
    ("SELECT : x, :1, :'s', :\"q\"", "SELECT : x, :1, :'s', :\"q\"", ()),
    ("SELECT 1", "SELECT 1", ()),
    ("", "", ()),
])
def test_conversion(sql: str, expected: str, names: tuple[str, ...]) -> None:
    converted = to_psycopg(sql)
    assert converted.sql == expected
    assert converted.names == names


@pytest.mark.parametrize("sql", ["SELECT 'open", 'SELECT "open', "SELECT $$open",
                                 "SELECT E'open\\'"])
def test_text_that_cannot_be_tokenized_is_a_one_line_error(sql: str) -> None:
    with pytest.raises(TunerError, match=r"^queries\[2\]: cannot read the SQL") as exc:
        to_psycopg(sql, "queries[2]")
    assert "\n" not in str(exc.value)


def test_params_are_checked_against_the_names() -> None:
    converted = to_psycopg("SELECT :a, :b")
    assert converted.params({"a": 1, "b": 2, "unused": 3}) == {"a": 1, "b": 2}
    with pytest.raises(TunerError, match=r"^user_events: no value for parameter :b$"):
        converted.params({"a": 1}, "user_events")


def test_converted_queries_run_on_postgresql(pg_url: str) -> None:
    converted = to_psycopg(
        "SELECT :x::int + 1, 'a:b', '100%', \"n%\", :y::text || '%' /* :z */, "
        "(ARRAY[10, 20, 30])[1:2], 7 % 4, :x -- :w\n FROM (SELECT 1 AS \"n%\") AS t")
    with tuner.connect(pg_url) as conn:
        row = conn.execute(converted.sql, converted.params({"x": 1, "y": "z"})).fetchone()
    assert row == (2, "a:b", "100%", 1, "z%", [10, 20], 3, 1)


def test_the_bot_profiles_queries_give_the_same_rows_on_both_engines(pg_url: str,
                                                                      tmp_path: Path) -> None:
    load_demo(pg_url, 2_000)
    create_demo_db(tmp_path / "demo.db", 2_000)
    profile = tuner.load_profile(ROOT / "profiles" / "telegram-bot.yaml")
    lite = sqlite3.connect(tmp_path / "demo.db")
    with psycopg.connect(pg_url) as conn:
        creator = conn.execute("SELECT creator_id FROM events WHERE id = 1").fetchone()[0]
        for query in profile.queries:
            params = dict(query.params)
            if query.name == "created_events":   # user 7 created nothing in a small demo
                params["user_id"] = creator
            converted = to_psycopg(query.sql, query.name)
            got = conn.execute(converted.sql, converted.params(params, query.name)).fetchall()
            want = lite.execute(query.sql, params).fetchall()
            assert got, query.name
            assert sorted(got) == sorted(want), query.name
    lite.close()
