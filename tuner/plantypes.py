"""The plan as data, one type from the planner to apply: numbered Steps and the typed Manifest
(what the plan was made for and from) in one Plan, and the prior state a plan carries (with its
fingerprint). Made by tuner.plan, written and read back by tuner.planfile, run by tuner.apply;
no I/O here.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from tuner.changes import (
    Change,
    CreateIndex,
    CreateView,
    DropIndex,
    DropView,
    ReplaceIndex,
    ReplaceView,
    SetSetting,
)
from tuner.errors import PlanFileError
from tuner.model import Setting, State
from tuner.version import __version__

SYMBOLS = {"create_index": "+", "create_view": "+", "drop_index": "-", "drop_view": "-",
           "replace_index": "~", "replace_view": "~", "set_setting": "!", "set_pragma": "!",
           "restore_trigger": "~", "vacuum": "*", "analyze": "*", "reload": "!"}
PHASES = {1: "transactional DDL, all or nothing", 2: "settings that cannot run inside a "
          "transaction", 3: "statistics"}
#: The version of the manifest's layout.
FORMAT = 1


@dataclass(frozen=True)
class Step:
    """One reviewable unit of the plan: its SQL, why it is there, and how it may run."""

    number: int
    kind: str
    object: str
    sql: tuple[str, ...]
    reason: str
    transactional: bool
    destructive: bool
    phase: int
    rows: int | None = None
    change: Change | None = field(default=None, compare=False, repr=False)
    #: Changes the whole server (see StepSpec.server_wide): apply needs --server-settings.
    server_wide: bool = False

    @property
    def symbol(self) -> str:
        """`+` create, `-` drop, `~` replace, `!` setting, `*` maintenance."""
        return SYMBOLS.get(self.kind, "*")

    @property
    def statements(self) -> tuple[str, ...]:
        """The step's SQL as the statements apply runs one by one, split as a plan file is
        read back (a trigger body's inner semicolons stay inside it)."""
        return split_statements("\n".join(self.sql).splitlines())

    def as_dict(self) -> dict[str, Any]:
        """The JSON form of the step."""
        return {"number": self.number, "kind": self.kind, "object": self.object,
                "sql": "\n".join(self.sql), "reason": self.reason,
                "transactional": self.transactional, "destructive": self.destructive,
                "phase": self.phase, "rows_estimate": self.rows,
                "server_wide": self.server_wide}


@dataclass(frozen=True)
class ProfileStamp:
    """Which profile a plan was made from: its name, version and sha256."""

    name: str | None = None
    version: int | None = None
    sha256: str | None = None


@dataclass(frozen=True)
class Manifest:
    """What a plan was made for and from, as its file's header carries it (JSON): the engine,
    the profile, the database, the prior state and its fingerprint (the stale check), the
    desired state (the read-back), and the plan hash over the body."""

    engine: str | None
    profile: ProfileStamp
    database: str
    fingerprint: str
    plan_hash: str
    steps: int
    prior: dict[str, Any]
    desired: dict[str, Any]
    created: str = ""
    tuner_version: str = __version__
    format: int = FORMAT

    @property
    def managed_settings(self) -> list[str]:
        """The settings the plan's profile manages (their values are part of its prior state)."""
        return sorted(self.desired.get("settings", {}))

    def as_json(self) -> dict[str, Any]:
        """The manifest as the plan file's header writes it."""
        return {"format": self.format, "tuner_version": self.tuner_version,
                "engine": self.engine,
                "profile": {"name": self.profile.name, "version": self.profile.version,
                            "sha256": self.profile.sha256},
                "database": self.database, "created": self.created,
                "fingerprint": self.fingerprint, "plan_hash": self.plan_hash,
                "steps": self.steps, "prior": self.prior, "desired": self.desired}

    @classmethod
    def from_json(cls, data: Any) -> Manifest:
        """The manifest a plan file's header holds; PlanFileError if it is not one."""
        if not isinstance(data, dict):
            raise PlanFileError("the plan's manifest is damaged: not a JSON object")
        stamp = data.get("profile")
        profile: dict[str, Any] = stamp if isinstance(stamp, dict) else {}
        prior, desired = data.get("prior"), data.get("desired")
        return cls(engine=data.get("engine"),
                   profile=ProfileStamp(profile.get("name"), profile.get("version"),
                                        profile.get("sha256")),
                   database=str(data.get("database", "")),
                   fingerprint=str(data.get("fingerprint", "")),
                   plan_hash=str(data.get("plan_hash", "")), steps=int(data.get("steps", 0)),
                   prior=prior if isinstance(prior, dict) else {},
                   desired=desired if isinstance(desired, dict) else {},
                   created=str(data.get("created", "")),
                   tuner_version=str(data.get("tuner_version", "")),
                   format=int(data.get("format", FORMAT)))


@dataclass(frozen=True)
class Plan:
    """The ordered steps and their manifest: what `tuner plan` shows, what a plan file holds,
    and what apply runs. Around them, what a reviewer needs: the per-connection (runtime)
    settings, the warnings, the unmanaged objects, and the engine's phase titles. A plan read
    back from a file is `intact` when its body still hashes to the manifest's plan hash."""

    steps: tuple[Step, ...]
    manifest: Manifest
    target: str
    runtime: tuple[Setting, ...] = ()
    warnings: tuple[str, ...] = ()
    unmanaged: tuple[str, ...] = ()
    #: The engine's title of each phase, and the heading of the runtime settings.
    phase_titles: dict[int, str] = field(default_factory=lambda: dict(PHASES))
    runtime_note: str = ""
    intact: bool = True

    @property
    def engine(self) -> str:
        """The engine the plan was made for."""
        return self.manifest.engine or ""

    @property
    def profile_name(self) -> str | None:
        """The name of the profile the plan was made from."""
        return self.manifest.profile.name

    @property
    def profile_version(self) -> int | None:
        """The version of the profile the plan was made from."""
        return self.manifest.profile.version

    @property
    def profile_sha256(self) -> str | None:
        """The sha256 of the profile the plan was made from."""
        return self.manifest.profile.sha256

    @property
    def prior(self) -> dict[str, Any]:
        """The state of the database the plan was made for (see prior_state)."""
        return self.manifest.prior

    @property
    def desired(self) -> dict[str, Any]:
        """The state the plan brings the database to (for the read-back)."""
        return self.manifest.desired

    @property
    def fingerprint(self) -> str:
        """One hash over the prior state: a saved plan is stale when it no longer matches."""
        return self.manifest.fingerprint

    @property
    def plan_hash(self) -> str:
        """sha256 of the plan file's body: the plan's name in backups and history rows."""
        return self.manifest.plan_hash

    @property
    def empty(self) -> bool:
        """True when nothing would change."""
        return not self.steps

    def summary(self) -> dict[str, int]:
        """Counts of created, replaced and dropped objects and changed settings."""
        counts = {"create": 0, "replace": 0, "drop": 0, "settings": 0}
        for step in self.steps:
            change = step.change
            if isinstance(change, (CreateIndex, CreateView)):
                counts["create"] += 1
            elif isinstance(change, (ReplaceIndex, ReplaceView)):
                counts["replace"] += 1
            elif isinstance(change, (DropIndex, DropView)):
                counts["drop"] += 1
            elif isinstance(change, SetSetting):
                counts["settings"] += 1
        return counts


def prior_state(actual: State, managed: Iterable[str] = ()) -> dict[str, Any]:
    """What a saved plan records of the database it was made for: a hash per schema object,
    the explicitly set persistent settings and, under `defaults`, the value of every setting
    the profile manages (`managed`) that is not set explicitly, so that someone else's
    `ALTER DATABASE ... SET` of one of them makes the plan stale even when it sets the value
    the default already had (statistics and tuner's own tables excluded). A server-wide
    setting counts only when managed: on a shared server it is not this database's state."""
    wanted = {name.lower() for name in managed}
    explicit = {k: s.value for k, s in sorted(actual.settings.items())
                if s.explicit and (not s.server_wide or k.lower() in wanted)}
    prior: dict[str, Any] = {"objects": dict(sorted(actual.objects.items())),
                             "settings": explicit}
    defaults = {}
    for name in sorted(wanted):
        setting = actual.settings.get(name)
        if setting is not None and not setting.explicit:
            defaults[setting.name] = setting.value
    if defaults:
        prior["defaults"] = jsonable(defaults)
    return prior


def jsonable(value: Any) -> Any:
    """A signature as JSON sees it (tuples become lists), so the live side compares equal after
    a round trip through a plan file's manifest."""
    return json.loads(json.dumps(value))


def state_fingerprint(prior: dict[str, Any]) -> str:
    """sha256 over a prior state, as stored in a plan's manifest."""
    return hashlib.sha256(json.dumps(prior, sort_keys=True).encode()).hexdigest()


def split_statements(lines: list[str]) -> tuple[str, ...]:
    """SQL lines split into statements with `sqlite3.complete_statement` (comment and blank
    lines before a statement dropped); PlanFileError for an unfinished statement."""
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
