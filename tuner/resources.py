"""Finds the data directories (schemas/, sql/, profiles/) in a source checkout or a wheel.

In the repository they sit at the top level; the wheel carries them as tuner/_data/<name>
(see pyproject.toml). This is the only place that knows both locations.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def data_dir(name: str) -> Path:
    """Return the directory `name` (schemas, sql or profiles), installed or in the checkout."""
    for candidate in (_PACKAGE / "_data" / name, _PACKAGE.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"tuner data directory {name!r} is missing from this installation")


def bundled_profile(name: str = "telegram-bot") -> Path:
    """Return the path of a profile shipped with tuner, e.g. 'telegram-bot'."""
    return data_dir("profiles") / f"{name}.yaml"
