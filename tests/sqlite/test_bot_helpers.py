"""The bot's helpers (tuner/runtime/bot.py) on a real demo database."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest
from helpers import wal_demo_db

from tuner.errors import TunerError
from tuner.runtime.bot import BotStore

ROOT = Path(__file__).resolve().parents[2]
BOT = ROOT / "profiles" / "telegram-bot.yaml"


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = wal_demo_db(tmp_path / "bot.db", 500)
    conn = sqlite3.connect(path)
    conn.execute("INSERT INTO events(id, title, creator_id, status) VALUES (9001, 'new', 1, "
                 "'active')")
    conn.commit()
    conn.close()
    return path


def test_add_change_remove_and_message(db: Path) -> None:
    with BotStore(db, BOT) as store:
        added = store.add_participants(9001, [1, 2, 3, 4], now=100).result()
        assert added.committed == 4 and added.rejected == []
        store.set_status(9001, 2, "confirmed", now=200)
        store.set_status(9001, 3, "confirmed", now=200)
        store.remove_participant(9001, 4)
        store.record_message(9001, 2, "count me in", timestamp=300).result()
        store.flush()
        assert store.confirmed(9001) == [2, 3]
        assert store.counts(9001) == {"confirmed": 2, "pending": 1}
        assert store.latest_messages(9001) == [(2, "count me in", 300)]


def test_adding_someone_twice_is_reported_not_dropped(db: Path) -> None:
    with BotStore(db, BOT) as store:
        store.add_participants(9001, [5], now=1).result()
        result = store.add_participants(9001, [6, 5, 7], now=2).result()
        assert result.committed == 2
        assert [r.index for r in result.rejected] == [1]
        assert isinstance(result.rejected[0].error, sqlite3.IntegrityError)
        assert store.counts(9001) == {"pending": 3}


def test_join_inserts_then_updates(db: Path) -> None:
    with BotStore(db, BOT) as store:
        store.join(9001, 8, "pending", now=1).result()
        store.join(9001, 8, "confirmed", now=2).result()
        assert store.confirmed(9001) == [8]
        assert store.counts(9001) == {"confirmed": 1}


def test_a_bad_status_is_refused_at_the_call(db: Path) -> None:
    with BotStore(db, BOT) as store:
        with pytest.raises(TunerError, match="status must be one of"):
            store.set_status(9001, 1, "maybe")


def test_many_handler_threads_share_one_writer(db: Path) -> None:
    with BotStore(db, BOT) as store:
        tickets = []
        lock = threading.Lock()

        def handler(user: int) -> None:
            t = store.record_message(9001, user, f"hello from {user}", timestamp=user)
            with lock:
                tickets.append(t)

        threads = [threading.Thread(target=handler, args=(u,)) for u in range(1, 201)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        store.flush()
        assert all(t.done() and t.exception() is None for t in tickets)
        assert len(store.latest_messages(9001, limit=500)) == 200
