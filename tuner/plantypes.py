"""The plan as data: numbered Steps, the Plan that holds them, and the prior state a saved plan
carries (with its fingerprint). Made by tuner.plan, written and read by tuner.planfile, run by
tuner.apply; no I/O here.
"""

from __future__ import annotations

import hashlib
import json
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
from tuner.model import Setting, State

SYMBOLS = {"create_index": "+", "create_view": "+", "drop_index": "-", "drop_view": "-",
           "replace_index": "~", "replace_view": "~", "set_setting": "!", "set_pragma": "!",
           "restore_trigger": "~", "vacuum": "*", "analyze": "*", "reload": "!"}
PHASES = {1: "transactional DDL, all or nothing", 2: "settings that cannot run inside a "
          "transaction", 3: "statistics"}


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

    def as_dict(self) -> dict[str, Any]:
        """The JSON form of the step."""
        return {"number": self.number, "kind": self.kind, "object": self.object,
                "sql": "\n".join(self.sql), "reason": self.reason,
                "transactional": self.transactional, "destructive": self.destructive,
                "phase": self.phase, "rows_estimate": self.rows,
                "server_wide": self.server_wide}


@dataclass(frozen=True)
class Plan:
    """The ordered steps plus what a reviewer needs around them."""

    engine: str
    target: str
    profile_name: str
    profile_version: int
    profile_sha256: str
    steps: tuple[Step, ...]
    runtime: tuple[Setting, ...]
    warnings: tuple[str, ...]
    unmanaged: tuple[str, ...]
    prior: dict[str, Any]
    desired: dict[str, Any]
    #: The engine's title of each phase, and the heading of the runtime settings.
    phase_titles: dict[int, str] = field(default_factory=lambda: dict(PHASES))
    runtime_note: str = ""

    @property
    def empty(self) -> bool:
        """True when nothing would change."""
        return not self.steps

    @property
    def fingerprint(self) -> str:
        """One hash over the prior state: a saved plan is stale when it no longer matches."""
        return state_fingerprint(self.prior)

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
