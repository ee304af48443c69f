"""What a BatchWriter hands back and raises: tickets (future-like acknowledgements), the
result of an insert_many, the queue's entries, and the errors of submitting."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol

from tuner.errors import TunerError


class BatchWriter(Protocol):
    """What a ticket reads of the writer that issued it (tuner.runtime.batch.BatchWriter)."""

    _done_upto: int
    _errors: dict[int, BaseException]

    def _wait(self, seq: int, timeout: float | None) -> None: ...


class BatchError(TunerError):
    """An operation cannot be submitted (bad arguments, SQL that does not compile)."""


class UnknownName(BatchError):
    """A table or column name is not in the live schema; nothing was queued."""

    def __init__(self, message: str, table: str, column: str | None = None):
        self.table, self.column = table, column
        super().__init__(message)


class QueueFull(BatchError):
    """The queue stayed full for `submit_timeout` seconds; the operation was not queued."""


class WriterClosed(BatchError):
    """The BatchWriter was closed; nothing more can be submitted."""


class WriterFailed(BatchError):
    """The writer thread stopped on an unexpected error (the cause); pending work not written."""


class Rejected(NamedTuple):
    """One row insert_many could not write: its index in the list, the row, the SQLite error."""

    index: int  # type: ignore[assignment]  # the field shadows tuple.index, by design
    row: Any
    error: BaseException


@dataclass
class ManyResult:
    """What one insert_many wrote: the number of rows committed and the rejected rows."""

    committed: int = 0
    rejected: list[Rejected] = field(default_factory=list)


class _Many:
    """The caller's side of one insert_many: its table, its rows as given, and its result so
    far."""

    __slots__ = ("table", "originals", "result")

    def __init__(self, originals: list[Any], table: str = ""):
        self.table, self.originals, self.result = table, originals, ManyResult()


class _Run:
    """A queue entry: consecutive operations with the same SQL, run by one `executemany`.
    Single operations: rows[k] has sequence number seq + k; later ones with the same SQL are
    appended while this run is the queue's tail, and taken rows are cut off the front. An
    insert_many (many=): one sequence number for all its rows; rows[lo:] are still queued."""

    __slots__ = ("sql", "rows", "seq", "many", "lo")

    def __init__(self, sql: str, rows: list[Any], seq: int, many: _Many | None = None):
        self.sql, self.rows, self.seq, self.many, self.lo = sql, rows, seq, many, 0


Taken = tuple[_Run, int, list[Any]]  # run, first sequence (insert_many: index), the rows
Failure = tuple[Taken, int, BaseException]  # what was taken, a row index in it, the error


class Ticket:
    """The acknowledgement of one submitted operation, future-like. It holds a sequence
    number only: the writer resolves tickets in bulk by advancing its committed sequence."""

    __slots__ = ("_w", "_seq")

    def __init__(self, writer: BatchWriter, seq: int):
        self._w, self._seq = writer, seq

    def done(self) -> bool:
        """True once the operation was committed or rejected."""
        return self._seq <= self._w._done_upto

    def exception(self, timeout: float | None = None) -> BaseException | None:
        """Wait for the outcome: the SQLite error that rejected the operation, or None.
        TimeoutError after `timeout` seconds; WriterFailed if the writer died."""
        self._w._wait(self._seq, timeout)
        return self._w._errors.get(self._seq)

    def result(self, timeout: float | None = None) -> Any:
        """Wait until the operation is committed (None), or raise the SQLite error that
        rejected it. This waits for the batch (up to flush_interval); flush() pushes it."""
        exc = self.exception(timeout)
        if exc is not None:
            raise exc
        return None


class ManyTicket(Ticket):
    """The acknowledgement of one insert_many: `result()` gives a ManyResult."""

    __slots__ = ("_many",)

    def __init__(self, writer: BatchWriter, seq: int, many: _Many):
        super().__init__(writer, seq)
        self._many = many

    def result(self, timeout: float | None = None) -> ManyResult:
        """Wait until every row was committed or rejected; the count and the rejected rows."""
        self._w._wait(self._seq, timeout)
        return self._many.result
