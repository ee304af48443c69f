"""Tests for tuner.profile: error messages that name file, line and JSON path; `extends`;
the profile hash; engine-specific keys. Each error is checked through `load_profile` and through
the CLI's `validate`, which must print the same message as one `error: ` line and exit 1.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tuner import load_profile
from tuner.cli import main
from tuner.errors import ProfileError

ROOT = Path(__file__).resolve().parents[2]
BOT = ROOT / "profiles" / "telegram-bot.yaml"

HEAD = "profile: p\nversion: 1\nengine: sqlite\n"  # lines 1-3 of most profiles below


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def validate_cli(capsys: pytest.CaptureFixture[str], *paths: Path) -> tuple[int, str, str]:
    capsys.readouterr()
    with pytest.raises(SystemExit) as exc:
        main(["validate", *map(str, paths)])
    captured = capsys.readouterr()
    return exc.value.code, captured.out, captured.err


def profile_error(capsys: pytest.CaptureFixture[str], path: Path) -> ProfileError:
    """load_profile must raise a ProfileError, and `tuner validate` must print exactly it."""
    with pytest.raises(ProfileError) as info:
        load_profile(path)
    code, out, err = validate_cli(capsys, path)
    assert code == 1 and out == ""
    assert err == f"error: {info.value}\n"
    assert "\n" not in str(info.value)
    return info.value


# -- error messages: <path>:<line>: <json path>: <message> -------------------------------------
CASES = {
    "empty-columns": (
        HEAD + "indexes:\n  - name: i1\n    table: t\n    columns: [a]\n"
               "  - name: i2\n    table: t\n    columns: []\n",
        10, "indexes[1].columns", "[] should be non-empty"),
    "bad-order": (
        HEAD + "indexes:\n  - name: i1\n    table: t\n    columns:\n      - column: a\n"
               "        order: up\n",
        9, "indexes[0].columns[0].order", "'up' is not one of ['asc', 'desc']"),
    "bad-order-expr": (
        HEAD + "indexes:\n  - name: i1\n    table: t\n    columns:\n      - expr: lower(a)\n"
               "        order: downwards\n",
        9, "indexes[0].columns[0].order", "'downwards' is not one of ['asc', 'desc']"),
    "unknown-column-key": (
        HEAD + "indexes:\n  - name: i1\n    table: t\n    columns:\n      - column: a\n"
               "        colate: nocase\n",
        9, "indexes[0].columns[0].colate", "unknown key (allowed: collate, column, order)"),
    "unknown-top-level-key": (
        "profile: p\nversion: 1\nbogus: 1\nengine: sqlite\nprune: true\n",
        3, "bogus", "unknown key (allowed: description, engine, extends, indexes"),
    "unknown-index-key": (
        HEAD + "indexes:\n  - name: i\n    table: t\n    columns: [a]\n    colums: [b]\n",
        8, "indexes[0].colums",
        "unknown key (allowed: columns, comment, include, method, name, table"),
    "version-type": (
        "profile: p\nversion: one\nengine: sqlite\n",
        2, "version", "'one' is not of type 'integer'"),
    "version-float": (
        "profile: p\nversion: 1.5\nengine: sqlite\n",
        2, "version", "1.5 is not of type 'integer'"),
    "version-zero": (
        "profile: p\nversion: 0\nengine: sqlite\n",
        2, "version", "0 is less than the minimum of 1"),
    "unknown-engine": (
        "profile: p\nversion: 1\nengine: mysql\n",
        3, "engine", "'mysql' is not one of ['sqlite', 'postgresql']"),
    "unknown-pragma": (
        HEAD + "pragmas:\n  journal_mode: wal\n  journal_size: 5\n",
        6, "pragmas.journal_size", "unknown pragma 'journal_size': did you mean "
                                   "journal_size_limit or journal_mode? (known: analysis_limit, "),
    "unknown-pragma-typo": (
        HEAD + "pragmas:\n  jornal_mode: wal\n",
        5, "pragmas.jornal_mode", "unknown pragma 'jornal_mode': did you mean journal_mode? "),
    "synchronous-sometimes": (
        HEAD + "pragmas:\n  synchronous: sometimes\n",
        5, "pragmas.synchronous", "expected one of off, normal, full, extra, got 'sometimes'"),
    "page-size-1000": (
        HEAD + "pragmas:\n  journal_mode: wal\n  page_size: 1000\n",
        6, "pragmas.page_size", "1000 is not a power of two between 512 and 65536"),
    "page-size-too-big": (
        HEAD + "pragmas:\n  page_size: 131072\n",
        5, "pragmas.page_size", "131072 is above the maximum 65536"),
    "bool-pragma": (
        HEAD + "pragmas:\n  foreign_keys: maybe\n",
        5, "pragmas.foreign_keys", "expected a boolean"),
    "pragma-value-type": (
        HEAD + "pragmas:\n  cache_size: [1]\n",
        5, "pragmas.cache_size", "[1] is not of type 'string', 'integer', 'boolean'"),
    "duplicate-index-names": (
        HEAD + "indexes:\n  - name: Foo\n    table: t\n    columns: [a]\n"
               "  - name: bar\n    table: t\n    columns: [a]\n"
               "  - name: foo\n    table: t\n    columns: [b]\n",
        11, "indexes[2].name", "'foo' is declared twice (first at indexes[0].name)"),
    "index-and-view-same-name": (
        HEAD + "indexes:\n  - name: Things\n    table: t\n    columns: [a]\n"
               "views:\n  - name: THINGS\n    sql: SELECT 1\n",
        9, "views[0].name", "'THINGS' is declared twice (first at indexes[0].name)"),
    "duplicate-view-names": (
        HEAD + "views:\n  - name: v\n    sql: SELECT 1\n  - name: V\n    sql: SELECT 2\n",
        7, "views[1].name", "'V' is declared twice (first at views[0].name)"),
    "sqlite-prefix": (
        HEAD + "indexes:\n  - name: sqlite_foo\n    table: t\n    columns: [a]\n",
        5, "indexes[0].name", "'sqlite_foo': the prefixes sqlite_, tuner_ are reserved"),
    "sqlite-prefix-upper-view": (
        HEAD + "views:\n  - name: SQLITE_v\n    sql: SELECT 1\n",
        5, "views[0].name", "'SQLITE_v': the prefixes sqlite_, tuner_ are reserved"),
    "view-two-statements": (
        HEAD + "views:\n  - name: v\n    sql: SELECT 1; SELECT 2\n",
        6, "views[0].sql", "must be exactly one statement, found 2"),
    "view-not-select": (
        HEAD + "views:\n  - name: v\n    sql: DELETE FROM x\n",
        6, "views[0].sql", "must be a SELECT or WITH statement, not DELETE"),
    "query-not-select": (
        HEAD + "queries:\n  - name: q\n    sql: UPDATE t SET a = 1\n",
        6, "queries[0].sql", "must be a SELECT or WITH statement, not UPDATE"),
    "query-missing-param": (
        HEAD + "queries:\n  - name: q\n    sql: SELECT * FROM t WHERE a = :a AND b = :b\n"
               "    params: {a: 1}\n",
        7, "queries[0].params", "no value for parameter :b"),
    "query-positional-param": (
        HEAD + "queries:\n  - name: q\n    sql: SELECT * FROM t WHERE a = ?\n",
        6, "queries[0].sql", "use named parameters (:name), not '?'"),
    "index-where-two-statements": (
        HEAD + "indexes:\n  - name: i\n    table: t\n    columns: [a]\n"
               "    where: a > 1; DROP TABLE t\n",
        8, "indexes[0].where", "must be a single SQL expression (no ';')"),
    "duplicate-yaml-key": (
        HEAD + "pragmas:\n  journal_mode: wal\n  synchronous: normal\n  journal_mode: delete\n",
        7, "pragmas.journal_mode", "duplicate key"),
    "duplicate-top-level-key": (
        HEAD + "version: 2\n",
        4, "version", "duplicate key"),
    "pragmas-on-postgresql": (
        "profile: p\nversion: 1\nengine: postgresql\npragmas:\n  journal_mode: wal\n",
        4, "pragmas", "not used by engine postgresql; use settings:"),
    "settings-on-sqlite": (
        HEAD + "settings:\n  work_mem: 64MB\n",
        4, "settings", "not used by engine sqlite; use pragmas:"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_error_names_file_line_and_json_path(capsys: pytest.CaptureFixture[str],
                                             tmp_path: Path, case: str) -> None:
    text, line, where, message = CASES[case]
    path = write(tmp_path, "bot.yaml", text)
    err = profile_error(capsys, path)
    assert str(err).startswith(f"{path}:{line}: {where}: {message}"), str(err)
    assert (err.path, err.line, err.where) == (str(path), line, where)


def test_unknown_pragma_lists_the_known_ones(tmp_path: Path) -> None:
    path = write(tmp_path, "p.yaml", HEAD + "pragmas:\n  wal_mode: true\n")
    with pytest.raises(ProfileError) as info:
        load_profile(path)
    known = re.search(r"\(known: ([a-z_, ]+)\)", str(info.value))
    assert known
    names = known.group(1).split(", ")
    assert names == sorted(names)
    assert {"journal_mode", "synchronous", "page_size", "busy_timeout", "foreign_keys"} <= \
        set(names)


@pytest.mark.parametrize("text, line, message", [
    (HEAD + "pragmas:\n  journal_mode: wal: x\n", 5, "invalid YAML: mapping values are not "
                                                    "allowed here"),
    (HEAD + "pragmas:\n\tjournal_mode: wal\n", 5, "invalid YAML: found character '\\t'"),
    (HEAD + 'description: "unterminated\nprune: true\n', 6, "invalid YAML:"),
])
def test_invalid_yaml_names_the_line(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                     text: str, line: int, message: str) -> None:
    path = write(tmp_path, "broken.yaml", text)
    err = profile_error(capsys, path)
    assert str(err).startswith(f"{path}:{line}: {message}"), str(err)
    assert err.line == line


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n"])
def test_empty_file(capsys: pytest.CaptureFixture[str], tmp_path: Path, text: str) -> None:
    path = write(tmp_path, "empty.yaml", text)
    assert str(profile_error(capsys, path)) == f"{path}: the file is empty"


@pytest.mark.parametrize("text", ["- profile: p\n- version: 1\n", "just a string\n", "42\n"])
def test_top_level_must_be_a_mapping(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                     text: str) -> None:
    path = write(tmp_path, "list.yaml", text)
    assert str(profile_error(capsys, path)) == f"{path}:1: a profile must be a YAML mapping"


def test_missing_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "absent.yaml"
    assert str(profile_error(capsys, path)) == f"{path}: no such file"


def test_missing_required_key(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = write(tmp_path, "p.yaml", "profile: p\nengine: sqlite\n")
    err = profile_error(capsys, path)
    assert "'version' is a required property" in str(err)
    assert str(err).startswith(f"{path}:1: ")


def test_several_problems_are_counted(tmp_path: Path) -> None:
    path = write(tmp_path, "p.yaml", "profile: p\nversion: 0\nengine: sqlite\nprune: maybe\n")
    with pytest.raises(ProfileError, match=r"\(and 1 more problem\)$"):
        load_profile(path)


# -- a valid profile -----------------------------------------------------------------------------
def test_bundled_profile_loads(capsys: pytest.CaptureFixture[str]) -> None:
    p = load_profile(BOT)
    assert (p.name, p.version, p.engine, p.prune) == ("telegram-bot", 2, "sqlite", False)
    assert p.settings["journal_mode"] == "wal" and p.settings["foreign_keys"] is True
    assert [i.name for i in p.indexes][:2] == ["participants_event_status",
                                               "participants_user_active"]
    assert len(p.views) == 2 and len(p.queries) == 6
    assert re.fullmatch(r"[0-9a-f]{64}", p.sha256)
    code, out, err = validate_cli(capsys, BOT)
    assert code == 0 and err == "" and out.startswith(f"ok: {BOT}: profile telegram-bot v2")


def test_values_are_normalized(tmp_path: Path) -> None:
    path = write(tmp_path, "p.yaml", HEAD + "pragmas:\n  journal_mode: WAL\n  synchronous: 1\n"
                                            "  foreign_keys: 'on'\n  temp_store: MEMORY\n"
                                            "  cache_size: '-2000'\n")
    p = load_profile(path)
    assert p.settings == {"journal_mode": "wal", "synchronous": "normal", "foreign_keys": True,
                          "temp_store": "memory", "cache_size": -2000}


def test_postgresql_profile_with_settings_is_valid(tmp_path: Path) -> None:
    path = write(tmp_path, "pg.yaml", "profile: pg\nversion: 1\nengine: postgresql\n"
                                      "settings:\n  work_mem: 64MB\n  jit: false\n")
    p = load_profile(path)
    assert p.engine == "postgresql" and p.settings == {"work_mem": "64MB", "jit": False}


# -- extends -------------------------------------------------------------------------------------
BASE = """\
profile: base
version: 1
engine: sqlite
description: the base
pragmas:
  journal_mode: wal
  synchronous: full
  cache_size: -2000
indexes:
  - name: shared
    table: t
    columns: [a]
  - name: base_only
    table: t
    columns: [b]
views:
  - name: v_shared
    sql: SELECT 1 AS one
  - name: v_base
    sql: SELECT 2 AS two
queries:
  - name: q
    sql: SELECT a FROM t WHERE a = :a
    params: {a: 1}
maintenance:
  analyze: true
  vacuum: auto
"""


def test_extends_merges_child_over_parent(tmp_path: Path) -> None:
    write(tmp_path, "base.yaml", BASE)
    child = write(tmp_path, "child.yaml", """\
extends: base.yaml
profile: child
version: 3
engine: sqlite
pragmas:
  synchronous: normal
  busy_timeout: 5000
indexes:
  - name: SHARED
    table: t
    columns: [a, b]
  - name: child_only
    table: t
    columns: [c]
views:
  - name: v_shared
    sql: SELECT 10 AS ten
maintenance:
  vacuum: never
""")
    p = load_profile(child)
    assert (p.name, p.version, p.path) == ("child", 3, str(child))
    assert p.data["description"] == "the base"                 # parent-only key kept
    assert "extends" not in p.data
    assert p.settings == {"journal_mode": "wal", "synchronous": "normal", "cache_size": -2000,
                          "busy_timeout": 5000}               # merged key by key
    assert p.analyze is True and p.vacuum == "never"          # nested mapping merged
    indexes = {i.name: i for i in p.indexes}
    assert set(indexes) == {"SHARED", "base_only", "child_only"}  # merged by name, any case
    assert [c.column for c in indexes["SHARED"].columns] == ["a", "b"]  # the child wins
    assert [c.column for c in indexes["base_only"].columns] == ["b"]
    views = {v.name: v.sql for v in p.views}
    assert views == {"v_shared": "SELECT 10 AS ten", "v_base": "SELECT 2 AS two"}
    assert [q.name for q in p.queries] == ["q"]


def test_extends_chain_of_three(tmp_path: Path) -> None:
    write(tmp_path, "base.yaml", BASE)
    (tmp_path / "mid").mkdir()
    write(tmp_path / "mid", "mid.yaml", "extends: ../base.yaml\nprofile: mid\nversion: 1\n"
                                        "engine: sqlite\npragmas:\n  cache_size: -4000\n")
    leaf = write(tmp_path, "leaf.yaml", "extends: mid/mid.yaml\nprofile: leaf\nversion: 1\n"
                                        "engine: sqlite\npragmas:\n  synchronous: extra\n")
    p = load_profile(leaf)
    assert p.settings == {"journal_mode": "wal", "synchronous": "extra", "cache_size": -4000}
    assert {i.name for i in p.indexes} == {"shared", "base_only"}


def test_extends_cycle_is_named(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    a = write(tmp_path, "a.yaml", "extends: b.yaml\nprofile: a\nversion: 1\nengine: sqlite\n")
    b = write(tmp_path, "b.yaml", "extends: a.yaml\nprofile: b\nversion: 1\nengine: sqlite\n")
    err = profile_error(capsys, a)
    assert "extends: cycle:" in str(err)
    assert f"{a.resolve()} -> {b.resolve()} -> {a.resolve()}" in str(err)
    self_ref = write(tmp_path, "self.yaml", "extends: self.yaml\nprofile: s\nversion: 1\n"
                                            "engine: sqlite\n")
    assert "cycle" in str(profile_error(capsys, self_ref))


def test_extends_missing_parent_is_named(capsys: pytest.CaptureFixture[str],
                                         tmp_path: Path) -> None:
    child = write(tmp_path, "child.yaml", "profile: c\nversion: 1\nengine: sqlite\n"
                                          "extends: parents/nothere.yaml\n")
    err = profile_error(capsys, child)
    assert str(err) == (f"{child}:4: extends: parent profile not found: "
                        f"{tmp_path / 'parents' / 'nothere.yaml'}")


def test_error_inside_parent_names_parent_file_and_line(capsys: pytest.CaptureFixture[str],
                                                        tmp_path: Path) -> None:
    write(tmp_path, "base.yaml", HEAD + "pragmas:\n  journal_mode: wal\n"
                                        "  synchronous: sometimes\n")
    child = write(tmp_path, "child.yaml", "extends: base.yaml\nprofile: c\nversion: 2\n"
                                          "engine: sqlite\n")
    err = profile_error(capsys, child)
    assert str(err).startswith(f"{tmp_path / 'base.yaml'}:6: pragmas.synchronous: expected one")


def test_schema_error_in_parent_uses_the_parents_own_json_path(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """The child overrides the parent's first index, so the parent's broken second index
    moves to merged position 0; the message still says where it is in the parent file."""
    base = write(tmp_path, "base.yaml", HEAD + "indexes:\n  - name: x\n    table: t\n"
                                               "    columns: [a]\n  - name: y\n    table: t\n"
                                               "    columns: []\n")
    child = write(tmp_path, "child.yaml", "extends: base.yaml\nprofile: c\nversion: 2\n"
                                          "engine: sqlite\nindexes:\n  - name: X\n"
                                          "    table: t\n    columns: [b]\n")
    err = profile_error(capsys, child)
    assert str(err) == f"{base}:10: indexes[1].columns: [] should be non-empty"


def test_child_error_uses_the_childs_own_json_path(capsys: pytest.CaptureFixture[str],
                                                   tmp_path: Path) -> None:
    write(tmp_path, "base.yaml", HEAD + "indexes:\n  - name: x\n    table: t\n"
                                        "    columns: [a]\n")
    child = write(tmp_path, "child.yaml", "extends: base.yaml\nprofile: c\nversion: 2\n"
                                          "engine: sqlite\nindexes:\n  - name: y\n"
                                          "    table: t\n    columns: [b]\n  - name: z\n"
                                          "    table: t\n    columns:\n      - column: c\n"
                                          "        order: sideways\n")
    err = profile_error(capsys, child)
    assert str(err) == (f"{child}:13: indexes[1].columns[0].order: 'sideways' is not one of "
                        "['asc', 'desc']")


def test_semantic_error_in_parent_view(capsys: pytest.CaptureFixture[str],
                                       tmp_path: Path) -> None:
    base = write(tmp_path, "base.yaml", HEAD + "views:\n  - name: ok\n    sql: SELECT 1\n"
                                               "  - name: bad\n    sql: DELETE FROM t\n")
    child = write(tmp_path, "child.yaml", "extends: base.yaml\nprofile: c\nversion: 2\n"
                                          "engine: sqlite\nviews:\n  - name: OK\n"
                                          "    sql: SELECT 2\n")
    err = profile_error(capsys, child)
    assert str(err) == f"{base}:8: views[1].sql: must be a SELECT or WITH statement, not DELETE"


# -- the profile hash ----------------------------------------------------------------------------
def test_sha256_is_of_the_merged_profile(tmp_path: Path) -> None:
    write(tmp_path, "base.yaml", BASE)
    child = write(tmp_path, "child.yaml", "extends: base.yaml\nprofile: base\nversion: 1\n"
                                          "engine: sqlite\npragmas:\n  synchronous: normal\n")
    flat = write(tmp_path, "flat.yaml",
                 "# the same content, written out without extends, keys in another order\n"
                 + BASE.replace("  synchronous: full\n", "  synchronous: normal\n")
                 .replace("profile: base\nversion: 1\n", "version: 1\nprofile: base\n"))
    merged, written = load_profile(child), load_profile(flat)
    assert merged.data == written.data
    assert merged.sha256 == written.sha256

    again = write(tmp_path, "again.yaml", "# comments and layout do not count\n"
                  + flat.read_text(encoding="utf-8").replace("[a]", "\n      - a"))
    assert load_profile(again).sha256 == written.sha256

    changed = write(tmp_path, "changed.yaml", "extends: base.yaml\nprofile: base\nversion: 1\n"
                                              "engine: sqlite\npragmas:\n  synchronous: extra\n")
    assert load_profile(changed).sha256 != merged.sha256
    assert load_profile(tmp_path / "base.yaml").sha256 != merged.sha256
