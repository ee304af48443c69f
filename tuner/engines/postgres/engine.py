"""The PostgreSQL engine: settings scopes from `pg_settings.context`, the profile normalized
through the server itself, the DDL every step runs, and the way to each of its parts in this
package (inspect, normalize, settings, session, backup, history, restore, conn, runtime,
bench, advise, demo).

The engine is stateless: what inspection learns (the URL, the server's GUC catalog, the
partitioned tables, the materialized views that bind views, the role) travels in the State
it returns, as `PgFacts`, and the methods that plan read it from there.

Every index and settings step runs on its own, outside any transaction: CREATE/DROP INDEX
CONCURRENTLY and ALTER SYSTEM refuse a transaction block
(https://www.postgresql.org/docs/15/sql-createindex.html#SQL-CREATEINDEX-CONCURRENTLY).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from tuner.backup import RestoreResult
from tuner.capture.access import Access
from tuner.capture.recorder import Recorder
from tuner.capture.store import ServerStatement, Statement
from tuner.changes import SetSetting
from tuner.engines.base import Say, StepSpec, Tune
from tuner.engines.postgres import advise, bench, capture, demo, restore, runtime
from tuner.engines.postgres.conn import connect, driver, first_line, one, redact, to_psycopg
from tuner.engines.postgres.inspect import (
    PgFacts,
    facts_of,
    read_blocking_dependents,
    read_state,
    rows,
    split_name,
)
from tuner.engines.postgres.normalize import normalize_indexes, normalize_views
from tuner.engines.postgres.session import PostgresApplySession, apply_running, read_history
from tuner.engines.postgres.settings import (
    Guc,
    catalog,
    known_guc,
    render_value,
    render_values,
)
from tuner.errors import DatabaseError, PlanError, TunerError
from tuner.history import HistoryRow
from tuner.model import CONNECTION, PERSISTENT, Index, Profile, Query, Setting, State, View, key
from tuner.options import ApplyOptions
from tuner.render import render
from tuner.sqltext import named_parameters
from tuner.workload.advise.model import Advice, AdviseOptions
from tuner.workload.bench.measure import BenchReport, Side
from tuner.workload.demo.data import DemoRequest, DemoStats, DemoTarget

# Rough rate of CREATE INDEX CONCURRENTLY (two table scans) on this class of machine; only
# used for the build-time estimate a plan shows.
BUILD_ROWS_PER_SECOND = 500_000
#: The privileges a view can be granted (what aclexplode names), for the GRANTs put back on a
#: view that is dropped and created again.
TABLE_PRIVILEGES = frozenset({"SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES",
                              "TRIGGER", "MAINTAIN"})
PHASE_TITLES = {1: "views in one transaction, then indexes one statement at a time "
                   "(CONCURRENTLY cannot run in a transaction)",
                2: "settings", 3: "statistics"}
RUNTIME_NOTE = ("Per-session settings (planned above as ALTER DATABASE SET for new sessions; "
                "tuner.runtime also sets them on every connection it opens):")


class PostgresEngine:
    """PostgreSQL behind the Engine protocol."""

    name = "postgresql"
    settings_key = "settings"
    transactional_ddl = False
    #: DROP/CREATE VIEW are transactional: a view and its dependents are dropped and created
    #: again all or nothing, before the concurrent index builds.
    transactional_views = True
    #: Index builds do not block writes (CONCURRENTLY), so no lock-wait warning applies.
    concurrent_index_builds = True
    #: A view is bound to the views it reads: dropping one needs its dependents handled.
    views_bind_dependents = True
    phase_titles = PHASE_TITLES
    runtime_note = RUNTIME_NOTE
    index_features = frozenset({"include", "method"})
    sql_dialect = "postgres"
    vacuum_modes: tuple[str, ...] = ("never", "auto", "analyze")
    #: NAMEDATALEN - 1: PostgreSQL truncates a longer identifier with only a NOTICE
    #: (https://www.postgresql.org/docs/15/sql-syntax-lexical.html#SQL-SYNTAX-IDENTIFIERS).
    max_name_bytes: int | None = 63

    def query_parameters(self, sql: str) -> tuple[list[str], bool]:
        """The `:name` parameters as to_psycopg (tuner.engines.postgres.conn) converts them
        for psycopg: `::` casts, string literals and array slices are not parameters."""
        try:
            return list(to_psycopg(sql).names), False
        except TunerError:
            return named_parameters(sql)  # the query check names what cannot be read

    # -- settings ---------------------------------------------------------------------------
    def normalize_setting(self, name: str, value: Any) -> Any:
        """Canonical value of a GUC, checked against the bundled catalog (`tuner validate`
        has no server); ValueError for an unknown or read-only name or a bad value."""
        return known_guc(name, catalog()).normalize(value)

    def split_settings(self, settings: dict[str, Any], state: State | None = None
                       ) -> tuple[dict[str, Setting], dict[str, Setting]]:
        """Every setting is planned; those a session may SET (context user/superuser) are
        runtime settings too, applied by tuner.runtime on each connection."""
        gucs = facts_of(state).gucs
        persistent, runtime = {}, {}
        for name, value in settings.items():
            persistent[name] = Setting(name, value, PERSISTENT)
            if _guc(name, gucs).per_session:
                runtime[name] = Setting(name, value, CONNECTION)
        return persistent, runtime

    def server_wide_settings(self, settings: dict[str, Any]) -> dict[str, str]:
        """The settings applied with ALTER SYSTEM (contexts sighup, backend, postmaster):
        they change postgresql.auto.conf, the configuration of every database on the server.
        Custom `x.y` names are left to ALTER DATABASE, as the plan does."""
        out = {}
        for name in settings:
            if "." in name:
                continue
            guc = _guc(name, {})
            if guc.apply_by == "restart":
                out[name] = ("context postmaster: ALTER SYSTEM would change the whole "
                             "server's postgresql.auto.conf, and it takes effect only after "
                             "a restart")
            elif guc.apply_by == "system":
                out[name] = (f"context {guc.context}: ALTER SYSTEM would change the whole "
                             "server's postgresql.auto.conf (every database on it)")
        return out

    def is_transactional_setting(self, name: str) -> bool:
        """None: ALTER SYSTEM cannot run in a transaction, and phase 1 has none either."""
        return False

    def transactional_setting_sql(self, change: SetSetting) -> str:  # pragma: no cover
        """Never called: no PostgreSQL setting runs inside the DDL transaction."""
        raise NotImplementedError

    def settings_steps(self, changes: list[SetSetting], actual: State,
                       profile: Profile) -> tuple[list[StepSpec], list[str]]:
        """ALTER DATABASE SET for per-session settings, ALTER SYSTEM SET (and one reload) for
        server-wide ones, and a loud note for those that need a restart. Settings written but
        waiting for a reload or restart are reported as pending, never planned again."""
        facts = facts_of(actual)
        steps: list[StepSpec] = []
        warnings: list[str] = []
        reload_needed = False
        for c in changes:
            guc = _guc(c.setting, facts.gucs)
            before, after = _show(c.current), _show(c.desired)
            values = render_values(c.setting, c.desired)
            if guc.apply_by == "database":
                sql = render(self.name, "alter_database_set", database=facts.database,
                             name=c.setting, values=values)
                reason = (f"{c.setting}: {before} -> {after} (context {guc.context}: "
                          "ALTER DATABASE, for new sessions of this database)")
            else:
                sql = render(self.name, "alter_system_set", name=c.setting, values=values)
                if guc.apply_by == "restart":
                    reason = (f"{c.setting}: {before} -> {after} (context postmaster: "
                              "ALTER SYSTEM; RESTART REQUIRED to take effect)")
                    warnings.append(f"RESTART REQUIRED: {c.setting} ({before} -> {after}) "
                                    "takes effect only when the server restarts; tuner never "
                                    "restarts it. Until then it is reported as pending restart")
                else:
                    reload_needed = True
                    reason = (f"{c.setting}: {before} -> {after} (context {guc.context}: "
                              "ALTER SYSTEM, then a configuration reload)")
            steps.append(StepSpec("set_setting", c.setting, (sql,), reason, transactional=False,
                                  server_wide=guc.apply_by != "database"))
        if reload_needed:
            steps.append(StepSpec("reload", "configuration", (render(self.name, "reload_conf"),),
                                  "make the ALTER SYSTEM settings above take effect (sighup)",
                                  transactional=False, server_wide=True))
        declared = {name.lower() for name in profile.settings}
        for name, s in sorted(actual.settings.items()):
            # Only what the profile declares: another setting pending on a shared server is
            # someone else's business, not this plan's.
            if name in declared and s.running is not None and s.running != s.value:
                what = ("pending restart" if _guc(name, facts.gucs).apply_by == "restart"
                        else "pending reload")
                warnings.append(f"{what}: {name} is {_show(s.value)} in {s.source}, but the "
                                f"server still runs with {_show(s.running)}")
        return steps, warnings

    # -- inspection -------------------------------------------------------------------------
    def recover(self, target: str, busy_timeout_ms: int) -> list[str]:
        """Nothing: the server recovers its own interrupted transactions."""
        return []

    def inspect(self, target: str) -> State:
        """Read the live state of the database at the URL `target`, read-only."""
        psycopg = driver()
        with connect(target) as conn:
            try:
                database, user = one(conn.execute("SELECT current_database(), current_user"))
                state, partitioned, gucs = read_state(conn)
                blocking = read_blocking_dependents(conn)
            except psycopg.Error as exc:
                raise DatabaseError(redact(target), f"cannot inspect: {first_line(exc)}") \
                    from None
        return replace(state, facts=PgFacts(target, database, user, gucs,
                                            frozenset(partitioned), blocking))

    # -- DDL --------------------------------------------------------------------------------
    def create_index_sql(self, index: Index, state: State) -> str:
        """`CREATE [UNIQUE] INDEX CONCURRENTLY IF NOT EXISTS ...`; without CONCURRENTLY on a
        partitioned table, which rejects it."""
        schema, table = split_name(index.table)
        return render(self.name, "create_index", index=index, name=split_name(index.name)[1],
                      schema=schema, table=table, concurrently=_concurrent(index.table, state))

    def drop_index_sql(self, index: Index, state: State) -> str:
        """`DROP INDEX CONCURRENTLY IF EXISTS schema.name;` (plain on a partitioned table)."""
        schema, name = split_name(index.name)
        return render(self.name, "drop_index", schema=schema, name=name,
                      concurrently=_concurrent(index.table, state))

    def create_view_sql(self, view: View) -> str:
        """`CREATE OR REPLACE VIEW schema.name [(cols)] AS select;`"""
        schema, name = split_name(view.name)
        return render(self.name, "create_view", view=view, schema=schema, name=name, temp=False)

    def drop_view_sql(self, view: View, state: State) -> str:
        """`DROP VIEW IF EXISTS schema.name;` (never CASCADE: dependent views are planned).
        A materialized view that reads it is a PlanError: tuner does not manage those, and
        never drops what it cannot recreate."""
        blocking = facts_of(state).blocking.get(key(view.name))
        if blocking:
            raise PlanError(f"view {view.name} must be dropped and created again, but the "
                            f"materialized view {', '.join(blocking)} reads it and tuner "
                            "does not drop what it cannot recreate: drop it first, or keep "
                            "the view's columns so that CREATE OR REPLACE VIEW can do")
        schema, name = split_name(view.name)
        return render(self.name, "drop_view", schema=schema, name=name)

    def analyze_sql(self, table: str) -> str:
        """`ANALYZE schema.table;`"""
        schema, name = split_name(table)
        return render(self.name, "analyze", schema=schema, table=name)

    def vacuum_analyze_sql(self, table: str) -> str:
        """`VACUUM (ANALYZE) schema.table;` for `maintenance: {vacuum: analyze}`."""
        schema, name = split_name(table)
        return render(self.name, "vacuum_analyze", schema=schema, table=name)

    def index_build_seconds(self, index: Index, rows: int) -> float:
        """A rough estimate of the build time of `index` over `rows` rows."""
        return rows / BUILD_ROWS_PER_SECOND

    def index_step_note(self, index: Index, state: State) -> str:
        """Why a step on `index` is not CONCURRENTLY, when it is not; else ''."""
        if _concurrent(index.table, state):
            return ""
        return (f"{index.table} is partitioned, and PostgreSQL cannot build or drop an index on "
                "a partitioned table CONCURRENTLY: this plain form blocks writes to every "
                "partition while it runs")

    def view_restore_sql(self, current: View, state: State) -> tuple[str, ...]:
        """ALTER VIEW ... OWNER TO (when someone other than the planning role owned it), the
        GRANTs to other roles and COMMENT ON VIEW: DROP VIEW loses them all, and an
        application reading a recreated view without its GRANT fails."""
        schema, name = split_name(current.name)
        grants: dict[tuple[str | None, bool], list[str]] = {}
        for grantee, privilege, grantable in current.privileges:
            if privilege not in TABLE_PRIVILEGES:  # pragma: no cover - aclexplode's own words
                raise PlanError(f"view {current.name}: unknown privilege {privilege!r}")
            grants.setdefault((grantee, grantable), []).append(privilege)
        text = render(self.name, "restore_view", schema=schema, name=name,
                      owner=(current.owner if current.owner not in (None, facts_of(state).user)
                             else None),
                      grants=[{"grantee": g, "grantable": opt, "privileges": p}
                              for (g, opt), p in grants.items()],
                      comment=current.comment)
        return tuple(line for line in text.splitlines() if line.strip())

    def view_replaceable(self, current: View, desired: View) -> bool:
        """CREATE OR REPLACE VIEW keeps the view (and what depends on it) when the new column
        list starts with the old one, same names and types
        (https://www.postgresql.org/docs/15/sql-createview.html)."""
        have = (current.signature or ("", ()))[1]
        want = (desired.signature or ("", ()))[1]
        return tuple(want[:len(have)]) == tuple(have)

    # -- normalization ----------------------------------------------------------------------
    def desired_state(self, profile: Profile, actual: State) -> State:
        """The profile's settings checked and normalized against this server's pg_settings,
        its indexes built on empty temporary copies of their tables and its views created as
        temporary views, all read back the way inspection reads the live database, then
        rolled back. An unknown setting, table or column, or SQL the server rejects, is an
        error naming the profile entry."""
        facts = facts_of(actual)
        if facts.url is None:
            raise DatabaseError("(no database)", "the live state was not read by inspect()")
        settings: dict[str, Any] = {}
        raw = profile.data.get(self.settings_key) or {}
        for name, value in raw.items():
            if name not in facts.gucs and "." not in name:
                raise profile.error((self.settings_key, name),
                                    f"unknown PostgreSQL setting {name!r}: this server's "
                                    "pg_settings has no such name")
            try:
                settings[name] = known_guc(name, facts.gucs or catalog()).normalize(value)
            except ValueError as exc:
                raise profile.error((self.settings_key, name), str(exc)) from None
        persistent, _ = self.split_settings(settings, actual)
        with connect(facts.url) as conn:
            indexes = normalize_indexes(conn, profile, actual, self)
            views = normalize_views(conn, profile, actual, self)
            warnings = _privilege_warnings(conn, [n for n in settings if "." not in n],
                                           facts.gucs)
        return State(engine=self.name, settings=persistent, indexes=indexes, views=views,
                     tables=actual.tables, warnings=tuple(warnings))

    # -- apply, history, restore (tuner.engines.postgres.session, .restore) -------------
    def apply_session(self, target: str, options: ApplyOptions) -> PostgresApplySession:
        """Connect and take tuner's advisory lock; the stale check reads `inspect(target)`."""
        return PostgresApplySession(target, options, lambda: self.inspect(target))

    def read_history(self, target: str) -> list[HistoryRow]:
        """`tuner.tuner_history`, oldest first ([] before the first apply)."""
        return read_history(target)

    def restore_refusal(self, backup: Path, target: str) -> str | None:
        """Always: a PostgreSQL backup is undone with its rollback script (or pg_restore),
        which the message names with the folder's real paths."""
        return restore.restore_refusal(backup, target)

    def apply_running(self, target: str) -> bool:
        """True while a session holds tuner's advisory lock on the database."""
        return apply_running(target)

    def restore_backup(self, backup: Path, target: str, *, backup_dir: Path | None,
                       keep: int, verify: str, busy_timeout_ms: int) -> RestoreResult:
        """Refuse, saying how (restore_refusal)."""
        return restore.restore_backup(backup, target)

    # -- targets ----------------------------------------------------------------------------
    def display(self, target: str) -> str:
        """The URL without its password."""
        return redact(target)

    def files(self, target: str) -> tuple[str, ...]:
        """None: the database lives on the server."""
        return ()

    # -- runtime (tuner.engines.postgres.runtime) --------------------------------------------
    batch_writes = False
    pool_type: type = runtime.PgPool

    def connect(self, target: str, profile: Profile | None, *, recorder: Recorder | None = None,
                **kwargs: Any) -> Any:
        """A psycopg connection with the profile's per-session settings applied and read back."""
        return runtime.connect(target, profile, recorder=recorder, **kwargs)

    def pool(self, target: str, profile: Profile | None, *, recorder: Recorder | None = None,
             **kwargs: Any) -> runtime.PgPool:
        """A psycopg_pool pool lending readers and writers."""
        return runtime.PgPool(target, profile, recorder=recorder, **kwargs)

    # -- workload (tuner.engines.postgres.bench, .advise, .demo) -------------------------
    def bench_side(self, target: str, profile: Profile) -> Side:
        """A read-only session configured by the profile."""
        return bench.open_side(target, profile)

    def bench_compare(self, target: str, profile: Profile, queries: Iterable[Query], *,
                      runs: int, warmup: int, batch: int, say: Say, tune: Tune) -> BenchReport:
        """A scratch clone on the same server, timed before and after `tune`, then dropped."""
        return bench.compare(target, profile, list(queries), runs=runs, warmup=warmup,
                             batch=batch, say=say, tune=tune, inspect=self.inspect)

    def advise(self, profile: Profile, target: str, options: AdviseOptions) -> Advice:
        """Candidates tried as HypoPG hypothetical indexes."""
        return advise.advise(profile, target, options, self.inspect)

    def load_demo(self, target: str, participants: int, *, seed: int = 42,
                  messages: int | None = None, force: bool = False,
                  on_progress: Any = None) -> DemoStats:
        """COPY the demo data into the database at the URL `target`."""
        return demo.load_demo(target, participants, seed=seed, messages=messages, force=force,
                              on_progress=on_progress)

    def prepare_demo(self, req: DemoRequest, progress: Any, say: Say) -> DemoTarget:
        """The demo tables loaded into `--db`, which the demo then tunes."""
        return demo.prepare_demo(req, progress, say)

    def capture_access(self, target: str, statements: list[Statement]) -> dict[str, Access]:
        """Not yet: captures are SQLite's so far."""
        raise TunerError(f"--db: explaining a {self.name} capture is not supported yet")

    def server_statements(self, target: str, *, reset: bool) -> list[ServerStatement]:
        """pg_stat_statements for this database (tuner.engines.postgres.capture)."""
        return capture.server_statements(target, reset=reset)


def _guc(name: str, gucs: Mapping[str, Guc]) -> Guc:
    """The server's entry for a setting, or the bundled catalog's before inspection."""
    return known_guc(name, gucs or catalog())


def _concurrent(table: str, state: State) -> bool:
    """False on a partitioned table, which refuses CONCURRENTLY."""
    return key(table) not in facts_of(state).partitioned


def _privilege_warnings(conn: Any, names: list[str], gucs: Mapping[str, Guc]) -> list[str]:
    """A warning per setting the connected role cannot apply: managed services often deny
    ALTER SYSTEM, and ALTER DATABASE SET needs the database's owner. The plan still shows
    the step, so that someone with the privilege can run it."""
    if not names or conn.info.server_version < 150000:  # has_parameter_privilege: 15+
        return []
    out = []
    for r in rows(conn, "privileges", {"names": names}):
        guc = _guc(r["name"], gucs)
        if guc.apply_by in ("system", "restart") and not r["alter_system"]:
            out.append(f"setting {r['name']}: ALTER SYSTEM needs superuser or GRANT ALTER "
                       f"SYSTEM ON PARAMETER {r['name']}, which role {r['role']} lacks; "
                       "that step fails unless someone with the privilege runs it")
        elif guc.apply_by == "database" and not (
                r["owns_database"] and (guc.context == "user" or r["can_set"])):
            need = ("the database's owner" if guc.context == "user" else
                    f"the database's owner with GRANT SET ON PARAMETER {r['name']}")
            out.append(f"setting {r['name']}: ALTER DATABASE SET needs {need}, which role "
                       f"{r['role']} is not; that step fails unless someone with the "
                       "privilege runs it")
    return out


def _show(value: Any) -> str:
    return "(not set)" if value is None else render_value(value)
