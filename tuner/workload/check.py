"""tuner check: drift and health in one verdict, for CI and cron.

Healthy means the database matches the profile (its plan is empty) and no declared query
scans a large table. Read-only: queries are only EXPLAINed, on the engine's read-only
connection (tuner.workload.bench.open_side). A setting written but waiting for a reload or a
restart (PostgreSQL's pending_restart) is reported as pending, never as drift: applying again
would not change it. Only the settings the profile declares count; others pending on a shared
server are named in one informational line.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from tuner.api import engine_for, make_plan
from tuner.model import State, Table, key
from tuner.profile import Profile, Query
from tuner.sqltext import tokenize
from tuner.workload.bench import open_side

#: A SCAN of a table with at least this many rows (estimated) is a regression.
SCAN_THRESHOLD = 10_000

_NOT_ALIASES = {"where", "join", "on", "left", "right", "inner", "outer", "full", "cross",
                "natural", "group", "order", "limit", "union", "using", "indexed", "not",
                "except", "intersect", "window", "having", "set", "values"}


@dataclass
class CheckReport:
    """Drift (the plan's steps), the queries that scan large tables, and settings that are
    written but not yet in effect (pending: not a failure)."""

    drift: list[dict[str, Any]] = field(default_factory=list)
    scans: list[dict[str, Any]] = field(default_factory=list)
    pending: list[dict[str, Any]] = field(default_factory=list)
    #: Names of settings pending on the server that the profile does not declare: someone
    #: else's on a shared server, mentioned once, never part of the verdict.
    pending_elsewhere: list[str] = field(default_factory=list)

    @property
    def healthy(self) -> bool:
        """True when nothing drifted and no query scans a large table."""
        return not self.drift and not self.scans

    def as_dict(self) -> dict[str, Any]:
        """The machine-readable report."""
        return {"healthy": self.healthy, "drift": self.drift, "scans": self.scans,
                "pending": self.pending, "pending_elsewhere": self.pending_elsewhere}


def pending_settings(state: State) -> list[dict[str, Any]]:
    """Settings whose configured value differs from the one the server runs with until it
    reloads or restarts (inspection fills `running` only then)."""
    return [{"setting": s.name, "value": s.value, "running": s.running, "source": s.source}
            for _, s in sorted(state.settings.items())
            if s.running is not None and s.running != s.value]


def split_pending(state: State, declared: Iterable[str]) -> tuple[list[dict[str, Any]],
                                                                  list[str]]:
    """The pending settings the profile declares, and the names of the others."""
    wanted = {name.lower() for name in declared}
    pending = pending_settings(state)
    return ([p for p in pending if p["setting"].lower() in wanted],
            [p["setting"] for p in pending if p["setting"].lower() not in wanted])


def aliases(sql: str, tables: dict[str, Table]) -> dict[str, str]:
    """Map each name a query uses for a table (`participants p`, `events AS e`) to the table,
    so that EXPLAIN's `SCAN p` can be sized."""
    toks = tokenize(sql)
    out = {}
    for i, tok in enumerate(toks):
        if not tok.is_name or tok.value not in tables:
            continue
        table = tables[tok.value].name
        out[tok.value] = table
        j = i + 1
        if j < len(toks) and toks[j].is_word("as"):
            j += 1
        if j < len(toks) and toks[j].is_name and toks[j].value not in _NOT_ALIASES:
            out[toks[j].value] = table
    return out


def check(profile: Profile, db: str, threshold: int = SCAN_THRESHOLD) -> CheckReport:
    """Compare the database with the profile and EXPLAIN every declared query."""
    report = CheckReport()
    plan = make_plan(profile, db)
    report.drift = [{"kind": s.kind, "object": s.object, "reason": s.reason,
                     "server_wide": s.server_wide} for s in plan.steps]
    state = engine_for(db).inspect(db)
    report.pending, report.pending_elsewhere = split_pending(state, profile.settings)
    side = open_side(db, profile)
    try:
        for query in profile.queries:
            report.scans += _large_scans(query, side.explain(query), state.tables, threshold)
    finally:
        side.close()
    return report


def _large_scans(query: Query, lines: list, tables: dict[str, Table],
                 threshold: int) -> list[dict[str, Any]]:
    names = aliases(query.sql, tables)
    found = []
    for line in lines:
        if line.kind != "scan" or not line.table:
            continue
        table = tables.get(key(names.get(key(line.table), line.table)))
        rows = table.rows if table else None
        if rows is None or rows >= threshold:
            found.append({"query": query.name, "table": table.name if table else line.table,
                          "rows": rows, "plan": line.detail})
    return found
