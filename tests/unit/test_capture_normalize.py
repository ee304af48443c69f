"""tuner.capture.normalize: statement shapes, fingerprints, tables read and written, and
statements the parser cannot read (never an error)."""

from __future__ import annotations

import pytest

from tuner.capture.normalize import MAX_PARSE, UNPARSED, normalize, parsed_shape


def test_literals_become_one_placeholder():
    shape = normalize("SELECT * FROM t WHERE a = 5 AND b = 'x' AND c = -2.5 LIMIT 10")
    assert shape.text == "SELECT * FROM t WHERE a = ? AND b = ? AND c = ? LIMIT ?"
    assert shape.kind == "select" and shape.reads == ("t",) and shape.writes == ()
    assert shape.fingerprint == normalize("select *  from t where a=7 and b='y' and c=3 "
                                          "limit 1 -- a comment").fingerprint


@pytest.mark.parametrize("sql", [
    "SELECT * FROM t WHERE a = ? AND b = ?",
    "SELECT * FROM t WHERE a = ?1 AND b = ?2",
    "SELECT * FROM t WHERE a = :a AND b = :b",
    "SELECT * FROM t WHERE a = @a AND b = @b",
    "SELECT * FROM t WHERE a = $a AND b = $b",
    "SELECT * FROM t WHERE a = 1 AND b = 'two'",
])
def test_sqlite_parameter_styles_share_a_fingerprint(sql):
    assert normalize(sql).text == "SELECT * FROM t WHERE a = ? AND b = ?"


@pytest.mark.parametrize("sql", [
    "SELECT * FROM t WHERE a = %s AND b = %s",
    "SELECT * FROM t WHERE a = %(a)s AND b = %(b)s",
    "SELECT * FROM t WHERE a = $1 AND b = $2",
    "SELECT * FROM t WHERE a = 1 AND b = 'two'",
])
def test_postgres_parameter_styles_share_a_fingerprint(sql):
    shape = normalize(sql, "postgresql")
    assert shape.fingerprint == normalize("SELECT * FROM t WHERE a = %s AND b = %s",
                                          "postgresql").fingerprint
    assert shape.kind == "select"


@pytest.mark.parametrize("values", [
    lambda n: ", ".join("?" * n),
    lambda n: ", ".join(str(i) for i in range(n)),
    lambda n: ", ".join(f"'v{i}'" for i in range(n)),
    lambda n: ", ".join(f":p{i}" for i in range(n)),
])
def test_in_lists_of_any_length_fold_to_one_shape(values):
    prints = {normalize(f"SELECT id FROM t WHERE a IN ({values(n)}) AND b = 1").fingerprint
              for n in (1, 3, 50)}
    assert len(prints) == 1
    assert normalize(f"SELECT id FROM t WHERE a IN ({values(3)})").text == \
        "SELECT id FROM t WHERE a IN (?)"


def test_multi_row_values_fold_to_one_row():
    one = normalize("INSERT INTO t (a, b) VALUES (1, 'x')")
    many = normalize("INSERT INTO t (a, b) VALUES (1, 'x'), (2, 'y'), (3, 'z')")
    assert one.fingerprint == many.fingerprint
    assert many.text == "INSERT INTO t (a, b) VALUES (?, ?)"


@pytest.mark.parametrize("sql, kind, reads, writes", [
    ("INSERT INTO t (a) VALUES (?)", "insert", (), ("t",)),
    ("INSERT INTO t SELECT * FROM u WHERE x > 1", "insert", ("u",), ("t",)),
    ("INSERT INTO t (a) VALUES (?) ON CONFLICT (a) DO UPDATE SET a = excluded.a", "upsert",
     (), ("t",)),
    ("INSERT OR REPLACE INTO t VALUES (?)", "upsert", (), ("t",)),
    ("REPLACE INTO t VALUES (?)", "upsert", (), ("t",)),
    ("UPDATE t SET a = (SELECT max(b) FROM u) WHERE id = ?", "update", ("u",), ("t",)),
    ("DELETE FROM main.t WHERE id IN (SELECT id FROM u)", "delete", ("u",), ("main.t",)),
    ("SELECT * FROM a JOIN b ON a.id = b.a_id WHERE b.x IN (SELECT x FROM c)", "select",
     ("a", "b", "c"), ()),
    ("WITH recent AS (SELECT id FROM events WHERE ts > ?) SELECT * FROM recent", "select",
     ("events",), ()),
    ("WITH c AS (SELECT id FROM u) UPDATE t SET x = 1 WHERE id IN (SELECT id FROM c)",
     "update", ("u",), ("t",)),
    ("SELECT value FROM json_each(?)", "select", (), ()),
    ("CREATE TABLE n AS SELECT * FROM t", "ddl", ("t",), ()),
    ("BEGIN IMMEDIATE", "transaction", (), ()),
    ("PRAGMA journal_mode", "pragma", (), ()),
    ("DETACH x", "other", (), ()),
    ("TRUNCATE t", "ddl", ("t",), ()),
])
def test_reads_writes_and_kind(sql, kind, reads, writes):
    shape = normalize(sql)
    assert (shape.kind, shape.reads, shape.writes) == (kind, reads, writes)


@pytest.mark.parametrize("sql", [
    "SELEC * FORM events",                       # sqlglot reads this as an alias: refused
    "SELECT 'unterminated",
    "this is not sql at all ( 1, 2, 'x' )",
    "",
])
def test_unparsable_statements_get_a_fallback_shape(sql):
    shape = normalize(sql)
    assert shape.kind == UNPARSED and not shape.parsed
    assert shape.error
    assert len(shape.fingerprint) == 16


def test_unparsed_fallback_masks_values_and_folds_lists():
    a = normalize("frobnicate ( 1, 2, 'x' ) where y = 'secret' and z = %s")
    b = normalize("frobnicate   (7) where y = 'other' and z = %(z)s")
    assert a.text == "frobnicate ( ? ) where y = ? and z = ?"
    assert a.fingerprint == b.fingerprint


def test_several_statements_in_one_text():
    shape = normalize("UPDATE t SET a = 1; SELECT * FROM u")
    assert shape.text == "UPDATE t SET a = ?; SELECT * FROM u"
    assert shape.reads == ("u",) and shape.writes == ("t",)


def test_normalization_is_cached_per_text():
    parsed_shape.cache_clear()
    sql = "SELECT * FROM cached WHERE id = ?"
    first = normalize(sql)
    assert normalize(sql) is first
    assert parsed_shape.cache_info().hits == 1


def test_very_long_texts_are_not_parsed_but_fold_their_rows():
    def bulk(n):
        rows = ", ".join(f"({i}, 'name {i}', NULL)" for i in range(n))
        return f"INSERT INTO t (a, b, c) VALUES {rows}"

    long = normalize(bulk(2000))
    assert len(bulk(2000)) > MAX_PARSE and long.kind == UNPARSED and "longer than" in long.error
    assert long.text == "INSERT INTO t ( a , b , c ) VALUES ( ? , ? , NULL )"
    assert long.fingerprint == normalize(bulk(3000)).fingerprint


def test_sqlglot_does_not_warn_while_normalizing(caplog):
    with caplog.at_level("WARNING", logger="sqlglot"):
        assert normalize("REPLACE INTO quiet VALUES (1)").kind == "upsert"
        assert normalize("ATTACH DATABASE 'x.db' AS x").text == "ATTACH ? AS x"
        assert normalize("VACUUM ANALYZE t", "postgresql").kind == "other"
    assert not [r for r in caplog.records if r.name.startswith("sqlglot")]


def test_bytes_are_decoded():
    assert normalize(b"SELECT * FROM t WHERE a = 1").text == "SELECT * FROM t WHERE a = ?"
