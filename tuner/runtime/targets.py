"""tuner.connect and tuner.ConnectionPool: the runtime for a target, through its engine.

A `postgresql://` URL gets the PostgreSQL runtime (psycopg connections, a psycopg_pool pool);
anything else is an SQLite file. The engine comes from the lookup (tuner.engines), so callers
never test the engine themselves, and psycopg is imported only when a URL asks for it. A
profile may be given as a path: it is loaded here, and must be a profile for that engine.

`capture=PATH` (or $TUNER_CAPTURE when capture is None; False turns it off) records every
statement run through the connections into a capture file (tuner.capture), `sample=` of them;
the engine's connections report to one Recorder per file and process.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tuner.capture.recorder import CaptureArg, recorder_for
from tuner.engines.lookup import engine_for
from tuner.errors import TunerError
from tuner.model import Profile
from tuner.profile import load_profile

#: A profile, the path of one, or None (no per-connection settings).
ProfileLike = Profile | str | Path | None


def resolve_profile(profile: ProfileLike, engine: str = "sqlite") -> Profile | None:
    """A loaded Profile from a path or a Profile; it must be a profile for `engine`."""
    if profile is None or isinstance(profile, Profile):
        loaded = profile
    else:
        loaded = load_profile(profile)
    if loaded is not None and loaded.engine != engine:
        raise TunerError(f"{loaded.path}: profile {loaded.name} is for engine {loaded.engine}, "
                         f"not {engine}")
    return loaded


def connect(target: str | Path, profile: ProfileLike = None, *, capture: CaptureArg = None,
            sample: float = 1.0, **kwargs: Any) -> Any:
    """One connection to `target` with the profile's per-connection settings applied and read
    back: an sqlite3 connection for a file path (see tuner.engines.sqlite.conn), a psycopg
    connection for a postgresql:// URL (see tuner.engines.postgres.runtime). With capture on,
    its statements are flushed every few seconds by the thread recording and at exit (not
    at each close: an application opening a connection per request would write per request)."""
    engine = engine_for(str(target))
    loaded = resolve_profile(profile, engine.name)
    recorder = recorder_for(capture, engine.name, sample=sample)
    return engine.connect(str(target), loaded, recorder=recorder, **kwargs)


def ConnectionPool(target: str | Path, profile: ProfileLike = None,  # noqa: N802 - public name
                   *, capture: CaptureArg = None, sample: float = 1.0, **kwargs: Any) -> Any:
    """A pool for `target` sized by the profile's `runtime.pool`: the SQLite pool (readers
    plus one writer) for a file path, PgPool (on psycopg_pool) for a postgresql:// URL. Both
    lend connections with `reader()` and `writer()` and have `stats()` and `close()`; with
    capture on, `close()` flushes the statements recorded so far."""
    engine = engine_for(str(target))
    loaded = resolve_profile(profile, engine.name)
    recorder = recorder_for(capture, engine.name, sample=sample)
    return engine.pool(str(target), loaded, recorder=recorder, **kwargs)
