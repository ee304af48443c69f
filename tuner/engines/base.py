"""The Engine protocol: what generic modules may ask of a database engine.

Generic code (diff, plan, apply, the workload tools, the runtime, the cli) never tests an
engine's name; every difference between SQLite and PostgreSQL is an attribute or a method
here, and tuner.engines (the lookup) is the only way to an engine. An engine is stateless:
what inspection learns travels in the State it returns (`State.facts`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from tuner.backup import Backup, Progress, RestoreResult
from tuner.capture.access import Access
from tuner.capture.recorder import Recorder
from tuner.capture.store import ServerStatement, Statement
from tuner.changes import SetSetting
from tuner.history import HistoryRow
from tuner.model import Index, Profile, Query, Setting, State, View
from tuner.options import ApplyOptions
from tuner.plantypes import Plan, Step
from tuner.workload.advise.model import Advice, AdviseOptions
from tuner.workload.bench.measure import BenchReport, Side
from tuner.workload.demo.data import DemoRequest, DemoStats, DemoTarget

#: `say(text)`: a line of progress for the person waiting.
Say = Callable[[str], None]
#: `tune(target) -> steps applied`: apply the profile to a scratch copy, as `tuner apply` does.
Tune = Callable[[str], int]


@dataclass(frozen=True)
class StepSpec:
    """A step an engine contributes to the settings phase: plan.py numbers and orders them."""

    kind: str
    object: str
    sql: tuple[str, ...]
    reason: str
    transactional: bool
    destructive: bool = False
    #: It changes the whole server, not just this database (PostgreSQL's ALTER SYSTEM and the
    #: reload after it): apply runs it only when asked to (`--server-settings`).
    server_wide: bool = False


class StepFailed(Exception):
    """A statement of a step failed. `message` is the whole one-line explanation; apply turns
    it into an ApplyError after recording the failure (never shown as is)."""

    def __init__(self, message: str):
        self.message = message
        super().__init__(message)

    @classmethod
    def of(cls, step: Step, detail: str) -> StepFailed:
        """`step 3 (create_index ix) failed: <detail>`."""
        return cls(f"step {step.number} ({step.kind} {step.object}) failed: {detail}")


class ApplySession(Protocol):
    """One apply's hold on one database: its connection, the exclusion of other applies, the
    state for the stale check, the backup, the history store, the transaction and the
    statements. tuner.apply drives it; nothing here prints or decides the order.

    Exclusion differs by engine and is the session's business: SQLite excludes other writers
    with the write lock of each `begin()` (BEGIN IMMEDIATE) and while the backup copies;
    PostgreSQL holds a session advisory lock from opening to `close()`, SQLite a lock file
    (tuner.engines.sqlite.session.acquire): while a session is open no other apply runs, so every
    `started` history row it finds is an interrupted apply's. Every method raises a
    TunerError (DatabaseError, BackupError...) for what a user can fix, never a driver error.
    """

    def read_state(self) -> State:
        """The live state, for the stale check and the read-back."""

    def default_backup_dir(self) -> Path:
        """Where backups go when the user names no folder."""

    def take_backup(self, plan: Plan, folder: Path, on_locked: Callable[[], None],
                    on_progress: Progress) -> Backup:
        """Back up the database into `folder`, verified, or raise BackupError having changed
        nothing. `on_locked` runs once other writers are excluded, before anything is copied
        (the caller repeats the stale check there)."""

    def prune_backups(self, folder: Path, keep: int) -> list[Path]:
        """Delete all but the newest `keep` of tuner's backups of this database in `folder`."""

    def begin(self) -> None:
        """Open the transaction of a phase (SQLite: BEGIN IMMEDIATE, the write lock)."""

    def commit(self) -> None:
        """Commit the open transaction."""

    def rollback(self) -> None:
        """Roll back the open transaction, if there is one."""

    def insert_history(self, row: HistoryRow) -> int:
        """Insert a history row (creating the store on first use); return its id."""

    def history_rows(self) -> list[HistoryRow]:
        """Every history row, oldest first ([] before the first apply)."""

    def update_history(self, row_id: int, **values: Any) -> None:
        """Set `values` (HistoryRow field names) on a history row."""

    def execute(self, step: Step, sql: str) -> None:
        """Run one statement of `step`, checking what it must read back; StepFailed if not."""

    def close(self) -> None:
        """Release the exclusion and the connection (safe to call after any failure)."""


class Engine(Protocol):
    """A database engine tuner can inspect and plan for."""

    name: str
    #: The profile key that holds this engine's settings (`pragmas` or `settings`).
    settings_key: str
    #: The DDL of a plan can run in one transaction (SQLite: yes; CONCURRENTLY: no).
    transactional_ddl: bool
    #: View DDL can run in the plan's transaction (PostgreSQL too: only its index builds and
    #: server settings cannot), so a view dropped to be created again is never left dropped.
    transactional_views: bool
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
    #: sqlglot's name for the engine's SQL (`sqlite`, `postgres`), to read declared queries.
    sql_dialect: str
    #: The longest identifier the engine keeps, in UTF-8 bytes; a longer name is refused at
    #: validation (PostgreSQL truncates it silently). None: no limit.
    max_name_bytes: int | None

    def query_parameters(self, sql: str) -> tuple[list[str], bool]:
        """The named parameters of a declared query as the engine's driver reads them, and
        whether it uses positional (`?`) ones."""

    def normalize_setting(self, name: str, value: Any) -> Any:
        """Canonical value of a setting, or ValueError naming what is accepted."""

    def split_settings(self, settings: dict[str, Any], state: State | None = None
                       ) -> tuple[dict[str, Setting], dict[str, Setting]]:
        """Split desired settings into (planned persistent ones, per-connection runtime ones),
        by what inspection learned in `state` where there is one."""

    def server_wide_settings(self, settings: dict[str, Any]) -> dict[str, str]:
        """Those of `settings` whose scope is the whole server rather than one database
        (PostgreSQL: ALTER SYSTEM), each with why, in words: a comparison on a scratch copy
        or a demo must not apply them to a shared server. {} where every setting lives in the
        database (SQLite)."""

    def recover(self, target: str, busy_timeout_ms: int) -> list[str]:
        """Before an apply plans: finish what the engine itself must before anything can read
        `target` (SQLite: roll back a hot journal a killed write left). What it did, one line
        each; nothing else is written."""

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

    def create_index_sql(self, index: Index, state: State) -> str:
        """The idempotent CREATE statement for an index."""

    def drop_index_sql(self, index: Index, state: State) -> str:
        """The idempotent DROP statement for an index."""

    def create_view_sql(self, view: View) -> str:
        """The idempotent CREATE statement for a view."""

    def drop_view_sql(self, view: View, state: State) -> str:
        """The idempotent DROP statement for a view."""

    def analyze_sql(self, table: str) -> str:
        """The statement that refreshes one table's planner statistics."""

    def vacuum_analyze_sql(self, table: str) -> str:
        """VACUUM and statistics for one table (`maintenance.vacuum: analyze`)."""

    def index_step_note(self, index: Index, state: State) -> str:
        """A note for the reason of a step on `index` (why it runs differently), or ''."""

    def view_replaceable(self, current: View, desired: View) -> bool:
        """True when `desired` can replace `current` in place (CREATE OR REPLACE VIEW)."""

    def view_restore_sql(self, current: View, state: State) -> tuple[str, ...]:
        """Statements that give a view dropped and created again back what DROP VIEW took
        from `current` (its owner, privileges and comment); () where nothing is lost."""

    # -- apply, history, restore ----------------------------------------------------------
    def apply_session(self, target: str, options: ApplyOptions) -> ApplySession:
        """Open `target` for applying a plan; TunerError if it cannot be (or another apply
        holds it, where the engine can tell)."""

    def read_history(self, target: str) -> list[HistoryRow]:
        """The recorded applies and restores of `target`, oldest first, read-only."""

    def restore_refusal(self, backup: Path, target: str) -> str | None:
        """Why `backup` cannot be restored onto `target` at all, in one line saying what it is
        and what to do instead, or None to go on: asked before any warning or question."""

    def apply_running(self, target: str) -> bool:
        """True while a live apply holds `target` (its `started` row is not an interrupted
        one), read-only. When it cannot tell, True: a live apply is never called dead."""

    def restore_backup(self, backup: Path, target: str, *, backup_dir: Path | None,
                       keep: int, verify: str, busy_timeout_ms: int) -> RestoreResult:
        """Put `backup` back in place of `target`, or say how, if the engine cannot."""

    # -- targets ----------------------------------------------------------------------------
    def display(self, target: str) -> str:
        """`target` as messages show it (a URL without its password)."""

    def files(self, target: str) -> tuple[str, ...]:
        """The files the database at `target` lives in (an output file must not be one)."""

    # -- runtime (tuner.connect, tuner.ConnectionPool, tuner.BatchWriter) -----------------
    #: The class of this engine's pool (BatchWriter writes through SQLite's only).
    pool_type: type
    #: tuner.BatchWriter can own this engine's writes (SQLite: one writer per database).
    batch_writes: bool

    def connect(self, target: str, profile: Profile | None, *, recorder: Recorder | None = None,
                **kwargs: Any) -> Any:
        """One connection with the profile's per-connection settings applied and read back;
        with a `recorder`, every statement the application runs through it is reported to
        it (capture), not the settings tuner applies."""

    def pool(self, target: str, profile: Profile | None, *, recorder: Recorder | None = None,
             **kwargs: Any) -> Any:
        """A pool sized by the profile's `runtime.pool`, lending `reader()` and `writer()`;
        with a `recorder`, every connection reports to it and `close()` flushes it."""

    # -- workload (tuner bench, tuner advise, tuner demo) ---------------------------------
    def bench_side(self, target: str, profile: Profile) -> Side:
        """A read-only, profile-configured connection for timing and EXPLAIN."""

    def bench_compare(self, target: str, profile: Profile, queries: Iterable[Query], *,
                      runs: int, warmup: int, batch: int, say: Say, tune: Tune) -> BenchReport:
        """Time `queries` on a scratch copy of `target` before and after `tune` applies the
        profile to it; `target` itself is only read."""

    def advise(self, profile: Profile, target: str, options: AdviseOptions) -> Advice:
        """The indexes the profile's declared queries need on `target` (read-only)."""

    def load_demo(self, target: str, participants: int, *, seed: int = 42,
                  messages: int | None = None, force: bool = False,
                  on_progress: Any = None) -> DemoStats:
        """Write the demo bot database into `target`."""

    def prepare_demo(self, req: DemoRequest, progress: Any, say: Say) -> DemoTarget:
        """Build the demo database `tuner demo` runs on, and say where it runs."""

    def capture_access(self, target: str, statements: list[Statement]) -> dict[str, Access]:
        """How each captured read goes on `target` today (by fingerprint), read-only; a
        TunerError where the engine cannot tell yet (`tuner workload show --db`)."""

    def server_statements(self, target: str, *, reset: bool) -> list[ServerStatement]:
        """The statement statistics the server itself keeps for the database at `target`
        (PostgreSQL: pg_stat_statements), each query's text as the server shows it; with
        `reset`, those statistics are then reset for this database, so the next read starts
        from zero (`tuner capture --db`). A TunerError in one line where the server keeps none
        or they cannot be read, saying what to do (SQLite: the runtime captures)."""
