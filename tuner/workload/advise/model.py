"""The data of `tuner advise`: its thresholds, what it returns (Advice, Recommendation), what it
asks of an engine's evaluator (Evaluator, Gain), and a kept candidate (Verdict). Shared by the
engine-neutral search (tuner.workload.advise), its covering pass (advise_widen) and the
engines' evaluators."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from tuner.model import Query, State, key
from tuner.workload.bench.measure import SCAN_THRESHOLD, PlanLine
from tuner.workload.shape import Candidate, Shape, TableUse

if TYPE_CHECKING:
    from tuner.workload.advise.workload import WorkloadInput

#: A candidate must cut what its table costs the query by at least this factor.
MIN_GAIN = 10
#: Covering columns are worth their width only when the query visits this many rows or more.
COVERING_MIN_ROWS = 50
#: Rounds of evaluation: each tries the remaining candidates with the ones chosen so far in
#: place, so a join gets an index on each side.
MAX_ROUNDS = 3


# -- the advice --------------------------------------------------------------------------------
@dataclass
class Recommendation:
    """An index to add, why, and the declared queries it serves. `include`: non-key columns
    (PostgreSQL's INCLUDE), there only so a query can skip the table."""

    name: str
    table: str
    columns: tuple[str, ...]
    where: str | None
    queries: list[str]
    reason: str
    include: tuple[str, ...] = ()

    declared: str | None = None        # the profile already declares it under this name
    #: With a captured workload: {"saving_s", "write_cost_s"} over the captured period.
    figures: dict[str, float] | None = None

    def as_profile(self) -> dict[str, Any]:
        """The entry for a profile's `indexes:` list (the reason goes in `notes`)."""
        entry: dict[str, Any] = {"name": self.name, "table": self.table,
                                 "columns": list(self.columns)}
        if self.include:
            entry["include"] = list(self.include)
        if self.where:
            entry["where"] = self.where
        entry["comment"] = f"serves {', '.join(self.queries)} (tuner advise)"
        return entry

    def notes(self) -> list[str]:
        """The YAML comment lines that go above the entry: why, in numbers and plans."""
        return [f"tuner advise: {self.reason}"]

    def as_dict(self) -> dict[str, Any]:
        """The JSON form."""
        out = {"name": self.name, "table": self.table, "columns": list(self.columns),
               "include": list(self.include), "where": self.where, "queries": self.queries,
               "reason": self.reason, "declared": self.declared}
        return {**out, **self.figures} if self.figures is not None else out


@dataclass
class Advice:
    """Problems found, indexes recommended, existing indexes flagged."""

    problems: list[dict[str, Any]] = field(default_factory=list)
    recommendations: list[Recommendation] = field(default_factory=list)
    flags: list[dict[str, Any]] = field(default_factory=list)
    notes: list[dict[str, Any]] = field(default_factory=list)   # queries not analysed, why
    #: With a captured workload: the indexes that would serve a read but cost more in writes.
    rejected: list[dict[str, Any]] = field(default_factory=list)
    #: With a captured workload: the captured reads advised on (profile `queries:` entries).
    captured: list[Query] = field(default_factory=list)
    workload: str | None = None                                 # the capture file
    #: The profile's indexes the database lacks, advised on as if built (tuner apply builds
    #: them), so the advice is the same before and after `tuner apply`.
    pending: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """The JSON form."""
        out: dict[str, Any] = {"problems": self.problems,
                               "recommendations": [r.as_dict() for r in self.recommendations],
                               "flags": [{**f, "built": f["index"].lower() not in
                                          {p.lower() for p in self.pending}}
                                         for f in self.flags],
                               "notes": self.notes,
                               "pending": self.pending}
        if self.workload:
            out["workload"] = self.workload
            out["not_recommended"] = self.rejected
            out["captured_queries"] = [{"name": q.name, "sql": q.sql, "params": q.params}
                                       for q in self.captured]
        return out

    def to_write(self) -> list[Recommendation]:
        """The recommendations a profile does not declare yet (what `--write` adds)."""
        return [r for r in self.recommendations if not r.declared]


@dataclass(frozen=True)
class AdviseOptions:
    """What the command line passes to an engine's adviser. `create_extension`: PostgreSQL
    may run CREATE EXTENSION hypopg in the target database (SQLite ignores it)."""

    threshold: int = SCAN_THRESHOLD
    create_extension: bool = False
    #: A captured workload (tuner advise --workload): weights, writes, captured reads.
    workload: WorkloadInput | None = None


@dataclass(frozen=True)
class Gain:
    """What a candidate buys one query, as its evaluator measured it: the rows it visits
    through the index, and the estimated cost before and after where the engine has one."""

    visited: float
    cost: tuple[float, float] | None = None
    cost_of: str = "the query"


class Evaluator(Protocol):
    """One engine's way to try candidate indexes without building them over the data."""

    def candidates(self, use: TableUse, core: Shape, state: State) -> list[Candidate]:
        """The candidates for one table one SELECT core reads, in this engine's forms."""

    def baseline(self, query: Query) -> list[PlanLine]:
        """The plan of `query` with the indexes added so far (a round's starting point)."""

    def explain(self, query: Query) -> list[PlanLine]:
        """The plan of `query` now (with a candidate being tried in place)."""

    def add(self, cand: Candidate, name: str) -> str | None:
        """Put `cand` in place as index `name`; returns the name plans show it under, or
        None when the engine cannot make that index (a type without a B-tree opclass)."""

    def remove(self, shown: str) -> None:
        """Take the candidate plans show as `shown` away again."""

    def gain(self, query: Query, cand: Candidate, line: PlanLine, shape: Shape,
             sorted_by_index: bool) -> Gain | None:
        """What `cand` (used in the last `explain` of `query`, on `line`) buys the query,
        or None when that is less than MIN_GAIN."""

    def visited(self, query: Query, cand: Candidate, line: PlanLine, shape: Shape,
                sorted_by_index: bool) -> float:
        """The rows `query` visits through index `cand` (on `line` of its last `explain`),
        for its own parameter values."""

    def widen(self, cand: Candidate, extra: list[str]) -> Candidate:
        """`cand` also carrying `extra`, so a query reading them can skip the table."""

    def write_cost(self, cand: Candidate) -> float:
        """Seconds one row written to `cand`'s table costs to maintain index `cand`."""


@dataclass
class Verdict:
    """A candidate kept by evaluation: its index name, how it was shown, what it serves."""

    cand: Candidate
    name: str
    shown: str
    served: dict[str, tuple[Gain, str, str]]   # query -> (gain, plan before, plan after)
    notes: list[str] = field(default_factory=list)   # columns added for a query to skip the table


def advised_name(cand: Candidate, taken: set[str]) -> str:
    """The candidate's default index name, made unique against `taken` (keys)."""
    name = cand.default_name()
    while key(name) in taken:
        name += "_x"
    return name


class Workload(Protocol):
    """What one advise run knows (tuner.workload.advise.search.Workload): the queries by name,
    their shapes, and the live state."""

    queries: dict[str, Query]
    shapes: dict[str, Shape]
    state: State

    def problems(self, plans: dict[str, list[PlanLine]]) -> dict[str, list[dict[str, Any]]]:
        """The problems of each query under `plans`, for the queries that have any."""
