"""Owns `tuner demo --workload`: the capture -> advise -> apply -> replay loop on the demo.

On an untuned copy of the demo database: run the bot's own operations with capture on
(tuner.workload.demo.workload.rerun: the "before" timings) and replay the capture's samples.
Then, in passes (`settle`): advise from the latest capture through the library (`advise
--workload --only-workload`, into a profile with the bundled profile's settings and no index),
write the advice into that profile as `tuner advise --write` does, apply it through the normal
plan/apply path, and run the same operations again with capture on (the same statements and
calls, checked); until advise recommends nothing more. A second pass is needed when the first
one's indexes make the reads that were too small to weigh (under advise's share of the read
time, next to full scans) the slow ones. The last capture gives the "after" timings; the
capture's samples are replayed again. How each captured read runs (SCAN/SEARCH) is asked of the
engine before and after. Nothing here prints: progress goes to `say`.
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
from tuner.workload.demo.workload import Replay, Rerun, replay, rerun, same_workload

#: The profile the loop advises into, in the demo's folder.
PROFILE_NAME = "workload-advised.yaml"
CAPTURE_NAME = "capture.db"
#: Advise-apply-capture passes at most.
PASSES = 3


@dataclass
class Pass:
    """One pass: the advice from the latest capture, what it added, the apply, and the capture
    of the same operations after it (no apply nor capture when nothing was added)."""

    advice: Advice
    added: list[Recommendation]
    applied: ApplyResult | None = None
    after: Rerun | None = None


@dataclass
class LoopReport:
    """What the loop did and measured."""

    target: DemoTarget
    capture: Path
    profile: Path
    before: Rerun
    passes: list[Pass]
    sample_before: Replay
    sample_after: Replay
    access_before: dict[str, Access]
    access_after: dict[str, Access]
    #: The fingerprints of the captured reads advise weighed in any pass (the hot ones).
    hot_reads: frozenset[str]

    @property
    def after(self) -> Rerun:
        return next((p.after for p in reversed(self.passes) if p.after), self.before)

    @property
    def again(self) -> list[Recommendation]:
        """What the last advice still recommends (nothing: the loop settled)."""
        return self.passes[-1].added

    @property
    def settled(self) -> bool:
        return self.passes[-1].applied is None and not self.passes[-1].added

    @property
    def same(self) -> bool:
        return all(same_workload(self.capture, p.after.capture)
                   for p in self.passes if p.after)


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


def settle(path: Path, db: str, capture: Path, folder: Path, *, ops: int, seed: int,
           say: Say, passes: int = PASSES) -> list[Pass]:
    """Advise from `capture` into the profile at `path`, apply it to `db`, run the `ops`
    seeded operations again captured, and advise from that capture, until advise recommends
    nothing more or `passes` applies are done (the last Pass then still holds what the
    advice added, unapplied)."""
    done: list[Pass] = []
    latest = capture
    for k in range(1, passes + 2):
        say(f"Pass {k}: advising from {latest.name} (tuner advise --workload --only-workload)"
            " ...")
        original = path.read_bytes()
        advice = advise(load_profile(path), db, workload=str(latest), only_workload=True)
        step = Pass(advice, advice.to_write())
        done.append(step)
        if not step.added or k > passes:
            break
        queries = [as_profile_query(q) for q in advice.captured] if k == 1 else []
        write_advice(str(path), original, [r.as_profile() for r in step.added],
                     [r.notes() for r in step.added], queries)
        advised = load_profile(path)
        say(f"Pass {k}: applying {len(step.added)} advised index(es) (tuner apply), then the "
            "same operations again, captured ...")
        step.applied = apply_plan(make_plan(advised, db), db,
                                  ApplyOptions(backup_dir=folder / ".tuner-backups"))
        latest = folder / f"capture-pass{k}.db"
        step.after = rerun(db, advised, capture=latest, ops=ops, seed=seed)
    return done


def workload_loop(target: DemoTarget, folder: Path, *, ops: int, seed: int,
                  say: Say, passes: int = PASSES) -> LoopReport:
    """Run the loop on `target.work` (an untuned copy); see the module docstring."""
    engine = engine_for(target.work)
    capture = folder / CAPTURE_NAME
    say(f"Running {ops:,} bot operations (tuner.runtime.bot.BotStore) with capture on ...")
    before = rerun(target.work, None, capture=capture, ops=ops, seed=seed)
    say("Replaying the capture's samples on the untuned database ...")
    sample_before = replay(capture, target.work)
    statements = [r.statement for r in sample_before.statements if not r.is_write]
    access_before = engine.capture_access(target.work, statements)
    path = start_profile(target.profile, folder / PROFILE_NAME)
    done = settle(path, target.work, capture, folder, ops=ops, seed=seed, say=say,
                  passes=passes)
    advised = load_profile(path)
    say("Replaying the capture's samples on the tuned database ...")
    sample_after = replay(capture, target.work, advised)
    access_after = engine.capture_access(target.work, statements)
    hot = frozenset(normalize(q.sql, engine.sql_dialect).fingerprint
                    for p in done for q in p.advice.captured)
    return LoopReport(target, capture, path, before, done, sample_before, sample_after,
                      access_before, access_after, hot)
