"""The SQLite engine: a database file, reached only through tuner.engines (the lookup).

engine.py is the Engine; inspect, normalize, settings, session, backup, history, restore,
conn, runtime, bench, advise and demo are its parts.
"""

from tuner.engines.base import Engine
from tuner.engines.sqlite.engine import SQLiteEngine

#: The engine class; typed so that mypy checks it against the Engine protocol.
ENGINE: type[Engine] = SQLiteEngine

__all__ = ["ENGINE", "SQLiteEngine"]
