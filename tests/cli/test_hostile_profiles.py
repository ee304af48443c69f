"""Hostile profiles (issue 14): profiles come from pull requests, so each class of malformed
profile must end in one `error:` line on stderr naming the file and the field, exit code 1,
no traceback, fast, and with the database's bytes unchanged.

The classes: YAML that exhausts the loader (an alias bomb, 10,000-deep nesting, a huge file,
a long extends chain), control characters in names and text, and numbers that do not fit
where they are stored or sent (every numeric field of the schema, found by walking it, so a
new numeric field without a bound fails here). The resource cases run the real console script
in a subprocess with a timeout, so a hang fails the test instead of the suite.
"""

from __future__ import annotations

import json
import math
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from helpers import run, sha

from tuner import yamlsafe
from tuner.engines.postgres.settings import catalog
from tuner.engines.sqlite.settings import PRAGMAS
from tuner.errors import ProfileError
from tuner.profile import load_profile, schema

TUNER = Path(sys.executable).parent / "tuner"
#: Far above what the limits allow (each case answers in well under a second); a hang fails.
TIMEOUT = 10
HEAD = "profile: hostile\nversion: 1\nengine: sqlite\n"


def tuner(*args: object) -> subprocess.CompletedProcess[str]:
    """The console script, in a subprocess that may not take longer than TIMEOUT."""
    return subprocess.run([str(TUNER), *map(str, args)], capture_output=True, text=True,
                          timeout=TIMEOUT, check=False)


def assert_one_line(code: int, err: str, *fragments: str) -> None:
    """Exit 1 and exactly one line on stderr, `error: ...`, holding every fragment."""
    assert code == 1, err
    assert "Traceback" not in err and "internal error" not in err, err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])


def assert_names_character(err: str, char: str) -> None:
    """The message shows the bad character: by code point (tuner's checks) or escaped in the
    value (the schema's pattern for the profile name)."""
    assert f"U+{ord(char):04X}" in err or repr(char)[1:-1] in err, err


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """A real SQLite database with one table the profiles may index."""
    path = tmp_path / "app.db"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE t (a INTEGER, b TEXT)")
    con.executemany("INSERT INTO t VALUES (?, ?)", [(i, str(i)) for i in range(100)])
    con.commit()
    con.close()
    return path


def assert_refused_everywhere(profile: Path, db: Path, *fragments: str) -> None:
    """validate, plan and apply --yes all refuse `profile` in one line, and apply leaves the
    database's bytes as they were and takes no backup."""
    before = sha(db)
    for args in (("validate", profile), ("plan", profile, "--db", db),
                 ("apply", profile, "--db", db, "--yes")):
        proc = tuner(*args)
        assert_one_line(proc.returncode, proc.stderr, profile.name, *fragments)
    assert sha(db) == before
    assert not (db.parent / ".tuner-backups").exists()


# -- 1. resource exhaustion while loading YAML ------------------------------------------------


def alias_bomb(levels: int = 9, width: int = 9) -> str:
    """A "billion laughs" document: `width ** levels` nodes from a few hundred bytes."""
    lines = [HEAD.rstrip("\n"), "description: &a0 [" + ", ".join(["lol"] * width) + "]"]
    for i in range(1, levels + 1):
        lines.append(f"x{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * width) + "]")
    return "\n".join(lines) + "\n"


def test_an_alias_bomb_is_refused_at_once(tmp_path: Path, db: Path) -> None:
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(alias_bomb())
    assert bomb.stat().st_size < 1000
    assert_refused_everywhere(bomb, db, "through aliases", f"{yamlsafe.MAX_NODES:,}",
                              "MAX_NODES")


@pytest.mark.parametrize("opening, closing", [("[", "]"), ("{a: ", "}")],
                         ids=["sequences", "mappings"])
def test_10000_deep_nesting_is_refused(tmp_path: Path, db: Path, opening: str,
                                       closing: str) -> None:
    deep = tmp_path / "deep.yaml"
    deep.write_text(HEAD + "description: " + opening * 10_000 + "1" + closing * 10_000 + "\n")
    assert_refused_everywhere(deep, db, "deep.yaml:4:", f"deeper than {yamlsafe.MAX_DEPTH}",
                              "MAX_DEPTH")


def test_a_file_larger_than_the_limit_is_refused_before_parsing(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    big.write_text(HEAD + "description: '" + "a" * yamlsafe.MAX_DOCUMENT_BYTES + "'\n")
    proc = tuner("validate", big)
    assert_one_line(proc.returncode, proc.stderr, "big.yaml", "MAX_DOCUMENT_BYTES")


def test_many_plain_nodes_are_refused_too(tmp_path: Path) -> None:
    flat = tmp_path / "flat.yaml"
    flat.write_text(HEAD + "description: [" + ", ".join(["1"] * yamlsafe.MAX_NODES) + "]\n")
    assert flat.stat().st_size < yamlsafe.MAX_DOCUMENT_BYTES
    proc = tuner("validate", flat)
    assert_one_line(proc.returncode, proc.stderr, "flat.yaml:4:", "MAX_NODES")
    assert "aliases" not in proc.stderr


def test_the_node_budget_spans_the_extends_chain(tmp_path: Path) -> None:
    half = ", ".join(["1"] * (yamlsafe.MAX_NODES // 2 + 10))
    (tmp_path / "base.yaml").write_text(HEAD + f"description: [{half}]\n")
    child = tmp_path / "child.yaml"
    child.write_text(HEAD + f"extends: base.yaml\ndescription: [{half}]\n")
    proc = tuner("validate", child)
    assert_one_line(proc.returncode, proc.stderr, "with the profiles it extends", "MAX_NODES")


def test_a_long_extends_chain_is_refused(tmp_path: Path) -> None:
    n = yamlsafe.MAX_EXTENDS + 5
    for i in range(n):
        parent = f"extends: p{i + 1}.yaml\n" if i + 1 < n else ""
        (tmp_path / f"p{i}.yaml").write_text(HEAD + parent)
    proc = tuner("validate", tmp_path / "p0.yaml")
    assert_one_line(proc.returncode, proc.stderr, "extends", "MAX_EXTENDS")


@pytest.mark.parametrize("body, fragments", [
    ("description: &a [1, *a]\n", ("hostile.yaml:4:", "recursive alias")),
    ("description: " + "7" * 5000 + "\n", ("hostile.yaml:4:", "longer than 100 characters")),
    ("? [a, b]\n: 1\n", ("hostile.yaml:4:", "mapping key must be a plain string")),
    ("pragmas: {1: 2}\n", ("hostile.yaml:4:", "'1' is not a string")),
    ("pragmas: {2024-01-01: 2}\n", ("hostile.yaml:4:", "(YAML reads it as timestamp)")),
    ('"a\\nb": 1\n"a\\nb": 2\n', ("hostile.yaml:4:", "control character (U+000A)")),
], ids=["recursive-alias", "5000-digit-int", "complex-key", "int-key", "date-key",
        "newline-key"])
def test_yaml_a_profile_cannot_hold_is_one_line(tmp_path: Path, body: str,
                                                fragments: tuple[str, ...]) -> None:
    path = tmp_path / "hostile.yaml"
    path.write_text(HEAD + body)
    proc = tuner("validate", path)
    assert_one_line(proc.returncode, proc.stderr, *fragments)


def test_a_device_that_never_ends_is_read_no_further_than_the_limit() -> None:
    proc = tuner("validate", "/dev/zero")
    assert_one_line(proc.returncode, proc.stderr, "/dev/zero", "MAX_DOCUMENT_BYTES")


# -- 2. control characters in names and text --------------------------------------------------

BAD_CHARACTERS = {"nul": "\0", "escape": "\x1b", "newline": "\n", "c1-nel": "\x85",
                  "right-to-left-override": "\u202e", "lone-surrogate": "\ud800"}


def profile_with(engine: str = "sqlite", **overrides: Any) -> dict[str, Any]:
    """A valid profile with one index, one view and one query to put bad values in."""
    data: dict[str, Any] = {
        "profile": "hostile", "version": 1, "engine": engine,
        "indexes": [{"name": "t_a", "table": "t", "columns": ["a", {"column": "b",
                                                                    "collate": "nocase"}],
                     "where": "a > 0", "comment": "why"}],
        "views": [{"name": "v", "sql": "SELECT a FROM t", "columns": ["x"]}],
        "queries": [{"name": "q", "sql": "SELECT a FROM t WHERE a = :p", "params": {"p": 1}}],
    }
    data.update(overrides)
    return data


def put(data: Any, where: tuple, value: Any) -> None:
    """Set the value at JSON path `where` inside `data`."""
    for part in where[:-1]:
        data = data[part]
    data[where[-1]] = value


def fmt(where: tuple) -> str:
    """A JSON path as tuner prints it: `indexes[0].columns[1].collate`."""
    out = ""
    for part in where:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def write_profile(path: Path, data: dict[str, Any]) -> Path:
    """Write `data` as YAML (JSON is YAML; every control character is escaped)."""
    path.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    return path


NAME_FIELDS = [("profile",), ("indexes", 0, "name"), ("indexes", 0, "table"),
               ("indexes", 0, "columns", 0), ("indexes", 0, "columns", 1, "column"),
               ("indexes", 0, "columns", 1, "collate"), ("views", 0, "name"),
               ("views", 0, "columns", 0), ("queries", 0, "name")]
TEXT_FIELDS = [("indexes", 0, "where"), ("indexes", 0, "comment"), ("views", 0, "sql"),
               ("queries", 0, "sql"), ("description",)]


@pytest.mark.parametrize("where", NAME_FIELDS + TEXT_FIELDS, ids=fmt)
def test_a_nul_byte_is_refused_in_every_name_and_text_through_the_cli(
        tmp_path: Path, where: tuple) -> None:
    data = profile_with(description="d")
    put(data, where, "x\0y")
    path = write_profile(tmp_path / "nul.yaml", data)
    proc = tuner("validate", path)
    assert_one_line(proc.returncode, proc.stderr, "nul.yaml:", f" {fmt(where)}: ")
    assert_names_character(proc.stderr, "\0")


@pytest.mark.parametrize("char", BAD_CHARACTERS.values(), ids=BAD_CHARACTERS.keys())
@pytest.mark.parametrize("where", NAME_FIELDS, ids=fmt)
def test_control_and_format_characters_are_refused_in_names(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, where: tuple, char: str) -> None:
    data = profile_with()
    put(data, where, "x" + char + "y")
    path = write_profile(tmp_path / "names.yaml", data)
    r = run(capsys, "validate", path)
    assert_one_line(r.code, r.err, "names.yaml:", f" {fmt(where)}: ")
    assert_names_character(r.err, char)


def test_a_profile_name_may_not_end_in_a_line_break(capsys: pytest.CaptureFixture[str],
                                                    tmp_path: Path) -> None:
    # The schema's pattern ends in `$`, which Python's re (jsonschema's) lets match before a
    # final line break.
    path = write_profile(tmp_path / "nl.yaml", profile_with(profile="hostile\n"))
    r = run(capsys, "validate", path)
    assert_one_line(r.code, r.err, "nl.yaml:", " profile: ", "U+000A")


@pytest.mark.parametrize("char", ["\0", "\x1b", "\x85", "\ud800"],
                         ids=["nul", "escape", "c1-nel", "lone-surrogate"])
@pytest.mark.parametrize("where", TEXT_FIELDS, ids=fmt)
def test_control_characters_are_refused_in_text_but_line_breaks_stay(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, where: tuple, char: str) -> None:
    data = profile_with(description="d")
    put(data, where, "SELECT\n\t1" if where[-1] == "sql" else "a\n\tb")
    assert run(capsys, "validate", write_profile(tmp_path / "ok.yaml", data)).code == 0
    put(data, where, "SELECT 1 -- " + char if where[-1] == "sql" else "a" + char)
    r = run(capsys, "validate", write_profile(tmp_path / "text.yaml", data))
    assert_one_line(r.code, r.err, "text.yaml:", f" {fmt(where)}: ")
    assert_names_character(r.err, char)


def test_a_nul_in_an_index_name_changes_nothing_through_plan_and_apply(
        tmp_path: Path, db: Path) -> None:
    data = profile_with()
    put(data, ("indexes", 0, "name"), "t_a\0; DROP TABLE t")
    path = write_profile(tmp_path / "nul.yaml", data)
    assert_refused_everywhere(path, db, "indexes[0].name", "NUL character")


def test_postgresql_names_longer_than_63_bytes_are_refused(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    ok = profile_with("postgresql")
    put(ok, ("indexes", 0, "name"), "é" * 31 + "x")    # 63 bytes
    assert run(capsys, "validate", write_profile(tmp_path / "ok.yaml", ok)).code == 0
    for where in [*NAME_FIELDS[1:-1], ("indexes", 0, "include", 0)]:
        data = profile_with("postgresql")
        data["indexes"][0]["include"] = ["b"]
        put(data, where, "é" * 32)                     # 32 characters, 64 bytes
        r = run(capsys, "validate", write_profile(tmp_path / "long.yaml", data))
        assert_one_line(r.code, r.err, "long.yaml:", f" {fmt(where)}: ", "64 bytes",
                        "truncate it to 63 bytes")
    qualified = profile_with("postgresql")
    put(qualified, ("indexes", 0, "table"), "s" * 63 + "." + "t" * 63)
    assert run(capsys, "validate", write_profile(tmp_path / "q.yaml", qualified)).code == 0
    sqlite_ok = profile_with()
    put(sqlite_ok, ("indexes", 0, "name"), "é" * 32)    # SQLite keeps long names
    assert run(capsys, "validate", write_profile(tmp_path / "s.yaml", sqlite_ok)).code == 0


# -- 3. numbers that do not fit where they go -------------------------------------------------

#: For a schema slot reached through additionalProperties (`*`), the key to test it with;
#: a new free-form numeric mapping needs an entry here (and a bound in the schema).
WILDCARD_KEYS = {("pragmas", "*"): "cache_size", ("settings", "*"): "random_page_cost",
                 ("queries", 0, "params", "*"): "p"}


def numeric_slots(node: dict[str, Any], where: tuple = ()) -> list[tuple[tuple, dict]]:
    """Every place in the profile schema that takes a number: (path, subschema); `*` stands
    for any key of a free-form mapping, 0 for any list item."""
    defs = schema()["$defs"]
    if "$ref" in node:
        node = {**defs[node["$ref"].rsplit("/", 1)[-1]], **{k: v for k, v in node.items()
                                                            if k != "$ref"}}
    types = node.get("type", [])
    types = [types] if isinstance(types, str) else types
    found = [(where, node)] if {"integer", "number"} & set(types) else []
    for name, sub in node.get("properties", {}).items():
        found += numeric_slots(sub, where + (name,))
    if isinstance(node.get("additionalProperties"), dict):
        found += numeric_slots(node["additionalProperties"], where + ("*",))
    if isinstance(node.get("items"), dict):
        found += numeric_slots(node["items"], where + (0,))
    for combinator in ("oneOf", "anyOf", "allOf"):
        for sub in node.get(combinator, []):
            found += numeric_slots(sub, where)
    return found


SLOTS = numeric_slots(schema())


def test_the_schema_walk_finds_the_numeric_fields_and_each_has_both_bounds() -> None:
    paths = {where for where, _ in SLOTS}
    assert {("version",), ("runtime", "pool", "size"), ("runtime", "batch", "queue_size"),
            ("pragmas", "*"), ("settings", "*"), ("queries", 0, "params", "*")} <= paths
    for where, node in SLOTS:
        assert "maximum" in node, f"{fmt(where)} has no maximum in the schema"
        assert "minimum" in node or "exclusiveMinimum" in node, f"{fmt(where)}: no minimum"


def out_of_range(node: dict[str, Any]) -> list[Any]:
    """Values just outside a slot's bounds, far outside them, and not finite (a slot without
    bounds gets only the last: the test above names it)."""
    values: list[Any] = [10**30, -(10**30), math.nan, math.inf, -math.inf]
    if "maximum" in node:
        values.append(node["maximum"] + 1)
    if "minimum" in node or "exclusiveMinimum" in node:
        values.append(node.get("exclusiveMinimum", node.get("minimum", 0) - 1))
    return values


def concrete(where: tuple) -> tuple[str, tuple]:
    """The engine and the concrete path that test a schema slot."""
    out: tuple = ()
    for i, part in enumerate(where):
        if part == "*":
            assert where[:i + 1] in WILDCARD_KEYS, f"no test key for {fmt(where[:i + 1])}"
            part = WILDCARD_KEYS[where[:i + 1]]
        out += (part,)
    return ("postgresql" if where[0] == "settings" else "sqlite"), out


CASES = [(concrete(where), value) for where, node in SLOTS for value in out_of_range(node)]


@pytest.mark.parametrize("slot, value", CASES,
                         ids=[f"{fmt(w)}={v!r}" for (_, w), v in CASES])
def test_every_numeric_field_refuses_values_out_of_range(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, slot: tuple[str, tuple],
        value: Any) -> None:
    engine, where = slot
    data = profile_with(engine, runtime={"pool": {"size": 2, "timeout": 1},
                                         "batch": {"size": 10, "flush_interval": 1,
                                                   "queue_size": 100}})
    if where[0] in ("pragmas", "settings"):
        data[where[0]] = {}
    put(data, where, value)
    path = tmp_path / "numbers.yaml"
    path.write_text(yaml.safe_dump(data))       # writes .nan, .inf and long integers as YAML
    r = run(capsys, "validate", path)
    assert_one_line(r.code, r.err, "numbers.yaml:", f" {fmt(where)}: ")


def test_a_huge_version_is_refused_by_validate_plan_and_apply(tmp_path: Path,
                                                             db: Path) -> None:
    data = profile_with(version=10**30)
    path = write_profile(tmp_path / "version.yaml", data)
    assert_refused_everywhere(path, db, "version.yaml:", " version: ", "maximum of 2147483647")


INT_PRAGMAS = sorted(n for n, p in PRAGMAS.items() if p.kind == "int")


@pytest.mark.parametrize("name", INT_PRAGMAS)
def test_every_integer_pragma_is_bounded_where_sqlite_reads_it(tmp_path: Path,
                                                               name: str) -> None:
    pragma = PRAGMAS[name]
    assert pragma.minimum is not None and pragma.maximum is not None
    for value in (pragma.maximum + 1, pragma.minimum - 1, str(pragma.maximum + 1), "²",
                  "--5", "1" * 5000):
        path = write_profile(tmp_path / "p.yaml", {"profile": "p", "version": 1,
                                                   "engine": "sqlite",
                                                   "pragmas": {name: value}})
        with pytest.raises(ProfileError, match=rf"p\.yaml:\d+: pragmas\.{name}: "):
            load_profile(path)


def test_the_pragma_bounds_read_back_unchanged_from_sqlite(tmp_path: Path) -> None:
    # SQLite silently reads an out-of-range value as 0 or clamps it: at the bounds tuner
    # accepts, every value reads back as set. Heap limits are process-wide: a subprocess,
    # and the hard limit last (a soft limit of 0, "none", reads back as the hard limit).
    names = sorted(set(INT_PRAGMAS) - {"page_size"}, key=lambda n: n == "hard_heap_limit")
    pairs = [(n, v) for n in names for v in (PRAGMAS[n].minimum, PRAGMAS[n].maximum)]
    assert pairs
    script = ("import json, sqlite3, sys\ncon = sqlite3.connect(sys.argv[1])\nbad = []\n"
              "for name, value in json.loads(sys.argv[2]):\n"
              "    con.execute(f'PRAGMA {name} = {value}')\n"
              "    got = con.execute(f'PRAGMA {name}').fetchone()[0]\n"
              "    if got != value: bad.append((name, value, got))\nprint(json.dumps(bad))\n")
    proc = subprocess.run([sys.executable, "-c", script, str(tmp_path / "x.db"),
                           json.dumps(pairs)], capture_output=True, text=True, timeout=60,
                          check=True)
    assert json.loads(proc.stdout) == []


NUMERIC_GUCS = sorted(n for n, g in catalog().items()
                      if g.vartype in ("integer", "real") and g.apply_by is not None)


def test_every_numeric_postgresql_setting_refuses_values_beyond_the_catalog() -> None:
    assert len(NUMERIC_GUCS) > 100
    for name in NUMERIC_GUCS:
        guc = catalog()[name]
        assert guc.min_val is not None and guc.max_val is not None, name
        above, below = guc.max_val + abs(guc.max_val) + 1, guc.min_val - abs(guc.min_val) - 1
        beyond = [v for v in (above, below) if math.isfinite(v)]   # not past DBL_MAX
        for value in [*beyond, math.nan, math.inf, -math.inf, "1e400", "-1e400"]:
            with pytest.raises(ValueError):
                guc.normalize(value)


# -- nothing fails after the backup -----------------------------------------------------------


def test_a_plan_header_the_history_table_cannot_hold_fails_before_the_backup(
        tmp_path: Path, db: Path) -> None:
    profile = write_profile(tmp_path / "ok.yaml", profile_with())
    plan = tmp_path / "plan.sql"
    assert tuner("plan", profile, "--db", db, "--out", plan).returncode == 0
    text = plan.read_text()
    assert '"version": 1,' in text
    plan.write_text(text.replace('"version": 1,', f'"version": {10**30},', 1))
    before = sha(db)
    proc = tuner("apply", "--plan", plan, "--db", db, "--yes")
    assert proc.returncode == 1, proc.stderr
    last = proc.stderr.splitlines()[-1]
    assert "internal error" not in proc.stderr and "Traceback" not in proc.stderr
    assert last.startswith("error: ") and "profile_version" in last, proc.stderr
    assert "nothing was changed" in last and "Backup" not in proc.stderr
    assert sha(db) == before
    assert not (tmp_path / ".tuner-backups").exists()
