"""Setting values both engines read the same way: a boolean spelled as a word."""

from __future__ import annotations

from typing import Any

from tuner.profile_limits import show


def to_bool(value: Any, true: tuple[str, ...], false: tuple[str, ...]) -> bool:
    """A boolean from YAML's bool or one of the `true`/`false` spellings (case-insensitive);
    each engine passes its own lists."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in true:
        return True
    if text in false:
        return False
    raise ValueError(f"expected a boolean (true/false, on/off, 1/0), got {show(value)}")
