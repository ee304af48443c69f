"""PostgreSQL's apply session: one autocommit connection holding tuner's advisory lock for the
whole apply, explicit BEGIN/COMMIT for the transactional phase, every other step on its own
(CREATE INDEX CONCURRENTLY and ALTER SYSTEM refuse transaction blocks), the pg_dump backup
(tuner.engines.postgres_backup) and `tuner.tuner_history` (tuner.engines.postgres_history).

Exclusion: `pg_try_advisory_lock` on one constant key, per database. A second apply is refused
at once with who holds the lock; it never waits (see sql/postgresql/apply/try_lock.sql.j2).
The lock is released by `close()`, and by the server if the connection dies.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tuner.backup import DEFAULT_DIR, Backup, Progress, prune_backups
from tuner.engines import postgres_backup, postgres_history
from tuner.engines.base import StepFailed
from tuner.engines.postgres_conn import connect, driver, first_line, redact
from tuner.errors import DatabaseError
from tuner.history import HistoryRow
from tuner.model import State
from tuner.render import render

if TYPE_CHECKING:
    import psycopg

    from tuner.apply import ApplyOptions
    from tuner.planfile import FileStep, PlanFile

ENGINE = "postgresql"
#: tuner's advisory lock key: the first 8 bytes of sha256("tuner") as a signed bigint.
LOCK_KEY = int.from_bytes(hashlib.sha256(b"tuner").digest()[:8], "big", signed=True)
APPLICATION_NAME = "tuner apply"


class PostgresApplySession:
    """One apply on one PostgreSQL database (see tuner.engines.base.ApplySession).

    `inspect` reads the live state for the stale check and the read-back (the engine's
    inspection, on a connection of its own: `ALTER DATABASE ... SET` is invisible to the
    session that ran it)."""

    def __init__(self, url: str, options: ApplyOptions, inspect: Callable[[], State]):
        self.url = url
        self.where = redact(url)
        self.options = options
        self.inspect = inspect
        self.locked = False
        self.conn: psycopg.Connection = connect(url, application_name=APPLICATION_NAME)
        try:
            self._lock()
        except BaseException:
            self.conn.close()
            raise

    def _lock(self) -> None:
        got = self._run(render(ENGINE, "apply/try_lock"), [LOCK_KEY]).fetchone()
        if not (got and got[0]):
            raise DatabaseError(self.where, "another tuner apply is running on this database"
                                f"{self._holder()}; nothing was changed. Apply again when it "
                                "has finished")
        self.locked = True

    def _holder(self) -> str:
        """` (pid 123, user u, application 'tuner apply', ...)`, or "" if it cannot be seen."""
        try:
            row = lock_holder(self.conn)
        except driver().Error:
            return ""
        if row is None:
            return ""
        pid, user, app, client, since = row
        what = [f"pid {pid}"] + [f"{label} {value}" for label, value in (
            ("user", user), ("application", repr(app) if app else None), ("client", client),
            ("connected since", since.isoformat(timespec="seconds") if since else None))
            if value]
        return " (held by " + ", ".join(what) + ")"

    def _run(self, sql: str, params: list[Any] | None = None) -> psycopg.Cursor:
        """Execute tuner's own SQL; a driver error becomes a one-line DatabaseError."""
        try:
            return self.conn.execute(sql, params)
        except driver().Error as exc:
            raise DatabaseError(self.where, first_line(exc)) from None

    # -- the ApplySession protocol ----------------------------------------------------------
    def read_state(self) -> State:
        """The live state, from the engine's inspection."""
        return self.inspect()

    def default_backup_dir(self) -> Path:
        """`.tuner-backups/` in the current directory (a server has no folder beside it)."""
        return Path.cwd() / DEFAULT_DIR

    def take_backup(self, plan: PlanFile, folder: Path, on_locked: Callable[[], None],
                    on_progress: Progress) -> Backup:
        """pg_dump + settings snapshot + rollback script (tuner.engines.postgres_backup); the
        advisory lock is already held, so `on_locked` runs once pg_dump is known usable."""
        try:
            return postgres_backup.take_backup(self.conn, self.url, plan, folder,
                                               self.options.backup_mode, on_locked,
                                               self.options.busy_timeout_ms,
                                               runs=self.options.runs)
        except driver().Error as exc:
            raise DatabaseError(self.where, f"cannot read what the backup needs: "
                                f"{first_line(exc)}; nothing was changed") from None

    def prune_backups(self, folder: Path, keep: int) -> list[Path]:
        """Only this database's own backup folders are ever deleted."""
        return prune_backups(folder, postgres_backup.backup_label(self.conn), keep,
                             suffix="", folders=True)

    def begin(self) -> None:
        """BEGIN (the connection is otherwise in autocommit)."""
        self._run("BEGIN")

    def commit(self) -> None:
        """COMMIT."""
        self._run("COMMIT")

    def rollback(self) -> None:
        """ROLLBACK, if a transaction is open (or failed); quiet if the connection is gone."""
        if self.conn.closed:
            return
        if self.conn.info.transaction_status != driver().pq.TransactionStatus.IDLE:
            try:
                self.conn.execute("ROLLBACK")
            except driver().Error:
                pass

    def insert_history(self, row: HistoryRow) -> int:
        """Insert into `tuner.tuner_history`, creating schema and table on the first apply."""
        try:
            return postgres_history.insert(self.conn, row)
        except driver().Error as exc:
            raise DatabaseError(self.where, f"cannot record the apply in "
                                f"{postgres_history.SCHEMA}.tuner_history: "
                                f"{first_line(exc)}") from None

    def history_rows(self) -> list[HistoryRow]:
        """Every row of `tuner.tuner_history`, oldest first ([] before the first apply)."""
        try:
            return postgres_history.rows(self.conn)
        except driver().Error as exc:
            raise DatabaseError(self.where, f"cannot read the history: {first_line(exc)}") \
                from None

    def update_history(self, row_id: int, **values: Any) -> None:
        """Update a history row."""
        try:
            postgres_history.update(self.conn, row_id, **values)
        except driver().Error as exc:
            raise DatabaseError(self.where, first_line(exc)) from None

    def execute(self, step: FileStep, sql: str) -> None:
        """Run one statement as written; in autocommit outside the transactional phase."""
        try:
            self.conn.execute(sql)
        except driver().Error as exc:
            raise StepFailed(StepFailed.of(step, first_line(exc)).message
                             + _hint(step, sql, exc)) from None

    def close(self) -> None:
        """Roll back anything open, release the advisory lock, close the connection."""
        if self.conn.closed:
            return
        try:
            self.rollback()
            if self.locked:
                self.conn.execute(render(ENGINE, "apply/unlock"), [LOCK_KEY])
                self.locked = False
        except driver().Error:
            pass  # the server releases a session's advisory locks when it disconnects
        finally:
            self.conn.close()


def _hint(step: FileStep, sql: str, exc: BaseException) -> str:
    """What to do about the failures a user meets most: for a permission error, the privilege
    this very statement needs; for a failed concurrent build, what it left behind."""
    errors = driver().errors
    if isinstance(exc, errors.InsufficientPrivilege):
        return f" ({_privilege_needed(step, sql)})"
    if step.kind.endswith("_index") and not step.transactional:
        return (" (a failed concurrent index build leaves an invalid index behind, which "
                "slows writes and which IF NOT EXISTS skips: fix the cause and apply again; "
                "the next plan drops and rebuilds it)")
    return ""


def _privilege_needed(step: FileStep, sql: str) -> str:
    """The privilege a statement of `step` needs, in words, naming the setting or object."""
    statement = " ".join(sql.split()).upper()
    if statement.startswith("ALTER SYSTEM"):
        return (f"setting {step.object}: ALTER SYSTEM needs superuser or GRANT ALTER SYSTEM ON "
                f"PARAMETER {step.object}; managed services often deny it: have an "
                "administrator set it, or remove it from the profile")
    if statement.startswith("ALTER DATABASE"):
        return (f"setting {step.object}: ALTER DATABASE ... SET needs the database's owner "
                f"(and superuser or GRANT SET ON PARAMETER {step.object} for a superuser-only "
                "setting)")
    if "PG_RELOAD_CONF" in statement:
        return ("pg_reload_conf() needs superuser or GRANT EXECUTE ON FUNCTION "
                "pg_reload_conf() TO the role")
    if step.kind.endswith("_index"):
        return (f"index {step.object}: creating or dropping an index needs the table's owner "
                "and CREATE on its schema")
    if step.kind.endswith("_view"):
        return (f"view {step.object}: creating a view needs CREATE on its schema and SELECT "
                "on what it reads; replacing or dropping one needs its owner")
    if step.kind == "analyze":
        return f"ANALYZE {step.object} needs the table's owner (or the database's)"
    return "the connected role lacks a privilege this step needs"


def lock_holder(conn: psycopg.Connection) -> tuple | None:
    """The session holding tuner's advisory lock on this database (pid, user, application,
    client, backend start), or None: read-only, from pg_locks."""
    unsigned = LOCK_KEY & 0xFFFF_FFFF_FFFF_FFFF
    return conn.execute(render(ENGINE, "apply/lock_holder"),
                        [unsigned >> 32, unsigned & 0xFFFF_FFFF]).fetchone()


def apply_running(url: str) -> bool:
    """True while a session holds tuner's advisory lock on the database at `url`: the server
    drops a session's advisory locks when it ends, so a `started` row with no holder belongs
    to an apply that died."""
    conn = connect(url, application_name="tuner plan")
    try:
        return lock_holder(conn) is not None
    except driver().Error as exc:
        raise DatabaseError(redact(url), f"cannot read pg_locks: {first_line(exc)}") from None
    finally:
        conn.close()


def read_history(url: str) -> list[HistoryRow]:
    """`tuner.tuner_history` of the database at `url`, oldest first, read-only."""
    conn = connect(url, application_name="tuner history")
    try:
        return postgres_history.rows(conn)
    except driver().Error as exc:
        raise DatabaseError(redact(url), f"cannot read the history: {first_line(exc)}") \
            from None
    finally:
        conn.close()
