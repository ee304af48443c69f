"""`tuner advise --workload CAPTURE`: what a capture file tells the adviser.

This module owns turning a capture (tuner.capture) into the adviser's input: the top captured
reads as Queries (the slowest execution's text, its parameters rewritten to the profile's
`:name` form, named from their tables and shape), each with its weight (calls and total
time over the capture), the weights of the declared queries the capture also saw (same
fingerprint), and the rows each table had written (inserts, upserts and deletes touch every
index of the table; an update only the indexes holding a column it sets). It reads the file
and parses SQL with sqlglot; it never touches the database.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

from tuner.capture.normalize import normalize
from tuner.capture.store import CaptureError, Statement, load_capture
from tuner.model import Profile, Query, key
from tuner.sqltext import PARAM, SQLSyntaxError, tokenize

#: The captured reads (by total time) that join the declared queries.
TOP_READS = 10
#: Captured reads below this share of the captured read time are left out.
MIN_SHARE = 0.01
#: The kinds of statement that write rows.
WRITE_KINDS = ("insert", "upsert", "update", "delete", "merge")
#: A query name's length limit (the profile schema's).
NAME_MAX = 128


@dataclass(frozen=True)
class Weight:
    """What one query cost over the capture."""

    calls: int
    total_s: float


@dataclass
class TableWrites:
    """The rows written to one table over the capture: `rows` touch every index (inserts,
    upserts, deletes, and updates whose columns are unknown); `updates` maps an updated
    column set to the rows updated that way (they touch only the indexes holding one)."""

    table: str
    rows: float = 0.0
    calls: int = 0
    updates: dict[frozenset[str], float] = field(default_factory=dict)

    def rows_for(self, columns: tuple[str, ...]) -> float:
        """The written rows an index holding `columns` (key, INCLUDE and partial-WHERE
        columns) has to maintain."""
        cols = {key(c) for c in columns}
        return self.rows + sum(n for set_, n in self.updates.items() if set_ & cols)


@dataclass
class WorkloadInput:
    """The capture as the adviser reads it. `only`: the captured reads replace the declared
    queries (`--only-workload`); else they join them."""

    path: str
    reads: list[Query]
    weights: dict[str, Weight]
    writes: dict[str, TableWrites]
    only: bool = False
    tables: dict[str, tuple[str, ...]] = field(default_factory=dict)   # query -> tables read
    skipped: list[dict[str, str]] = field(default_factory=list)

    def keep_readable(self, tables: set[str]) -> None:
        """Leave out the captured reads of a table the database does not have (`tables`:
        keys, bare or schema-qualified), noting why: they could not be explained."""
        kept = []
        for q in self.reads:
            gone = [t for t in self.tables.get(q.name, ())
                    if key(t) not in tables and key(t).split(".")[-1] not in tables]
            if gone:
                self.skipped.append({"query": q.name, "note": f"not advised on: the database "
                                     f"has no table {', '.join(gone)} (captured: {q.sql})"})
                self.weights.pop(q.name, None)
            else:
                kept.append(q)
        self.reads = kept

    def queries(self, profile: Profile) -> tuple[Query, ...]:
        """The queries to advise on: the captured reads, after the declared ones unless
        `only`."""
        return tuple(self.reads) if self.only else tuple(profile.queries) + tuple(self.reads)


def read_workload(path: str, profile: Profile, dialect: str, *, only: bool = False,
                  top: int = TOP_READS) -> WorkloadInput:
    """The workload of the capture file at `path` for `profile` (CaptureError when the capture
    is another engine's); `dialect` is sqlglot's name for the engine's SQL."""
    capture = load_capture(path)
    if capture.engine != profile.engine:
        raise CaptureError(path, f"a capture of a {capture.engine} database; profile "
                                 f"{profile.name} is for {profile.engine}")
    parsed = [s for s in capture.statements if s.error is None and s.calls > 0]
    declared = {} if only else {normalize(q.sql, dialect).fingerprint: q.name
                                for q in profile.queries}
    weights: dict[str, Weight] = {}
    reads = sorted((s for s in parsed if s.kind == "select" and s.reads),
                   key=lambda s: -s.total_s)
    read_time = sum(s.total_s for s in reads) or 1.0
    taken = {key(q.name) for q in profile.queries}
    queries: list[Query] = []
    tables: dict[str, tuple[str, ...]] = {}
    for st in reads:
        if st.fingerprint in declared:
            weights[declared[st.fingerprint]] = Weight(st.calls, st.total_s)
            continue
        if len(queries) >= top or st.total_s / read_time < MIN_SHARE:
            continue
        query = captured_query(st, dialect, taken)
        if query is not None:
            taken.add(key(query.name))
            queries.append(query)
            weights[query.name] = Weight(st.calls, st.total_s)
            tables[query.name] = st.reads
    writes: dict[str, TableWrites] = {}
    for st in parsed:
        if st.kind in WRITE_KINDS:
            for table in st.writes:
                tw = writes.setdefault(key(table), TableWrites(table))
                tw.calls += st.calls
                rows = float(st.rows or st.calls)
                sets = _set_columns(st.text, dialect) if st.kind == "update" else None
                if sets is None:
                    tw.rows += rows
                else:
                    tw.updates[sets] = tw.updates.get(sets, 0.0) + rows
    return WorkloadInput(path, queries, weights, writes, only, tables)


def captured_query(st: Statement, dialect: str, taken: set[str]) -> Query | None:
    """A captured read as a profile query: its sample's text with `:p1`... (or its own
    `:name`) parameters bound to the sample's values; None when the text cannot be read."""
    text = st.sample_sql or st.text
    try:
        sql, names = profile_params(text)
    except SQLSyntaxError:
        return None
    sample = st.sample_params
    params: dict[str, Any] = {}
    for n in names:
        value = None
        if isinstance(sample, dict):
            value = sample.get(n)
        elif isinstance(sample, list) and n[1:].isdigit() and n[0] == "p" \
                and 0 < int(n[1:]) <= len(sample):
            value = sample[int(n[1:]) - 1]
        # A value the profile cannot hold (bytes, a list...) is bound as NULL.
        params[n] = value if value is None or isinstance(value, (str, int, float)) else None
    return Query(query_name(st.text, dialect, taken), sql, params,
                 f"captured: {st.calls:,} calls, {st.total_s:.3f} s (tuner advise)")


def profile_params(sql: str) -> tuple[str, list[str]]:
    """`sql` with its parameters in the profile's `:name` form (`?` -> `:p1`, `?2` -> `:p2`,
    `@a`/`$a` -> `:a`, psycopg's `%s` -> `:pN` and `%(a)s` -> `:a`), and the names in order."""
    tokens = tokenize(sql)
    out, names, last, n, i = [], [], 0, 0, 0
    while i < len(tokens):
        tok, name, end = tokens[i], None, tokens[i].end
        if tok.kind == PARAM:
            if tok.text == "?":
                n += 1
                name = f"p{n}"
            elif tok.text[1:].isdigit():
                name = f"p{tok.text[1:]}"
            else:
                name = tok.text[1:]
        elif tok.text == "%" and i + 1 < len(tokens) and tokens[i + 1].start == tok.end:
            nxt = tokens[i + 1]
            if nxt.text == "s":
                n += 1
                name, end, i = f"p{n}", nxt.end, i + 1
            elif nxt.text == "(" and i + 4 < len(tokens) and tokens[i + 4].text == "s":
                name, end, i = tokens[i + 2].text, tokens[i + 4].end, i + 4
        if name is not None:
            out += [sql[last:tok.start], f":{name}"]
            last = end
            if name not in names:
                names.append(name)
        i += 1
    return "".join(out) + sql[last:], names


def query_name(text: str, dialect: str, taken: set[str]) -> str:
    """A name from the read's tables and shape: `participants_by_event_id`,
    `count_participants_by_status`, `events_participants_by_user_id`, `messages_all`;
    unique against `taken` (keys)."""
    parts: list[str] = []
    try:
        tree = sqlglot.parse_one(text, read=dialect)
    except SqlglotError:
        tree = None
    if isinstance(tree, exp.Select):
        tables = list(dict.fromkeys(t.name for t in tree.find_all(exp.Table) if t.name))
        where = tree.args.get("where")
        cols = list(dict.fromkeys(c.name for c in where.find_all(exp.Column))) if where else []
        if any(isinstance(e.unalias(), exp.Count) for e in tree.expressions):
            parts.append("count")
        parts += tables[:3]
        parts += ["by", *cols[:3]] if cols else []
        group = tree.args.get("group")
        if group:
            parts += ["per", *[c.name for c in group.find_all(exp.Column)][:2]]
        if tree.args.get("order") and not cols:
            parts += ["ordered"]
    name = "_".join(p for p in "".join(
        ch if ch.isascii() and ch.isalnum() else "_" for ch in "_".join(parts).lower()
    ).split("_") if p) or "captured_read"
    if name.startswith(("sqlite_", "tuner_")) or not name[0].isalpha():
        name = "q_" + name
    name = name[:NAME_MAX - 4]
    unique, n = name, 2
    while key(unique) in taken:
        unique, n = f"{name}_{n}", n + 1
    return unique


def _set_columns(text: str, dialect: str) -> frozenset[str] | None:
    """The columns an UPDATE sets (keys), or None when its text cannot be read."""
    try:
        tree = sqlglot.parse_one(text, read=dialect)
    except SqlglotError:
        return None
    if not isinstance(tree, exp.Update):
        return None
    cols = [e.this.name for e in tree.expressions if isinstance(e, exp.EQ)
            and isinstance(e.this, exp.Column)]
    return frozenset(map(key, cols)) if cols else None


def as_profile_query(query: Query) -> dict[str, Any]:
    """The entry for a profile's `queries:` list."""
    entry: dict[str, Any] = {"name": query.name, "sql": query.sql}
    if query.params:
        entry["params"] = dict(query.params)
    if query.description:
        entry["description"] = query.description
    return entry
