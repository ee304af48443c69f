"""The PostgreSQL engine: a server at a URL, reached through tuner.engines (the lookup)."""
