"""Reading a live PostgreSQL database into a `State`, read-only.

Settings: the value new sessions of this database get, per GUC, from `pg_db_role_setting`
(ALTER DATABASE SET), the configuration files (`pg_file_settings`, where ALTER SYSTEM writes)
and the built-in default, with the running value beside it (`pg_settings`) so that a written
but not yet effective value is "pending restart", not drift. Indexes: `pg_index`, valid or not,
with the constraint that owns them; their signature is the server's own deparsed structure.
Views: `pg_get_viewdef` and their dependencies from `pg_depend`. Names are schema-qualified,
written without the schema when it is `public`.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from functools import cache
from typing import Any

from tuner.engines.postgres_conn import driver
from tuner.engines.postgres_settings import Guc, guc_from_row
from tuner.model import Index, IndexColumn, Setting, State, Table, View, key
from tuner.resources import data_dir

DEFAULT_SCHEMA = "public"
#: pg_settings.source values that come from a session, not from what new sessions get.
SESSION_SOURCES = ("client", "session", "user", "database", "database user", "interactive",
                   "test")
#: pg_file_settings.error of a line that needs a restart before it can take effect.
PENDING_ERROR = "setting could not be applied"
#: indoption bits (src/include/catalog/pg_index.h).
INDOPTION_DESC, INDOPTION_NULLS_FIRST = 1, 2
#: Index origins: constraint-owned (PRIMARY KEY, UNIQUE, EXCLUDE) and partitions' attached
#: indexes ("part") belong to the engine and are never dropped.
ORIGINS = {"p": "pk", "u": "u", "x": "u"}


@cache
def inspection_sql(name: str) -> str:
    """The text of sql/postgresql/inspect/<name>.sql."""
    return (data_dir("sql") / "postgresql" / "inspect" / f"{name}.sql").read_text(
        encoding="utf-8")


def display_name(schema: str, name: str) -> str:
    """`name` in the default schema, else `schema.name`: how profiles and plans write it."""
    return name if schema in (DEFAULT_SCHEMA, "") else f"{schema}.{name}"


def split_name(name: str) -> tuple[str, str]:
    """(schema, name) of a profile's name; `public` when it has no schema."""
    schema, dot, rest = name.partition(".")
    return (schema, rest) if dot else (DEFAULT_SCHEMA, name)


def rows(conn: Any, name: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """The rows of one inspection query as dicts."""
    cur = conn.execute(inspection_sql(name), params or None)
    names = [d.name for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


# -- settings -------------------------------------------------------------------------------
def read_settings(conn: Any) -> tuple[dict[str, Setting], dict[str, Guc], list[str]]:
    """Every settable GUC as a Setting holding the value new sessions of this database get
    (`value`), its `source` and the value the server runs now (`running`), the server's GUC
    catalog, and warnings (role-level overrides that shadow a database setting)."""
    server = rows(conn, "settings")
    for r in server:
        r["name"] = r["name"].lower()
    gucs = {r["name"]: guc_from_row(r) for r in server}
    files: dict[str, dict[str, Any]] = {}
    warnings: list[str] = []
    try:
        file_rows = rows(conn, "file_settings")
    except driver().errors.InsufficientPrivilege:
        file_rows = []
        warnings.append("cannot read pg_file_settings (it needs superuser or the "
                        "pg_read_all_settings role): settings written with ALTER SYSTEM but "
                        "waiting for a reload or restart cannot be told from drift")
    for r in file_rows:
        # A postmaster setting written but waiting for a restart reads "setting could not be
        # applied": it is still the configured value. Other errors (a bad value) are not.
        if r["error"] in (None, PENDING_ERROR):
            files[r["name"].lower()] = r  # the last line for a name wins
    database: dict[str, str] = {}
    shadows: list[tuple[str, str, str]] = []
    for r in rows(conn, "db_settings"):
        name, _, value = r["item"].partition("=")
        name = name.lower()
        if r["role"] == "" and r["in_database"]:
            database[name] = value
        elif r["role"]:
            shadows.append((r["role"], name, value))
    settings: dict[str, Setting] = {}
    for r in server:
        guc = gucs[r["name"]]
        if guc.apply_by is None:
            continue
        running = guc.from_server(r["setting"])
        if r["name"] in database:
            value, source = guc.from_server(database[r["name"]]), "database"
        elif r["name"] in files:
            f = files[r["name"]]
            value = guc.from_server(f["setting"])
            source = "postgresql.auto.conf" if f["sourcefile"].endswith(
                "postgresql.auto.conf") else "configuration file"
        elif r["source"] in SESSION_SOURCES or r["pending_restart"]:
            value, source = guc.from_server(r["boot_val"]), "default"
        else:
            value, source = running, r["source"]
        # Server-wide settings take effect at a reload (sighup) or a restart (postmaster): until
        # then the file's value is the configured one and `running` the one in use.
        pending = (guc.apply_by in ("system", "restart") and value != running
                   and (r["pending_restart"] or source != "default"))
        settings[r["name"]] = Setting(r["name"], value, source=source,
                                      running=running if pending else None,
                                      explicit=source in ("database", "postgresql.auto.conf"),
                                      server_wide=source != "database")
    warnings += [f"setting {name}: role {role} overrides it with {value} (ALTER ROLE ... SET), "
                f"so that role's sessions do not get the database setting"
                for role, name, value in shadows if name in database or name in settings
                and settings[name].explicit]
    return settings, gucs, warnings


# -- tables and indexes ---------------------------------------------------------------------
def read_tables(conn: Any) -> tuple[dict[str, Table], set[str], frozenset[str]]:
    """Tables by key, the keys of partitioned ones, and the keys of analyzed ones."""
    tables, partitioned, analyzed = {}, set(), set()
    for r in rows(conn, "tables"):
        name = display_name(r["schema"], r["name"])
        tables[key(name)] = Table(name=name, columns=tuple(r["columns"]),
                                  sql="\n".join(f"{c} {t}" for c, t in zip(
                                      r["columns"], r["types"], strict=True)),
                                  rows=int(r["reltuples"]) if r["reltuples"] >= 0 else None)
        if r["relkind"] == "p":
            partitioned.add(key(name))
        if r["reltuples"] >= 0:
            analyzed.add(key(name))
    return tables, partitioned, frozenset(analyzed)


def index_from_row(r: dict[str, Any], table_name: str | None = None) -> Index:
    """An Index from an indexes.sql row. Its signature is the server's structure: method,
    key columns or deparsed expressions with opclass, collation, DESC and NULLS FIRST, the
    INCLUDE columns, the deparsed predicate, uniqueness and validity."""
    table = table_name or display_name(r["table_schema"], r["table_name"])
    keys, columns = [], []
    for k in range(r["nkeys"]):
        is_column = r["key_columns"][k] != ""
        text = r["key_columns"][k] or r["key_texts"][k]   # a column's name, unquoted
        option = r["options"][k]
        desc = bool(option & INDOPTION_DESC)
        nulls_first = bool(option & INDOPTION_NULLS_FIRST)
        keys.append(("column" if is_column else "expr", key(text) if is_column else text,
                     r["opclasses"][k], r["collations"][k], desc, nulls_first))
        collate = r["collations"][k] if r["collations"][k] not in ("", "default") else None
        columns.append(IndexColumn(column=text if is_column else None,
                                   expr=None if is_column else text,
                                   order="desc" if desc else "asc", collate=collate))
    include = tuple(r["key_columns"][r["nkeys"]:r["natts"]])
    signature = ("pg", key(table), tuple(keys), r["predicate"],
                 tuple(key(c) for c in include), r["method"], bool(r["is_unique"]))
    return Index(name=display_name(r["schema"], r["name"]), table=table,
                 columns=tuple(columns), unique=bool(r["is_unique"]), where=r["predicate"],
                 origin="part" if r["is_partition"] else ORIGINS.get(r["constraint_type"] or "",
                                                                      "c"),
                 sql=r["definition"],
                 signature=signature, include=include,
                 method=None if r["method"] == "btree" else r["method"],
                 valid=bool(r["is_valid"]))


def read_indexes(conn: Any) -> dict[str, Index]:
    """Every index on the inspected tables, by key, invalid ones included."""
    return {key(ix.name): ix for ix in map(index_from_row, rows(conn, "indexes",
                                                                  {"schema": None}))}


# -- views ----------------------------------------------------------------------------------
def view_from_row(r: dict[str, Any], name: str | None = None) -> View:
    """A View from a views.sql row: the deparsed definition and (name, type) columns are its
    signature; `depends_on` holds the keys of the relations it reads."""
    definition = r["definition"].strip().rstrip(";").strip()
    columns = tuple(zip(r["columns"], r["types"], strict=True))
    privileges = tuple((grantee, privilege, bool(grantable))
                       for grantee, privilege, grantable in r.get("privileges") or ())
    return View(name=name or display_name(r["schema"], r["name"]), sql=definition,
                columns=None, signature=(definition, columns),
                depends_on=frozenset(key(d) for d in r["depends_on"]),
                owner=r.get("owner"), comment=r.get("comment"), privileges=privileges)


def read_views(conn: Any, temp: bool = False) -> dict[str, View]:
    """The views of the database (or of this session's temp schema), by key."""
    views = (view_from_row(r, r["name"] if temp else None)
             for r in rows(conn, "views", {"temp": temp}))
    return {key(v.name): v for v in views}


def read_blocking_dependents(conn: Any) -> dict[str, list[str]]:
    """Per view key, the materialized views that read it (a view tuner may not drop)."""
    out: dict[str, list[str]] = {}
    for r in rows(conn, "blocking_dependents"):
        out.setdefault(key(display_name(r["schema"], r["name"])), []).append(
            display_name(r["dependent_schema"], r["dependent"]))
    return out


def read_state(conn: Any) -> tuple[State, set[str], dict[str, Guc]]:
    """The whole State, the keys of partitioned tables and the server's GUC catalog."""
    settings, gucs, warnings = read_settings(conn)
    tables, partitioned, analyzed = read_tables(conn)
    indexes = read_indexes(conn)
    views = read_views(conn)
    for ix in indexes.values():
        if not ix.valid:
            warnings.append(f"index {ix.name} on {ix.table} is INVALID (indisvalid = false, "
                            "left by a failed CREATE INDEX CONCURRENTLY): queries never use "
                            "it, but every write still maintains it")
    objects = {f"table:{k}": _digest(t.sql) for k, t in tables.items()}
    objects |= {f"index:{k}": _digest(f"{i.sql} valid={i.valid}") for k, i in indexes.items()}
    objects |= {f"view:{k}": _digest(v.sql) for k, v in views.items()}
    state = State(engine="postgresql", settings=settings, indexes=indexes, views=views,
                  tables=tables, analyzed=analyzed, objects=objects,
                  warnings=tuple(warnings))
    return state, partitioned, gucs


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def with_name(view: View, name: str) -> View:
    """`view` renamed (a temp copy read back under the profile's name)."""
    return replace(view, name=name)
