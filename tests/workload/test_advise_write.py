"""tuner advise --write: the profile file gains the advised indexes, keeps every other byte."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from helpers import assert_error_last, run, sha, write

from tuner import load_profile
from tuner.workload.advise.write import WriteRefused, write_advice

SETUP = """
CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER, created INTEGER,
                     status TEXT, total INTEGER);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20000)
INSERT INTO orders SELECT i, i % 2000, i * 7, 'new', i % 97 FROM n;
ANALYZE;
"""
QUERIES = """
queries:
  # The order list of one customer.
  - name: customer_orders
    sql: SELECT id, created FROM orders WHERE customer_id = :c ORDER BY created DESC LIMIT 20
    params: {c: 5}
"""
HEAD = """# The shop's profile.   Keep this comment, and  its odd   spacing.
profile: shop
version: 7          # bumped on every change
engine: sqlite

pragmas:
  journal_mode: wal   # readers never wait
"""


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "shop.db"
    conn = sqlite3.connect(path)
    conn.executescript(SETUP)
    conn.close()
    return path


def _without_block(new: str, old: str) -> str:
    """`new` with the lines --write added taken out and the old version put back."""
    old_lines = old.splitlines(keepends=True)
    kept, i = [], 0
    for line in new.splitlines(keepends=True):
        if i < len(old_lines) and (line == old_lines[i]
                                   or line.startswith("version:") and
                                   old_lines[i].startswith("version:")):
            kept.append(old_lines[i])
            i += 1
    return "".join(kept)


def test_write_appends_to_a_block_list_and_keeps_every_other_byte(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, db: Path) -> None:
    old = HEAD + """
indexes:
  # Totals report.
  - name: orders_total
    table: orders
    columns: [total]     # hand-made

  - name: orders_status
    table: orders
    columns: [status]
""" + QUERIES
    profile = write(tmp_path / "shop.yaml", old)
    conn = sqlite3.connect(db)
    conn.executescript("CREATE INDEX orders_status ON orders(status); ANALYZE;")
    conn.close()
    digest = sha(db)
    r = run(capsys, "advise", profile, "--db", db, "--write")
    assert r.code == 0, r.err
    assert "Wrote 1 index to" in r.err and "version 7 -> 8" in r.err
    assert "never removes" in r.err                  # orders_status is flagged, not removed
    new = profile.read_text(encoding="utf-8")
    assert _without_block(new, old) == old          # nothing else moved or vanished
    assert "version: 8          # bumped on every change\n" in new
    assert len(new.splitlines()) > len(old.splitlines()) + 5
    loaded = load_profile(profile)
    assert loaded.version == 8
    added = loaded.indexes[-1]
    assert [i.name for i in loaded.indexes[:2]] == ["orders_total", "orders_status"]
    assert added.table == "orders"
    assert [c.column for c in added.columns] == ["customer_id", "created"]
    # The list's layout is followed: blank line between items, `  - ` indentation, and the
    # reason as a comment right above the new item.
    block = new[new.index("columns: [status]\n"):new.index("queries:")]
    assert "\n\n  # tuner advise: about 10 rows visited" in block
    assert f"\n  - name: {added.name}\n    table: orders\n" in block
    assert "comment: serves customer_orders (tuner advise)" in block
    assert sha(db) == digest                         # the database is only read


def test_write_creates_the_indexes_key_before_the_next_section(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, db: Path) -> None:
    old = HEAD + "\n# Workload.\n" + QUERIES.lstrip("\n")
    profile = write(tmp_path / "shop.yaml", old)
    r = run(capsys, "advise", profile, "--db", db, "--write")
    assert r.code == 0, r.err
    new = profile.read_text(encoding="utf-8")
    assert _without_block(new, old) == old
    assert new.index("indexes:\n  # tuner advise") < new.index("# Workload.\nqueries:")
    assert len(load_profile(profile).indexes) == 1


@pytest.mark.parametrize("empty", ["indexes: []", "indexes:   []    # none yet"])
def test_write_fills_an_empty_indexes_key(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                          db: Path, empty: str) -> None:
    profile = write(tmp_path / "shop.yaml", HEAD + empty + "\n" + QUERIES)
    r = run(capsys, "advise", profile, "--db", db, "--write")
    assert r.code == 0, r.err
    loaded = load_profile(profile)
    assert [c.column for c in loaded.indexes[0].columns] == ["customer_id", "created"]
    assert loaded.version == 8 and len(loaded.queries) == 1
    assert "# The order list of one customer." in profile.read_text(encoding="utf-8")


def test_write_with_nothing_to_recommend_leaves_the_file_byte_identical(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, db: Path) -> None:
    conn = sqlite3.connect(db)
    conn.execute("CREATE INDEX orders_cust ON orders(customer_id, created)")
    conn.commit()
    conn.close()
    profile = write(tmp_path / "shop.yaml", HEAD + QUERIES)
    digest = sha(profile)
    r = run(capsys, "advise", profile, "--db", db, "--write")
    assert r.code == 0, r.err
    assert "Nothing to add" in r.err and "left unchanged" in r.err
    assert sha(profile) == digest


def test_write_skips_an_index_the_profile_already_declares(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, db: Path) -> None:
    old = HEAD + """indexes:
  - name: mine
    table: orders
    columns: [customer_id, created]
""" + QUERIES
    profile = write(tmp_path / "shop.yaml", old)
    r = run(capsys, "advise", profile, "--db", db, "--write")
    assert r.code == 0, r.err
    # Advised on as if built (the advice does not depend on tuner apply): nothing to add.
    assert "not built yet (tuner apply builds them), advised on as if built: mine" in r.out
    assert "No index to recommend" in r.out
    assert "Nothing to add" in r.err and profile.read_text(encoding="utf-8") == old


def test_write_into_a_child_profile_that_extends_a_parent(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, db: Path) -> None:
    parent = write(tmp_path / "base.yaml", HEAD + QUERIES)
    parent_digest = sha(parent)
    child = write(tmp_path / "child.yaml", "extends: base.yaml\nprofile: shop-child\n"
                                           "version: 2\nengine: sqlite\n")
    r = run(capsys, "advise", child, "--db", db, "--write")
    assert r.code == 0, r.err
    assert sha(parent) == parent_digest
    loaded = load_profile(child)
    assert loaded.version == 3 and len(loaded.indexes) == 1
    assert child.read_text(encoding="utf-8").startswith("extends: base.yaml\n")


@pytest.mark.parametrize("text, fragment", [
    ("extends: base.yaml\nprofile: c\nengine: sqlite\n",
     "version is inherited from base.yaml (extends)"),
    (HEAD + "indexes: [{name: x, table: orders, columns: [total]}]\n" + QUERIES,
     "indexes: is not a block list"),
])
def test_write_refuses_what_it_cannot_edit_safely(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, db: Path, text: str,
        fragment: str) -> None:
    write(tmp_path / "base.yaml", HEAD + QUERIES)
    profile = write(tmp_path / "p.yaml", text)
    digest = sha(profile)
    r = run(capsys, "advise", profile, "--db", db, "--write")
    assert_error_last(r, "p.yaml", "--write refused", fragment)
    assert sha(profile) == digest
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".tuner")] == []


def test_write_refuses_a_file_that_changed_while_advising(tmp_path: Path) -> None:
    profile = write(tmp_path / "shop.yaml", HEAD + QUERIES)
    entry = {"name": "orders_c", "table": "orders", "columns": ["customer_id"]}
    with pytest.raises(WriteRefused, match="changed while advising"):
        write_advice(str(profile), b"profile: other\n", [entry], [["why"]])
    assert profile.read_text(encoding="utf-8") == HEAD + QUERIES


def test_write_keeps_crlf_line_ends(tmp_path: Path) -> None:
    text = (HEAD + "indexes:\n  - name: orders_total\n    table: orders\n    columns: [total]\n"
            + QUERIES).replace("\n", "\r\n")
    profile = tmp_path / "shop.yaml"
    profile.write_bytes(text.encode())
    entry = {"name": "orders_c", "table": "orders", "columns": ["customer_id"]}
    done = write_advice(str(profile), text.encode(), [entry], [["why it helps"]])
    assert (done.old_version, done.new_version, done.added) == (7, 8, ["orders_c"])
    data = profile.read_bytes()
    assert b"\n" not in data.replace(b"\r\n", b"")
    assert b"  # why it helps\r\n  - name: orders_c\r\n" in data
    assert [i.name for i in load_profile(profile).indexes] == ["orders_total", "orders_c"]


def test_write_through_a_symlink_edits_the_file_it_points_to(tmp_path: Path) -> None:
    real = write(tmp_path / "real.yaml", HEAD + QUERIES)
    link = tmp_path / "link.yaml"
    link.symlink_to(real)
    entry = {"name": "orders_c", "table": "orders", "columns": ["customer_id"]}
    write_advice(str(link), real.read_bytes(), [entry], [["why"]])
    assert link.is_symlink()
    assert [i.name for i in load_profile(real).indexes] == ["orders_c"]


def test_write_with_nothing_to_add_does_not_read_the_version(tmp_path: Path) -> None:
    write(tmp_path / "base.yaml", HEAD + QUERIES)
    child = write(tmp_path / "c.yaml", "extends: base.yaml\nprofile: c\nengine: sqlite\n")
    done = write_advice(str(child), child.read_bytes(), [], [])
    assert done.added == [] and done.old_version is None
