"""The structure of a declared query, read with a real SQL parser (sqlglot), and the candidate
indexes it suggests: which columns each table is filtered on (equality, IN, join, range), sorted
or grouped by, and which it reads. No regular expressions over SQL.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import sqlglot
from sqlglot import exp

from tuner.model import State, key
from tuner.render import render

#: At most this many extra columns are appended to make a candidate covering.
MAX_COVERING = 2

# -- query structure ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Where:
    """A partial index's condition: `column = value` with a constant value."""

    column: str
    value: Any

    @property
    def sql(self) -> str:
        return render("sqlite", "advise/where", column=self.column, value=self.value)


@dataclass
class TableUse:
    """How one query reads one table (column names as the table spells them)."""

    table: str
    eq: list[tuple[str, int, Any]] = field(default_factory=list)   # (column, IN size, literal)
    joins: list[str] = field(default_factory=list)
    ranges: list[tuple[str, int]] = field(default_factory=list)    # (column, bounds)
    order: list[str] | None = None
    group: list[str] | None = None
    used: set[str] = field(default_factory=set)
    star: bool = False


@dataclass
class Shape:
    """A parsed query: how it reads each table, its LIMIT and its name -> table map."""

    uses: dict[str, TableUse]
    names: dict[str, str]
    limit: int | None = None


_NO_LITERAL = object()


def _is_value(node: exp.Expression) -> bool:
    return not isinstance(node, exp.Column) and node.find(exp.Column) is None \
        and node.find(exp.Select) is None


def _literal(node: exp.Expression) -> Any:
    if isinstance(node, exp.Literal):
        if node.is_string:
            return node.this
        try:
            return int(node.this)
        except ValueError:
            return float(node.this)
    return _NO_LITERAL


def parse_query(sql: str, state: State) -> Shape:
    """The structure of a declared SELECT: per table, its equality, join and range columns,
    ORDER BY / GROUP BY columns and the columns it reads. Unknown shapes give no tables."""
    try:
        tree = sqlglot.parse_one(sql, read="sqlite")
    except sqlglot.errors.ParseError:
        return Shape({}, {})
    if not isinstance(tree, exp.Select):
        return Shape({}, {})
    names: dict[str, str] = {}
    uses: dict[str, TableUse] = {}
    for table in tree.find_all(exp.Table):
        live = state.tables.get(key(table.name))
        if live is None or live.virtual:
            continue
        names[key(table.alias_or_name)] = key(table.name)
        names.setdefault(key(table.name), key(table.name))
        uses.setdefault(key(table.name), TableUse(live.name))

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

    predicates: list[exp.Expression] = []
    for node in [tree.args.get("where")] + [j.args.get("on") for j in tree.args.get("joins") or []]:
        if node is None:
            continue
        cond = node.this if isinstance(node, exp.Where) else node
        predicates += list(cond.flatten()) if isinstance(cond, exp.And) else [cond]
    for pred in predicates:
        _add_predicate(pred, resolve, uses)
    for col in tree.find_all(exp.Column):
        found = resolve(col)
        if found:
            uses[found[0]].used.add(found[1])
    if any(isinstance(e, exp.Star) or (isinstance(e, exp.Column) and isinstance(e.this, exp.Star))
           for e in tree.expressions):
        for use in uses.values():
            use.star = True
    for arg in ("order", "group"):
        node = tree.args.get(arg)
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
    limit = None
    if tree.args.get("limit") is not None:
        value = _literal(tree.args["limit"].expression)
        limit = value if isinstance(value, int) else None
    return Shape(uses, names, limit)


def _add_predicate(pred: exp.Expression, resolve: Any, uses: dict[str, TableUse]) -> None:
    if isinstance(pred, exp.Paren):
        pred = pred.this
    if isinstance(pred, (exp.EQ, exp.Is)):
        left, right = pred.this, pred.expression
        if isinstance(left, exp.Column) and isinstance(right, exp.Column):
            a, b = resolve(left), resolve(right)
            if a and b and a[0] != b[0]:
                uses[a[0]].joins.append(a[1])
                uses[b[0]].joins.append(b[1])
            return
        if not isinstance(left, exp.Column):
            left, right = right, left
        found = resolve(left) if isinstance(left, exp.Column) else None
        if found and _is_value(right):
            value = _literal(right) if isinstance(pred, exp.EQ) else _NO_LITERAL
            uses[found[0]].eq.append((found[1], 1, value))
    elif isinstance(pred, exp.In):
        found = resolve(pred.this) if isinstance(pred.this, exp.Column) else None
        values = pred.expressions
        if found and values and not pred.args.get("query") and all(map(_is_value, values)):
            uses[found[0]].eq.append((found[1], len(values), _NO_LITERAL))
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
    """A possible index: key columns on a table, maybe partial."""

    table: str
    columns: tuple[str, ...]
    where: Where | None = None
    covering: int = 0           # trailing columns there only so the query skips the table

    @property
    def ident(self) -> tuple:
        return (key(self.table), tuple(map(key, self.columns)), self.where)

    def default_name(self) -> str:
        parts = [self.table, *self.columns]
        if self.where:
            parts += [self.where.column, str(self.where.value)]
        return "_".join(parts).lower().replace(" ", "_")


def candidates(use: TableUse, shape: Shape, state: State) -> list[Candidate]:
    """Candidate indexes for one table a query reads: equality columns, then a range or the
    ORDER BY / GROUP BY columns, and (without LIMIT) a variant with a few covering columns; as
    the inner table of a join too; and a partial variant when a column is compared with a
    literal while the other predicates take parameters."""
    table = state.tables[key(use.table)]
    if table.without_rowid:
        return []                   # the sample reads rowids; a first cut skips these tables
    rowid = key(table.rowid_alias) if table.rowid_alias else None
    params = [c for c, n, v in use.eq if n == 1 and v is _NO_LITERAL]
    literals = [(c, v) for c, n, v in use.eq if n == 1 and v is not _NO_LITERAL]
    ins = [c for c, n, _ in use.eq if n > 1]
    out: list[Candidate] = []
    partials: list[Where | None] = [None]
    if literals and (params or use.ranges or use.joins):
        partials.append(Where(*literals[0]))
    for where in partials:
        for with_joins in (False, True):
            eq = params + [c for c, _ in literals if not where or c != where.column] + ins
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
            if shape.limit is None and not use.star and 0 < len(extra) <= MAX_COVERING:
                out.append(Candidate(table.name, tuple(keys + extra), where, len(extra)))
    return list(dict.fromkeys(out))
