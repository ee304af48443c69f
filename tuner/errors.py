"""The TunerError tree: every error a user can fix is one of these; anything else is a bug.

The CLI turns a TunerError into one line on stderr and exit code 1, in one place
(`tuner.cli.main`). Each subclass carries the data that names what is wrong and where.
"""

from __future__ import annotations


class TunerError(Exception):
    """Root of every user-fixable error. `str(err)` is the one-line message."""


class ProfileError(TunerError):
    """A profile is invalid: names the file, the line where YAML gives one, and the JSON path."""

    def __init__(self, path: str, message: str, *, line: int | None = None, where: str = ""):
        self.path = path
        self.line = line
        self.where = where
        self.message = message
        #: Every problem found, this one first (the schema check finds them all at once).
        self.problems: list[ProfileError] = [self]
        loc = f"{path}:{line}" if line else path
        super().__init__(f"{loc}: {where}: {message}" if where else f"{loc}: {message}")


class DatabaseError(TunerError):
    """The database cannot be used: missing, not a database, locked, unreadable."""

    def __init__(self, target: str, message: str):
        self.target = target
        super().__init__(f"{target}: {message}")


class EngineError(TunerError):
    """The engine cannot do what was asked (wrong engine for the profile, missing driver)."""


class PlanError(TunerError):
    """The profile cannot be planned against this database (missing table or column, bad SQL)."""


class PlanFileError(TunerError):
    """A saved plan file cannot be read: not a tuner plan, or its header is damaged."""


class StalePlanError(TunerError):
    """A saved plan no longer matches the database it was made for: plan again."""

    def __init__(self, message: str, changed: list[str] | None = None):
        self.changed = changed or []
        super().__init__(message)


class BackupError(TunerError):
    """The backup could not be taken or verified; nothing was changed."""


class ApplyError(TunerError):
    """An apply failed. Carries the failing step and SQL, what ran, and the backup path."""

    def __init__(self, message: str, *, step: int | None = None, sql: str | None = None,
                 applied: list[int] | None = None, backup: str | None = None):
        self.step = step
        self.sql = sql
        self.applied = applied or []
        self.backup = backup
        super().__init__(message)
