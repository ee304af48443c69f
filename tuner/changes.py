"""Change operations: what `diff` found, holding both sides, before any SQL exists.

Each change is a frozen dataclass with the live side (`current`) and the profile's side
(`desired`), and knows whether it destroys something. `plan.py` turns changes into Steps.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from tuner.model import Index, View


@dataclass(frozen=True)
class Change:
    """Base of every change: `kind` names it, `destructive` says whether it drops something."""

    kind: ClassVar[str] = "change"
    destructive: ClassVar[bool] = False

    @property
    def name(self) -> str:
        """The name of the object or setting the change is about."""
        raise NotImplementedError


@dataclass(frozen=True)
class CreateIndex(Change):
    """An index the profile declares and the database lacks."""

    desired: Index
    kind: ClassVar[str] = "create_index"

    @property
    def name(self) -> str:
        return self.desired.name


@dataclass(frozen=True)
class DropIndex(Change):
    """An index the database has and the profile does not declare (only with prune)."""

    current: Index
    kind: ClassVar[str] = "drop_index"
    destructive: ClassVar[bool] = True

    @property
    def name(self) -> str:
        return self.current.name


@dataclass(frozen=True)
class ReplaceIndex(Change):
    """An index whose live definition differs from the profile: dropped, then created."""

    current: Index
    desired: Index
    differences: tuple[str, ...]
    kind: ClassVar[str] = "replace_index"

    @property
    def name(self) -> str:
        return self.desired.name


@dataclass(frozen=True)
class CreateView(Change):
    """A view the profile declares and the database lacks."""

    desired: View
    kind: ClassVar[str] = "create_view"

    @property
    def name(self) -> str:
        return self.desired.name


@dataclass(frozen=True)
class DropView(Change):
    """A view the database has and the profile does not declare (only with prune)."""

    current: View
    kind: ClassVar[str] = "drop_view"
    destructive: ClassVar[bool] = True

    @property
    def name(self) -> str:
        return self.current.name


@dataclass(frozen=True)
class ReplaceView(Change):
    """A view whose definition differs: dropped and created again, triggers restored."""

    current: View
    desired: View
    differences: tuple[str, ...]
    kind: ClassVar[str] = "replace_view"

    @property
    def name(self) -> str:
        return self.desired.name


@dataclass(frozen=True)
class SetSetting(Change):
    """A persistent setting whose live value differs from the profile's."""

    setting: str
    current: Any
    desired: Any
    kind: ClassVar[str] = "set_setting"

    @property
    def name(self) -> str:
        return self.setting
