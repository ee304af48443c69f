"""Owns converting the profile's `:name` query parameters (SQLite's style) to psycopg's
`%(name)s` style, for running declared queries on PostgreSQL.

Two rules, from psycopg's own (https://www.psycopg.org/psycopg3/docs/basic/params.html):
psycopg looks for `%` placeholders over the whole query text, inside quotes and comments too,
so every `%` that is not a placeholder is doubled; and a `:name` becomes `%(name)s` only where
it really is a parameter. Finding those is a tokenizer's job, never a regular expression's:
sqlglot's PostgreSQL tokenizer already knows `::` casts, string literals ('a:b', E'\\'',
$$...$$), quoted identifiers ("a:b") and comments (nested /* */ included).

A colon right after a name or a number (`arr[lo:hi]`, `x:y`) is an array slice, not a
parameter, as in SQLAlchemy's `text()`. Run the converted SQL with a parameter mapping, even
an empty one: psycopg turns `%%` back into `%` only when parameters are passed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlglot.dialects.postgres import Postgres
from sqlglot.errors import TokenError
from sqlglot.tokens import Token, TokenType

from tuner.errors import TunerError


@dataclass(frozen=True)
class Converted:
    """A query in psycopg's style: its text, and its parameter names in order of first use."""

    sql: str
    names: tuple[str, ...]

    def params(self, given: dict[str, Any], where: str = "query") -> dict[str, Any]:
        """The values for this query's parameters from `given`; a missing one is a TunerError
        naming it. Values the query does not use are left out."""
        missing = [n for n in self.names if n not in given]
        if missing:
            raise TunerError(f"{where}: no value for parameter :{missing[0]}")
        return {n: given[n] for n in self.names}


def to_psycopg(sql: str, where: str = "query") -> Converted:
    """`sql` with each `:name` parameter as `%(name)s` and every other `%` as `%%`; `where`
    names the query in the one-line TunerError for text that cannot be tokenized."""
    spans = _parameters(sql, where)
    out: list[str] = []
    names: list[str] = []
    at = 0
    for start, end, name in spans:
        out.append(sql[at:start].replace("%", "%%"))
        out.append(f"%({name})s")
        if name not in names:
            names.append(name)
        at = end
    out.append(sql[at:].replace("%", "%%"))
    return Converted("".join(out), tuple(names))


def _parameters(sql: str, where: str) -> list[tuple[int, int, str]]:
    """(start, end, name) of each `:name` parameter, in order; `end` is exclusive."""
    try:
        tokens = Postgres().tokenize(sql)
    except TokenError as exc:
        first = str(exc).splitlines()[0] if str(exc) else "cannot tokenize"
        raise TunerError(f"{where}: cannot read the SQL: {first}") from None
    found = []
    for i, colon in enumerate(tokens):
        if colon.token_type != TokenType.COLON or i + 1 == len(tokens):
            continue
        name = tokens[i + 1]
        if name.start != colon.end + 1 or not _is_bare_name(sql, name):
            continue  # `: x`, `:1`, `:"x"`, `:'x'`: not a parameter
        if i > 0 and tokens[i - 1].end + 1 == colon.start and _is_word(sql, tokens[i - 1]):
            continue  # `lo:hi` in an array slice
        found.append((colon.start, name.end + 1, name.text))
    return found


def _source(sql: str, token: Token) -> str:
    return sql[token.start:token.end + 1]


def _is_bare_name(sql: str, token: Token) -> bool:
    """True for an unquoted name (keywords too: `:date`, `:user`), as written in the text."""
    text = _source(sql, token)
    return text == token.text and text.isidentifier()


def _is_word(sql: str, token: Token) -> bool:
    """True for a token that ends in a name or number character (`arr`, `1`, `"x"` is not)."""
    text = _source(sql, token)
    return bool(text) and (text[-1].isalnum() or text[-1] == "_")
