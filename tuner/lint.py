"""Warnings a reviewer should see in a plan: redundant and low-value indexes, and index builds
that hold the write lock longer than the application waits for it.

Lints never change the plan; they read the desired and live states and the planned steps.
"""

from __future__ import annotations

from tuner.engines.base import Engine
from tuner.model import Index, Profile, State, key
from tuner.plantypes import Step

#: A lone index on a column with at most this many distinct values rarely pays for itself.
LOW_CARDINALITY = 10
#: ...and only once the table is big enough for the planner to care.
LOW_CARDINALITY_MIN_ROWS = 1000


def lint(profile: Profile, actual: State, desired: State, steps: tuple[Step, ...],
         engine: Engine) -> list[str]:
    """All warnings for this plan, most important first."""
    warnings: list[str] = []
    others = list(desired.indexes.values()) + [
        i for k, i in actual.indexes.items()
        if k not in desired.indexes and (i.owned_by_engine or not profile.prune)]
    for index in desired.indexes.values():
        warnings += redundant(index, others, actual)
        warnings += low_cardinality(index, actual)
    warnings += _slow_builds(profile, steps, engine)
    return warnings


def _keys(index: Index) -> tuple:
    return index.signature[2] if index.signature else ()


def _same_filter(a: Index, b: Index) -> bool:
    return (a.signature or (None,) * 4)[3] == (b.signature or (None,) * 4)[3]


def _describe(index: Index) -> str:
    if index.origin == "pk":
        return f"{index.name} (PRIMARY KEY)"
    if index.origin == "u":
        return f"{index.name} (UNIQUE constraint)"
    return index.name


def redundant(index: Index, others: list[Index], actual: State) -> list[str]:
    """A warning when `index` duplicates, or is a prefix of, one of `others` (a UNIQUE/PK
    autoindex included) or the table's rowid; else nothing."""
    keys = _keys(index)
    table = actual.tables.get(key(index.table))
    if (table and table.rowid_alias and len(keys) == 1 and not index.where
            and keys[0][:2] == ("column", key(table.rowid_alias))):
        return [f"index {index.name}: {index.columns_label} is the table's INTEGER PRIMARY KEY "
                "(the rowid): the index duplicates it, costs writes and buys nothing"]
    for other in others:
        if other.name == index.name or key(other.table) != key(index.table):
            continue
        if not _same_filter(index, other):
            continue
        theirs = _keys(other)
        if len(keys) > len(theirs) or theirs[:len(keys)] != keys:
            continue
        if index.unique and not (other.unique and theirs == keys):
            continue                      # a UNIQUE index enforces something the other can't
        what = "duplicates" if theirs == keys else "is a prefix of"
        return [f"index {index.name}: {index.columns_label} {what} {_describe(other)} "
                f"{other.columns_label}: it costs writes and buys nothing"]
    return []


def low_cardinality(index: Index, actual: State) -> list[str]:
    """A warning when `index` is a lone key on a column the statistics show has few values."""
    keys = _keys(index)
    if len(keys) != 1 or index.where or index.unique:
        return []
    for live in actual.indexes.values():
        stat = actual.stats.get(key(live.name))
        if not stat or len(stat) < 2 or not _keys(live) or _keys(live)[0] != keys[0]:
            continue
        rows, per_value = stat[0], max(stat[1], 1)
        distinct = max(rows // per_value, 1)
        if rows >= LOW_CARDINALITY_MIN_ROWS and distinct <= LOW_CARDINALITY:
            return [f"index {index.name}: statistics show about {distinct} distinct values of "
                    f"{index.columns_label} over {rows:,} rows; a lone index on a "
                    "low-cardinality column rarely helps a query and slows every write "
                    "(lead a composite index with a selective column instead)"]
    return []


#: A concurrent build this long is worth a note: it waits for older transactions, twice.
CONCURRENT_NOTE_SECONDS = 10.0


def _slow_builds(profile: Profile, steps: tuple[Step, ...], engine: Engine) -> list[str]:
    if engine.concurrent_index_builds:   # the build does not hold a write lock
        return _long_concurrent_builds(steps, engine)
    busy_ms = int(profile.settings.get("busy_timeout", 0) or 0)
    out = []
    for step in steps:
        if step.kind not in ("create_index", "replace_index") or not step.rows:
            continue
        index = step.change.desired  # type: ignore[union-attr]
        seconds = engine.index_build_seconds(index, step.rows)
        if seconds * 1000 > busy_ms and seconds >= 0.1:
            out.append(f"index {step.object}: building it over ~{step.rows:,} rows takes about "
                       f"{seconds:.1f} s, longer than busy_timeout ({busy_ms} ms); the "
                       "application cannot write while it runs, so its writes will fail "
                       "with 'database is locked': apply in a quiet period")
    return out


def _long_concurrent_builds(steps: tuple[Step, ...], engine: Engine) -> list[str]:
    """CREATE INDEX CONCURRENTLY lets writes go on, but scans the table twice and waits for
    every transaction older than it: a long build is worth planning for, not a lock alarm."""
    out = []
    for step in steps:
        if step.kind not in ("create_index", "replace_index") or not step.rows:
            continue
        seconds = engine.index_build_seconds(step.change.desired,  # type: ignore[union-attr]
                                             step.rows)
        if seconds >= CONCURRENT_NOTE_SECONDS:
            out.append(f"index {step.object}: building it over ~{step.rows:,} rows takes about "
                       f"{seconds:.0f} s; writes go on meanwhile, but the build first waits "
                       "for every older transaction to end, so a long-running transaction "
                       "delays it")
    return out
