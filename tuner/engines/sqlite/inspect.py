"""Reading a live SQLite database into a `State`, read-only and in O(schema) time.

Indexes are compared by structure: `pragma_index_list`/`pragma_index_xinfo` give key columns,
DESC, collation, uniqueness and partialness; expression text and the WHERE clause come from
the CREATE text, compared as normalized tokens. Row estimates come from `sqlite_stat1`, or
`max(rowid)` (a B-tree descent, never a COUNT(*) scan).
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import quote

from tuner.engines.sqlite.settings import PRAGMAS, persistent_journal_mode
from tuner.errors import DatabaseError
from tuner.model import PERSISTENT, Index, IndexColumn, Setting, State, Table, Trigger, View, key
from tuner.render import render
from tuner.resources import data_dir
from tuner.sqltext import (
    PUNCT,
    Token,
    matching_paren,
    normalized,
    source,
    split_top_level,
    tokenize,
)

#: tuner's own bookkeeping tables: never inspected, planned or pruned.
OWN_TABLES = ("tuner_history",)
#: The files SQLite keeps beside a database (https://www.sqlite.org/tempfiles.html).
COMPANIONS = ("-wal", "-shm", "-journal")
PERSISTENT_PRAGMAS = ("journal_mode", "page_size", "auto_vacuum", "user_version",
                      "application_id")


@cache
def inspection_sql(name: str) -> str:
    """The text of sql/sqlite/inspect/<name>.sql."""
    return (data_dir("sql") / "sqlite" / "inspect" / f"{name}.sql").read_text(encoding="utf-8")


def open_readonly(path: str, timeout: float = 5.0) -> sqlite3.Connection:
    """Open an existing database file read-only; never creates one."""
    p = Path(path)
    if not p.exists():
        raise DatabaseError(path, "no such database file")
    if not p.is_file():
        raise DatabaseError(path, "not a regular file")
    uri = "file:" + quote(str(p.resolve())) + "?mode=ro"
    try:
        conn = sqlite3.connect(uri, uri=True, timeout=timeout)
    except sqlite3.Error as exc:
        raise DatabaseError(path, f"cannot open: {exc}") from None
    try:
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.Error as exc:
        conn.close()
        if hot_journal(path) and "readonly" in str(exc):
            raise DatabaseError(path, f"{path}-journal is a hot journal left by an interrupted "
                                "write (a killed apply?); a read-only command cannot roll it "
                                "back: `tuner apply` does, first thing") from None
        raise database_error(path, exc) from None
    return conn


def hot_journal(path: str) -> bool:
    """True when a non-empty rollback journal lies beside the database: a write that did not
    finish, which SQLite rolls back on the next read-write open, and which a read-only
    connection cannot read past (https://www.sqlite.org/fileformat.html#the_rollback_journal)."""
    journal = Path(path + "-journal")
    return journal.is_file() and journal.stat().st_size > 0


def roll_back_hot_journal(path: str, timeout: float) -> bool:
    """Let SQLite roll back a hot journal by reading the database read-write; True if there
    was one. Nothing else is written."""
    if not hot_journal(path):
        return False
    open_readwrite(path, timeout).close()  # its first read rolls the journal back
    return not hot_journal(path)


def open_readwrite(path: str, timeout: float = 5.0) -> sqlite3.Connection:
    """Open an existing database for apply, in autocommit mode (transactions are explicit).
    Never creates a file; a read-only file or folder is a clear error before any change."""
    p = Path(path)
    if not p.exists():
        raise DatabaseError(path, "no such database file")
    if not p.is_file():
        raise DatabaseError(path, "not a regular file")
    if not os.access(p, os.W_OK):
        raise DatabaseError(path, "the database file is read-only; applying needs write access")
    if not os.access(p.parent, os.W_OK | os.X_OK):
        raise DatabaseError(path, "its folder is not writable; SQLite needs it for the journal")
    uri = "file:" + quote(str(p.resolve())) + "?mode=rw"
    try:
        conn = sqlite3.connect(uri, uri=True, timeout=timeout, isolation_level=None)
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.Error as exc:
        raise database_error(path, exc) from None
    return conn


def database_error(path: str, exc: sqlite3.Error) -> DatabaseError:
    """Turn an sqlite3 error into a one-line DatabaseError that says what to do."""
    text = str(exc)
    if "not a database" in text:
        return DatabaseError(path, "not an SQLite database (file is not a database)")
    if "locked" in text or "busy" in text:
        return DatabaseError(path, "database is locked by another connection; retry when "
                                   "it is released")
    return DatabaseError(path, text)


@dataclass(frozen=True)
class ParsedIndex:
    """What only the CREATE INDEX text tells: each key item's tokens and the WHERE clause."""

    items: tuple[tuple[Token, ...], ...]
    explicit_collate: tuple[str | None, ...]
    where: str | None
    where_tokens: tuple[Token, ...]


def parse_index_sql(sql: str) -> ParsedIndex:
    """Split `CREATE INDEX ... ON t (items) [WHERE ...]` into its items and WHERE clause."""
    toks = tokenize(sql)
    on = next(i for i, t in enumerate(toks) if t.is_word("on"))
    open_at = next(i for i in range(on, len(toks)) if toks[i].kind == PUNCT
                   and toks[i].text == "(")
    close_at = matching_paren(toks, open_at)
    items, collates = [], []
    for item in split_top_level(toks[open_at + 1:close_at]):
        body, collate = _strip_item_suffix(item)
        items.append(tuple(body))
        collates.append(collate)
    rest = toks[close_at + 1:]
    where_toks = tuple(rest[1:]) if rest and rest[0].is_word("where") else ()
    where = source(sql, list(where_toks)) if where_toks else None
    return ParsedIndex(tuple(items), tuple(collates), where, where_toks)


def _strip_item_suffix(item: list[Token]) -> tuple[list[Token], str | None]:
    """Drop a trailing ASC/DESC and COLLATE name from an indexed item."""
    body = list(item)
    if body and body[-1].is_word("asc", "desc"):
        body.pop()
    collate = None
    if len(body) >= 2 and body[-2].is_word("collate"):
        collate = body[-1].value
        body = body[:-2]
    return body, collate


def read_index(conn: sqlite3.Connection, name: str, table: str, unique: bool, origin: str,
               sql: str | None) -> Index:
    """Read one index's structure and build its canonical signature."""
    parsed = parse_index_sql(sql) if sql else None
    columns: list[IndexColumn] = []
    sig_keys: list[tuple[Any, ...]] = []
    for seqno, cid, col, desc, coll in conn.execute(inspection_sql("index_keys"), (name,)):
        order = "desc" if desc else "asc"
        explicit = parsed.explicit_collate[seqno] if parsed else None
        if cid == -2:
            assert parsed is not None and sql is not None, "expression keys are in CREATE INDEX"
            item = list(parsed.items[seqno])
            expr = source(sql, item) if item else ""
            columns.append(IndexColumn(expr=expr, order=order, collate=explicit))
            sig_keys.append(("expr", normalized(item), bool(desc), (coll or "").lower()))
        else:
            column = "rowid" if cid == -1 else col
            columns.append(IndexColumn(column=column, order=order, collate=explicit))
            sig_keys.append(("column", key(column), bool(desc), (coll or "").lower()))
    where = parsed.where if parsed else None
    where_sig = normalized(list(parsed.where_tokens)) if parsed and parsed.where else None
    signature = (key(table), bool(unique), tuple(sig_keys), where_sig)
    return Index(name=name, table=table, columns=tuple(columns), unique=bool(unique),
                 where=where, origin=origin, sql=sql, signature=signature)


def parse_view_sql(sql: str) -> tuple[str, tuple[str, ...] | None]:
    """Split `CREATE VIEW name [(cols)] AS select` into the SELECT text and the column list."""
    toks = tokenize(sql)
    at = next(i for i, t in enumerate(toks) if t.is_word("view")) + 1
    if toks[at].is_word("if"):
        at += 3                                     # IF NOT EXISTS
    at += 1                                         # the name
    if at < len(toks) and toks[at].kind == PUNCT and toks[at].text == ".":
        at += 2                                     # schema.name
    columns = None
    if toks[at].kind == PUNCT and toks[at].text == "(":
        close = matching_paren(toks, at)
        columns = tuple(part[0].unquoted for part in split_top_level(toks[at + 1:close]))
        at = close + 1
    body = toks[at + 1:]                            # after AS
    return source(sql, body), columns


def view_signature(select_sql: str, columns: tuple[str, ...] | None) -> tuple:
    """Canonical structure of a view: its normalized SELECT and its column names."""
    return (normalized(tokenize(select_sql)),
            tuple(key(c) for c in columns) if columns else None)


def read_state(conn: sqlite3.Connection) -> State:
    """Inspect everything a plan depends on through an open connection."""
    objects = conn.execute(inspection_sql("objects")).fetchall()
    own = {key(t) for t in OWN_TABLES}
    fingerprint: dict[str, str] = {}
    tables: dict[str, Table] = {}
    views: dict[str, View] = {}
    triggers: dict[str, Trigger] = {}
    index_sql: dict[str, str] = {}
    for otype, name, tbl_name, sql in objects:
        if key(tbl_name) in own:
            continue
        fingerprint[f"{otype}:{name}"] = hashlib.sha256((sql or "").encode()).hexdigest()
        if otype == "table":
            tables[key(name)] = _read_table(conn, name, sql)
        elif otype == "view":
            select, columns = parse_view_sql(sql)
            views[key(name)] = View(name=name, sql=select, columns=columns,
                                    signature=view_signature(select, columns))
        elif otype == "trigger":
            triggers[key(name)] = Trigger(name=name, table=tbl_name, sql=sql)
        elif otype == "index" and sql:
            index_sql[key(name)] = sql
    indexes: dict[str, Index] = {}
    for table in tables.values():
        if table.virtual:
            continue
        for name, unique, origin, _partial in conn.execute(inspection_sql("index_list"),
                                                           (table.name,)):
            indexes[key(name)] = read_index(conn, name, table.name, bool(unique), origin,
                                            index_sql.get(key(name)))
    stats, analyzed, tables = _read_stats(conn, tables)
    names = set(tables) | set(views)
    views = {k: with_dependencies(v, names) for k, v in views.items()}
    settings = _read_settings(conn)
    for s in settings.values():
        fingerprint[f"pragma:{s.name}"] = str(s.value)
    return State(engine="sqlite", settings=settings, indexes=indexes, views=views,
                 tables=tables, triggers=triggers, stats=stats, analyzed=analyzed,
                 objects=fingerprint)


def with_dependencies(view: View, names: set[str]) -> View:
    deps = frozenset(t.value for t in tokenize(view.sql) if t.is_name and t.value in names)
    return View(view.name, view.sql, view.columns, view.signature, deps - {key(view.name)})


def _read_table(conn: sqlite3.Connection, name: str, sql: str) -> Table:
    toks = tokenize(sql)
    virtual = len(toks) > 1 and toks[1].is_word("virtual")
    without_rowid = not virtual and _without_rowid(toks)
    columns, alias = [], None
    if not virtual:
        cols = conn.execute(inspection_sql("table_columns"), (name,)).fetchall()
        columns = [c[0] for c in cols]
        pks = [c for c in cols if c[2]]
        if len(pks) == 1 and (pks[0][1] or "").upper() == "INTEGER" and not without_rowid:
            alias = pks[0][0]
    return Table(name=name, columns=tuple(columns), sql=sql, without_rowid=without_rowid,
                 virtual=virtual, rowid_alias=alias)


def _without_rowid(toks: list[Token]) -> bool:
    """True if the table options after the column list say WITHOUT ROWID, in any position
    (`WITHOUT ROWID, STRICT` is as valid as `STRICT, WITHOUT ROWID`)."""
    open_at = next((i for i, t in enumerate(toks) if t.kind == PUNCT and t.text == "("), None)
    if open_at is None:
        return False
    options = toks[matching_paren(toks, open_at) + 1:]
    return any(a.is_word("without") and b.is_word("rowid")
               for a, b in zip(options, options[1:], strict=False))


def _read_stats(conn: sqlite3.Connection, tables: dict[str, Table]
                ) -> tuple[dict[str, tuple[int, ...]], frozenset[str], dict[str, Table]]:
    stats: dict[str, tuple[int, ...]] = {}
    nrows: dict[str, int] = {}
    has_stat1 = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'sqlite_stat1'"
    ).fetchone()
    if has_stat1:
        for tbl, idx, stat in conn.execute(inspection_sql("stat1")):
            numbers = tuple(int(x) for x in (stat or "").split() if x.isdigit())
            if not numbers:
                continue
            nrows[key(tbl)] = numbers[0]
            if idx:
                stats[key(idx)] = numbers
    result = {}
    for k, table in tables.items():
        rows = nrows.get(k)
        if rows is None and not table.virtual and not table.without_rowid:
            found = conn.execute(render("sqlite", "inspect/max_rowid",
                                        table=table.name)).fetchone()[0]
            rows = int(found or 0)
        result[k] = Table(table.name, table.columns, table.sql, table.without_rowid,
                          table.virtual, rows, table.rowid_alias)
    return stats, frozenset(nrows), result


def _read_settings(conn: sqlite3.Connection) -> dict[str, Setting]:
    settings = {}
    for name in PERSISTENT_PRAGMAS:
        raw = conn.execute(render("sqlite", "read_pragma", name=name)).fetchone()[0]
        value = PRAGMAS[name].normalize(raw)
        if name == "journal_mode":
            value = persistent_journal_mode(value)
        settings[name] = Setting(name, value, PERSISTENT)
    return settings
