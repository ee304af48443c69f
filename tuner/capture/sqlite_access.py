"""How SQLite reads each captured statement today: EXPLAIN QUERY PLAN of its sample, on a
read-only connection guarded against writes, classified as SCAN or SEARCH.

This module owns only binding a captured sample (its parameters, or NULLs when they are
missing or do not fit) and calling the EXPLAIN code of `tuner bench`
(tuner.workload.sqlite_bench), which it imports and does not change. It belongs with the
SQLite engine; it sits here until the engine packages of issue 11 exist.
"""

from __future__ import annotations

from typing import Any

from tuner.capture.show import Access, verdict
from tuner.capture.store import Statement
from tuner.errors import TunerError
from tuner.sqltext import PARAM, SQLSyntaxError, tokenize


def access(db: str, statements: list[Statement]) -> dict[str, Access]:
    """The Access of each statement (by fingerprint) in the SQLite database at `db`."""
    from tuner.engines.sqlite_inspect import open_readonly
    from tuner.profile import Query
    from tuner.workload.sqlite_bench import Guard, explain

    conn = open_readonly(db)
    guard = Guard()
    conn.set_authorizer(guard)
    found = {}
    try:
        for st in statements:
            query = Query(st.fingerprint, st.sample_sql or st.text, bindings(st))
            try:
                lines = explain(conn, guard, query)
            except TunerError as exc:
                found[st.fingerprint] = Access("?", (), _reason(str(exc), st.fingerprint))
                continue
            found[st.fingerprint] = Access(verdict(lines), tuple(p.summary for p in lines))
    finally:
        conn.close()
    return found


def _reason(message: str, name: str) -> str:
    prefix = f"query {name}: "
    return "cannot explain: " + (message[len(prefix):] if message.startswith(prefix)
                                 else message)


def bindings(st: Statement) -> Any:
    """The sample's parameters when they fit its text; else NULL for every parameter."""
    try:
        params = [t.text for t in tokenize(st.sample_sql or st.text) if t.kind == PARAM]
    except SQLSyntaxError:
        return ()
    named = sorted({p[1:] for p in params if p[:1] in ":@$"})
    sample = st.sample_params
    if named:
        if isinstance(sample, dict) and all(n in sample for n in named):
            return {n: _scalar(sample[n]) for n in named}
        return dict.fromkeys(named)
    count = max([len(params)] + [int(p[1:]) for p in params if p[1:].isdigit()])
    if isinstance(sample, list) and len(sample) == count:
        return [_scalar(v) for v in sample]
    return [None] * count


def _scalar(value: Any) -> Any:
    return value if value is None or isinstance(value, (str, int, float)) else None
