"""What a fleet does to each member: plan, apply, check or read its history, through the same
generic pipeline as the single-database commands (tuner.api.make_plan, tuner.apply,
tuner.workload.check, the engine's history), so each database keeps its own lock, backup,
history and stale check. Each factory takes what the whole fleet shares (the profile, loaded
and validated once, and immutable) and returns a `Work` for tuner.fleet.run_fleet.

Nothing here prints; a member's errors become its outcome.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from urllib.parse import urlsplit

from tuner.api import make_plan, read_history, recover
from tuner.apply import apply_plan
from tuner.errors import ApplyError
from tuner.fleet import Outcome, Work
from tuner.model import Profile
from tuner.options import ApplyOptions
from tuner.planfile import render_plan_file
from tuner.plantypes import Plan
from tuner.workload.check import check

#: Saves one member's plan file text; returns the path written.
Save = Callable[[str, str], str]


def plan_file_name(target: str) -> str:
    """A safe, unique file name for a member's plan: its file (or database) name, cleaned,
    and 8 hex digits of the full target, e.g. `acme.db-1a2b3c4d.plan.sql`. Two members with
    the same file name in different folders get different names; no password in a URL ever
    reaches the name."""
    parts = urlsplit(target)
    if "://" in target:
        port = f"_{parts.port}" if parts.port else ""
        stem = f"{parts.path.strip('/') or 'db'}@{parts.hostname or 'local'}{port}"
    else:
        stem = target.rstrip("/").rsplit("/", 1)[-1]
    stem = re.sub(r"[^A-Za-z0-9._@-]+", "_", stem).strip("._") or "db"
    digest = hashlib.sha256(target.encode("utf-8")).hexdigest()[:8]
    return f"{stem[:80]}-{digest}.plan.sql"


def plan_steps(plan: Plan) -> list[dict[str, object]]:
    """A plan's steps in short: what the fleet summary lists."""
    return [{"number": s.number, "kind": s.kind, "object": s.object, "phase": s.phase}
            for s in plan.steps]


def plan_work(profile: Profile, save: Save | None = None,
              keep: dict[str, Plan] | None = None) -> Work:
    """`tuner plan` on one member (read-only); `save` writes its plan file; `keep` collects
    the plans (apply's single confirmation applies exactly what it showed)."""
    def work(target: str) -> Outcome:
        plan = make_plan(profile, target)
        outcome = Outcome(target, "ok" if plan.empty else "changed", steps=plan_steps(plan))
        if save is not None:
            outcome.plan_file = save(target, render_plan_file(plan))
        if keep is not None:
            keep[target] = plan  # one key per member, each written by one thread only
        return outcome

    return work


def apply_work(profile: Profile, options: ApplyOptions,
               plans: dict[str, Plan] | None = None) -> Work:
    """`tuner apply --yes` on one member: its plan (the one already shown, if any, else a
    fresh one), rendered to a plan file and applied with its own verified backup, lock,
    history row and stale checks. No changes: no backup, status `ok`."""
    def work(target: str) -> Outcome:
        recover(target, options.busy_timeout_ms)
        plan = (plans or {}).get(target) or make_plan(profile, target)
        if plan.empty:
            return Outcome(target, "ok")
        try:
            result = apply_plan(plan, target, options)
        except ApplyError as exc:
            return Outcome(target, "failed", steps=plan_steps(plan), backup=exc.backup,
                           error=str(exc))
        done = result.as_dict()
        return Outcome(target, "changed" if result.steps else "ok", steps=done["steps"],
                       backup=done["backup"], history_id=result.history_id,
                       detail={"skipped_server_wide": done["skipped_server_wide"]}
                       if result.skipped else None)

    return work


def check_work(profile: Profile, threshold: int) -> Work:
    """`tuner check` on one member: `changed` when it drifted or a declared query scans a
    large table (the drift is its steps; the scans and pending settings are in `detail`)."""
    def work(target: str) -> Outcome:
        report = check(profile, target, threshold)
        return Outcome(target, "ok" if report.healthy else "changed", steps=report.drift,
                       detail={"healthy": report.healthy, "scans": report.scans,
                               "pending": report.pending})

    return work


def history_work() -> Work:
    """`tuner history` on one member: its records, oldest first, in `detail` (a dead apply's
    `started` row marked `interrupted` first, as `tuner history` does)."""
    def work(target: str) -> Outcome:
        records = read_history(target)
        return Outcome(target, "ok", detail={"history": [r.as_dict() for r in records]})

    return work
