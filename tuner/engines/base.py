"""The Engine protocol: what generic modules may ask of a database engine.

Generic code (diff, plan, cli) never tests an engine's name; every difference between SQLite
and PostgreSQL is an attribute or a method here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from tuner.model import Index, Setting, State, View

if TYPE_CHECKING:
    from tuner.changes import SetSetting
    from tuner.profile import Profile


@dataclass(frozen=True)
class StepSpec:
    """A step an engine contributes to the settings phase: plan.py numbers and orders them."""

    kind: str
    object: str
    sql: tuple[str, ...]
    reason: str
    transactional: bool
    destructive: bool = False


class Engine(Protocol):
    """A database engine tuner can inspect and plan for."""

    name: str
    #: The profile key that holds this engine's settings (`pragmas` or `settings`).
    settings_key: str
    #: The DDL of a plan can run in one transaction (SQLite: yes; CONCURRENTLY: no).
    transactional_ddl: bool
    #: Index builds let writes go on (CONCURRENTLY): no lock-wait warning for long builds.
    concurrent_index_builds: bool
    #: Dropping a view needs the views that read it handled first (PostgreSQL binds them).
    views_bind_dependents: bool
    #: The title of each plan phase (1 DDL, 2 settings, 3 statistics) for this engine.
    phase_titles: dict[int, str]
    #: The heading under which a plan lists the per-connection (runtime) settings.
    runtime_note: str
    #: Index options beyond the common ones the profile may use (`include`, `method`).
    index_features: frozenset[str]
    #: The values `maintenance.vacuum` may take.
    vacuum_modes: tuple[str, ...]

    def normalize_setting(self, name: str, value: Any) -> Any:
        """Canonical value of a setting, or ValueError naming what is accepted."""

    def split_settings(self, settings: dict[str, Any]) -> tuple[dict[str, Setting],
                                                                dict[str, Setting]]:
        """Split desired settings into (planned persistent ones, per-connection runtime ones)."""

    def inspect(self, target: str) -> State:
        """Read the live state, read-only. Raise DatabaseError if it cannot be read."""

    def desired_state(self, profile: Profile, actual: State) -> State:
        """Normalize the profile's objects against the live database into a comparable State."""

    def settings_steps(self, changes: list[SetSetting], actual: State,
                       profile: Profile) -> tuple[list[StepSpec], list[str]]:
        """The non-transactional settings steps, in order, and the warnings they carry."""

    def transactional_setting_sql(self, change: SetSetting) -> str:
        """SQL for a setting that may run inside the DDL transaction."""

    def is_transactional_setting(self, name: str) -> bool:
        """True if this setting may change inside the DDL transaction."""

    def index_build_seconds(self, index: Index, rows: int) -> float:
        """A rough estimate of the time to build `index` over `rows` rows."""

    def create_index_sql(self, index: Index) -> str:
        """The idempotent CREATE statement for an index."""

    def drop_index_sql(self, index: Index) -> str:
        """The idempotent DROP statement for an index."""

    def create_view_sql(self, view: View) -> str:
        """The idempotent CREATE statement for a view."""

    def drop_view_sql(self, view: View) -> str:
        """The idempotent DROP statement for a view."""

    def analyze_sql(self, table: str) -> str:
        """The statement that refreshes one table's planner statistics."""

    def vacuum_analyze_sql(self, table: str) -> str:
        """VACUUM and statistics for one table (`maintenance.vacuum: analyze`)."""

    def index_step_note(self, index: Index) -> str:
        """A note for the reason of a step on `index` (why it runs differently), or ''."""

    def view_replaceable(self, current: View, desired: View) -> bool:
        """True when `desired` can replace `current` in place (CREATE OR REPLACE VIEW)."""
