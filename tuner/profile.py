"""Profiles: YAML (+ `extends`) -> JSON Schema -> semantic checks -> `Profile`.

This module owns reading profile files, merging parents into children, and every check that
can be made without a database. Errors name the file, the line and the JSON path, as in
`profiles/bot.yaml:14: indexes[2].columns: [] should be non-empty`. A profile is untrusted
input: tuner.yamlsafe reads each file within limits, and tuner.profile_limits checks what its
strings and numbers may hold.
"""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from tuner import profile_limits, yamlsafe
from tuner.engines.base import Engine
from tuner.engines.lookup import engine_named
from tuner.errors import ProfileError
from tuner.model import Index, IndexColumn, Path_, Profile, Query, View, key
from tuner.model import error_at as _error_at
from tuner.model import path_text as _fmt
from tuner.resources import data_dir
from tuner.sqltext import PUNCT, SQLSyntaxError, Token, source, statements

MERGED_LISTS = ("indexes", "views", "queries")
RESERVED_PREFIXES = ("sqlite_", "tuner_")
SETTINGS_KEYS = ("pragmas", "settings")

@lru_cache(maxsize=1)
def schema() -> dict[str, Any]:
    """The profile JSON Schema (schemas/profile.schema.json)."""
    with open(data_dir("schemas") / "profile.schema.json", encoding="utf-8") as fh:
        return json.load(fh)


def load_profile(path: str | Path) -> Profile:
    """Load the profile at `path`, merge its parents, validate it and return a Profile."""
    data, origins = _load_merged(Path(path), ())
    _check_schema(data, origins, str(path))
    limits_error = _limits_error(origins, str(path))
    profile_limits.check_values(data, limits_error)
    engine = engine_named(data["engine"])
    profile_limits.check_names(data, limits_error, engine.max_name_bytes)
    profile = _build(data, origins, str(path))
    return profile


def _limits_error(origins: dict, path: str) -> profile_limits.Fail:
    return lambda where, message: _error_at(origins, path, where, message)


# -- reading and merging ------------------------------------------------------------------


def _load_merged(path: Path, chain: tuple[Path, ...],
                 budget: yamlsafe.Budget | None = None) -> tuple[dict, dict]:
    resolved = path.resolve()
    if resolved in chain:
        cycle = " -> ".join(str(p) for p in (*chain, resolved))
        raise ProfileError(str(path), f"extends: cycle: {cycle}")
    budget = budget or yamlsafe.Budget()
    data, lines = _read_yaml(path, budget)
    origins = {p: (str(path), line, p) for p, line in lines.items()}
    parent_ref = data.get("extends")
    if parent_ref is None:
        return data, origins
    if not isinstance(parent_ref, str) or not parent_ref:
        raise _error_at(origins, str(path), ("extends",), "must be a file path")
    parent_path = path.parent / parent_ref
    if not parent_path.is_file():
        raise _error_at(origins, str(path), ("extends",),
                        f"parent profile not found: {parent_path}")
    if len(chain) + 1 >= yamlsafe.MAX_EXTENDS:
        raise _error_at(origins, str(path), ("extends",), "the chain of parent profiles is "
                        f"longer than {yamlsafe.MAX_EXTENDS} files, tuner's limit (MAX_EXTENDS)")
    parent, parent_origins = _load_merged(parent_path, (*chain, resolved), budget)
    child = {k: v for k, v in data.items() if k != "extends"}
    return _merge(parent, parent_origins, child, origins, ())


def _read_yaml(path: Path, budget: yamlsafe.Budget | None = None
               ) -> tuple[dict, dict[Path_, int]]:
    text = yamlsafe.read_text(path)
    try:
        root = yamlsafe.compose(text, str(path), budget)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ProfileError(str(path), f"invalid YAML: {problem}",
                           line=mark.line + 1 if mark else None) from None
    if root is None:
        raise ProfileError(str(path), "the file is empty")
    lines: dict[Path_, int] = {}
    _walk(root, (), lines, str(path))
    data = yamlsafe.construct(root, str(path))
    if not isinstance(data, dict):
        raise ProfileError(str(path), "a profile must be a YAML mapping", line=1)
    return data, lines


def _walk(node: yaml.Node, where: Path_, lines: dict[Path_, int], path: str) -> None:
    """Record the line of every node, and refuse duplicate keys (PyYAML keeps the last)."""
    lines[where] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        seen: set[Any] = set()
        for key_node, value_node in node.value:
            name = key_node.value
            if name in seen:
                raise ProfileError(path, "duplicate key", line=key_node.start_mark.line + 1,
                                   where=_fmt(where + (name,)))
            seen.add(name)
            _walk(value_node, where + (name,), lines, path)
            lines[where + (name,)] = key_node.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _walk(item, where + (i,), lines, path)


def _merge(parent: Any, p_orig: dict, child: Any, c_orig: dict, where: Path_) -> tuple[Any, dict]:
    """Child mappings override parent keys; named lists merge by `name`, the child winning.
    `p_orig` and `c_orig` may hold more than the subtree at `where`; each origin is visited a
    bounded number of times (grouped once per level), so merging stays linear in the size."""
    n = len(where)
    if isinstance(parent, dict) and isinstance(child, dict):
        p_groups, p_own = _group(p_orig, where)
        c_groups, _ = _group(c_orig, where)
        merged = dict(parent)
        origins = dict(p_own)
        for k in parent:
            if k not in child:
                origins.update(p_groups.get(k, {}))
        for k, v in child.items():
            if k in parent and (isinstance(v, dict) and isinstance(parent[k], dict)
                                or (k in MERGED_LISTS and not where)):
                merged[k], sub_origins = _merge(parent[k], p_groups.get(k, {}), v,
                                                c_groups.get(k, {}), where + (k,))
            else:
                merged[k] = v
                sub_origins = c_groups.get(k, {})
            origins.update(sub_origins)
        return merged, origins
    if isinstance(parent, list) and isinstance(child, list):
        return _merge_named(parent, p_orig, child, c_orig, where)
    return child, {p: o for p, o in c_orig.items() if p[:n] == where}


def _group(origins: dict, where: Path_) -> tuple[dict[Any, dict], dict]:
    """The origins below `where`, grouped by the next path element, and `where`'s own."""
    n = len(where)
    groups: dict[Any, dict] = {}
    own = {}
    for p, o in origins.items():
        if p[:n] != where:
            continue
        if len(p) == n:
            own[p] = o
        else:
            groups.setdefault(p[n], {})[p] = o
    return groups, own


def _merge_named(parent: list, p_orig: dict, child: list, c_orig: dict,
                 where: Path_) -> tuple[list, dict]:
    def name_of(item: Any) -> Any:  # case-insensitive, like the duplicate check and SQLite
        name = item.get("name") if isinstance(item, dict) else None
        return key(name) if isinstance(name, str) else name

    child_names = {name_of(c) for c in child if name_of(c) is not None}
    p_groups, _ = _group(p_orig, where)
    c_groups, _ = _group(c_orig, where)
    merged: list = []
    sources: list[dict] = []
    for i, item in enumerate(parent):
        if name_of(item) not in child_names:
            merged.append(item)
            sources.append(p_groups.get(i, {}))
    for i, item in enumerate(child):
        merged.append(item)
        sources.append(c_groups.get(i, {}))
    origins: dict = {where: c_orig.get(where, p_orig.get(where, ("", 0, where)))}
    n = len(where) + 1
    for new_i, group in enumerate(sources):
        origins.update({where + (new_i,) + p[n:]: o for p, o in group.items()})
    return merged, origins


# -- validation ---------------------------------------------------------------------------


def _check_schema(data: dict, origins: dict, path: str) -> None:
    validator = jsonschema.Draft202012Validator(schema())
    errors = sorted(validator.iter_errors(data), key=lambda e: _line_key(origins, e))
    if not errors:
        return
    best = jsonschema.exceptions.best_match(errors)
    found: list[tuple[Path_, str]] = []
    for err in [best] + [e for e in errors if e is not best]:
        problem = _schema_problem(_fitting_branch(jsonschema.exceptions.best_match([err])))
        # One problem a field: `inf` is both "not an integer" and "above the maximum".
        if problem[0] not in {where for where, _ in found}:
            found.append(problem)
    where, message = found[0]
    more = len(found) - 1
    if more:  # one line for every command; `tuner validate` lists them all
        message += f" (and {more} more problem{'s' if more > 1 else ''})"
    error = _error_at(origins, path, where, message)
    error.problems = sorted((_error_at(origins, path, w, m) for w, m in found),
                            key=lambda p: (p.path, p.line or 0))
    raise error


def _schema_problem(err: jsonschema.ValidationError) -> tuple[Path_, str]:
    """Where one schema error is, and what it says (an unknown key named as such)."""
    where = tuple(err.absolute_path)
    if err.validator == "additionalProperties" and isinstance(err.instance, dict):
        allowed = set(err.schema.get("properties", {}))
        extra = sorted(k for k in err.instance if k not in allowed)
        if extra:
            return where + (extra[0],), f"unknown key (allowed: {', '.join(sorted(allowed))})"
    return where, err.message


def _fitting_branch(err: jsonschema.ValidationError) -> jsonschema.ValidationError:
    """Inside a oneOf, the error of the one branch whose shape fits the value: best_match
    stops at "is not valid under any of the given schemas" when two branches fail alike, which
    hides the real problem (`order: up`) and its line."""
    while err.context:
        branches: dict[Any, list] = {}
        for sub in err.context:
            branches.setdefault(sub.relative_schema_path[0], []).append(sub)
        fits = [subs for subs in branches.values() if not any(
            e.validator in ("type", "required") and not e.relative_path for e in subs)]
        if len(fits) != 1:
            break
        err = jsonschema.exceptions.best_match(fits[0])
    return err


def _line_key(origins: dict, err: jsonschema.ValidationError) -> tuple:
    probe = tuple(err.absolute_path)
    while probe and probe not in origins:
        probe = probe[:-1]
    file, line, _ = origins.get(probe, ("", 0, ()))
    return (file, line or 0)


def _build(data: dict, origins: dict, path: str) -> Profile:
    def fail(where: Path_, message: str) -> ProfileError:
        return _error_at(origins, path, where, message)

    engine_name = data["engine"]
    engine = engine_named(engine_name)
    settings_key = engine.settings_key
    for wrong_key in SETTINGS_KEYS:
        if wrong_key != settings_key and wrong_key in data:
            raise fail((wrong_key,), f"not used by engine {engine_name}; use {settings_key}:")
    settings: dict[str, Any] = {}
    for name, value in (data.get(settings_key) or {}).items():
        try:
            settings[name] = engine.normalize_setting(name, value)
        except ValueError as exc:
            raise fail((settings_key, name), str(exc)) from None

    names: dict[str, Path_] = {}
    indexes = []
    for i, spec in enumerate(data.get("indexes") or []):
        _check_name(spec["name"], ("indexes", i, "name"), names, fail)
        for feature in ("include", "method"):
            if feature in spec and feature not in engine.index_features:
                raise fail(("indexes", i, feature), f"not supported by engine {engine_name}")
        indexes.append(_index(spec, ("indexes", i), fail))
    views = []
    for i, spec in enumerate(data.get("views") or []):
        _check_name(spec["name"], ("views", i, "name"), names, fail)
        select = _check_select(spec["sql"], ("views", i, "sql"), fail)
        columns = tuple(spec["columns"]) if spec.get("columns") else None
        views.append(View(name=spec["name"], sql=select, columns=columns))
    query_names: dict[str, Path_] = {}
    queries = []
    for i, spec in enumerate(data.get("queries") or []):
        _check_name(spec["name"], ("queries", i, "name"), query_names, fail, reserved=False)
        _check_select(spec["sql"], ("queries", i, "sql"), fail, f"query {spec['name']}")
        params = dict(spec.get("params") or {})
        _check_params(spec["sql"], params, ("queries", i), fail, engine)
        queries.append(Query(spec["name"], spec["sql"].strip(), params, spec.get("description")))

    maintenance = data.get("maintenance") or {}
    if maintenance.get("vacuum", "auto") not in engine.vacuum_modes:
        raise fail(("maintenance", "vacuum"), f"{maintenance['vacuum']!r} is not supported by "
                   f"engine {engine_name} (use {', '.join(engine.vacuum_modes)})")
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    return Profile(
        name=data["profile"],
        version=data["version"],
        engine=engine_name,
        path=path,
        sha256=hashlib.sha256(canonical.encode()).hexdigest(),
        settings=settings,
        indexes=tuple(indexes),
        views=tuple(views),
        prune=bool(data.get("prune", False)),
        analyze=bool(maintenance.get("analyze", True)),
        vacuum=maintenance.get("vacuum", "auto"),
        runtime=dict(data.get("runtime") or {}),
        queries=tuple(queries),
        data=data,
        origins=origins,
    )


def _check_name(name: str, where: Path_, seen: dict, fail: Any, reserved: bool = True) -> None:
    if reserved and name.lower().startswith(RESERVED_PREFIXES):
        raise fail(where, f"{name!r}: the prefixes {', '.join(RESERVED_PREFIXES)} are reserved")
    if key(name) in seen:
        raise fail(where, f"{name!r} is declared twice (first at {_fmt(seen[key(name)])})")
    seen[key(name)] = where


def _index(spec: dict, where: Path_, fail: Any) -> Index:
    columns = []
    for j, col in enumerate(spec["columns"]):
        if isinstance(col, str):
            columns.append(IndexColumn(column=col))
            continue
        expr = col.get("expr")
        if expr is not None:
            expr = _check_fragment(expr, where + ("columns", j, "expr"), fail)
        columns.append(IndexColumn(column=col.get("column"), expr=expr,
                                   order=col.get("order", "asc"), collate=col.get("collate")))
    cond = spec.get("where")
    if cond is not None:
        cond = _check_fragment(cond, where + ("where",), fail)
    method = spec.get("method")
    return Index(name=spec["name"], table=spec["table"], columns=tuple(columns),
                 unique=bool(spec.get("unique", False)), where=cond,
                 include=tuple(spec.get("include") or ()),
                 method=None if method in (None, "btree") else method)


def _check_fragment(text: str, where: Path_, fail: Any) -> str:
    """An expression or WHERE clause: it must tokenize and must not end the statement.
    Returns it trimmed to its first and last token (see `_check_select`)."""
    try:
        parts = statements(text)
    except SQLSyntaxError as exc:
        raise fail(where, str(exc)) from None
    if len(parts) != 1:
        raise fail(where, "must be a single SQL expression (no ';')")
    return source(text, parts[0])


def _check_select(sql: str, where: Path_, fail: Any, what: str = "") -> str:
    """One SELECT statement, returned trimmed to its first and last token: a leading comment,
    a trailing `;` and a trailing `-- comment` go, since the plan writes text after it (a `-- `
    comment at the end would swallow the `;` or `)` that follows). A WITH whose main statement
    writes (`WITH x AS (...) DELETE ...`) is refused; `what` names the query in the message."""
    try:
        parts = statements(sql)
    except SQLSyntaxError as exc:
        raise fail(where, str(exc)) from None
    if len(parts) != 1:
        raise fail(where, f"must be exactly one statement, found {len(parts)}")
    if not parts[0][0].is_word("select", "with"):
        raise fail(where, f"must be a SELECT or WITH statement, not {parts[0][0].text.upper()}")
    writes = _with_main_verb(parts[0])
    if writes:
        raise fail(where, f"{what + ': ' if what else ''}must only read, but this WITH "
                          f"statement's main statement is {writes}")
    return source(sql, parts[0])


def _with_main_verb(tokens: list[Token]) -> str | None:
    """For `WITH ... <main>`, the main statement's verb if it writes (INSERT, UPDATE, DELETE,
    REPLACE): the first such keyword outside the parentheses of the common table
    expressions (https://www.sqlite.org/lang_with.html)."""
    if not tokens[0].is_word("with"):
        return None
    depth = 0
    for tok in tokens[1:]:
        if tok.kind == PUNCT and tok.text == "(":
            depth += 1
        elif tok.kind == PUNCT and tok.text == ")":
            depth -= 1
        elif depth == 0 and tok.is_word("select", "values"):
            return None
        elif depth == 0 and tok.is_word("insert", "update", "delete", "replace"):
            return tok.text.upper()
    return None


def _check_params(sql: str, params: dict, where: Path_, fail: Any,
                  engine: Engine) -> None:
    used, positional = engine.query_parameters(sql)
    if positional:
        raise fail(where + ("sql",), "use named parameters (:name), not '?'")
    missing = sorted(set(used) - set(params))
    if missing:
        raise fail(where + ("params",), f"no value for parameter :{missing[0]}")
