"""Statement shapes: one captured SQL text reduced to the form every execution of it shares.

This module owns `normalize(sql, dialect) -> Shape`: literals and parameters of every style
(`?`, `?1`, `:name`, `@name`, `$name`, `$1`, `%s`, `%(name)s`) become one placeholder, an
IN-list or a multi-row VALUES of any length folds to one element, comments go, and keywords
are spelled one way, all with a real SQL parser (sqlglot). The Shape also says which tables
the statement reads and which it writes (the targets of INSERT, UPDATE, DELETE, MERGE and
upserts; CTE names are not tables). A text sqlglot cannot parse is never an error: its Shape
has kind "unparsed", a fallback text with literals masked by tuner's own tokenizer, and the
parser's message.

Normalizing parses, which costs about half a millisecond; applications repeat the same few
texts, so results are cached per raw text (an LRU of CACHE_SIZE entries) and the hot path is a
dictionary lookup. Texts longer than MAX_PARSE (a bulk INSERT with its values inlined) are not
parsed nor cached: they get the fallback, which folds their repeated rows too.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

from tuner.sqltext import NUMBER, PARAM, PUNCT, STRING, SQLSyntaxError, Token, tokenize

#: Distinct raw texts whose Shape is kept (an application with literals inlined makes many).
CACHE_SIZE = 2048
#: Longer texts are not parsed: a parse takes time in proportion, and the cache keeps the text.
MAX_PARSE = 10_000
#: tuner's engine names -> sqlglot dialects (sqlglot names are accepted as they are).
DIALECTS = {"sqlite": "sqlite", "postgresql": "postgres"}
#: Parameter spellings sqlglot's dialect does not read, by the prefix the tokenizer gives them;
#: they are rewritten to `?` before parsing (SQLite's `?NNN` and `$name`:
#: https://www.sqlite.org/lang_expr.html#parameters).
_FOREIGN_PARAMS = {"sqlite": ("?", "$")}
#: Longest fallback text kept for an unparsed statement.
MAX_TEXT = 2000

UNPARSED = "unparsed"


class _Quiet(logging.Filter):
    """Drops sqlglot's warnings while this thread normalizes: an application that captures
    must not get a line on stderr for each statement sqlglot reads only as a command."""

    local = threading.local()

    def filter(self, record: logging.LogRecord) -> bool:
        return not getattr(self.local, "on", False)


logging.getLogger("sqlglot").addFilter(_Quiet())

# Root expressions that are statements, and the kind each one gets (first match wins).
_KINDS: tuple[tuple[type, str], ...] = (
    (exp.Query, "select"), (exp.Insert, "insert"), (exp.Update, "update"),
    (exp.Delete, "delete"), (exp.Merge, "merge"),
    (exp.Create, "ddl"), (exp.Drop, "ddl"), (exp.Alter, "ddl"), (exp.TruncateTable, "ddl"),
    (exp.Grant, "ddl"), (exp.Transaction, "transaction"), (exp.Commit, "transaction"),
    (exp.Rollback, "transaction"), (exp.Pragma, "pragma"), (exp.Analyze, "other"),
    (exp.Set, "other"), (exp.Attach, "other"), (exp.Detach, "other"), (exp.Copy, "other"),
    (exp.Describe, "other"), (exp.Use, "other"), (exp.Command, "other"),
)
_VALUES = (exp.Literal, exp.Placeholder, exp.Parameter)


@dataclass(frozen=True)
class Shape:
    """The normalized form of a statement: `text` (placeholders for values), `fingerprint` (a
    stable hash of the text), the tables it `reads` and `writes` (sorted), its `kind` (select,
    insert, upsert, update, delete, merge, ddl, transaction, pragma, other or unparsed) and,
    when unparsed, the parser's `error`."""

    text: str
    fingerprint: str
    reads: tuple[str, ...] = ()
    writes: tuple[str, ...] = ()
    kind: str = "other"
    error: str | None = None

    @property
    def parsed(self) -> bool:
        return self.kind != UNPARSED


def fingerprint(text: str) -> str:
    """A stable hash of a normalized text: 16 hex digits of its SHA-1."""
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:16]


def normalize(sql: str, dialect: str = "sqlite") -> Shape:
    """The Shape of `sql` in `dialect` (an engine or sqlglot dialect name). Never raises for a
    text it cannot parse; cached per (sql, dialect) up to MAX_PARSE characters. Bytes are
    decoded; any other object (a driver's composed query) is taken as its str()."""
    if not isinstance(sql, str):
        sql = (bytes(sql).decode("utf-8", "replace") if isinstance(sql, (bytes, bytearray))
               else str(sql))
    if len(sql) > MAX_PARSE:
        return unparsed(sql, f"not parsed: longer than {MAX_PARSE:,} characters")
    return parsed_shape(sql, dialect)


@lru_cache(maxsize=CACHE_SIZE)
def parsed_shape(sql: str, dialect: str) -> Shape:
    """normalize() of a text short enough to parse, cached. Any failure of the parser (or of
    sqlglot's SQL generator) gives the fallback: capture must never break the application."""
    read = DIALECTS.get(dialect, dialect)
    _Quiet.local.on = True
    try:
        return _parse_shape(sql, read)
    except (SqlglotError, RecursionError, ValueError) as exc:
        return unparsed(sql, _first_line(exc))
    except Exception as exc:  # a sqlglot bug: count the statement, say so, go on
        return unparsed(sql, f"normalization failed: {type(exc).__name__}: {_first_line(exc)}")
    finally:
        _Quiet.local.on = False


def _parse_shape(sql: str, read: str) -> Shape:
    trees = [t for t in sqlglot.parse(_rewrite_params(sql, read), read=read) if t is not None]
    if not trees:
        return unparsed(sql, "no statement")
    shapes = []
    for tree in trees:
        tree = _reparse_replace(tree, read)
        kind = _kind(tree)
        if kind is None:
            return unparsed(sql, f"not a statement: {_first_line(tree.sql(dialect=read))}")
        shapes.append(_shape(tree, kind, read))
    if len(shapes) == 1:
        return shapes[0]
    text = "; ".join(s.text for s in shapes)
    return Shape(text, fingerprint(text), _union(s.reads for s in shapes),
                 _union(s.writes for s in shapes), shapes[0].kind)


def unparsed(sql: str, error: str) -> Shape:
    """The fallback Shape: tokens joined by single spaces, strings, numbers and parameters
    masked, runs of masked values in parentheses folded to one; whitespace-folded text when
    even tuner's tokenizer gives up (an unterminated quote)."""
    try:
        text = _masked(tokenize(sql))
    except SQLSyntaxError:
        text = " ".join(sql.split())
    text = text[:MAX_TEXT]
    return Shape(text, fingerprint(UNPARSED + "\0" + text), kind=UNPARSED, error=error)


# -- parsing helpers --------------------------------------------------------------------------
def _first_line(thing: object) -> str:
    lines = str(thing).strip().splitlines()
    return lines[0][:200] if lines else type(thing).__name__


def _rewrite_params(sql: str, dialect: str) -> str:
    """`sql` with the parameter spellings the dialect's parser does not read replaced by `?`."""
    prefixes = _FOREIGN_PARAMS.get(dialect)
    if not prefixes or not any(p in sql for p in prefixes):
        return sql
    try:
        tokens = tokenize(sql)
    except SQLSyntaxError:
        return sql                                  # sqlglot will say what is wrong
    parts, last = [], 0
    for tok in tokens:
        if tok.kind == PARAM and tok.text.startswith(prefixes) and tok.text != "?":
            parts += [sql[last:tok.start], "?"]
            last = tok.end
    return "".join(parts) + sql[last:] if parts else sql


def _reparse_replace(tree: Any, dialect: str) -> Any:
    """SQLite's `REPLACE INTO` (https://www.sqlite.org/lang_replace.html) is `INSERT OR
    REPLACE INTO`, which sqlglot reads as an INSERT; it reads the short form only as an opaque
    command."""
    if isinstance(tree, exp.Command) and str(tree.this).upper() == "REPLACE":
        try:
            return sqlglot.parse_one("INSERT OR " + tree.sql(dialect=dialect), read=dialect)
        except SqlglotError:
            return tree
    return tree


def _kind(tree: exp.Expression) -> str | None:
    for cls, kind in _KINDS:
        if isinstance(tree, cls):
            if kind == "insert" and (tree.args.get("conflict") or tree.args.get("alternative")):
                return "upsert"
            return kind
    return None                                     # e.g. garbage read as a column alias


def _shape(tree: exp.Expression, kind: str, dialect: str) -> Shape:
    if isinstance(tree, exp.Command):               # opaque to sqlglot: mask its tokens
        try:
            text = _masked(tokenize(tree.sql(dialect=dialect)))
        except SQLSyntaxError:
            text = tree.sql(dialect=dialect)
        return Shape(text, fingerprint(text), kind=kind)
    reads, writes = _tables(tree)
    tree = _placeheld(tree)
    text = tree.sql(dialect=dialect, comments=False)
    return Shape(text, fingerprint(text), reads, writes, kind)


def _placeheld(tree: exp.Expression) -> exp.Expression:
    """Every value a placeholder; `-?` a placeholder; IN-lists and VALUES rows folded."""
    tree = tree.transform(lambda n: exp.Placeholder() if isinstance(n, _VALUES) else n,
                          copy=False)
    for neg in list(tree.find_all(exp.Neg)):
        if isinstance(neg.this, exp.Placeholder):
            neg.replace(exp.Placeholder())
    for node in list(tree.find_all(exp.In, exp.Values)):
        items = node.expressions
        if len(items) > 1:
            seen: dict[str, exp.Expression] = {}
            for item in items:
                seen.setdefault(item.sql(), item)
            if len(seen) < len(items):
                node.set("expressions", list(seen.values()))
    return tree


def _name(table: exp.Table) -> str:
    return ".".join(p for p in (table.catalog, table.db, table.name) if p)


def _tables(tree: exp.Expression) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(reads, writes): the write target of INSERT/UPDATE/DELETE/MERGE; every other named
    table is read, except CTE names and the object a DDL statement creates or drops."""
    ctes = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
    target = tree.this if isinstance(tree, (exp.Insert, exp.Update, exp.Delete, exp.Merge,
                                            exp.Create, exp.Drop, exp.Alter)) else None
    if isinstance(target, exp.Schema):              # INSERT INTO t (a, b)
        target = target.this
    reads, writes = set(), set()
    if isinstance(target, exp.Table) and not isinstance(tree, (exp.Create, exp.Drop,
                                                                 exp.Alter)):
        writes.add(_name(target))
    for table in tree.find_all(exp.Table):
        if table is target or not isinstance(table.this, exp.Identifier):
            continue                                # a table-valued function: json_each(?)
        if not table.db and table.name.lower() in ctes:
            continue
        reads.add(_name(table))
    return tuple(sorted(reads)), tuple(sorted(writes))


def _union(groups: object) -> tuple[str, ...]:
    return tuple(sorted({name for group in groups for name in group}))  # type: ignore[attr-defined]


# -- the fallback ------------------------------------------------------------------------------
def _masked(tokens: list[Token]) -> str:
    words: list[str] = []
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        skip = _psycopg_param(tokens, i)
        if skip:
            words.append("?")
            i += skip
            continue
        words.append("?" if tok.kind in (STRING, NUMBER, PARAM) else tok.text)
        i += 1
    return " ".join(_fold_lists(words))


def _psycopg_param(tokens: list[Token], i: int) -> int:
    """How many tokens from `i` spell psycopg's `%s` or `%(name)s` (touching), else 0."""
    if not (tokens[i].kind == PUNCT and tokens[i].text == "%"):
        return 0
    for n, texts in ((2, ("s",)), (5, ("(", None, ")", "s"))):
        run = tokens[i:i + n]
        if len(run) < n:
            continue
        touching = all(a.end == b.start for a, b in zip(run, run[1:], strict=False))
        if touching and all(want is None or tok.text == want
                            for tok, want in zip(run[1:], texts, strict=True)):
            return n
    return 0


def _fold_lists(words: list[str]) -> list[str]:
    """`( ? , ? , ? )` -> `( ? )`, then `( ? ) , ( ? )` -> `( ? )`."""
    return _fold_rows(_fold_values(words))


def _fold_rows(words: list[str]) -> list[str]:
    """A parenthesized group repeated after commas, kept once."""
    out: list[str] = []
    i = 0
    while i < len(words):
        if words[i] != "(":
            out.append(words[i])
            i += 1
            continue
        depth, j = 0, i
        while j < len(words):
            depth += (words[j] == "(") - (words[j] == ")")
            if depth == 0:
                break
            j += 1
        group = words[i:j + 1]
        out += group
        i = j + 1
        while words[i:i + 1] == [","] and words[i + 1:i + 1 + len(group)] == group:
            i += 1 + len(group)
    return out


def _fold_values(words: list[str]) -> list[str]:
    out: list[str] = []
    i = 0
    while i < len(words):
        if words[i] == "(" and words[i + 1:i + 2] == ["?"]:
            j = i + 2
            while words[j:j + 2] == [",", "?"]:
                j += 2
            if words[j:j + 1] == [")"]:
                out += ["(", "?", ")"]
                i = j + 1
                continue
        out.append(words[i])
        i += 1
    return out

