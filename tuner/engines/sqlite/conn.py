"""tuner.connect: an sqlite3 connection with the profile's per-connection pragmas applied and
read back.

`synchronous`, `cache_size`, `temp_store`, `mmap_size`, `busy_timeout`, `foreign_keys` and the
other connection-scoped pragmas die with the connection (https://www.sqlite.org/pragma.html),
so setting them once in a script does nothing for the application: every connection it opens
has to set them. SQLite ignores an unknown or refused pragma silently, so each one is read back.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any
from urllib.parse import quote

from tuner.capture.recorder import Recorder
from tuner.engines.sqlite.capture import capture, factory_for
from tuner.engines.sqlite.settings import PRAGMAS, pragma_sql, split_pragmas
from tuner.errors import DatabaseError, TunerError
from tuner.model import Profile, Setting
from tuner.render import render


def runtime_settings(profile: Profile | None, *, readonly: bool = False) -> list[Setting]:
    """The per-connection pragmas of `profile` (none without one). A read-only connection
    cannot change the journal mode, so it skips `journal_mode`."""
    if profile is None:
        return []
    _persistent, runtime = split_pragmas(profile.settings)
    return [s for s in runtime.values() if not (readonly and s.name == "journal_mode")]


def configure(conn: sqlite3.Connection, settings: list[Setting], where: str = "") -> None:
    """Apply each setting to `conn` and read it back; a mismatch is a TunerError naming the
    pragma, the wanted and the actual value."""
    for setting in settings:
        conn.execute(pragma_sql(setting.name, setting.value)).fetchall()
        raw = conn.execute(render("sqlite", "read_pragma", name=setting.name)).fetchone()
        got = PRAGMAS[setting.name].normalize(raw[0]) if raw else None
        if got != setting.value:
            raise TunerError(f"{where or 'connection'}: pragma {setting.name} reads back "
                             f"{got!r}, wanted {setting.value!r}")


def connect(path: str | Path, profile: Profile | None = None, *, readonly: bool = False,
            timeout: float | None = None, recorder: Recorder | None = None,
            **kwargs: Any) -> sqlite3.Connection:
    """Open the SQLite database at `path` with every connection-scoped pragma of `profile`
    applied and read back. `readonly=True` opens it read-only. With a `recorder`, every
    statement run through the connection is reported to it (tuner.engines.sqlite.capture).
    Other keyword arguments go to `sqlite3.connect`. An existing database is required: no
    file is ever created."""
    loaded = profile
    p = Path(path)
    if not p.is_file():
        raise DatabaseError(str(path), "no such database file")
    mode = "ro" if readonly else "rw"
    if timeout is None:
        busy = loaded.settings.get("busy_timeout") if loaded else None
        timeout = (busy / 1000) if busy is not None else 5.0
    if recorder is not None:
        kwargs["factory"] = factory_for(kwargs.get("factory"))
    try:
        conn = sqlite3.connect("file:" + quote(str(p.resolve())) + f"?mode={mode}", uri=True,
                               timeout=timeout, **kwargs)
    except sqlite3.Error as exc:
        raise DatabaseError(str(path), f"cannot open: {exc}") from None
    try:
        configure(conn, runtime_settings(loaded, readonly=readonly), str(path))
    except BaseException:
        conn.close()
        raise
    if recorder is not None:
        capture(conn, recorder)     # after the pragmas: they are tuner's, not the application's
    return conn
