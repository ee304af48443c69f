"""Owns the demo's workload: a deterministic, seeded mix of the bot's own operations
(tuner.runtime.bot.BotStore) run against a database with capture on, and the replay of a
capture file.

`drive(db, ...)` runs `ops` operations drawn from MIX with one seeded generator: reads (an
event's confirmed participants, its head count per status, a user's events, an event's latest
messages, the upcoming events) and writes (joins, status changes, removals, chat messages),
all through one BotStore, so the capture records exactly what the bot would run.

Two ways to run a captured workload again:

- `rerun(db, ...)`: the same seeded operations again, on another database (or the same one
  tuned), with capture on into a file of its own: the same statements, the same calls (the mix
  is deterministic; `same_workload` checks it), each statement timed by the capture as in
  the application. The faithful replay: each call with its own parameters.
- `replay(capture, db, ...)`: from the capture file alone: for every captured statement with a
  sample, its sample SQL and parameters (its slowest execution's) are executed `min(calls, cap)`
  times on a connection made by `tuner.connect` (the profile's connection settings), each
  timed; a read is fetched in full; a write runs in a transaction rolled back at once, so the
  database ends as it began. Every call replays the slowest one: a worst case.

Nothing here prints.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tuner.capture.store import Statement, load_capture
from tuner.runtime.bot import STATUSES, BotStore
from tuner.runtime.targets import ProfileLike, connect
from tuner.workload.advise.workload import WRITE_KINDS
from tuner.workload.demo.data import EPOCH, PHRASES

#: The operations and their weights: the bot is mostly reads.
MIX: dict[str, int] = {
    "confirmed": 20, "counts": 20, "user_events": 15, "latest_messages": 15, "upcoming": 10,
    "join": 8, "set_status": 5, "remove": 2, "message": 5,
}
#: Executions per captured statement a replay runs at most (None: all of its calls).
REPLAY_CAP = 200


@dataclass
class DriveStats:
    """What `drive` ran: operations per kind and the seconds taken."""

    ops: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def total(self) -> int:
        return sum(self.ops.values())


def _bounds(db: str | Path) -> tuple[int, int]:
    conn = connect(db, capture=False)
    try:
        events = conn.execute("SELECT max(id) FROM events").fetchone()[0] or 1
        users = conn.execute("SELECT max(id) FROM users").fetchone()[0] or 1
    finally:
        conn.close()
    return int(events), int(users)


def drive(db: str | Path, profile: ProfileLike = None, *, capture: str | Path | None,
          ops: int = 2000, seed: int = 7) -> DriveStats:
    """Run `ops` seeded bot operations on `db` through a BotStore recording into `capture`
    (flushed when this returns). The same (database, ops, seed) runs the same operations."""
    rnd = random.Random(seed)
    n_events, n_users = _bounds(db)
    kinds, weights = list(MIX), list(MIX.values())
    stats = DriveStats(ops=dict.fromkeys(MIX, 0))
    started = time.perf_counter()
    with BotStore(db, profile, capture=capture if capture is not None else False) as store:
        for i in range(ops):
            kind = rnd.choices(kinds, weights)[0]
            event, user = rnd.randint(1, n_events), rnd.randint(1, n_users)
            at = EPOCH + i
            if kind == "confirmed":
                store.confirmed(event)
            elif kind == "counts":
                store.counts(event)
            elif kind == "user_events":
                store.user_events(user)
            elif kind == "latest_messages":
                store.latest_messages(event)
            elif kind == "upcoming":
                store.upcoming(EPOCH - rnd.randint(0, 300) * 86_400)
            elif kind == "join":
                store.join(event, user, rnd.choice(STATUSES), now=at)
            elif kind == "set_status":
                store.set_status(event, user, rnd.choice(STATUSES), now=at)
            elif kind == "remove":
                store.remove_participant(event, user)
            else:
                store.record_message(event, user, rnd.choice(PHRASES), timestamp=at)
            stats.ops[kind] += 1
        store.flush()
    stats.seconds = time.perf_counter() - started
    return stats


# -- rerun: the same operations again, captured ------------------------------------------------
@dataclass
class Rerun:
    """The seeded operations run again on `db`, as captured into `capture`."""

    db: str
    capture: Path
    driven: DriveStats
    statements: tuple[Statement, ...]

    @property
    def seconds(self) -> float:
        return sum(s.total_s for s in self.statements)

    @property
    def read_seconds(self) -> float:
        return sum(s.total_s for s in self.statements if s.kind not in WRITE_KINDS)

    @property
    def write_seconds(self) -> float:
        return sum(s.total_s for s in self.statements if s.kind in WRITE_KINDS)

    def by_fingerprint(self) -> dict[str, Statement]:
        return {s.fingerprint: s for s in self.statements}


def rerun(db: str | Path, profile: ProfileLike = None, *, capture: str | Path, ops: int,
          seed: int) -> Rerun:
    """Run the same `ops` seeded operations on `db` with capture on into `capture` (a new
    file: an existing one is replaced) and read back what it timed."""
    path = Path(capture)
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    driven = drive(db, profile, capture=path, ops=ops, seed=seed)
    return Rerun(str(db), path, driven, load_capture(path).statements)


def same_workload(a: str | Path, b: str | Path) -> bool:
    """Whether two capture files hold the same statements with the same calls."""
    def shape(path: str | Path) -> list[tuple[str, int]]:
        return sorted((s.fingerprint, s.calls) for s in load_capture(path).statements)
    return shape(a) == shape(b)


# -- replay from the capture file: the slowest sample of each statement ---------------------------
@dataclass(frozen=True)
class Replayed:
    """One captured statement replayed: its runs and their total seconds."""

    statement: Statement
    runs: int
    seconds: float

    @property
    def is_write(self) -> bool:
        return self.statement.kind in WRITE_KINDS

    @property
    def per_call_ms(self) -> float:
        return self.seconds / self.runs * 1000 if self.runs else 0.0

    @property
    def scaled_s(self) -> float:
        """The replayed time scaled to all the statement's captured calls."""
        return self.per_call_ms / 1000 * self.statement.calls


@dataclass
class Replay:
    """A capture replayed on one database."""

    db: str
    statements: list[Replayed]

    @property
    def seconds(self) -> float:
        return sum(r.seconds for r in self.statements)

    @property
    def read_seconds(self) -> float:
        return sum(r.seconds for r in self.statements if not r.is_write)

    @property
    def write_seconds(self) -> float:
        return sum(r.seconds for r in self.statements if r.is_write)

    def by_fingerprint(self) -> dict[str, Replayed]:
        return {r.statement.fingerprint: r for r in self.statements}


def replayable(capture: str | Path) -> list[Statement]:
    """The captured statements a replay runs: those with a sample and no error, by total
    time (the ones the capture could not parse still have their SQL and run)."""
    return [s for s in load_capture(capture).statements
            if s.sample_sql and s.error is None and s.kind in (*WRITE_KINDS, "select")]


def replay(capture: str | Path, db: str | Path, profile: ProfileLike = None, *,
           cap: int | None = REPLAY_CAP, on_statement: Callable[[Replayed], None] | None = None
           ) -> Replay:
    """Replay the capture on `db` (see the module docstring); `cap` bounds the executions
    per statement (None: all of its calls)."""
    out = []
    conn = connect(db, profile, capture=False)
    try:
        for st in replayable(capture):
            runs = st.calls if cap is None else min(st.calls, cap)
            done = Replayed(st, runs, _run(conn, st, runs))
            out.append(done)
            if on_statement:
                on_statement(done)
    finally:
        conn.close()
    return Replay(str(db), out)


def _params(st: Statement) -> Any:
    params = st.sample_params
    if params is None:
        return ()
    if isinstance(params, list) and params and isinstance(params[0], list | tuple):
        return params[0]          # a batch: its first row stands for each
    return params


def _run(conn: Any, st: Statement, runs: int) -> float:
    sql, params = st.sample_sql or "", _params(st)
    write = st.kind in WRITE_KINDS
    total = 0.0
    for _ in range(runs):
        started = time.perf_counter()
        if write:
            try:
                conn.execute(sql, params)
            finally:
                conn.rollback()
        else:
            conn.execute(sql, params).fetchall()
        total += time.perf_counter() - started
    return total
