"""How a captured statement reads today (Access: SCAN, SEARCH, "-" or "?"), and binding a
captured sample for the engine's EXPLAIN (its parameters, or NULLs when they are missing or
do not fit). The engine explains (tuner.engines.sqlite.bench.capture_access: EXPLAIN QUERY
PLAN of the sample on a read-only connection guarded against writes).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tuner.capture.store import Statement
from tuner.sqltext import PARAM, SQLSyntaxError, tokenize


@dataclass(frozen=True)
class Access:
    """How a statement reads today: `verdict` SCAN, SEARCH, "-" (no table) or "?" (could not
    be explained, `note` says why), and the plan's steps in SQLite's EXPLAIN words."""

    verdict: str
    plan: tuple[str, ...] = ()
    note: str | None = None


def verdict(lines: list[Any]) -> str:
    """SCAN if any step scans a table, else SEARCH if any step searches one, else "-"."""
    kinds = {line.kind for line in lines}
    return "SCAN" if "scan" in kinds else "SEARCH" if "search" in kinds else "-"


def reason(message: str, name: str) -> str:
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
