"""Owns `tuner demo --workload`: the capture -> advise -> apply -> replay loop on the demo.

On an untuned copy of the demo database: run the bot's own operations with capture on
(tuner.workload.demo.workload.drive), replay the capture (before), advise from it through the
library (`advise --workload --only-workload` on a profile with the bundled profile's settings
and no index), write the advice into that profile as `tuner advise --write` does, apply it
through the normal plan/apply path, replay the capture again (after), and advise again (it
should recommend nothing). How each captured read runs (SCAN/SEARCH) is asked of the engine
before and after. Nothing here prints: progress goes to `say`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from tuner.api import make_plan
from tuner.apply import ApplyOptions, ApplyResult, apply_plan
from tuner.capture.access import Access
from tuner.capture.normalize import normalize
from tuner.engines.lookup import engine_for
from tuner.profile import load_profile
from tuner.workload.advise.model import Advice, Recommendation
from tuner.workload.advise.run import advise
from tuner.workload.advise.workload import as_profile_query
from tuner.workload.advise.write import write_advice
from tuner.workload.demo.data import DemoTarget, Say
from tuner.workload.demo.workload import DriveStats, Replay, drive, replay

#: The profile the loop advises into, in the demo's folder.
PROFILE_NAME = "workload-advised.yaml"
CAPTURE_NAME = "capture.db"


@dataclass
class LoopReport:
    """What the loop did and measured."""

    target: DemoTarget
    capture: Path
    profile: Path
    driven: DriveStats
    advice: Advice
    applied: ApplyResult
    before: Replay
    after: Replay
    access_before: dict[str, Access]
    access_after: dict[str, Access]
    again: list[Recommendation]
    #: The fingerprints of the captured reads advise weighed (the hot ones).
    hot_reads: frozenset[str]


def start_profile(bundled: Path, path: Path) -> Path:
    """Write the bundled profile's settings without its indexes, views and queries to `path`:
    what the loop advises into."""
    data = yaml.safe_load(bundled.read_text(encoding="utf-8"))
    for name in ("indexes", "views", "queries"):
        data.pop(name, None)
    data["profile"] = f"{data['profile']}-workload"
    path.write_text("# The bundled profile's settings; the indexes come from "
                    "`tuner advise --workload`.\n" + yaml.safe_dump(data, sort_keys=False),
                    encoding="utf-8")
    return path


def workload_loop(target: DemoTarget, folder: Path, *, ops: int, seed: int,
                  say: Say) -> LoopReport:
    """Run the loop on `target.work` (an untuned copy); see the module docstring."""
    engine = engine_for(target.work)
    capture = folder / CAPTURE_NAME
    capture.unlink(missing_ok=True)
    say(f"Running {ops:,} bot operations (tuner.runtime.bot.BotStore) with capture on ...")
    driven = drive(target.work, None, capture=capture, ops=ops, seed=seed)
    say("Replaying the capture on the untuned database ...")
    before = replay(capture, target.work)
    statements = [r.statement for r in before.statements if not r.is_write]
    access_before = engine.capture_access(target.work, statements)

    path = start_profile(target.profile, folder / PROFILE_NAME)
    original = path.read_bytes()
    say("Advising from the capture (tuner advise --workload --only-workload) ...")
    advice = advise(load_profile(path), target.work, workload=str(capture), only_workload=True)
    recs = advice.to_write()
    write_advice(str(path), original, [r.as_profile() for r in recs], [r.notes() for r in recs],
                 [as_profile_query(q) for q in advice.captured])
    advised = load_profile(path)
    say(f"Applying the {len(recs)} advised index(es) (tuner apply) ...")
    applied = apply_plan(make_plan(advised, target.work), target.work,
                         ApplyOptions(backup_dir=folder / ".tuner-backups"))
    say("Replaying the capture on the tuned database ...")
    after = replay(capture, target.work, advised)
    access_after = engine.capture_access(target.work, statements)
    again = advise(advised, target.work, workload=str(capture), only_workload=True).to_write()
    hot = frozenset(normalize(q.sql, engine.sql_dialect).fingerprint for q in advice.captured)
    return LoopReport(target, capture, path, driven, advice, applied, before, after,
                      access_before, access_after, again, hot)

