"""diff(actual, desired) -> [Change]: set algebra over keyed mappings, no SQL, no I/O.

Only desired -> create; only live -> drop (with prune, never for engine-owned objects); in both
but with different signatures -> replace. Settings compare canonical values, and only the
persistent ones the profile declares.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from tuner.changes import (
    Change,
    CreateIndex,
    CreateView,
    DropIndex,
    DropView,
    ReplaceIndex,
    ReplaceView,
    SetSetting,
)
from tuner.model import Index, Setting, State, View


def diff(actual: State, desired: State, *, prune: bool = False) -> list[Change]:
    """Every change that brings `actual` to `desired`, in a stable order (settings, indexes,
    views; by name). Unmanaged live objects are dropped only when `prune` is true."""
    changes: list[Change] = list(diff_settings(actual.settings, desired.settings))
    changes += _diff_indexes(actual.indexes, desired.indexes, prune)
    changes += _diff_views(actual.views, desired.views, prune)
    return changes


def diff_settings(actual: Mapping[str, Setting], desired: Mapping[str, Setting]
                  ) -> list[SetSetting]:
    """SetSetting for each desired setting whose live value differs."""
    out = []
    for name in sorted(desired):
        want = desired[name].value
        have = actual[name].value if name in actual else None
        if have != want:
            out.append(SetSetting(setting=desired[name].name, current=have, desired=want))
    return out


def unmanaged(actual: State, desired: State) -> tuple[list[Index], list[View]]:
    """Live indexes and views that the profile does not declare (engine-owned ones excluded)."""
    indexes = [i for k, i in sorted(actual.indexes.items())
               if k not in desired.indexes and not i.owned_by_engine]
    views = [v for k, v in sorted(actual.views.items()) if k not in desired.views]
    return indexes, views


def _diff_keyed(actual: Mapping[str, Any], desired: Mapping[str, Any], prune: bool,
                create: Callable[[Any], Change], drop: Callable[[Any], Change],
                replace: Callable[[Any, Any], Change]) -> list[Change]:
    """The set algebra: only desired -> create; only live -> drop (with prune, never what the
    engine owns); in both with different signatures -> replace."""
    out: list[Change] = []
    for k in sorted(set(actual) | set(desired)):
        have, want = actual.get(k), desired.get(k)
        if have is None:
            out.append(create(want))
        elif want is None:
            if prune and not getattr(have, "owned_by_engine", False):
                out.append(drop(have))
        elif have.signature != want.signature or not getattr(have, "valid", True):
            out.append(replace(have, want))
    return out


def _diff_indexes(actual: Mapping[str, Index], desired: Mapping[str, Index],
                  prune: bool) -> list[Change]:
    return _diff_keyed(actual, desired, prune, CreateIndex, DropIndex,
                       lambda have, want: ReplaceIndex(have, want,
                                                       index_differences(have, want)))


def _diff_views(actual: Mapping[str, View], desired: Mapping[str, View],
                prune: bool) -> list[Change]:
    return _diff_keyed(actual, desired, prune, CreateView, DropView,
                       lambda have, want: ReplaceView(have, want, view_differences(have, want)))


def view_differences(have: View, want: View) -> tuple[str, ...]:
    """What differs between two views, as short phrases for a step's reason."""
    hs, ws = have.signature or (None, None), want.signature or (None, None)
    diffs = []
    if hs[1] != ws[1]:
        before, after = _view_columns(have), _view_columns(want)
        if before == after:  # the names are the same: the signature's columns say what differs
            before, after = _signature_columns(hs[1]), _signature_columns(ws[1])
        diffs.append(f"columns {before} -> {after}")
    if hs[0] != ws[0]:
        diffs.append("query differs")
    return tuple(diffs) or ("definition differs",)


def _view_columns(view: View) -> str:
    """A view's column list as `(id, username)`, or where its names come from."""
    return "(" + ", ".join(view.columns) + ")" if view.columns else "(from SELECT)"


def _signature_columns(columns: Any) -> str:
    """A signature's column list, `(event_id integer, n bigint)` where it holds types."""
    items = [" ".join(c) if isinstance(c, (tuple, list)) else str(c) for c in columns or ()]
    return "(" + ", ".join(items) + ")"


def index_differences(have: Index, want: Index) -> tuple[str, ...]:
    """What differs between two indexes, as short phrases for a step's reason."""
    hs, ws = have.signature or (), want.signature or ()
    out = []
    if not have.valid:
        out.append("the live index is INVALID (indisvalid = false: a failed concurrent build "
                   "left it; queries never use it and IF NOT EXISTS would skip it)")
    if have.table.lower() != want.table.lower():
        out.append(f"table {have.table} -> {want.table}")
    if have.unique != want.unique:
        out.append(f"unique {str(have.unique).lower()} -> {str(want.unique).lower()}")
    if len(hs) > 2 and len(ws) > 2 and hs[2] != ws[2]:
        before, after = have.columns_label, want.columns_label
        out.append(f"columns {before} -> {after}" if before != after
                   else "key order or collation differs")
    if len(hs) > 3 and len(ws) > 3 and hs[3] != ws[3]:
        out.append(f"where {have.where or '(none)'} -> {want.where or '(none)'}")
    if have.include != want.include:
        out.append(f"include ({', '.join(have.include)}) -> ({', '.join(want.include)})")
    if (have.method or "btree") != (want.method or "btree"):
        out.append(f"method {have.method or 'btree'} -> {want.method or 'btree'}")
    return tuple(out) or ("definition differs",)
