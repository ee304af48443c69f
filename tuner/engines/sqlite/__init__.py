"""The SQLite engine: a file on disk, reached through tuner.engines (the lookup)."""
