"""diff(actual, desired) on States built by hand: set algebra over keyed mappings, no database."""

from __future__ import annotations

from tuner.changes import (
    CreateIndex,
    CreateView,
    DropIndex,
    DropView,
    ReplaceIndex,
    ReplaceView,
    SetSetting,
)
from tuner.diff import diff, unmanaged
from tuner.model import Index, IndexColumn, Setting, State, View


def index(name: str, *columns: str, table: str = "t", origin: str = "c",
          valid: bool = True) -> Index:
    keys = tuple(("column", c, False, "") for c in columns)
    return Index(name, table, tuple(IndexColumn(column=c) for c in columns), origin=origin,
                 signature=(table, False, keys, None), valid=valid)


def view(name: str, sql: str) -> View:
    return View(name, sql, signature=(sql.lower(), ("id",)))


def state(*objects: Index | View, settings: dict[str, object] | None = None) -> State:
    return State("sqlite",
                 settings={k: Setting(k, v) for k, v in (settings or {}).items()},
                 indexes={o.name: o for o in objects if isinstance(o, Index)},
                 views={o.name: o for o in objects if isinstance(o, View)})


def test_only_desired_is_created_only_live_is_dropped_with_prune() -> None:
    actual = state(index("old", "a"), view("v_old", "SELECT id FROM t"))
    desired = state(index("new", "b"), view("v_new", "SELECT id FROM u"))
    kept = diff(actual, desired)
    assert [type(c) for c in kept] == [CreateIndex, CreateView]
    pruned = diff(actual, desired, prune=True)
    assert [(type(c), c.name) for c in pruned] == [
        (CreateIndex, "new"), (DropIndex, "old"), (CreateView, "v_new"), (DropView, "v_old")]
    assert all(c.destructive for c in pruned if isinstance(c, (DropIndex, DropView)))


def test_a_different_signature_is_a_replace_holding_both_sides() -> None:
    have, want = index("ix", "a"), index("ix", "a", "b")
    (change,) = diff(state(have), state(want))
    assert isinstance(change, ReplaceIndex)
    assert change.current is have and change.desired is want
    assert change.differences == ("columns (a) -> (a, b)",)
    (same,) = diff(state(view("v", "SELECT 1")), state(view("v", "SELECT 2")))
    assert isinstance(same, ReplaceView) and same.differences == ("query differs",)


def test_equal_signatures_are_no_change_whatever_the_text() -> None:
    have = index("ix", "a")
    want = Index("ix", "t", have.columns, sql="CREATE INDEX ix ON t (a)  ;",
                 signature=have.signature)
    assert diff(state(have), state(want)) == []


def test_engine_owned_indexes_are_never_dropped_and_invalid_ones_are_replaced() -> None:
    owned = index("sqlite_autoindex_t_1", "a", origin="u")
    assert diff(state(owned), state(), prune=True) == []
    assert unmanaged(state(owned), state()) == ([], [])
    broken = index("ix", "a", valid=False)
    (change,) = diff(state(broken), state(index("ix", "a")))
    assert isinstance(change, ReplaceIndex) and "INVALID" in change.differences[0]


def test_settings_compare_only_what_the_profile_declares() -> None:
    actual = state(settings={"journal_mode": "delete", "page_size": 4096, "foo": 1})
    desired = state(settings={"journal_mode": "wal", "page_size": 4096})
    assert diff(actual, desired) == [SetSetting("journal_mode", "delete", "wal")]
    assert diff(state(), state(settings={"user_version": 3})) == [
        SetSetting("user_version", None, 3)]
