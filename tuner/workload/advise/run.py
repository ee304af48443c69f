"""`tuner advise`: the entry point. The engine's advise part (reached through the lookup)
reads the live plans and tries candidates its own way, then runs the engine-neutral search
(tuner.workload.advise.search); tuner.workload.advise.write edits the profile.
"""

from __future__ import annotations

from dataclasses import replace

from tuner.engines.lookup import engine_for
from tuner.model import Profile, key
from tuner.workload.advise.model import Advice, AdviseOptions
from tuner.workload.advise.workload import read_workload
from tuner.workload.bench.measure import SCAN_THRESHOLD


def advise(profile: Profile, db: str, threshold: int = SCAN_THRESHOLD, *,
           create_extension: bool = False, workload: str | None = None,
           only_workload: bool = False) -> Advice:
    """Advise indexes for the profile's declared queries on the database at `db` (read-only;
    on PostgreSQL, `create_extension` lets it create the hypopg extension first).

    `workload`: a capture file; its top reads join the declared queries (replace them with
    `only_workload`), weighted by their captured time, and its writes give each index a
    maintenance cost (tuner.workload.advise.weigh)."""
    engine = engine_for(str(db))
    live = engine.inspect(str(db)) if profile.indexes or workload else None
    if live is not None and profile.indexes:
        # The profile's indexes as the engine reads them back (their signatures), so the ones
        # not built yet are weighed, and linted, as they will be once `tuner apply` builds them.
        desired = engine.desired_state(profile, live).indexes
        profile = replace(profile, indexes=tuple(desired.get(key(i.name), i)
                                                 for i in profile.indexes))
    if workload is None or live is None:
        return engine.advise(profile, str(db), AdviseOptions(threshold, create_extension))
    work = read_workload(workload, profile, engine.sql_dialect, only=only_workload)
    tables = set(live.tables)
    work.keep_readable(tables | {k.split(".")[-1] for k in tables})
    advised = replace(profile, queries=work.queries(profile))
    advice = engine.advise(advised, str(db), AdviseOptions(threshold, create_extension, work))
    advice.captured, advice.workload = list(work.reads), workload
    advice.notes += work.skipped
    return advice
