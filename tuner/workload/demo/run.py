"""Owns where `tuner demo` runs, per engine: the database it tunes, the untuned one its
comparison measures, and the bundled profile for that engine.

- SQLite: a pristine demo file is generated once in the work folder; every run tunes a fresh
  copy of it (demo.db), and the comparison measures copies of the pristine file.
- PostgreSQL: the demo tables are loaded with COPY into the database at `--db` (existing ones
  refused unless --force); that database is tuned, and the comparison, run before the apply,
  measures a scratch clone of it.

The CLI runs the same steps on either (plan, compare, apply, plan again); nothing here prints:
progress goes to callbacks.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tuner.engines.sqlite.inspect import COMPANIONS
from tuner.errors import TunerError
from tuner.resources import bundled_profile
from tuner.workload.demo.data import Progress, demo_loader

Say = Callable[[str], None]


@dataclass(frozen=True)
class DemoTarget:
    """Where a demo runs: `work` is tuned, `untuned` is what the comparison clones (the same
    database on PostgreSQL, measured before the apply), `profile` the bundled profile."""

    work: str
    untuned: str
    profile: Path
    described: str


@dataclass(frozen=True)
class DemoRequest:
    """The `tuner demo` options that say what to build."""

    folder: Path
    db: str | None
    participants: int
    seed: int
    force: bool


def _sqlite(req: DemoRequest, progress: Progress, say: Say) -> DemoTarget:
    if req.db is not None:
        raise TunerError("--db is for `tuner demo --engine postgresql`; the SQLite demo "
                         "works in --workdir")
    pristine = req.folder / f"pristine-{req.participants}-{req.seed}.db"
    if not pristine.exists():
        say(f"Generating the demo database ({req.participants:,} participants), once...")
        partial = req.folder / (pristine.name + ".partial")
        demo_loader(str(partial))(str(partial), req.participants, seed=req.seed, force=True,
                                  on_progress=progress)
        os.replace(partial, pristine)
    work = req.folder / "demo.db"
    for suffix in ("", *COMPANIONS):
        Path(str(work) + suffix).unlink(missing_ok=True)
    shutil.copyfile(pristine, work)
    return DemoTarget(str(work), str(pristine), bundled_profile(),
                      f"Working copy: {work} (from {pristine.name})")


def _postgresql(req: DemoRequest, progress: Progress, say: Say) -> DemoTarget:
    from tuner.engines.postgres.conn import is_postgres_url, redact

    if req.db is None or not is_postgres_url(req.db):
        raise TunerError("tuner demo --engine postgresql needs --db postgresql://user@host/"
                         "dbname: the database that gets the demo tables")
    say(f"Loading the demo data ({req.participants:,} participants) into {redact(req.db)} "
        "with COPY ...")
    stats = demo_loader(req.db)(req.db, req.participants, seed=req.seed, force=req.force,
                                on_progress=progress)
    counts = ", ".join(f"{n:,} {t}" for t, n in stats.rows.items())
    return DemoTarget(req.db, req.db, bundled_profile("telegram-bot-postgres"),
                      f"Loaded {counts} into {stats.path} in {stats.seconds:.1f} s")


PREPARE: dict[str, Callable[[DemoRequest, Progress, Say], DemoTarget]] = {
    "sqlite": _sqlite, "postgresql": _postgresql}


def prepare_demo(engine: str, req: DemoRequest, progress: Progress, say: Say) -> DemoTarget:
    """Build the demo database for `engine` and say where the demo runs."""
    req.folder.mkdir(parents=True, exist_ok=True)
    return PREPARE[engine](req, progress, say)
