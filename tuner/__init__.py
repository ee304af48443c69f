"""tuner: a declarative, config-driven database tuner.

Public API: load_profile, inspect_db, make_plan (inspect + diff + build_plan in one call),
diff, build_plan, render_plan_file; for applications (tuner.runtime): connect,
ConnectionPool, BatchWriter.
"""

from __future__ import annotations

from tuner.api import inspect_db, make_plan  # noqa: E402
from tuner.diff import diff  # noqa: E402
from tuner.plan import build_plan  # noqa: E402
from tuner.planfile import render_plan_file  # noqa: E402
from tuner.plantypes import Plan  # noqa: E402
from tuner.profile import Profile, load_profile  # noqa: E402
from tuner.runtime import (  # noqa: E402
    BatchWriter,
    ConnectionPool,
    PoolClosed,
    PoolTimeout,
    connect,
)
from tuner.version import __version__  # noqa: E402

__all__ = ["__version__", "BatchWriter", "ConnectionPool", "Plan", "PoolClosed", "PoolTimeout",
           "Profile", "build_plan", "connect", "diff", "inspect_db", "load_profile",
           "make_plan", "render_plan_file"]
