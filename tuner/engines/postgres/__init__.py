"""The PostgreSQL engine: a server at a URL, reached only through tuner.engines (the lookup).

engine.py is the Engine; inspect, normalize, settings, session, backup, history, restore,
conn, runtime, bench, advise and demo are its parts. psycopg is imported only when a part
first talks to a server (tuner.engines.postgres.conn.driver).
"""

from tuner.engines.base import Engine
from tuner.engines.postgres.engine import PostgresEngine

#: The engine class; typed so that mypy checks it against the Engine protocol.
ENGINE: type[Engine] = PostgresEngine

__all__ = ["ENGINE", "PostgresEngine"]
