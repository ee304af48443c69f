"""Owns choosing where `tuner demo` runs, through the engine (tuner.engines.sqlite.demo,
tuner.engines.postgres.demo): the database it tunes, the untuned one its comparison measures,
and the bundled profile for that engine.

- SQLite: a pristine demo file is generated once in the work folder; every run tunes a fresh
  copy of it (demo.db), and the comparison measures copies of the pristine file.
- PostgreSQL: the demo tables are loaded with COPY into the database at `--db` (existing ones
  refused unless --force); that database is tuned, and the comparison, run before the apply,
  measures a scratch clone of it.

The CLI runs the same steps on either (plan, compare, apply, plan again); nothing here prints:
progress goes to callbacks.
"""

from __future__ import annotations

from collections.abc import Callable

from tuner.engines.lookup import engine_for, engine_named
from tuner.workload.demo.data import DemoRequest, DemoStats, DemoTarget, Progress, Say


def prepare_demo(engine: str, req: DemoRequest, progress: Progress, say: Say) -> DemoTarget:
    """Build the demo database for `engine` and say where the demo runs."""
    req.folder.mkdir(parents=True, exist_ok=True)
    return engine_named(engine).prepare_demo(req, progress, say)


def demo_loader(target: str) -> Callable[..., DemoStats]:
    """The demo builder for a target (an SQLite file path or a postgresql:// URL): it takes
    (target, participants, *, seed, messages, force, on_progress) and returns DemoStats."""
    return engine_for(target).load_demo
