"""The plan file: a header people and tuner can read (with a JSON manifest), then the body.

The plan hash is a sha256 over the body alone, so the header can carry the time and the hash
itself. The same hash names the plan everywhere (backup names, history rows).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from tuner import __version__
from tuner.errors import PlanFileError
from tuner.plan import PHASES, Plan
from tuner.render import environment, render

MANIFEST_BEGIN = "-- tuner:manifest"
MANIFEST_END = "-- tuner:end-manifest"
FORMAT = 1


@dataclass(frozen=True)
class PlanFile:
    """A plan file read back: its manifest and its body, and whether the body is intact."""

    manifest: dict[str, Any]
    body: str

    @property
    def intact(self) -> bool:
        """True when the body still hashes to the manifest's plan hash (not edited)."""
        return body_hash(self.body) == self.manifest.get("plan_hash")


def body_hash(body: str) -> str:
    """The plan hash: sha256 of the body text."""
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def render_body(plan: Plan) -> str:
    """The executable part of the plan: three phases of marked, idempotent statements."""
    phases = []
    for number in (1, 2, 3):
        steps = [s for s in plan.steps if s.phase == number]
        if steps:
            phases.append({"number": number, "title": PHASES[number], "steps": steps,
                           "transactional": number == 1})
    text = environment().get_template("common/plan_body.sql.j2").render(phases=phases)
    return text.strip() + "\n"


def manifest(plan: Plan, body: str, created: str) -> dict[str, Any]:
    """The JSON manifest carried in the header."""
    return {
        "format": FORMAT,
        "tuner_version": __version__,
        "engine": plan.engine,
        "profile": {"name": plan.profile_name, "version": plan.profile_version,
                    "sha256": plan.profile_sha256},
        "database": plan.target,
        "created": created,
        "fingerprint": plan.fingerprint,
        "plan_hash": body_hash(body),
        "steps": len(plan.steps),
        "prior": plan.prior,
        "desired": plan.desired,
    }


def render_plan_file(plan: Plan, now: datetime | None = None) -> str:
    """The whole plan file: header with manifest, then the body."""
    body = render_body(plan)
    created = (now or datetime.now(timezone.utc)).strftime("%Y-%m-%dT%H:%M:%SZ")
    data = manifest(plan, body, created)
    header = render(plan.engine, "plan_header", plan_hash=data["plan_hash"],
                    profile=plan.profile_name, version=plan.profile_version,
                    target=plan.target, created=created, tuner_version=__version__,
                    warnings=[w.replace("\n", " ") for w in plan.warnings])
    lines = json.dumps(data, indent=2, sort_keys=False).splitlines()
    manifest_text = "\n".join("-- " + line for line in lines)
    return f"{header}\n{MANIFEST_BEGIN}\n{manifest_text}\n{MANIFEST_END}\n\n{body}"


def parse_plan_file(text: str) -> PlanFile:
    """Read a plan file back; PlanFileError if it is not one or its manifest is damaged."""
    start = text.find("\n" + MANIFEST_BEGIN + "\n")
    end = text.find("\n" + MANIFEST_END + "\n")
    if start < 0 or end < start:
        raise PlanFileError("not a tuner plan file (no manifest)")
    lines = text[start + len(MANIFEST_BEGIN) + 2:end].splitlines()
    try:
        data = json.loads("\n".join(line[3:] if line.startswith("-- ") else line
                                    for line in lines))
    except json.JSONDecodeError as exc:
        raise PlanFileError(f"the plan's manifest is damaged: {exc}") from None
    body = text[end + len(MANIFEST_END) + 2:]
    if body.startswith("\n"):
        body = body[1:]
    return PlanFile(manifest=data, body=body)
