"""The SQLite engine: settings scopes, the non-transactional settings phase (journal_mode,
page_size, auto_vacuum and their VACUUM), the DDL of each step, and the way to each of its
parts in this package (inspect, normalize, session, backup, history, restore, conn, runtime,
bench, advise, demo). Stateless: every method depends only on its arguments.
"""

from __future__ import annotations

import difflib
import sqlite3
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from tuner.backup import RestoreResult
from tuner.capture.access import Access
from tuner.capture.recorder import Recorder
from tuner.capture.store import CaptureError, ServerStatement, Statement
from tuner.changes import SetSetting
from tuner.engines.base import Say, StepSpec, Tune
from tuner.engines.sqlite import advise, bench, conn, demo, normalize, restore, runtime
from tuner.engines.sqlite import history as sqlite_history
from tuner.engines.sqlite.inspect import (
    COMPANIONS,
    database_error,
    open_readonly,
    read_state,
    roll_back_hot_journal,
)
from tuner.engines.sqlite.session import SQLiteApplySession, held
from tuner.engines.sqlite.settings import PRAGMAS, pragma_sql, split_pragmas
from tuner.history import HistoryRow
from tuner.model import Index, Profile, Query, Setting, State, View
from tuner.options import ApplyOptions
from tuner.render import render
from tuner.sqltext import named_parameters
from tuner.workload.advise.model import Advice, AdviseOptions
from tuner.workload.bench.measure import BenchReport, Side
from tuner.workload.demo.data import DemoRequest, DemoStats, DemoTarget

# Rough rate of CREATE INDEX on this class of machine (bench/plan_time.py measures it);
# only used to warn when a build will hold the write lock longer than busy_timeout.
BUILD_ROWS_PER_SECOND = 1_000_000


class SQLiteEngine:
    """SQLite behind the Engine protocol."""

    name = "sqlite"
    settings_key = "pragmas"
    transactional_ddl = True
    transactional_views = True
    #: CREATE INDEX holds the write lock for the whole build.
    concurrent_index_builds = False
    #: DROP VIEW does not check what reads the view (it fails only when queried).
    views_bind_dependents = False
    phase_titles = {1: "transactional DDL, all or nothing",
                    2: "settings that cannot run inside a transaction", 3: "statistics"}
    runtime_note = ("Runtime settings (per connection, applied by tuner.runtime on every "
                    "connection; never planned, never drift):")
    index_features: frozenset[str] = frozenset()
    sql_dialect = "sqlite"
    vacuum_modes: tuple[str, ...] = ("never", "auto")
    #: SQLite keeps names of any length (https://www.sqlite.org/limits.html).
    max_name_bytes: int | None = None

    def query_parameters(self, sql: str) -> tuple[list[str], bool]:
        """What sqlite3 binds: `:name`, `@name`, `$name`; `?` is positional."""
        return named_parameters(sql)

    # -- settings ---------------------------------------------------------------------
    def normalize_setting(self, name: str, value: Any) -> Any:
        """Canonical value of a pragma; unknown names are errors, since SQLite ignores them."""
        pragma = PRAGMAS.get(name)
        if pragma is None:
            close = difflib.get_close_matches(str(name).lower(), PRAGMAS, n=2)
            hint = f": did you mean {' or '.join(close)}?" if close else ""
            raise ValueError(f"unknown pragma {name!r}{hint} (known: "
                             f"{', '.join(sorted(PRAGMAS))})")
        return pragma.normalize(value)

    def server_wide_settings(self, settings: dict[str, Any]) -> dict[str, str]:
        """None: every pragma lives in the database file or dies with the connection."""
        return {}

    def split_settings(self, settings: dict[str, Any], state: State | None = None
                       ) -> tuple[dict[str, Setting], dict[str, Setting]]:
        """Persistent pragmas are planned; connection pragmas are runtime settings. A journal
        mode other than wal/delete is both: the file keeps `delete`, the connection the mode."""
        return split_pragmas(settings)

    def is_transactional_setting(self, name: str) -> bool:
        """user_version and application_id can change inside the DDL transaction."""
        return PRAGMAS[name].transactional

    def pragma_sql(self, name: str, value: Any) -> str:
        """`PRAGMA name = value;` for a known pragma and a canonical value."""
        return pragma_sql(name, value)

    def transactional_setting_sql(self, change: SetSetting) -> str:
        """The PRAGMA statement for a setting that runs inside the transaction."""
        return self.pragma_sql(change.setting, change.desired)

    def settings_steps(self, changes: list[SetSetting], actual: State,
                       profile: Profile) -> tuple[list[StepSpec], list[str]]:
        """Order journal_mode, page_size and auto_vacuum changes and the VACUUM they need.

        page_size cannot change in WAL mode (https://www.sqlite.org/pragma.html#pragma_page_size),
        so such a plan leaves WAL, sets it, VACUUMs and returns. Leaving WAL needs the only
        connection, so the plan warns that the application must be stopped."""
        by_name = {c.setting: c for c in changes}
        steps: list[StepSpec] = []
        warnings: list[str] = []
        live_mode = actual.settings["journal_mode"].value if "journal_mode" in actual.settings \
            else "delete"
        file_changes = [c for c in changes if PRAGMAS[c.setting].needs_vacuum]
        blocked = [c for c in file_changes if _needs_vacuum(c)]
        if blocked and profile.vacuum == "never":
            names = ", ".join(c.setting for c in blocked)
            warnings.append(f"{names}: the change takes effect only after VACUUM, and "
                            "maintenance.vacuum is never, so it is not planned")
            file_changes = [c for c in file_changes if not _needs_vacuum(c)]
        leave_wal = live_mode == "wal" and any(c.setting == "page_size" for c in file_changes)
        if leave_wal:
            steps.append(self._pragma_step("journal_mode", "delete",
                                           "page_size cannot change in WAL mode: leave WAL "
                                           "for the VACUUM"))
        for c in file_changes:
            when = " (takes effect at the VACUUM below)" if _needs_vacuum(c) else ""
            steps.append(self._pragma_step(c.setting, c.desired,
                                           f"{c.setting}: {c.current} -> {c.desired}{when}"))
        if any(_needs_vacuum(c) for c in file_changes):
            vacuumed = [c.setting for c in file_changes if _needs_vacuum(c)]
            steps.append(StepSpec("vacuum", "database", (render("sqlite", "vacuum"),),
                                  "rebuild the file so that " + ", ".join(vacuumed)
                                  + (" takes" if len(vacuumed) == 1 else " take") + " effect",
                                  transactional=False))
            warnings.append("VACUUM rewrites the whole database: it needs free disk space "
                            "about the size of the database and blocks every other "
                            "connection while it runs")
        mode_change = by_name.get("journal_mode")
        if leave_wal:
            final = mode_change.desired if mode_change else "wal"
            if final == "wal":
                steps.append(self._pragma_step("journal_mode", "wal", "return to WAL after "
                                               "the VACUUM"))
        elif mode_change is not None:
            steps.append(self._pragma_step("journal_mode", mode_change.desired,
                                           f"journal_mode: {mode_change.current} -> "
                                           f"{mode_change.desired}"))
        if live_mode == "wal" and (leave_wal or (mode_change and mode_change.desired != "wal")):
            warnings.append("leaving WAL mode fails while any other connection is open, even "
                            "an idle one: stop the application before applying this plan")
        return steps, warnings

    def _pragma_step(self, name: str, value: Any, reason: str) -> StepSpec:
        return StepSpec("set_pragma", name, (self.pragma_sql(name, value),), reason,
                        transactional=False)

    # -- inspection ---------------------------------------------------------------------
    def recover(self, target: str, busy_timeout_ms: int) -> list[str]:
        """Roll back a hot journal a killed write left beside the file, as SQLite does on a
        read-write open; read-only inspection cannot read past one."""
        if roll_back_hot_journal(target, busy_timeout_ms / 1000):
            return [f"{target}: rolled back the hot journal an interrupted write left "
                    f"({target}-journal); the database is as it was before that write"]
        return []

    def inspect(self, target: str) -> State:
        """Read the live state of the database file at `target`, read-only."""
        conn = open_readonly(target)
        try:
            return read_state(conn)
        except sqlite3.Error as exc:
            raise database_error(target, exc) from None
        finally:
            conn.close()

    # -- apply, history, restore ----------------------------------------------------------
    def apply_session(self, target: str, options: ApplyOptions) -> SQLiteApplySession:
        """Open the file read-write for an apply (never creates it)."""
        return SQLiteApplySession(target, options)

    def read_history(self, target: str) -> list[HistoryRow]:
        """The `tuner_history` table of the file, read-only ([] if there is none)."""
        conn = open_readonly(target)
        try:
            return sqlite_history.rows(conn)
        except sqlite3.Error as exc:
            raise database_error(target, exc) from None
        finally:
            conn.close()

    def restore_refusal(self, backup: Path, target: str) -> str | None:
        """A folder is no SQLite backup (tuner's are single .db files): say what it is."""
        if not backup.is_dir():
            return None
        if (backup / "rollback.sql").is_file():
            return (f"{backup} is a directory, a PostgreSQL backup folder, not an SQLite "
                    "backup: a PostgreSQL apply is undone with psql -v ON_ERROR_STOP=1 -f "
                    f"{backup / 'rollback.sql'} URL; nothing was changed")
        return (f"{backup} is a directory, not an SQLite backup: give one of the backup files "
                "in it (`<db name>-<UTC time>-<plan hash>.db`); nothing was changed")

    def apply_running(self, target: str) -> bool:
        """True while an apply holds the lock file beside the database."""
        return held(target)

    def restore_backup(self, backup: Path, target: str, *, backup_dir: Path | None,
                       keep: int, verify: str, busy_timeout_ms: int) -> RestoreResult:
        """Copy a verified backup file back over the database (tuner.engines.sqlite.restore)."""
        return restore.restore_backup(backup, target, backup_dir=backup_dir, keep=keep,
                                      verify=verify, busy_timeout_ms=busy_timeout_ms)

    # -- DDL ------------------------------------------------------------------------------
    def create_index_sql(self, index: Index, state: State) -> str:
        """`CREATE [UNIQUE] INDEX IF NOT EXISTS ...` for a declared index."""
        return render("sqlite", "create_index", index=index)

    def drop_index_sql(self, index: Index, state: State) -> str:
        """`DROP INDEX IF EXISTS name;`"""
        return render("sqlite", "drop_index", name=index.name)

    def create_view_sql(self, view: View) -> str:
        """`CREATE VIEW IF NOT EXISTS name [(cols)] AS select;`"""
        return render("sqlite", "create_view", view=view)

    def drop_view_sql(self, view: View, state: State) -> str:
        """`DROP VIEW IF EXISTS name;`"""
        return render("sqlite", "drop_view", name=view.name)

    def analyze_sql(self, table: str) -> str:
        """`ANALYZE table;`"""
        return render("sqlite", "analyze", table=table)

    def index_step_note(self, index: Index, state: State) -> str:
        """Nothing to add: every SQLite index step runs the same way."""
        return ""

    def view_replaceable(self, current: View, desired: View) -> bool:
        """Never: SQLite has no CREATE OR REPLACE VIEW; a changed view is dropped and created."""
        return False

    def view_restore_sql(self, current: View, state: State) -> tuple[str, ...]:
        """Nothing: SQLite views have no owner or privileges (their INSTEAD OF triggers are
        restored by steps of their own)."""
        return ()

    def vacuum_analyze_sql(self, table: str) -> str:  # pragma: no cover - not a SQLite mode
        """Not used: `maintenance.vacuum: analyze` is PostgreSQL's."""
        raise NotImplementedError

    def index_build_seconds(self, index: Index, rows: int) -> float:
        """A rough estimate of the build time of `index` over `rows` rows."""
        return rows / BUILD_ROWS_PER_SECOND

    # -- normalization (tuner.engines.sqlite.normalize) -----------------------------------
    def desired_state(self, profile: Profile, actual: State) -> State:
        """Run the profile's DDL through an in-memory database holding the live tables and read
        it back the way inspection reads the live database, so both sides compare as equals.
        A missing table or column, or SQL SQLite rejects, is an error naming the object."""
        persistent, _runtime = self.split_settings(profile.settings)
        return normalize.desired_state(profile, actual, persistent)

    # -- targets ----------------------------------------------------------------------------
    def display(self, target: str) -> str:
        """A path, as it is."""
        return str(target)

    def files(self, target: str) -> tuple[str, ...]:
        """The database file and the files SQLite keeps beside it (-wal, -shm, -journal)."""
        return tuple(str(target) + suffix for suffix in ("", *COMPANIONS))

    # -- runtime (tuner.engines.sqlite.conn, tuner.engines.sqlite.runtime) ----------------
    batch_writes = True
    pool_type: type = runtime.ConnectionPool

    def connect(self, target: str, profile: Profile | None, *, recorder: Recorder | None = None,
                **kwargs: Any) -> sqlite3.Connection:
        """An sqlite3 connection with the profile's connection pragmas applied and read back."""
        return conn.connect(target, profile, recorder=recorder, **kwargs)

    def pool(self, target: str, profile: Profile | None, *, recorder: Recorder | None = None,
             **kwargs: Any) -> runtime.ConnectionPool:
        """Readers plus one serialized writer, sized by the profile."""
        return runtime.ConnectionPool(target, profile, recorder=recorder, **kwargs)

    # -- workload (tuner.engines.sqlite.bench, .advise, .demo) ----------------------------
    def bench_side(self, target: str, profile: Profile) -> Side:
        """A read-only connection under the authorizer guard."""
        return bench.open_side(target, profile)

    def bench_compare(self, target: str, profile: Profile, queries: Iterable[Query], *,
                      runs: int, warmup: int, batch: int, say: Say, tune: Tune) -> BenchReport:
        """Two copies (online backup), one tuned by `tune`, timed side by side."""
        return bench.compare(target, profile, list(queries), runs=runs, warmup=warmup,
                             batch=batch, say=say, tune=tune)

    def advise(self, profile: Profile, target: str, options: AdviseOptions) -> Advice:
        """Candidates tried in a schema-only scratch copy with sampled statistics."""
        return advise.advise(profile, target, options)

    def load_demo(self, target: str, participants: int, *, seed: int = 42,
                  messages: int | None = None, force: bool = False,
                  on_progress: Any = None) -> DemoStats:
        """Write the demo data into a new SQLite file at `target`."""
        return demo.create_demo_db(target, participants, seed=seed, messages=messages,
                                   force=force, on_progress=on_progress)

    def prepare_demo(self, req: DemoRequest, progress: Any, say: Say) -> DemoTarget:
        """A pristine demo file generated once in the work folder, and a fresh copy to tune."""
        return demo.prepare_demo(req, progress, say)

    def capture_access(self, target: str, statements: list[Statement]) -> dict[str, Access]:
        """EXPLAIN QUERY PLAN of each sample, under the read-only guard."""
        return bench.capture_access(target, statements)

    def server_statements(self, target: str, *, reset: bool) -> list[ServerStatement]:
        """None kept: SQLite has no server; the application's runtime captures."""
        raise CaptureError(target, "SQLite keeps no statement statistics to read: capture on "
                                   "SQLite is done by the application's runtime (tuner.connect, "
                                   "ConnectionPool, BatchWriter with capture=PATH, or "
                                   "TUNER_CAPTURE=PATH python app.py)")


def _needs_vacuum(change: SetSetting) -> bool:
    """page_size always; auto_vacuum only between none and full/incremental."""
    if change.setting == "auto_vacuum":
        return "none" in (change.current, change.desired)
    return True
