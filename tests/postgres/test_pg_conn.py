"""The PostgreSQL connection helper against a real server."""

from __future__ import annotations

import pytest

from tuner.engines.postgres.conn import connect, is_postgres_url, redact
from tuner.errors import DatabaseError


def test_scratch_database_is_empty_and_ours(pg_url: str) -> None:
    with connect(pg_url) as conn:
        name = conn.execute("SELECT current_database()").fetchone()[0]
        tables = conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
        assert name.startswith("tuner_test_")
        assert tables.fetchone()[0] == 0


def test_unreachable_server_is_a_one_line_database_error() -> None:
    with pytest.raises(DatabaseError) as exc:
        connect("postgresql://nobody:secret@127.0.0.1:1/nowhere")
    message = str(exc.value)
    assert "cannot connect" in message and "\n" not in message
    assert "secret" not in message and "***" in message


def test_url_forms() -> None:
    assert is_postgres_url("postgresql://u@h/db") and is_postgres_url("postgres://h/db")
    assert not is_postgres_url("bot.db")
    assert redact("postgresql://u:pw@h:5/db") == "postgresql://u:***@h:5/db"
    assert redact("postgresql://u@h/db") == "postgresql://u@h/db"
