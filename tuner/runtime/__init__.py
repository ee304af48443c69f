"""What an application imports: connections, a pool and a batch writer sized by a profile.

    import tuner
    conn = tuner.connect("bot.db", profile="profiles/telegram-bot.yaml")
    pool = tuner.ConnectionPool("bot.db", profile="profiles/telegram-bot.yaml")
    with pool.reader() as conn: ...
    with pool.writer() as conn: ...
    with tuner.BatchWriter(pool=pool) as w:
        w.insert("messages", {"event_id": 1, "user_id": 2, "text": "hi", "timestamp": 0})

A postgresql:// URL in place of the file gives psycopg connections and a pool built on
psycopg_pool, with the profile's per-session `settings:` applied on every connection.
"""

from __future__ import annotations

from tuner.errors import PoolClosed, PoolTimeout
from tuner.runtime.batch import BatchWriter
from tuner.runtime.targets import ConnectionPool, connect
from tuner.runtime.tickets import QueueFull, UnknownName

__all__ = ["BatchWriter", "ConnectionPool", "PoolClosed", "PoolTimeout", "QueueFull",
           "UnknownName", "connect"]
