"""The structure of a declared query, read with a real SQL parser (sqlglot), and the candidate
indexes it suggests: which columns each table is filtered on (equality, IN, join, range), sorted
or grouped by, and which it reads. No regular expressions over SQL.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import sqlglot
from sqlglot import exp

from tuner.model import State, Table, key
from tuner.render import render

#: At most this many extra columns are appended to make a candidate covering.
MAX_COVERING = 2
#: Advised index names are cut to this length (the `_x` suffixes that keep them unique fit).
NAME_MAX = 100

# -- query structure ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Where:
    """A partial index's condition on one column, with constants: `column = value`, or
    `column IN (...)` when `value` is a tuple of two or more values."""

    column: str
    value: Any

    @property
    def values(self) -> tuple[Any, ...]:
        """The constants the column is compared with (one for `=`)."""
        return self.value if isinstance(self.value, tuple) else (self.value,)

    @property
    def sql(self) -> str:
        return render("sqlite", "advise/where", where=self)


@dataclass
class TableUse:
    """How one query reads one table (column names as the table spells them)."""

    table: str
    # (column, IN size, the literal or, for an IN list of literals, their tuple)
    eq: list[tuple[str, int, Any]] = field(default_factory=list)
    joins: list[str] = field(default_factory=list)
    ranges: list[tuple[str, int]] = field(default_factory=list)    # (column, bounds)
    order: list[str] | None = None
    group: list[str] | None = None
    used: set[str] = field(default_factory=set)
    star: bool = False
    params: dict[str, str] = field(default_factory=dict)            # column -> `:name`

    def values(self, params: dict[str, Any]) -> dict[str, Any]:
        """The value each equality column is compared with (column keys): a literal, or the
        declared query's value of its `:name` parameter; columns without one are left out."""
        out = {key(c): v for c, n, v in self.eq if n == 1 and v is not _NO_LITERAL}
        out.update({key(c): params[p] for c, p in self.params.items() if p in params})
        return out


@dataclass
class Shape:
    """A parsed query: how it reads each table, its LIMIT and its name -> table map.
    `limit`: the LIMIT's value when it is known (a literal, or the declared value of its
    `:name` parameter); `limited`: the query has a LIMIT, known or not."""

    uses: dict[str, TableUse]
    names: dict[str, str]
    limit: int | None = None
    limited: bool = False
    derived: set[str] = field(default_factory=set)    # CTE and subquery names, not tables
    cores: list[Shape] = field(default_factory=list)  # one per SELECT, when there are several
    note: str | None = None                           # why the query was not analysed

    def parts(self) -> list[Shape]:
        """The SELECT cores to derive candidates from."""
        return self.cores or [self]


_NO_LITERAL = object()


def _is_value(node: exp.Expression) -> bool:
    return not isinstance(node, exp.Column) and node.find(exp.Column) is None \
        and node.find(exp.Select) is None


def constant(node: exp.Expression) -> Any:
    """A literal's Python value (str, int or float); a marker for anything else."""
    if isinstance(node, exp.Literal):
        if node.is_string:
            return node.this
        try:
            return int(node.this)
        except ValueError:
            return float(node.this)
    return _NO_LITERAL


def _arg(node: exp.Expression, name: str) -> Any:
    """An argument under its name in this sqlglot version (`from` became `from_`)."""
    return node.args.get(name + "_", node.args.get(name))


_SETS = getattr(exp, "SetOperation", exp.Union)


def aliases(sql: str, tables: Mapping[str, Table], dialect: str = "sqlite") -> dict[str, str]:
    """Map each name a query uses for a live table (`participants p`, `events AS e`, the
    table's own name) to the table, so that a plan's `SCAN p` can be sized; {} for SQL the
    parser cannot read."""
    try:
        tree = sqlglot.parse_one(sql, read=dialect)
    except sqlglot.errors.ParseError:
        return {}
    out = {}
    for node in tree.find_all(exp.Table):
        live = tables.get(key(f"{node.db}.{node.name}" if node.db else node.name))
        if live is None:
            continue
        out[key(node.name)] = live.name
        out[key(node.alias_or_name)] = live.name
    return out


def parse_query(sql: str, state: State, dialect: str = "sqlite",
                params: Mapping[str, Any] | None = None) -> Shape:
    """The structure of a declared SELECT: per table, its equality, join and range columns,
    ORDER BY / GROUP BY columns and the columns it reads. A query with subqueries, common
    table expressions or UNION has one part per SELECT core (`Shape.cores`), each read in its
    own scope; a column of an outer query compared with one of the core's own is a value, as
    a parameter is. What cannot be read gives no tables and a `note`. `dialect` is sqlglot's
    name for the engine's SQL (`sqlite`, `postgres`); `params`: the query's `:name` values
    (a LIMIT given as a parameter takes its value from them)."""
    try:
        tree = sqlglot.parse_one(sql, read=dialect)
    except sqlglot.errors.ParseError:
        return Shape({}, {}, note="not analysed: the SQL parser (sqlglot) cannot read it")
    if not isinstance(tree, (exp.Select, _SETS)):
        return Shape({}, {}, note="not analysed: not a SELECT")
    derived = {key(c.alias_or_name) for c in tree.find_all(exp.CTE)}
    derived |= {key(q.alias) for q in tree.find_all(exp.Subquery) if q.alias}
    cores = [_core(sel, state, derived, params or {}) for sel in tree.find_all(exp.Select)]
    if len(cores) == 1:
        cores[0].derived = derived
        return cores[0]
    merged = Shape({}, {}, derived=derived, cores=cores)
    for core in cores:
        for k, name in core.names.items():
            merged.names.setdefault(k, name)
        for k, use in core.uses.items():
            merged.uses.setdefault(k, use)
    if not merged.uses:
        merged.note = "not analysed: no table of the database in any of its SELECTs"
    return merged


def _core(sel: exp.Select, state: State, derived: set[str], params: Mapping[str, Any]
          ) -> Shape:
    """One SELECT core, in its own scope: the tables of its FROM and JOINs, its predicates,
    the columns it reads, its ORDER BY / GROUP BY and LIMIT."""
    names: dict[str, str] = {}
    uses: dict[str, TableUse] = {}
    sources = [_arg(sel, "from")] + list(sel.args.get("joins") or [])
    for source in sources:
        table = source.this if source is not None else None
        if not isinstance(table, exp.Table) or key(table.name) in derived:
            continue
        live = state.tables.get(key(table.name))
        if live is None or live.virtual:
            continue
        names[key(table.alias_or_name)] = key(table.name)
        names.setdefault(key(table.name), key(table.name))
        uses.setdefault(key(table.name), TableUse(live.name))

    def own(node: exp.Expression) -> bool:
        return node.find_ancestor(exp.Select) is sel

    def resolve(col: exp.Column) -> tuple[str, str] | None:
        if col.table:
            owner = names.get(key(col.table))
            owners = [owner] if owner else []
        else:
            owners = [t for t in uses
                      if key(col.name) in {key(c) for c in state.tables[t].columns}]
        if len(owners) != 1:
            return None
        spelled = {key(c): c for c in state.tables[owners[0]].columns}
        return (owners[0], spelled[key(col.name)]) if key(col.name) in spelled else None

    def outer(col: exp.Expression) -> bool:
        """A column of an enclosing query: a value for this core, like a parameter."""
        return isinstance(col, exp.Column) and bool(col.table) \
            and key(col.table) not in names

    predicates: list[Any] = []
    for node in [sel.args.get("where")] + [j.args.get("on") for j in sel.args.get("joins") or []]:
        if node is None:
            continue
        cond = node.this if isinstance(node, exp.Where) else node
        predicates += list(cond.flatten()) if isinstance(cond, exp.And) else [cond]
    for pred in predicates:
        _add_predicate(pred, resolve, uses, outer)
    for col in sel.find_all(exp.Column):
        found = resolve(col) if own(col) else None
        if found:
            uses[found[0]].used.add(found[1])
    if any(isinstance(e, exp.Star) or (isinstance(e, exp.Column) and isinstance(e.this, exp.Star))
           for e in sel.expressions):
        for use in uses.values():
            use.star = True
    for arg in ("order", "group"):
        node = sel.args.get(arg)
        if node is None:
            continue
        cols = []
        for item in node.expressions:
            item = item.this if isinstance(item, exp.Ordered) else item
            found = resolve(item) if isinstance(item, exp.Column) else None
            cols.append(found)
        owners = {c[0] for c in cols if c}
        if cols and all(cols) and len(owners) == 1:
            setattr(uses[owners.pop()], arg, [c[1] for c in cols if c])
    limit, limited = None, sel.args.get("limit") is not None
    if limited:
        node = sel.args["limit"].expression
        value = params.get(node.name, _NO_LITERAL) if isinstance(node, exp.Placeholder) \
            else constant(node)
        limit = value if isinstance(value, int) and not isinstance(value, bool) else None
    return Shape(uses, names, limit, limited)


def _add_predicate(pred: exp.Expression, resolve: Any, uses: dict[str, TableUse],
                   outer: Any) -> None:
    if isinstance(pred, exp.Paren):
        pred = pred.this
    if isinstance(pred, (exp.EQ, exp.Is)):
        left, right = pred.this, pred.expression
        if isinstance(left, exp.Column) and isinstance(right, exp.Column):
            a, b = resolve(left), resolve(right)
            if a and b and a[0] != b[0]:
                uses[a[0]].joins.append(a[1])
                uses[b[0]].joins.append(b[1])
            elif (a or b) and (outer(right) if a else outer(left)):
                found = a or b
                uses[found[0]].eq.append((found[1], 1, _NO_LITERAL))
            return
        if not isinstance(left, exp.Column):
            left, right = right, left
        found = resolve(left) if isinstance(left, exp.Column) else None
        if found and _is_value(right):
            value = constant(right) if isinstance(pred, exp.EQ) else _NO_LITERAL
            uses[found[0]].eq.append((found[1], 1, value))
            if isinstance(pred, exp.EQ) and isinstance(right, exp.Placeholder) and right.name:
                uses[found[0]].params[found[1]] = right.name
    elif isinstance(pred, exp.In):
        found = resolve(pred.this) if isinstance(pred.this, exp.Column) else None
        values = pred.expressions
        if found and values and not pred.args.get("query") and all(map(_is_value, values)):
            consts = tuple(constant(v) for v in values)
            known: Any = _NO_LITERAL if _NO_LITERAL in consts else consts
            if len(values) == 1 and known is not _NO_LITERAL:
                known = consts[0]               # `IN (x)` is `= x`
            uses[found[0]].eq.append((found[1], len(values), known))
    elif isinstance(pred, (exp.GT, exp.GTE, exp.LT, exp.LTE)):
        col, other = pred.this, pred.expression
        if not isinstance(col, exp.Column):
            col, other = other, col
        found = resolve(col) if isinstance(col, exp.Column) else None
        if found and _is_value(other):
            uses[found[0]].ranges.append((found[1], 1))
    elif isinstance(pred, exp.Between):
        found = resolve(pred.this) if isinstance(pred.this, exp.Column) else None
        if found:
            uses[found[0]].ranges.append((found[1], 2))


# -- candidates --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Candidate:
    """A possible index: key columns on a table, maybe partial. `covering` counts the columns
    there only so the query skips the table: the trailing key columns, or (where the engine
    has INCLUDE) the `include` columns."""

    table: str
    columns: tuple[str, ...]
    where: Where | None = None
    covering: int = 0
    include: tuple[str, ...] = ()

    @property
    def ident(self) -> tuple:
        return (key(self.table), tuple(map(key, self.columns)), self.where,
                tuple(map(key, self.include)))

    def default_name(self) -> str:
        """`table_col1_col2[_wherecol_value]`: lower case, letters, digits and `_` only, at
        most NAME_MAX characters (a profile name is at most 128)."""
        parts = [self.table, *self.columns, *self.include]
        if self.where:
            parts += [self.where.column, *map(str, self.where.values)]
        name = "".join(ch if ch.isascii() and ch.isalnum() else "_"
                       for ch in "_".join(parts).lower())
        return "_".join(p for p in name.split("_") if p)[:NAME_MAX] or "advised_index"


def candidates(use: TableUse, shape: Shape, state: State) -> list[Candidate]:
    """Candidate indexes for one table a query reads: equality columns, then a range or the
    ORDER BY / GROUP BY columns, and (without LIMIT) a variant with a few covering columns; as
    the inner table of a join too; and a partial variant when a column is compared with a
    literal, or with an IN list of literals, while the other predicates take parameters."""
    table = state.tables[key(use.table)]
    if table.without_rowid:
        return []                   # the sample reads rowids; a first cut skips these tables
    rowid = key(table.rowid_alias) if table.rowid_alias else None
    params = [c for c, n, v in use.eq if n == 1 and v is _NO_LITERAL]
    literals = [(c, v) for c, n, v in use.eq if n == 1 and v is not _NO_LITERAL]
    lists = [(c, v) for c, n, v in use.eq if n > 1 and v is not _NO_LITERAL]
    ins = [c for c, n, _ in use.eq if n > 1]
    out: list[Candidate] = []
    partials: list[Where | None] = [None]
    if (literals or lists) and (params or use.ranges or use.joins):
        partials.append(Where(*(literals or lists)[0]))
    for where in partials:
        for with_joins in (False, True):
            eq = params + [c for c, _ in literals if not where or c != where.column] \
                + [c for c in ins if not where or c != where.column]
            if with_joins:
                eq += use.joins
            keys = list(dict.fromkeys(eq))
            tail = ([use.ranges[0][0]] if use.ranges else use.order or use.group or [])
            keys += [c for c in tail if c not in keys]
            if not keys or key(keys[0]) in (rowid, "rowid"):
                continue
            # Every index entry ends with the rowid: a rowid key column adds nothing.
            keys = [c for c in keys if key(c) not in (rowid, "rowid")]
            extra = sorted(c for c in use.used if c not in keys and key(c) != rowid
                           and (not where or c != where.column))
            out.append(Candidate(table.name, tuple(keys), where))
            if not shape.limited and not use.star and 0 < len(extra) <= MAX_COVERING:
                out.append(Candidate(table.name, tuple(keys + extra), where, len(extra)))
    return list(dict.fromkeys(out))


def widened(cand: Candidate, extra: list[str], include: bool) -> Candidate:
    """`cand` carrying `extra` too, so a query reading them skips the table: as trailing key
    columns, or as INCLUDE columns where the engine has them (the key, and so every seek
    through the index, stays the same either way)."""
    if include:
        return Candidate(cand.table, cand.columns, cand.where, cand.covering + len(extra),
                         cand.include + tuple(extra))
    return Candidate(cand.table, cand.columns + tuple(extra), cand.where,
                     cand.covering + len(extra), cand.include)


def including(cands: list[Candidate]) -> list[Candidate]:
    """`cands` with each covering candidate's trailing columns moved to INCLUDE: they are
    carried in the leaf pages for an index-only scan without widening the search key
    (https://www.postgresql.org/docs/current/indexes-index-only-scans.html)."""
    out = [Candidate(c.table, c.columns[:len(c.columns) - c.covering], c.where, c.covering,
                     c.columns[len(c.columns) - c.covering:]) if c.covering else c
           for c in cands]
    return list(dict.fromkeys(out))
