"""`tuner advise`: the entry point. The engine's advise part (reached through the lookup)
reads the live plans and tries candidates its own way, then runs the engine-neutral search
(tuner.workload.advise.search); tuner.workload.advise.write edits the profile.
"""

from __future__ import annotations

from tuner.engines.lookup import engine_for
from tuner.model import Profile
from tuner.workload.advise.model import Advice, AdviseOptions
from tuner.workload.bench.measure import SCAN_THRESHOLD


def advise(profile: Profile, db: str, threshold: int = SCAN_THRESHOLD, *,
           create_extension: bool = False) -> Advice:
    """Advise indexes for the profile's declared queries on the database at `db` (read-only;
    on PostgreSQL, `create_extension` lets it create the hypopg extension first)."""
    return engine_for(str(db)).advise(profile, str(db), AdviseOptions(threshold,
                                                                      create_extension))
