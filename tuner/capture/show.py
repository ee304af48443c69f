"""The report of `tuner workload show`: a capture's statements by total time, each with its
share of the total, calls, mean, p95 and max, and, given a database, how it reads today
(SCAN or SEARCH, from the engine's EXPLAIN of the statement's sample).

This module owns choosing the rows, the report's data and its JSON and text forms; the
engine-specific EXPLAIN is the engine's (Engine.capture_access, through the lookup). It never
prints.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tuner.capture.access import Access
from tuner.capture.store import Capture, Statement
from tuner.engines.lookup import engine_for
from tuner.errors import TunerError

#: Kinds of statement that only read, and so are explained.
READ_KINDS = ("select",)


@dataclass(frozen=True)
class Row:
    """One statement of the report, its share of the capture's total time and its Access
    (None: not explained)."""

    rank: int
    statement: Statement
    share: float
    access: Access | None

    def as_dict(self) -> dict[str, Any]:
        st = self.statement
        data: dict[str, Any] = {
            "rank": self.rank, "fingerprint": st.fingerprint, "kind": st.kind,
            "text": st.text, "share": round(self.share, 4), "calls": st.calls,
            "observed": st.observed, "total_s": round(st.total_s, 6),
            "mean_ms": round(st.mean_s * 1000, 4), "p95_ms": round(st.percentile(0.95) * 1000, 4),
            "max_ms": round(st.max_s * 1000, 4), "rows": st.rows, "reads": list(st.reads),
            "writes": list(st.writes), "sample_sql": st.sample_sql,
            "sample_params": st.sample_params, "first_seen": st.first_seen,
            "last_seen": st.last_seen}
        if st.error is not None:
            data["error"] = st.error
        if self.access is not None:
            data["access"] = {"verdict": self.access.verdict, "plan": list(self.access.plan),
                              "note": self.access.note}
        return data


@dataclass(frozen=True)
class ShowReport:
    """The top statements of a capture, and what the whole capture holds."""

    capture: Capture
    rows: tuple[Row, ...]
    db: str | None

    def as_dict(self) -> dict[str, Any]:
        c = self.capture
        return {"capture": c.path, "engine": c.engine, "format_version": int(c.meta["version"]),
                "statements": len(c.statements), "calls": sum(s.calls for s in c.statements),
                "total_s": round(c.total_s, 6), "db": self.db,
                "unparsed": [{"fingerprint": s.fingerprint, "calls": s.calls,
                              "text": s.text, "error": s.error} for s in c.unparsed],
                "top": [r.as_dict() for r in self.rows]}


def show(capture: Capture, top: int, db: str | None = None) -> ShowReport:
    """The `top` statements by total time; with `db`, each read explained there."""
    total = capture.total_s
    chosen = capture.statements[:top]
    found: dict[str, Access] = {}
    if db is not None:
        found = _explain(capture.engine, db, [s for s in chosen if s.kind in READ_KINDS])
    rows = tuple(Row(i, s, s.total_s / total if total else 0.0,
                     found.get(s.fingerprint) if db is not None and s.kind in READ_KINDS
                     else None)
                 for i, s in enumerate(chosen, 1))
    return ShowReport(capture, rows, db)


def _explain(engine: str, db: str, statements: list[Statement]) -> dict[str, Access]:
    target = engine_for(db)
    if target.name != engine:
        raise TunerError(f"--db {db} is a {target.name} database, but the capture is of a "
                         f"{engine} one")
    return target.capture_access(db, statements)


# -- text ---------------------------------------------------------------------------------------
def _ms(seconds: float) -> str:
    return f"{seconds * 1000:,.3f}"


def show_text(report: ShowReport, width: int = 90) -> str:
    """The report as a table, one statement per row, its text cut to `width`."""
    c = report.capture
    calls = sum(s.calls for s in c.statements)
    lines = [f"Capture {c.path} ({c.engine}): {len(c.statements)} statements, {calls:,} calls, "
             f"{c.total_s:,.3f} s in all; top {len(report.rows)} by total time"
             + (f"; access in {report.db}" if report.db else "") + "."]
    head = (f"{'#':>3} {'share':>6} {'total s':>9} {'calls':>9} {'mean ms':>9} {'p95 ms':>9} "
            f"{'max ms':>9}  {'kind':<8}")
    lines.append(head + ("  access" if report.db else "") + "  statement")
    for r in report.rows:
        st = r.statement
        text = st.text if len(st.text) <= width else st.text[:width - 3] + "..."
        line = (f"{r.rank:>3} {r.share:>6.1%} {st.total_s:>9.3f} {st.calls:>9,} "
                f"{_ms(st.mean_s):>9} {_ms(st.percentile(0.95)):>9} {_ms(st.max_s):>9}  "
                f"{st.kind:<8}")
        if report.db:
            line += f"  {r.access.verdict if r.access else '':<6}"
        lines.append(line + "  " + text)
        tables = _tables(st)
        if tables:
            lines.append(f"{'':>9}{tables}")
        if r.access is not None and (r.access.plan or r.access.note):
            lines.append(f"{'':>9}plan: " + (r.access.note or "; ".join(r.access.plan)))
    if c.unparsed:
        lines.append(f"{len(c.unparsed)} statement(s) could not be parsed (counted under a "
                     "fallback text):")
        for s in c.unparsed:
            lines.append(f"  {s.calls:>9,} calls  {s.text[:width]}  ({s.error})")
    return "\n".join(lines) + "\n"


def _tables(st: Statement) -> str:
    parts = []
    if st.reads:
        parts.append("reads " + ", ".join(st.reads))
    if st.writes:
        parts.append("writes " + ", ".join(st.writes))
    return "; ".join(parts)
