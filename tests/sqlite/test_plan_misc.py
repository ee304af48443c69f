"""Plan behaviours that golden cases do not show well: warnings, YAML quirks, lints from
statistics, and plan time independent of row count."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from tuner import load_profile, make_plan
from tuner.engines.sqlite.engine import SQLiteEngine


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def make_db(path: Path, script: str) -> Path:
    with sqlite3.connect(path) as conn:
        conn.executescript(script)
    conn.close()
    return path


def test_yaml_off_and_on_are_pragma_words(tmp_path: Path) -> None:
    profile = load_profile(write(tmp_path / "p.yaml", (
        "profile: p\nversion: 1\nengine: sqlite\n"
        "pragmas: {synchronous: off, secure_delete: on, journal_mode: off}\n")))
    assert profile.settings == {"synchronous": "off", "secure_delete": "on",
                                "journal_mode": "off"}


def test_prune_dropping_a_view_warns_about_its_triggers(tmp_path: Path) -> None:
    db = make_db(tmp_path / "v.db", """
        CREATE TABLE t(a);
        CREATE VIEW v AS SELECT a FROM t;
        CREATE TRIGGER v_ins INSTEAD OF INSERT ON v BEGIN INSERT INTO t VALUES (new.a); END;
    """)
    profile = write(tmp_path / "p.yaml", "profile: p\nversion: 1\nengine: sqlite\nprune: true\n")
    plan = make_plan(profile, str(db))
    assert [s.kind for s in plan.steps] == ["drop_view"]
    assert plan.steps[0].destructive
    assert any("v_ins" in w and "INSTEAD OF" in w for w in plan.warnings)


def test_low_cardinality_lint_uses_statistics(tmp_path: Path) -> None:
    db = make_db(tmp_path / "s.db", """
        CREATE TABLE p(id INTEGER PRIMARY KEY, status TEXT, n INTEGER);
        WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 3000)
        INSERT INTO p(status, n) SELECT CASE i % 3 WHEN 0 THEN 'a' WHEN 1 THEN 'b' ELSE 'c' END,
                                        i FROM c;
        CREATE INDEX p_status_old ON p(status);
        ANALYZE;
    """)
    profile = write(tmp_path / "p.yaml", (
        "profile: p\nversion: 1\nengine: sqlite\n"
        "indexes:\n  - {name: p_status, table: p, columns: [status]}\n"
        "  - {name: p_n, table: p, columns: [n]}\n"))
    warnings = make_plan(profile, str(db)).warnings
    low = [w for w in warnings if "low-cardinality" in w]
    assert len(low) == 1 and "p_status" in low[0] and "3 distinct" in low[0]
    assert not any("index p_n" in w for w in warnings)


def test_slow_build_warning_compares_with_busy_timeout(tmp_path: Path) -> None:
    db = make_db(tmp_path / "big.db", "CREATE TABLE m(id INTEGER PRIMARY KEY, x INTEGER);"
                                      "INSERT INTO m(id, x) VALUES (5000000, 1);")
    text = ("profile: p\nversion: 1\nengine: sqlite\npragmas: {busy_timeout: %d}\n"
            "indexes:\n  - {name: m_x, table: m, columns: [x]}\n")
    short = make_plan(write(tmp_path / "a.yaml", text % 100), str(db))
    long = make_plan(write(tmp_path / "b.yaml", text % 600000), str(db))
    assert short.steps[0].rows == 5_000_000          # max(rowid), not a COUNT(*)
    assert any("m_x" in w and "busy_timeout" in w for w in short.warnings)
    assert not any("busy_timeout" in w for w in long.warnings)
    assert SQLiteEngine().index_build_seconds(short.steps[0].change.desired, 5_000_000) > 0.1
