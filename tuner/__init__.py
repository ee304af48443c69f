"""tuner: a declarative, config-driven database tuner.

Public API: load_profile, inspect_db, make_plan (inspect + diff + build_plan in one call),
diff, build_plan, render_plan_file, parse_plan_file and apply_plan (one typed Plan, with its
Manifest, from the planner to apply; ApplyOptions say how); for applications (tuner.runtime):
connect, ConnectionPool, BatchWriter.
"""

from __future__ import annotations

from tuner.api import inspect_db, make_plan
from tuner.apply import apply_plan
from tuner.diff import diff
from tuner.options import ApplyOptions
from tuner.plan import build_plan
from tuner.planfile import parse_plan_file, render_plan_file
from tuner.plantypes import Manifest, Plan
from tuner.profile import Profile, load_profile
from tuner.runtime import (
    BatchWriter,
    ConnectionPool,
    PoolClosed,
    PoolTimeout,
    connect,
)
from tuner.version import __version__

__all__ = ["__version__", "ApplyOptions", "BatchWriter", "ConnectionPool", "Manifest", "Plan",
           "PoolClosed", "PoolTimeout", "Profile", "apply_plan", "build_plan", "connect",
           "diff", "inspect_db", "load_profile", "make_plan", "parse_plan_file",
           "render_plan_file"]
