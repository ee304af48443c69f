"""PostgreSQL settings (GUCs) as tuner knows them: the bundled catalog, what applying each one
needs (from `pg_settings.context`), and one canonical value per quantity.

The catalog (sql/postgresql/settings.json) is generated from a server's `pg_settings` by
`python -m tuner.engines.postgres.settings URL` (tests/test_pg_settings.py checks it against
the test server); `tuner validate` checks names against it, `tuner plan` against the server.

Canonical values make `'256MB'`, `32768` (8kB pages) and `'262144kB'` one value: a quantity
with a unit is converted to the GUC's base unit the way PostgreSQL does (rounded to the
nearest base unit, https://www.postgresql.org/docs/15/config-setting.html#CONFIG-SETTING-NAMES-VALUES)
and written back with the largest unit that divides it exactly (`'256MB'`, `'5min'`).
Booleans become True/False, enums their lower-case name.
"""

from __future__ import annotations

import difflib
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from tuner.profile_limits import show
from tuner.resources import data_dir
from tuner.values import to_bool as _to_bool

CATALOG_FILE = ("postgresql", "settings.json")

# Sizes in bytes and durations in microseconds of every unit PostgreSQL accepts (case matters:
# PostgreSQL rejects `mb`).
MEMORY_UNITS = {"B": 1, "kB": 1024, "MB": 1024**2, "GB": 1024**3, "TB": 1024**4}
TIME_UNITS = {"us": 1, "ms": 1000, "s": 1000**2, "min": 60 * 1000**2, "h": 3600 * 1000**2,
              "d": 86400 * 1000**2}
_TRUE = ("on", "true", "yes", "1", "t", "y")
_FALSE = ("off", "false", "no", "0", "f", "n")
_QUANTITY = re.compile(r"^\s*(-?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*([A-Za-z]*)\s*$")

#: Settings whose list elements the server quotes as identifiers (GUC_LIST_QUOTE):
#: `SET search_path = 'app', 'public'`; one string 'app, public' would be a single element.
#: pg_settings does not expose the flag (src/backend/utils/misc/guc_tables.c).
LIST_GUCS = frozenset({"search_path", "temp_tablespaces", "shared_preload_libraries",
                       "local_preload_libraries", "session_preload_libraries"})
_PLAIN_IDENT = re.compile(r"[a-z_][a-z0-9_$]*")

#: How each pg_settings.context is applied. `None`: tuner cannot set it at all.
APPLY_BY = {
    "user": "database", "superuser": "database",
    "sighup": "system", "backend": "system", "superuser-backend": "system",
    "postmaster": "restart",
    "internal": None,
}


@dataclass(frozen=True)
class Guc:
    """One setting from the catalog: its context, type, unit and bounds."""

    name: str
    context: str
    vartype: str                    # bool, integer, real, enum, string
    unit: str | None = None         # the base unit: kB, 8kB, MB, B, ms, s, min ...
    min_val: float | None = None
    max_val: float | None = None
    enumvals: tuple[str, ...] = ()

    @property
    def apply_by(self) -> str | None:
        """`database` (ALTER DATABASE SET), `system` (ALTER SYSTEM + reload), `restart`
        (ALTER SYSTEM, effective after a restart) or None (read-only)."""
        return APPLY_BY.get(self.context)

    @property
    def per_session(self) -> bool:
        """A session may SET it: the runtime applies it on every connection too."""
        return self.context in ("user", "superuser")

    def _unit(self) -> tuple[dict[str, int], int, str] | None:
        """(the unit family, the base unit's size in that family, the base unit's name)."""
        if not self.unit:
            return None
        match = re.fullmatch(r"(\d*)(\w+)", self.unit)
        assert match is not None
        factor, name = int(match.group(1) or 1), match.group(2)
        for family in (MEMORY_UNITS, TIME_UNITS):
            if name in family:
                return family, factor * family[name], self.unit
        return None

    def normalize(self, value: Any) -> Any:
        """The canonical value, or ValueError saying what PostgreSQL accepts."""
        if self.vartype == "bool":
            return to_bool(value)
        if self.vartype == "enum":
            return self._enum(value)
        if self.vartype in ("integer", "real"):
            return self._number(value)
        if isinstance(value, bool):
            return "on" if value else "off"
        if self.name in LIST_GUCS:
            return ", ".join(_quote_element(e) for e in list_elements(str(value)))
        return str(value)

    def _enum(self, value: Any) -> str:
        if isinstance(value, bool):  # YAML 1.1 reads a bare on/off as a boolean
            value = "on" if value else "off"
        text = str(value).strip().lower()
        for choice in self.enumvals:
            if choice.lower() == text:
                return choice.lower()
        raise ValueError(f"expected one of {', '.join(self.enumvals)}, got {show(value)}")

    def _number(self, value: Any) -> int | float | str:
        if isinstance(value, bool):
            raise ValueError(f"expected a number, got {show(value)}")
        unit = self._unit()
        if isinstance(value, (int, float)):
            number, given = _finite(value, value), ""
        else:
            match = _QUANTITY.match(str(value))
            if not match:
                raise ValueError(f"expected a number{' with a unit' if unit else ''}, "
                                 f"got {show(value)}")
            number, given = _finite(match.group(1), value), match.group(2)
        if given and unit is None:
            raise ValueError(f"{self.name} takes no unit, got {show(value)}")
        if unit is not None:
            family, base, _ = unit
            if given and given not in family:
                raise ValueError(f"valid units for {self.name} are "
                                 f"{', '.join(family)}; got {show(value)}")
            number = number * family[given] / base if given else number
        if self.vartype == "integer":
            number = float(round(number))  # PostgreSQL rounds to the nearest base unit (rint)
        if self.min_val is not None and number < self.min_val:
            raise ValueError(f"{show(value)} is below the minimum {self._show(self.min_val)}")
        if self.max_val is not None and number > self.max_val:
            raise ValueError(f"{show(value)} is above the maximum {self._show(self.max_val)}")
        return self._canonical(number)

    def _canonical(self, number: float) -> int | float | str:
        """A quantity in base units as one canonical value: with a unit, the largest unit that
        divides it exactly (`'256MB'`); without one, an int or a float. Zero and negative
        values (often "disabled") stay plain numbers, as PostgreSQL shows them."""
        unit = self._unit()
        if self.vartype == "integer":
            number = int(number)
        elif number == int(number) and abs(number) < 2**53:
            number = float(int(number))
        if unit is None or number <= 0:
            return int(number) if self.vartype == "integer" else number
        family, base, _ = unit
        smallest = min(family.values())
        total = number * base
        if total != int(total) or int(total) % smallest:
            return f"{number:g}{self.unit}"
        total = int(total)
        for name, size in sorted(family.items(), key=lambda kv: -kv[1]):
            if total % size == 0:
                return f"{total // size}{name}"
        return f"{number:g}{self.unit}"  # pragma: no cover - B and us divide everything

    def _show(self, number: float) -> str:
        if number == int(number) and not math.isinf(number):
            number = int(number)
        return f"{number}{' ' + self.unit if self.unit else ''}"

    def from_server(self, setting: str) -> Any:
        """The canonical value of a raw `pg_settings.setting` (base units, no unit given) or of
        a configuration file's text (which may carry a unit)."""
        try:
            return self.normalize(setting)
        except ValueError:
            return setting


def _finite(number: Any, value: Any) -> float:
    """`number` as a finite float, or ValueError naming `value` (`1e400`, `.nan`, 10**400:
    rounding one to the base unit would overflow, and no GUC takes one)."""
    try:
        out = float(number)
    except OverflowError:
        out = math.inf
    if not math.isfinite(out):
        raise ValueError(f"{show(value)} is not a finite number")
    return out


def to_bool(value: Any) -> bool:
    """PostgreSQL's spellings of a boolean (on/off, true/false, yes/no, 1/0, t/f, y/n)."""
    return _to_bool(value, _TRUE, _FALSE)


def list_elements(text: str) -> list[str]:
    """The elements of a list setting, unquoted: `"$user", public` -> ['$user', 'public']."""
    out, buf, quoted, i = [], "", False, 0
    while i < len(text):
        ch = text[i]
        if ch == '"' and quoted and text[i + 1:i + 2] == '"':
            buf, i = buf + '"', i + 2
            continue
        if ch == '"':
            quoted = not quoted
        elif ch == "," and not quoted:
            out.append(buf.strip())
            buf = ""
        else:
            buf += ch
        i += 1
    out.append(buf.strip())
    return [e for e in out if e]


def _quote_element(element: str) -> str:
    """An element as the server writes it back: quoted unless it is a plain identifier."""
    if _PLAIN_IDENT.fullmatch(element):
        return element
    return '"' + element.replace('"', '""') + '"'


def render_values(name: str, value: Any) -> list[str]:
    """The items `SET name = ...` takes for a canonical value: one, or a list's elements."""
    if name in LIST_GUCS and isinstance(value, str):
        return list_elements(value)
    return [render_value(value)]


def render_value(value: Any) -> str:
    """A canonical value as the text `SET name = '...'` takes."""
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, float) and value == int(value):
        return str(int(value))
    return str(value)


def _float(text: Any) -> float | None:
    return None if text in (None, "") else float(text)


def guc_from_row(row: dict[str, Any]) -> Guc:
    """A Guc from a pg_settings row (or a catalog entry of the same shape). Names are
    case-insensitive in PostgreSQL (`DateStyle`); tuner keys them lower-case."""
    return Guc(name=row["name"].lower(), context=row["context"], vartype=row["vartype"],
               unit=row.get("unit") or None, min_val=_float(row.get("min_val")),
               max_val=_float(row.get("max_val")), enumvals=tuple(row.get("enumvals") or ()))


@cache
def catalog() -> dict[str, Guc]:
    """The bundled catalog of GUCs, by name."""
    path = data_dir("sql").joinpath(*CATALOG_FILE)
    data = json.loads(path.read_text(encoding="utf-8"))
    return {row["name"].lower(): guc_from_row(row) for row in data["settings"]}


def known_guc(name: str, gucs: Mapping[str, Guc] | None = None) -> Guc:
    """The Guc called `name`, or ValueError for an unknown or read-only one. Extension settings
    (a dotted name such as `pg_stat_statements.track`) are placeholders until the extension
    loads: accepted as strings."""
    gucs = catalog() if gucs is None else gucs
    guc = gucs.get(name.lower())
    if guc is None:
        if "." in name:
            return Guc(name=name, context="user", vartype="string")
        close = difflib.get_close_matches(name.lower(), list(gucs), n=3)
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise ValueError(f"unknown PostgreSQL setting {name!r}{hint}")
    if guc.apply_by is None:
        raise ValueError(f"{name} is read-only (context {guc.context}): it is fixed when the "
                         "server is built or initialized")
    return guc
