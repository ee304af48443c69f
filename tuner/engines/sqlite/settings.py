"""SQLite's pragmas as tuner knows them: scope, accepted values and the canonical form.

SQLite silently ignores a pragma it does not know, so tuner refuses unknown names instead.
Scope follows https://www.sqlite.org/pragma.html: `page_size`, `auto_vacuum`, `user_version`
and `application_id` live in the database file; `journal_mode` persists only as `wal`
(https://www.sqlite.org/wal.html#persistence_of_wal_mode); the rest die with the connection.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from tuner.model import CONNECTION, PERSISTENT, Setting
from tuner.profile_limits import show
from tuner.render import render
from tuner.values import to_bool as _to_bool

_TRUE = ("1", "on", "true", "yes")
_FALSE = ("0", "off", "false", "no")


@dataclass(frozen=True)
class Pragma:
    """One known pragma: its scope, its value kind and, for enums, the names SQLite reads back
    as integers (`synchronous` answers 1 for `normal`)."""

    name: str
    scope: str
    kind: str                          # "enum", "int", "bool"
    choices: tuple[str, ...] = ()      # enum names, in SQLite's integer order where it has one
    minimum: int | None = None
    maximum: int | None = None
    transactional: bool = True         # may run inside BEGIN ... COMMIT
    needs_vacuum: bool = False         # takes effect on an existing database only after VACUUM
    enum_is_numbered: bool = True      # SQLite reads the value back as an integer index

    def normalize(self, value: Any) -> Any:
        """Return the canonical value, or raise ValueError with what is accepted."""
        if self.kind == "bool":
            return _to_bool(value, _TRUE, _FALSE)
        if self.kind == "int":
            if isinstance(value, bool) or not isinstance(value, int):
                if isinstance(value, str) and _INTEGER.fullmatch(value.strip()):
                    value = int(value.strip())
                else:
                    raise ValueError(f"expected an integer, got {show(value)}")
            if self.minimum is not None and value < self.minimum:
                raise ValueError(f"{value} is below the minimum {self.minimum}")
            if self.maximum is not None and value > self.maximum:
                raise ValueError(f"{value} is above the maximum {self.maximum}")
            if self.name == "page_size" and value & (value - 1):
                raise ValueError(f"{value} is not a power of two between 512 and 65536")
            return value
        # enum. YAML 1.1 reads a bare `off`/`on` as a boolean: take it back as the word.
        if isinstance(value, bool):
            word = "on" if value else "off"
            if word in self.choices:
                return word
            raise ValueError(f"expected one of {', '.join(self.choices)}, got {show(value)}")
        if isinstance(value, int) and self.enum_is_numbered and 0 <= value < len(self.choices):
            return self.choices[value]
        text = str(value).strip().lower()
        if text in [str(i) for i in range(len(self.choices))] and self.enum_is_numbered:
            return self.choices[int(text)]
        if text in self.choices:
            return text
        raise ValueError(f"expected one of {', '.join(self.choices)}, got {show(value)}")

    def render(self, value: Any) -> str:
        """The value as it goes into `PRAGMA name = value` (canonical values only)."""
        if self.kind == "bool":
            return "ON" if value else "OFF"
        return str(value)


def _p(name: str, scope: str, kind: str, **kw: Any) -> Pragma:
    return Pragma(name, scope, kind, **kw)


# Every integer pragma has both bounds: where SQLite reads the value as a C int
# (sqlite3Atoi), a larger one silently becomes 0; where it clamps (mmap_size to
# SQLITE_MAX_MMAP_SIZE, threads to SQLITE_MAX_WORKER_THREADS, both at their default builds'
# values: https://www.sqlite.org/compile.html) it reads back another value. Either way the
# runtime's read-back would fail on every connection, so validation refuses the value first.
_INT_MAX = 2**31 - 1
_I32 = {"minimum": -(2**31), "maximum": _INT_MAX}
_U32 = {"minimum": 0, "maximum": _INT_MAX}
_U64 = {"minimum": 0, "maximum": 2**63 - 1}
_INTEGER = re.compile(r"-?[0-9]{1,19}")

PRAGMAS: dict[str, Pragma] = {
    p.name: p
    for p in (
        # Persistent: they live in the database file and are planned.
        _p("journal_mode", PERSISTENT, "enum", transactional=False, enum_is_numbered=False,
           choices=("delete", "truncate", "persist", "memory", "wal", "off")),
        _p("page_size", PERSISTENT, "int", minimum=512, maximum=65536,
           transactional=False, needs_vacuum=True),
        _p("auto_vacuum", PERSISTENT, "enum", choices=("none", "full", "incremental"),
           transactional=False, needs_vacuum=True),
        _p("user_version", PERSISTENT, "int", **_I32),
        _p("application_id", PERSISTENT, "int", **_I32),
        # Connection-scoped: applied by tuner.runtime on every connection, never planned.
        _p("synchronous", CONNECTION, "enum", choices=("off", "normal", "full", "extra")),
        _p("temp_store", CONNECTION, "enum", choices=("default", "file", "memory")),
        _p("locking_mode", CONNECTION, "enum", choices=("normal", "exclusive"),
           enum_is_numbered=False),
        _p("cache_size", CONNECTION, "int", **_I32),
        _p("mmap_size", CONNECTION, "int", minimum=0, maximum=0x7FFF0000),
        _p("busy_timeout", CONNECTION, "int", **_U32),
        _p("wal_autocheckpoint", CONNECTION, "int", **_U32),
        _p("journal_size_limit", CONNECTION, "int", minimum=-1, maximum=2**63 - 1),
        _p("cache_spill", CONNECTION, "int", **_U32),
        _p("analysis_limit", CONNECTION, "int", **_U32),
        _p("threads", CONNECTION, "int", minimum=0, maximum=8),
        _p("soft_heap_limit", CONNECTION, "int", **_U64),
        _p("hard_heap_limit", CONNECTION, "int", **_U64),
        _p("foreign_keys", CONNECTION, "bool"),
        _p("recursive_triggers", CONNECTION, "bool"),
        _p("automatic_index", CONNECTION, "bool"),
        _p("cell_size_check", CONNECTION, "bool"),
        _p("trusted_schema", CONNECTION, "bool"),
        _p("query_only", CONNECTION, "bool"),
        _p("defer_foreign_keys", CONNECTION, "bool"),
        _p("ignore_check_constraints", CONNECTION, "bool"),
        _p("reverse_unordered_selects", CONNECTION, "bool"),
        _p("secure_delete", CONNECTION, "enum", choices=("off", "on", "fast")),
    )
}

# The journal modes that survive the connection: WAL is recorded in the file; every rollback
# mode reopens as the default, `delete`.
PERSISTENT_JOURNAL_MODES = ("wal", "delete")


def persistent_journal_mode(mode: str) -> str:
    """What a connection's journal mode leaves in the file: `wal`, or `delete` for the rest."""
    return "wal" if mode == "wal" else "delete"


def split_pragmas(settings: dict[str, Any]) -> tuple[dict[str, Setting], dict[str, Setting]]:
    """Persistent pragmas are planned; connection pragmas are runtime settings. A journal
    mode other than wal/delete is both: the file keeps `delete`, the connection the mode."""
    persistent, runtime = {}, {}
    for name, value in settings.items():
        if name == "journal_mode":
            persistent[name] = Setting(name, persistent_journal_mode(value), PERSISTENT)
            if value not in ("wal", "delete"):
                runtime[name] = Setting(name, value, CONNECTION)
        elif PRAGMAS[name].scope == PERSISTENT:
            persistent[name] = Setting(name, value, PERSISTENT)
        else:
            runtime[name] = Setting(name, value, CONNECTION)
    return persistent, runtime


def pragma_sql(name: str, value: Any) -> str:
    """`PRAGMA name = value;` for a known pragma and a canonical value."""
    return render("sqlite", "set_pragma", name=PRAGMAS[name].name,
                  value=PRAGMAS[name].render(value))
