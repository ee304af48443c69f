"""Interrupted applies: telling them apart, marking them, and the statistics they still owe.

An apply whose process dies (kill -9, a crash, a power loss) leaves its history row `started`
forever; killed after its DDL committed but before its ANALYZE, it also leaves new indexes
without statistics that no later plan would notice. A `started` row is an interrupted apply's
when no apply holds the database: every live apply holds the engine's apply lock from start to
end (SQLite: a lock file, PostgreSQL: an advisory lock), and the operating system or the
server drops it with the process, whatever killed it.

Only a holder of that lock marks rows `interrupted` (apply, in the transaction of its own
`started` row; `tuner history`, through an apply session it opens for that), so a live apply
is never marked. `tuner plan` only reports, and never writes.

An interrupted apply that stopped before its last step owes the ANALYZE of the tables its plan
analyzed (recorded in its row's `detail` as `{"analyze": [...]}`) until an apply finishes
(`applied`) or a restore puts a backup back: every plan made meanwhile includes that ANALYZE.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from tuner.engines.base import ApplySession, Engine
from tuner.history import HistoryRow, now_utc

STATUS = "interrupted"
#: Statuses after which nothing an earlier apply left unfinished is owed any more.
ENDED = ("applied", "restored")


@dataclass(frozen=True)
class Interrupted:
    """One interrupted apply, as a plan reports it."""

    row_id: int
    marked: bool
    steps_applied: int
    steps_total: int
    #: The tables whose ANALYZE it did not finish and that no apply has analyzed since.
    analyze: tuple[str, ...]

    def describe(self) -> str:
        """The plan's warning about it."""
        text = (f"interrupted apply found (history row {self.row_id}): it stopped after "
                f"{self.steps_applied} of {self.steps_total} steps")
        if self.analyze:
            text += f"; the ANALYZE of {', '.join(self.analyze)} it did not finish is planned"
        if not self.marked:
            text += "; the next `tuner apply` or `tuner history` marks it interrupted"
        return text


def apply_detail(analyze: list[str]) -> str | None:
    """The `detail` of an apply's `started` row: the tables its plan analyzes."""
    return json.dumps({"analyze": analyze}) if analyze else None


def _analyzed_by(row: HistoryRow) -> tuple[str, ...]:
    try:
        data = json.loads(row.detail or "{}")
    except ValueError:
        return ()
    tables = data.get("analyze") if isinstance(data, dict) else None
    return tuple(t for t in tables if isinstance(t, str)) if isinstance(tables, list) else ()


def find(rows: list[HistoryRow], running: bool) -> list[Interrupted]:
    """The interrupted applies among `rows` (oldest first) worth reporting: those still
    `started` and those owing statistics. `running`: a live apply holds the database, so a
    `started` row may be its own and is left alone."""
    ended = max((i for i, r in enumerate(rows) if r.status in ENDED), default=-1)
    found = []
    for i, r in enumerate(rows):
        if r.operation != "apply" or r.id is None:
            continue
        if r.status == STATUS or (r.status == "started" and not running):
            unfinished = i > ended and r.steps_applied < r.steps_total
            item = Interrupted(r.id, r.status == STATUS, r.steps_applied, r.steps_total,
                               _analyzed_by(r) if unfinished else ())
            if item.analyze or not item.marked:
                found.append(item)
    return found


def any_started(rows: list[HistoryRow]) -> bool:
    """True when some apply row is still `started`: a live apply's, or an interrupted one."""
    return any(r.operation == "apply" and r.status == "started" for r in rows)


def recognize(engine: Engine, target: str) -> list[Interrupted]:
    """The interrupted applies of `target`, read-only (what `tuner plan` reports)."""
    rows = engine.read_history(target)
    return find(rows, running=any_started(rows) and engine.apply_running(target))


def mark(session: ApplySession) -> list[int]:
    """Mark every `started` apply row `interrupted`, inside the session's open transaction.
    The session holds the apply lock, so none of them is a live apply's."""
    marked = []
    for r in session.history_rows():
        if r.operation == "apply" and r.status == "started" and r.id is not None:
            session.update_history(r.id, status=STATUS, error=(
                f"interrupted: the apply stopped after {r.steps_applied} of {r.steps_total} "
                f"steps and its process is gone (found {now_utc()})"))
            marked.append(r.id)
    return marked
