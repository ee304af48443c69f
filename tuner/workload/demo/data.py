"""Owns the demo data: a deterministic, skewed, deliberately untuned bot database.

It models the database of a Telegram bot that runs group events (users, events,
participants, messages) in the schema the original scripts used. Event sizes are
heavy-tailed (most events hold a handful to a few hundred people, a few hold up to
100 000), so the tuner has realistic skew to find. The file is left untuned: rollback
journal, default page size, no secondary indexes, no sqlite_stat1. Nothing is printed;
progress goes to an optional callback.

The rows come from one generator (`demo_data(...).tables()`) that every engine's loader
consumes: tuner.engines.sqlite.demo writes them to an SQLite file, tuner.engines.postgres.demo
COPYs them into PostgreSQL, so the same parameters give the same rows in both. What `tuner demo`
asks of an engine (DemoRequest) and gets back (DemoTarget) are here too.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from itertools import accumulate, islice, repeat
from pathlib import Path

from tuner.errors import TunerError

EPOCH = 1_700_000_000  # fixed "now" so that output never depends on the clock
DAY = 86_400
YEAR = 365 * DAY
MAX_EVENT = 100_000
CHUNK = 100_000

SCHEMA = """
CREATE TABLE users(id INTEGER PRIMARY KEY, username TEXT UNIQUE, chat_id INTEGER UNIQUE,
    created_at INTEGER);
CREATE TABLE events(id INTEGER PRIMARY KEY, title TEXT, creator_id INTEGER REFERENCES users(id),
    date INTEGER, location TEXT, description TEXT, status TEXT);
CREATE TABLE participants(id INTEGER PRIMARY KEY, event_id INTEGER REFERENCES events(id),
    user_id INTEGER REFERENCES users(id), status TEXT, joined_at INTEGER, updated_at INTEGER,
    UNIQUE(event_id, user_id));
CREATE TABLE messages(id INTEGER PRIMARY KEY, event_id INTEGER REFERENCES events(id),
    user_id INTEGER REFERENCES users(id), text TEXT, timestamp INTEGER);
"""
#: The columns each table's generated rows fill, in row order (participants and messages
#: get their ids from the database).
COLUMNS = {
    "users": ("id", "username", "chat_id", "created_at"),
    "events": ("id", "title", "creator_id", "date", "location", "description", "status"),
    "participants": ("event_id", "user_id", "status", "joined_at", "updated_at"),
    "messages": ("event_id", "user_id", "text", "timestamp"),
}
TABLES = tuple(COLUMNS)

EVENT_STATUS, EVENT_CUM = ("active", "cancelled", "completed"), (70, 85, 100)
PART_STATUS, PART_CUM = ("confirmed", "pending", "declined"), (60, 85, 100)
KINDS = ("Board games", "Hiking trip", "Football match", "Book club", "Meetup", "Quiz night",
         "Cinema evening", "Picnic", "Hackathon", "Language exchange", "Concert", "Workshop")
WHEN = ("Friday", "Saturday", "Sunday", "Weekly", "Evening", "Morning", "Spring", "Summer")
PLACES = ("Central Park", "Cafe Luna", "City Library", "Old Town Square", "Riverside Pub",
          "Community Hall", "Tech Hub", "Stadium Gate 3", "Online", "Botanical Garden")
DESCRIPTIONS = ("Bring your friends!", "Beginners welcome.", "Free entry, donations welcome.",
                "Please confirm by the day before.", "We meet at the entrance.", "")
PHRASES = ("hi all", "see you there", "count me in", "running late", "is it still on?",
           "where exactly do we meet?", "thanks everyone", "great event!", "can I bring a friend?",
           "sorry, can't make it", "what time?", "on my way", "photos are up", "who has tickets?",
           "it might rain", "parking is full", "I'm at the entrance", "see you next time")

Progress = Callable[[str, int, int], None]
EventRow = tuple[int, str, int, int, str, str, str]
Row = tuple[object, ...]
#: `say(text)`: a line of progress for the person waiting.
Say = Callable[[str], None]


@dataclass(frozen=True)
class DemoData:
    """The demo's content for one (participants, seed, messages): the row count of each table
    and, from `tables()`, the rows themselves. Every engine's loader writes exactly these."""

    participants: int
    messages: int
    seed: int

    @property
    def users(self) -> int:
        """Users: a tenth of the participants, at least as many as the biggest event."""
        return max(self.participants // 10, min(self.participants, MAX_EVENT), 10)

    @property
    def events(self) -> int:
        """Events: one per hundred participants, at least ten."""
        return max(10, self.participants // 100)

    @property
    def rows(self) -> dict[str, int]:
        """Rows per table, in load order."""
        return {"users": self.users, "events": self.events,
                "participants": self.participants, "messages": self.messages}

    def tables(self) -> Iterator[tuple[str, Iterable[Row]]]:
        """(table, rows) in load order: users, events, participants, messages. The rows are
        generated lazily from one random stream, so each table's rows must be consumed in
        full before the next table is asked for."""
        rnd = random.Random(self.seed)
        n_users, n_events = self.users, self.events
        sizes = _event_sizes(rnd, self.participants, n_events, min(MAX_EVENT, n_users))
        yield "users", _users(rnd, n_users)
        events = list(_events(rnd, n_events, n_users))
        yield "events", events
        members: list[list[int]] = []
        yield "participants", _participants(rnd, sizes, events, n_users,
                                            members if self.messages else None)
        yield "messages", _messages(rnd, self.messages, sizes, events, members)


def demo_data(participants: int = 100_000, *, seed: int = 42,
              messages: int | None = None) -> DemoData:
    """The demo content for these parameters; `messages` defaults to `participants`.
    Negative counts are a TunerError naming the option."""
    if participants < 0:
        raise TunerError("--participants must be >= 0")
    n_messages = participants if messages is None else messages
    if n_messages < 0:
        raise TunerError("--messages must be >= 0")
    return DemoData(participants, n_messages, seed)


def chunked(table: str, rows: Iterable[Row], total: int,
            on_progress: Progress | None) -> Iterator[list[Row]]:
    """`rows` in lists of CHUNK, reporting (table, done, total) after the caller has taken
    each one; an empty table reports (table, 0, total) once, so a progress display completes."""
    it, done = iter(rows), 0
    while chunk := list(islice(it, CHUNK)):
        yield chunk
        done += len(chunk)
        if on_progress is not None:
            on_progress(table, done, total)
    if on_progress is not None and done == 0:
        on_progress(table, 0, total)


@dataclass(frozen=True)
class DemoStats:
    """What `create_demo_db` built: the file, rows inserted per table, and wall time."""

    path: str
    rows: dict[str, int]
    seconds: float

    @property
    def total_rows(self) -> int:
        """Rows inserted across all tables."""
        return sum(self.rows.values())

    @property
    def rows_per_second(self) -> float:
        """Insert throughput over the whole build (0.0 if the build took no measurable time)."""
        return self.total_rows / self.seconds if self.seconds > 0 else 0.0


def _event_sizes(rnd: random.Random, n: int, n_events: int, cap: int) -> list[int]:
    """Split `n` participants over events: a small Pareto floor plus a capped Zipf(1.5) tail."""
    if n == 0:
        return [0] * n_events
    base = [min(300, int(3 * rnd.paretovariate(1.5))) for _ in range(n_events)]
    if sum(base) > 0.3 * n:  # small builds: keep most of the mass for the skewed tail
        scale = 0.3 * n / sum(base)
        base = [int(b * scale) for b in base]
    ranks = list(range(1, n_events + 1))
    rnd.shuffle(ranks)  # big events land at random ids...
    first = ranks.index(1)
    ranks[0], ranks[first] = ranks[first], ranks[0]  # ...except event 1, always the biggest
    weights = [r ** -1.5 for r in ranks]
    room = [cap - b for b in base]
    rest = n - sum(base)
    full = [False] * n_events
    while True:  # water-filling: events that would exceed the cap are pinned at it
        free_w = sum(w for w, f in zip(weights, full, strict=True) if not f)
        budget = rest - sum(r for r, f in zip(room, full, strict=True) if f)
        over = [i for i, (w, r, f) in enumerate(zip(weights, room, full, strict=True))
                if not f and budget * w > r * free_w]
        if not over:
            break
        for i in over:
            full[i] = True
    sizes = [b + (r if f else int(budget * w / free_w))
             for b, r, f, w in zip(base, room, full, weights, strict=True)]
    order = sorted(range(n_events), key=ranks.__getitem__)
    left, i = n - sum(sizes), 0
    while left:  # rounding leftovers (fewer than n_events) go to the biggest events
        e, step = order[i % n_events], (1 if left > 0 else -1)
        if base[e] <= sizes[e] + step <= cap:
            sizes[e] += step
            left -= step
        i += 1
    return sizes


def _users(rnd: random.Random, n_users: int) -> Iterator[tuple[int, str, int, int]]:
    chat_ids = rnd.sample(range(100_000_000, 8_000_000_000), n_users)
    start, span = EPOCH - 3 * YEAR, 3 * YEAR - 30 * DAY
    for uid in range(1, n_users + 1):
        created = start + span * uid // n_users - int(rnd.random() * DAY)
        yield uid, f"user_{uid}", chat_ids[uid - 1], created


def _events(rnd: random.Random, n_events: int, n_users: int) -> Iterator[EventRow]:
    for eid in range(1, n_events + 1):
        (status,) = rnd.choices(EVENT_STATUS, cum_weights=EVENT_CUM)
        if status == "completed":
            date = EPOCH - int(rnd.random() * YEAR)
        else:
            date = EPOCH - YEAR + int(rnd.random() * (YEAR + YEAR // 2))
        title = f"{rnd.choice(WHEN)} {rnd.choice(KINDS).lower()} #{eid}"
        # Organizers are a small core of early users, as in real communities.
        yield (eid, title, rnd.randint(1, max(1, n_events // 10)), date, rnd.choice(PLACES),
               rnd.choice(DESCRIPTIONS), status)


def _participants(rnd: random.Random, sizes: list[int], events: list[EventRow],
                  n_users: int, members: list[list[int]] | None
                  ) -> Iterator[tuple[int, int, str, int, int]]:
    population = range(1, n_users + 1)
    for eid, size in enumerate(sizes, start=1):
        date, lead = events[eid - 1][3], 30 * DAY
        # Distinct within the event by construction; sorted so the UNIQUE index is appended to.
        users = sorted(rnd.sample(population, size))
        if members is not None:
            members.append(users)
        status = rnd.choices(PART_STATUS, cum_weights=PART_CUM, k=size)
        joined = sorted([date - lead + int(rnd.random() * lead) for _ in range(size)])
        updated = [j if s == "pending" else j + int(rnd.random() * (date - j))
                   for j, s in zip(joined, status, strict=True)]
        yield from zip(repeat(eid, size), users, status, joined, updated, strict=True)


def _messages(rnd: random.Random, n: int, sizes: list[int], events: list[EventRow],
              members: list[list[int]]) -> Iterator[tuple[int, int, str, int]]:
    if n == 0:
        return
    texts = [p.capitalize() for p in PHRASES]
    texts += [f"{p.capitalize()}, {q}" for p in PHRASES for q in PHRASES if p != q]
    event_ids = range(1, len(sizes) + 1)
    cum = list(accumulate(s + 1 for s in sizes))  # busy events talk more; empty ones rarely
    start, span = EPOCH - YEAR, YEAR - 2 * 3600
    for offset in range(0, n, CHUNK):
        k = min(CHUNK, n - offset)
        eids = rnd.choices(event_ids, cum_weights=cum, k=k)
        words = rnd.choices(texts, k=k)
        for j, (eid, text) in enumerate(zip(eids, words, strict=True), start=offset):
            pool = members[eid - 1]
            uid = pool[int(rnd.random() * len(pool))] if pool else events[eid - 1][2]
            yield eid, uid, text, start + span * j // n + int(rnd.random() * 3600)


@dataclass(frozen=True)
class DemoTarget:
    """Where a demo runs: `work` is tuned, `untuned` is what the comparison clones (the same
    database on PostgreSQL, measured before the apply), `profile` the bundled profile."""

    work: str
    untuned: str
    profile: Path
    described: str


@dataclass(frozen=True)
class DemoRequest:
    """The `tuner demo` options that say what to build."""

    folder: Path
    db: str | None
    participants: int
    seed: int
    force: bool
