"""What a profile's values may hold, beyond their JSON Schema types: profiles come from pull
requests, so every string and number is checked before it can reach a database.

This module owns two checks, both made by `tuner validate` (tuner.profile calls them):

- `check_values`, over the whole merged document: numbers fit where numbers go (an integer in
  a signed 64-bit integer, SQLite's INTEGER and PostgreSQL's bigint; a float finite, since
  SQLite stores NaN as NULL and PostgreSQL's GUCs refuse it) and strings hold nothing a
  database or a terminal would choke on (NUL, which neither SQLite's nor PostgreSQL's SQL text
  can carry; other control characters, which would also reach plan files and terminals; lone
  surrogates, which cannot be written as UTF-8). Each field's own range is in the schema.
- `check_names`, over the names: those of indexes, views, queries and the profile, and the
  tables, columns and collations they name. No control or format characters at all (a name
  is one line, and bidirectional overrides make a name read differently in review), and no
  longer than the engine keeps: PostgreSQL silently truncates identifiers to NAMEDATALEN - 1
  = 63 bytes (https://www.postgresql.org/docs/15/sql-syntax-lexical.html#SQL-SYNTAX-IDENTIFIERS),
  so two long names could become one.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Callable, Iterator
from typing import Any

from tuner.errors import ProfileError

#: SQLite's INTEGER and PostgreSQL's bigint: where an integer of a profile can go at most.
INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
#: Control characters free text may not hold: all of C0 but tab and line breaks, DEL, C1,
#: and lone surrogates (the only characters UTF-8 cannot encode).
_BAD_IN_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
#: How much of a bad value an error message shows.
SHOW_CHARS = 40

Fail = Callable[[tuple, str], ProfileError]


def show(value: Any) -> str:
    """A value for a one-line message: its repr, shortened."""
    text = repr(value)
    return text if len(text) <= SHOW_CHARS else text[:SHOW_CHARS - 3] + "..."


def _describe(ch: str, i: int) -> str:
    cat = unicodedata.category(ch)
    what = ("a lone surrogate" if cat == "Cs" else "a NUL character" if ch == "\0"
            else "a control character" if cat == "Cc" else "an invisible format character")
    return f"{what} (U+{ord(ch):04X}) at position {i}"


def bad_character(text: str) -> str | None:
    """Where `text` has a control (Cc), format (Cf) or surrogate (Cs) character, or None."""
    for i, ch in enumerate(text):
        if unicodedata.category(ch) in ("Cc", "Cf", "Cs"):
            return _describe(ch, i)
    return None


def text_problem(text: str) -> str | None:
    """Where free text (SQL, descriptions, values) has NUL, a C0/C1 control character other
    than a tab or a line break, or a lone surrogate, or None. Format characters may stay."""
    found = _BAD_IN_TEXT.search(text)
    return _describe(found.group(), found.start()) if found else None


def _walk(value: Any, where: tuple) -> Iterator[tuple[tuple, Any]]:
    """Every scalar of a JSON-like document with its path (keys are checked while loading)."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _walk(v, where + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _walk(v, where + (i,))
    else:
        yield where, value


def check_values(data: dict, fail: Fail) -> None:
    """Refuse a number that fits nowhere and a string no database can take (see above)."""
    for where, value in _walk(data, ()):
        if isinstance(value, bool):
            continue
        if isinstance(value, int) and not INT64_MIN <= value <= INT64_MAX:
            raise fail(where, f"{show(value)} is out of range: numbers must fit in a signed "
                       "64-bit integer (SQLite INTEGER, PostgreSQL bigint)")
        if isinstance(value, float) and not math.isfinite(value):
            raise fail(where, f"{value} is not a finite number")
        if isinstance(value, str):
            problem = text_problem(value)
            if problem:
                raise fail(where, f"{show(value)} contains {problem}")


def _names(data: dict) -> Iterator[tuple[tuple, Any, bool]]:
    """(path, value, is a database identifier) for every name the profile declares or uses."""
    yield ("profile",), data.get("profile"), False
    for i, spec in enumerate(data.get("indexes") or []):
        where = ("indexes", i)
        yield where + ("name",), spec.get("name"), True
        yield where + ("table",), spec.get("table"), True
        for j, col in enumerate(spec.get("columns") or []):
            if isinstance(col, str):
                yield where + ("columns", j), col, True
            elif isinstance(col, dict):
                for part in ("column", "collate"):
                    yield where + ("columns", j, part), col.get(part), True
        for j, col in enumerate(spec.get("include") or []):
            yield where + ("include", j), col, True
    for i, spec in enumerate(data.get("views") or []):
        yield ("views", i, "name"), spec.get("name"), True
        for j, col in enumerate(spec.get("columns") or []):
            yield ("views", i, "columns", j), col, True
    for i, spec in enumerate(data.get("queries") or []):
        yield ("queries", i, "name"), spec.get("name"), False


def check_names(data: dict, fail: Fail, max_bytes: int | None = None) -> None:
    """Refuse a name with a control or format character, or a name (each part of a dotted,
    schema-qualified one) longer than `max_bytes` in UTF-8 where the engine truncates
    identifiers (the engine's `max_name_bytes`)."""
    for where, name, identifier in _names(data):
        if not isinstance(name, str):
            continue  # the schema has said so already
        problem = bad_character(name)
        if problem:
            raise fail(where, f"{show(name)} contains {problem}; names may not contain "
                       "control or format characters")
        if not identifier or max_bytes is None:
            continue
        for part in name.split("."):  # a schema-qualified name: each part has the limit
            size = len(part.encode("utf-8"))
            if size > max_bytes:
                raise fail(where, f"{show(part)} is {size} bytes long in UTF-8, over the "
                           f"engine's {max_bytes}-byte limit for a name; the engine would "
                           f"silently truncate it to {max_bytes} bytes")
