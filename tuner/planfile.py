"""The plan file: a header people and tuner can read (with a JSON manifest), then the body.

The plan hash is a sha256 over the body alone, so the header can carry the time and the hash
itself. The same hash names the plan everywhere (backup names, history rows).
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
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
class FileStep:
    """One step as written in a plan file: what apply executes, exactly as reviewed."""

    number: int
    kind: str
    object: str
    transactional: bool
    destructive: bool
    phase: int
    reason: str
    statements: tuple[str, ...]
    #: Changes the whole server, not just this database: apply runs it only when asked to.
    server_wide: bool = False


@dataclass(frozen=True)
class PlanFile:
    """A plan file read back: its manifest and its body, and whether the body is intact."""

    manifest: dict[str, Any]
    body: str

    @property
    def intact(self) -> bool:
        """True when the body still hashes to the manifest's plan hash (not edited)."""
        return body_hash(self.body) == self.manifest.get("plan_hash")

    @property
    def plan_hash(self) -> str:
        """The plan hash the header declares."""
        return str(self.manifest.get("plan_hash", ""))

    def steps(self) -> list[FileStep]:
        """The body's steps in order, each with its statements split as SQLite would."""
        return parse_steps(self.body)


def body_hash(body: str) -> str:
    """The plan hash: sha256 of the body text."""
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def render_body(plan: Plan) -> str:
    """The executable part of the plan: three phases of marked, idempotent statements. The
    transactional steps that open phase 1 (all of SQLite's DDL; PostgreSQL's views) are
    wrapped in the engine's BEGIN ... COMMIT, and the steps after them run one by one
    (PostgreSQL's CONCURRENTLY builds refuse a transaction), so the file runs as apply runs it
    (`sqlite3 -bail`, `psql -v ON_ERROR_STOP=1 -f`)."""
    phases = []
    titles = plan.phase_titles or PHASES
    for number in (1, 2, 3):
        steps = [s for s in plan.steps if s.phase == number]
        if steps:
            leading = 0
            while number == 1 and leading < len(steps) and steps[leading].transactional:
                leading += 1
            phases.append({"number": number, "title": titles.get(number, PHASES[number]),
                           "steps": steps, "transactional": leading})
    text = environment().get_template("common/plan_body.sql.j2").render(
        phases=phases, begin=render(plan.engine, "begin"))
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


STEP_MARK = "-- tuner:step "
_STRUCTURE = ("BEGIN IMMEDIATE;", "BEGIN;", "COMMIT;")


def parse_steps(body: str) -> list[FileStep]:
    """Split a plan body at its `-- tuner:step` markers. Lines between markers, other than
    comments and the phase's BEGIN/COMMIT, are the step's SQL; statements are split with
    `sqlite3.complete_statement`, so a trigger body's inner semicolons stay inside it."""
    steps: list[FileStep] = []
    phase = 0
    current: dict[str, Any] | None = None
    lines: list[str] = []

    def close() -> None:
        if current is not None:
            steps.append(FileStep(statements=_split_statements(lines), **current))

    for line in body.splitlines():
        if line.startswith("-- Phase "):
            close()
            current, lines = None, []
            phase = int(line[len("-- Phase "):].split(":", 1)[0])
        elif line.startswith(STEP_MARK):
            close()
            current, lines = _parse_marker(line, phase), []
        elif current is not None and line.startswith("-- reason: ") and not lines:
            current["reason"] = line[len("-- reason: "):]
        elif current is not None and line.strip() not in _STRUCTURE:
            lines.append(line)
    close()
    return steps


def _parse_marker(line: str, phase: int) -> dict[str, Any]:
    head, _, obj = line[len(STEP_MARK):].partition(" object=")
    fields = head.split()
    attrs = dict(f.split("=", 1) for f in fields[1:])
    try:
        return {"number": int(fields[0]), "kind": attrs["kind"],
                "transactional": attrs["transactional"] == "true",
                "destructive": attrs.get("destructive") == "true",
                "server_wide": attrs.get("server_wide") == "true",
                "object": json.loads(obj), "phase": phase, "reason": ""}
    except (KeyError, ValueError, IndexError) as exc:
        raise PlanFileError(f"damaged step marker: {line!r} ({exc})") from None


def _split_statements(lines: list[str]) -> tuple[str, ...]:
    out, buf = [], ""
    for line in lines:
        if not buf and (not line.strip() or line.lstrip().startswith("--")):
            continue
        buf += line + "\n"
        if sqlite3.complete_statement(buf):
            out.append(buf.strip())
            buf = ""
    if buf.strip():
        raise PlanFileError(f"incomplete SQL statement in the plan: {buf.strip()[:80]!r}")
    return tuple(out)
