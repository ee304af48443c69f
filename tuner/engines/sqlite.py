"""The SQLite engine: settings scopes, inspection, normalization of the profile, and the
non-transactional settings phase (journal_mode, page_size, auto_vacuum and their VACUUM).
"""

from __future__ import annotations

import difflib
import sqlite3
from typing import TYPE_CHECKING, Any

from tuner.engines.base import StepSpec
from tuner.engines.sqlite_inspect import (
    database_error,
    open_readonly,
    parse_view_sql,
    read_index,
    read_state,
    view_signature,
    with_dependencies,
)
from tuner.engines.sqlite_pragmas import PRAGMAS, persistent_journal_mode
from tuner.model import CONNECTION, PERSISTENT, Index, Setting, State, View, key
from tuner.render import render

if TYPE_CHECKING:
    from pathlib import Path

    from tuner.apply import ApplyOptions
    from tuner.changes import SetSetting
    from tuner.engines.sqlite_apply import SQLiteApplySession
    from tuner.history import HistoryRow
    from tuner.profile import Profile
    from tuner.restore import RestoreResult

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
    vacuum_modes = ("never", "auto")

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

    def split_settings(self, settings: dict[str, Any]
                       ) -> tuple[dict[str, Setting], dict[str, Setting]]:
        """Persistent pragmas are planned; connection pragmas are runtime settings. A journal
        mode other than wal/delete is both: the file keeps `delete`, the connection the mode."""
        persistent, runtime = {}, {}
        for name, value in settings.items():
            if name == "journal_mode":
                persistent[name] = Setting(name, persistent_journal_mode(value), PERSISTENT)
                if value not in ("wal", "delete"):
                    runtime[name] = Setting(name, value, CONNECTION)
            elif PRAGMAS[name].scope == PERSISTENT:
                persistent[name] = Setting(name, value, PERSISTENT)
            else:
                runtime[name] = Setting(name, value, CONNECTION)
        return persistent, runtime

    def is_transactional_setting(self, name: str) -> bool:
        """user_version and application_id can change inside the DDL transaction."""
        return PRAGMAS[name].transactional

    def pragma_sql(self, name: str, value: Any) -> str:
        """`PRAGMA name = value;` for a known pragma and a canonical value."""
        return render("sqlite", "set_pragma", name=PRAGMAS[name].name,
                      value=PRAGMAS[name].render(value))

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
            names = [c.setting for c in file_changes if _needs_vacuum(c)]
            steps.append(StepSpec("vacuum", "database", (render("sqlite", "vacuum"),),
                                  "rebuild the file so that " + ", ".join(names)
                                  + (" takes" if len(names) == 1 else " take") + " effect",
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
        from tuner.engines.sqlite_apply import SQLiteApplySession

        return SQLiteApplySession(target, options)

    def read_history(self, target: str) -> list[HistoryRow]:
        """The `tuner_history` table of the file, read-only ([] if there is none)."""
        from tuner.engines import sqlite_history

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
        from tuner.engines.sqlite_lock import held

        return held(target)

    def restore_backup(self, backup: Path, target: str, *, backup_dir: Path | None,
                       keep: int, verify: str, busy_timeout_ms: int) -> RestoreResult:
        """Copy a verified backup file back over the database (tuner.engines.sqlite_restore)."""
        from tuner.engines.sqlite_restore import restore_backup

        return restore_backup(backup, target, backup_dir=backup_dir, keep=keep, verify=verify,
                              busy_timeout_ms=busy_timeout_ms)

    # -- DDL ------------------------------------------------------------------------------
    def create_index_sql(self, index: Index) -> str:
        """`CREATE [UNIQUE] INDEX IF NOT EXISTS ...` for a declared index."""
        return render("sqlite", "create_index", index=index)

    def drop_index_sql(self, index: Index) -> str:
        """`DROP INDEX IF EXISTS name;`"""
        return render("sqlite", "drop_index", name=index.name)

    def create_view_sql(self, view: View) -> str:
        """`CREATE VIEW IF NOT EXISTS name [(cols)] AS select;`"""
        return render("sqlite", "create_view", view=view)

    def drop_view_sql(self, view: View) -> str:
        """`DROP VIEW IF EXISTS name;`"""
        return render("sqlite", "drop_view", name=view.name)

    def analyze_sql(self, table: str) -> str:
        """`ANALYZE table;`"""
        return render("sqlite", "analyze", table=table)

    def index_step_note(self, index: Index) -> str:
        """Nothing to add: every SQLite index step runs the same way."""
        return ""

    def view_replaceable(self, current: View, desired: View) -> bool:
        """Never: SQLite has no CREATE OR REPLACE VIEW; a changed view is dropped and created."""
        return False

    def view_restore_sql(self, current: View) -> tuple[str, ...]:
        """Nothing: SQLite views have no owner or privileges (their INSTEAD OF triggers are
        restored by steps of their own)."""
        return ()

    def vacuum_analyze_sql(self, table: str) -> str:  # pragma: no cover - not a SQLite mode
        """Not used: `maintenance.vacuum: analyze` is PostgreSQL's."""
        raise NotImplementedError

    def index_build_seconds(self, index: Index, rows: int) -> float:
        """A rough estimate of the build time of `index` over `rows` rows."""
        return rows / BUILD_ROWS_PER_SECOND

    # -- normalization ----------------------------------------------------------------
    def desired_state(self, profile: Profile, actual: State) -> State:
        """Run the profile's DDL through an in-memory database holding the live tables and read
        it back the way inspection reads the live database, so both sides compare as equals.
        A missing table or column, or SQL SQLite rejects, is an error naming the object."""
        persistent, _runtime = self.split_settings(profile.settings)
        _check_names_free(profile, actual)
        scratch = sqlite3.connect(":memory:")
        try:
            _copy_tables(scratch, actual)
            indexes = {}
            for i, index in enumerate(profile.indexes):
                indexes[key(index.name)] = self._normalize_index(scratch, profile, i, index,
                                                                 actual)
            views = self._normalize_views(scratch, profile, actual)
        finally:
            scratch.close()
        return State(engine=self.name, settings=persistent, indexes=indexes, views=views,
                     tables=actual.tables, triggers=actual.triggers)

    def _normalize_index(self, scratch: sqlite3.Connection, profile: Profile, i: int,
                         index: Index, actual: State) -> Index:
        table = actual.tables.get(key(index.table))
        if table is None:
            raise profile.error(("indexes", i, "table"),
                                f"index {index.name}: table {index.table!r} does not exist")
        if table.virtual:
            raise profile.error(("indexes", i, "table"),
                                f"index {index.name}: {index.table} is a virtual table")
        known = {key(c) for c in table.columns}
        if not table.without_rowid:
            known |= {"rowid", "oid", "_rowid_"}
        for j, col in enumerate(index.columns):
            if col.column is not None and key(col.column) not in known:
                raise profile.error(("indexes", i, "columns", j),
                                    f"index {index.name}: column {col.column!r} does not "
                                    f"exist in table {table.name}")
        sql = self.create_index_sql(index)
        try:
            scratch.execute(sql)
            row = scratch.execute("SELECT \"unique\", origin FROM pragma_index_list(?) "
                                  "WHERE name = ?", (table.name, index.name)).fetchone()
            got = read_index(scratch, index.name, table.name, bool(row[0]), row[1],
                             scratch.execute("SELECT sql FROM sqlite_master WHERE name = ?",
                                             (index.name,)).fetchone()[0])
        except sqlite3.Error as exc:
            raise profile.error(("indexes", i), f"index {index.name}: {exc}") from None
        return Index(name=index.name, table=table.name, columns=index.columns,
                     unique=index.unique, where=index.where, sql=sql,
                     signature=got.signature)

    def _normalize_views(self, scratch: sqlite3.Connection, profile: Profile,
                         actual: State) -> dict[str, View]:
        declared = {key(v.name) for v in profile.views}
        if not profile.prune:
            for k, live in actual.views.items():
                if k not in declared:
                    scratch.execute(self.create_view_sql(live))
        sqls = {}
        for i, view in enumerate(profile.views):
            sql = self.create_view_sql(view)
            try:
                scratch.execute(sql)
            except sqlite3.Error as exc:
                raise profile.error(("views", i, "sql"), f"view {view.name}: {exc}") from None
            sqls[key(view.name)] = (i, view)
        names = set(actual.tables) | {key(n) for (n,) in scratch.execute(
            "SELECT name FROM sqlite_master WHERE type = 'view'")}
        views = {}
        for k, (i, view) in sqls.items():
            try:
                scratch.execute(render("sqlite", "inspect/probe_view", view=view.name)).fetchall()
            except sqlite3.Error as exc:
                raise profile.error(("views", i, "sql"), f"view {view.name}: {exc}") from None
            stored = scratch.execute("SELECT sql FROM sqlite_master WHERE name = ?",
                                     (view.name,)).fetchone()[0]
            select, columns = parse_view_sql(stored)
            views[k] = with_dependencies(
                View(view.name, view.sql, view.columns, view_signature(select, columns)), names)
        return views


def _needs_vacuum(change: SetSetting) -> bool:
    """page_size always; auto_vacuum only between none and full/incremental."""
    if change.setting == "auto_vacuum":
        return "none" in (change.current, change.desired)
    return True


def _check_names_free(profile: Profile, actual: State) -> None:
    """Tables, views and indexes share one namespace in SQLite, and `CREATE VIEW IF NOT EXISTS`
    silently does nothing when a *table* has the name: a declared name that a live object of
    another kind keeps (tables always; undeclared views and indexes unless prune drops them)
    is an error, or the plan would fail at apply or never converge."""
    taken = {k: ("table", t.name) for k, t in actual.tables.items()}
    declared = [("index", ("indexes", i, "name"), o.name) for i, o in enumerate(profile.indexes)]
    declared += [("view", ("views", i, "name"), o.name) for i, o in enumerate(profile.views)]
    if not profile.prune:
        kinds = {key(name): kind for kind, _, name in declared}
        for k, live in actual.indexes.items():
            if not live.owned_by_engine and kinds.get(k) != "index":
                taken.setdefault(k, ("index", live.name))
        for k, view in actual.views.items():
            if kinds.get(k) != "view":
                taken.setdefault(k, ("view", view.name))
    for kind, where, name in declared:
        if key(name) in taken:
            other, other_name = taken[key(name)]
            raise profile.error(where, f"{kind} {name}: the name is taken by the {other} "
                                       f"{other_name} in the database")


def _copy_tables(scratch: sqlite3.Connection, actual: State) -> None:
    """Create the live tables (definitions only) in the scratch database. Virtual tables go
    first, since they create their own shadow tables; a module SQLite lacks is skipped."""
    for table in sorted(actual.tables.values(), key=lambda t: not t.virtual):
        exists = scratch.execute("SELECT 1 FROM sqlite_master WHERE name = ? COLLATE NOCASE",
                                 (table.name,)).fetchone()
        if exists:
            continue
        try:
            scratch.execute(table.sql)
        except sqlite3.Error:
            if not table.virtual:
                raise
