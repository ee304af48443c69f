"""The bot's own database work through tuner's runtime: an example to copy from.

The Telegram events bot adds people to events, changes their status, removes them and records
chat messages, from many handler threads at once. The original scripts did that with four
writer threads on a single-writer database and dropped rows on errors. Here every write goes
through ONE BatchWriter on the pool's single writer, every read through the pool's readers,
and every write returns a ticket that says whether it was committed:

    with BotStore("bot.db", "profiles/telegram-bot.yaml") as store:
        store.add_participants(event_id=1, user_ids=[2, 3, 4]).result()   # committed
        store.set_status(1, 2, "confirmed")
        store.record_message(1, 2, "count me in", timestamp=1_700_000_000)
        store.flush()
        store.confirmed(1)          # [2]
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from tuner.capture.recorder import CaptureArg
from tuner.errors import TunerError
from tuner.runtime.batch import BatchWriter
from tuner.runtime.targets import ConnectionPool, ProfileLike
from tuner.runtime.tickets import ManyTicket, Ticket

STATUSES = ("confirmed", "pending", "declined")
PARTICIPANT_COLUMNS = ("event_id", "user_id", "status", "joined_at", "updated_at")


class BotStore:
    """The bot's reads and writes, over one pool and one batch writer sized by the profile.
    `capture=PATH` records every statement of both into a capture file (see tuner.capture;
    None: $TUNER_CAPTURE decides)."""

    def __init__(self, db: str | Path, profile: ProfileLike = None, *,
                 capture: CaptureArg = None, sample: float = 1.0):
        self.pool = ConnectionPool(db, profile, capture=capture, sample=sample)
        self.writer = BatchWriter(pool=self.pool)

    # -- writes: each returns a ticket; .result() waits for the commit ---------------------
    def add_participants(self, event_id: int, user_ids: Iterable[int],
                         status: str = "pending", now: int | None = None) -> ManyTicket:
        """Add users to an event in one bulk operation. A user already in the event is
        rejected by UNIQUE(event_id, user_id) and reported in the result, never dropped
        silently; the others are committed."""
        _check_status(status)
        at = int(time.time()) if now is None else now
        rows = [(event_id, uid, status, at, at) for uid in user_ids]
        return self.writer.insert_many("participants", rows, columns=PARTICIPANT_COLUMNS)

    def join(self, event_id: int, user_id: int, status: str = "confirmed",
             now: int | None = None) -> Ticket:
        """Add a user to an event, or change their status if they are in it already."""
        _check_status(status)
        at = int(time.time()) if now is None else now
        return self.writer.upsert("participants", {
            "event_id": event_id, "user_id": user_id, "status": status,
            "joined_at": at, "updated_at": at}, key=("event_id", "user_id"))

    def set_status(self, event_id: int, user_id: int, status: str,
                   now: int | None = None) -> Ticket:
        """Change a participant's status (confirmed, pending, declined)."""
        _check_status(status)
        at = int(time.time()) if now is None else now
        return self.writer.update("participants", {"status": status, "updated_at": at},
                                  where={"event_id": event_id, "user_id": user_id})

    def remove_participant(self, event_id: int, user_id: int) -> Ticket:
        """Take a user out of an event."""
        return self.writer.delete("participants",
                                  where={"event_id": event_id, "user_id": user_id})

    def record_message(self, event_id: int, user_id: int, text: str,
                       timestamp: int | None = None) -> Ticket:
        """Store one chat message of an event."""
        return self.writer.insert("messages", {
            "event_id": event_id, "user_id": user_id, "text": text,
            "timestamp": int(time.time()) if timestamp is None else timestamp})

    def flush(self, timeout: float | None = None) -> None:
        """Wait until every write submitted so far is committed (or has failed)."""
        self.writer.flush(timeout)

    # -- reads, on the pool's read-only connections --------------------------------------
    def confirmed(self, event_id: int) -> list[int]:
        """The users who confirmed an event (served by participants_event_status)."""
        with self.pool.reader() as conn:
            return [r[0] for r in conn.execute(
                "SELECT user_id FROM participants WHERE event_id = ? AND status = 'confirmed' "
                "ORDER BY user_id", (event_id,))]

    def counts(self, event_id: int) -> dict[str, int]:
        """Head count per status for an event card."""
        with self.pool.reader() as conn:
            return dict(conn.execute(
                "SELECT status, COUNT(*) FROM participants WHERE event_id = ? GROUP BY status",
                (event_id,)).fetchall())

    def latest_messages(self, event_id: int, limit: int = 50) -> list[tuple[Any, ...]]:
        """The newest messages of an event's chat, newest first."""
        with self.pool.reader() as conn:
            return conn.execute(
                "SELECT user_id, text, timestamp FROM messages WHERE event_id = ? "
                "ORDER BY timestamp DESC LIMIT ?", (event_id, limit)).fetchall()

    def user_events(self, user_id: int) -> list[tuple[Any, ...]]:
        """The events a user joined and has not declined, soonest first."""
        with self.pool.reader() as conn:
            return conn.execute(
                "SELECT e.id, e.title, e.date FROM participants p JOIN events e "
                "ON e.id = p.event_id WHERE p.user_id = ? "
                "AND p.status IN ('confirmed', 'pending') ORDER BY e.date",
                (user_id,)).fetchall()

    def upcoming(self, now: int, limit: int = 20) -> list[tuple[Any, ...]]:
        """The next active events from `now` on."""
        with self.pool.reader() as conn:
            return conn.execute(
                "SELECT id, title, date FROM events WHERE status = 'active' AND date >= ? "
                "ORDER BY date LIMIT ?", (now, limit)).fetchall()

    def close(self) -> None:
        """Flush and stop the writer, then close the pool."""
        try:
            self.writer.close()
        finally:
            self.pool.close()

    def __enter__(self) -> BotStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _check_status(status: str) -> None:
    if status not in STATUSES:
        raise TunerError(f"status must be one of {', '.join(STATUSES)}, got {status!r}")
