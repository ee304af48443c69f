"""build_plan(changes, ...) -> Plan: ordering into three phases, safety flags, reasons.

Phase 1 is the transactional DDL (dependent views dropped first, a replaced object's drop before
its create, views created in dependency order with their INSTEAD OF triggers restored, then
transactional settings). Phase 2 is what cannot run in a transaction (the engine orders it).
Phase 3 is statistics. A plan with nothing but maintenance is an empty plan. No I/O here.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
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
from tuner.diff import unmanaged
from tuner.engines.base import Engine, StepSpec
from tuner.interrupted import Interrupted
from tuner.lint import lint
from tuner.model import Setting, State, View, key
from tuner.profile import Profile

SYMBOLS = {"create_index": "+", "create_view": "+", "drop_index": "-", "drop_view": "-",
           "replace_index": "~", "replace_view": "~", "set_setting": "!", "set_pragma": "!",
           "restore_trigger": "~", "vacuum": "*", "analyze": "*", "reload": "!"}
PHASES = {1: "transactional DDL, all or nothing", 2: "settings that cannot run inside a "
          "transaction", 3: "statistics"}
MAINTENANCE = ("analyze",)


@dataclass(frozen=True)
class Step:
    """One reviewable unit of the plan: its SQL, why it is there, and how it may run."""

    number: int
    kind: str
    object: str
    sql: tuple[str, ...]
    reason: str
    transactional: bool
    destructive: bool
    phase: int
    rows: int | None = None
    change: Change | None = field(default=None, compare=False, repr=False)
    #: Changes the whole server (see StepSpec.server_wide): apply needs --server-settings.
    server_wide: bool = False

    @property
    def symbol(self) -> str:
        """`+` create, `-` drop, `~` replace, `!` setting, `*` maintenance."""
        return SYMBOLS.get(self.kind, "*")

    def as_dict(self) -> dict[str, Any]:
        """The JSON form of the step."""
        return {"number": self.number, "kind": self.kind, "object": self.object,
                "sql": "\n".join(self.sql), "reason": self.reason,
                "transactional": self.transactional, "destructive": self.destructive,
                "phase": self.phase, "rows_estimate": self.rows,
                "server_wide": self.server_wide}


@dataclass(frozen=True)
class Plan:
    """The ordered steps plus what a reviewer needs around them."""

    engine: str
    target: str
    profile_name: str
    profile_version: int
    profile_sha256: str
    steps: tuple[Step, ...]
    runtime: tuple[Setting, ...]
    warnings: tuple[str, ...]
    unmanaged: tuple[str, ...]
    prior: dict[str, Any]
    desired: dict[str, Any]
    #: The engine's title of each phase, and the heading of the runtime settings.
    phase_titles: dict[int, str] = field(default_factory=lambda: dict(PHASES))
    runtime_note: str = ""

    @property
    def empty(self) -> bool:
        """True when nothing would change."""
        return not self.steps

    @property
    def fingerprint(self) -> str:
        """One hash over the prior state: a saved plan is stale when it no longer matches."""
        return state_fingerprint(self.prior)

    def summary(self) -> dict[str, int]:
        """Counts of created, replaced and dropped objects and changed settings."""
        counts = {"create": 0, "replace": 0, "drop": 0, "settings": 0}
        for step in self.steps:
            change = step.change
            if isinstance(change, (CreateIndex, CreateView)):
                counts["create"] += 1
            elif isinstance(change, (ReplaceIndex, ReplaceView)):
                counts["replace"] += 1
            elif isinstance(change, (DropIndex, DropView)):
                counts["drop"] += 1
            elif isinstance(change, SetSetting):
                counts["settings"] += 1
        return counts


def prior_state(actual: State, managed: Iterable[str] = ()) -> dict[str, Any]:
    """What a saved plan records of the database it was made for: a hash per schema object,
    the explicitly set persistent settings and, under `defaults`, the value of every setting
    the profile manages (`managed`) that is not set explicitly, so that someone else's
    `ALTER DATABASE ... SET` of one of them makes the plan stale even when it sets the value
    the default already had (statistics and tuner's own tables excluded). A server-wide
    setting counts only when managed: on a shared server it is not this database's state."""
    wanted = {name.lower() for name in managed}
    explicit = {k: s.value for k, s in sorted(actual.settings.items())
                if s.explicit and (not s.server_wide or k.lower() in wanted)}
    prior: dict[str, Any] = {"objects": dict(sorted(actual.objects.items())),
                             "settings": explicit}
    defaults = {}
    for name in sorted(wanted):
        setting = actual.settings.get(name)
        if setting is not None and not setting.explicit:
            defaults[setting.name] = setting.value
    if defaults:
        prior["defaults"] = jsonable(defaults)
    return prior


def jsonable(value: Any) -> Any:
    """A signature as JSON sees it (tuples become lists), so the live side compares equal after
    a round trip through a plan file's manifest."""
    return json.loads(json.dumps(value))


def state_fingerprint(prior: dict[str, Any]) -> str:
    """sha256 over a prior state, as stored in a plan's manifest."""
    return hashlib.sha256(json.dumps(prior, sort_keys=True).encode()).hexdigest()


def build_plan(changes: list[Change], actual: State, desired: State, profile: Profile,
               engine: Engine, target: str,
               interrupted: Sequence[Interrupted] = ()) -> Plan:
    """Order `changes` into numbered Steps and collect runtime settings and warnings. The
    ANALYZE that `interrupted` applies did not finish is planned even when nothing else is
    (tuner.interrupted)."""
    specs: list[tuple[int, StepSpec, Change | None, int | None]] = []

    def add(phase: int, spec: StepSpec, change: Change | None = None,
            rows: int | None = None) -> None:
        specs.append((phase, spec, change, rows))

    ddl_tx = engine.transactional_ddl
    extra, rebuilt = _bound_dependents(changes, actual, desired, engine)
    changes = changes + extra
    in_place = {key(c.name) for c in changes if isinstance(c, ReplaceView)
                and key(c.name) not in rebuilt and engine.view_replaceable(c.current, c.desired)}
    view_drops = [c for c in changes if isinstance(c, DropView)
                  or isinstance(c, ReplaceView) and key(c.name) not in in_place]
    for c in _dependents_first(view_drops, actual):
        add(1, _view_drop_spec(c, actual, engine), c if isinstance(c, DropView) else None)
    for c in changes:
        if isinstance(c, (DropIndex, ReplaceIndex)):
            reason = ("not declared in the profile (prune: true)" if isinstance(c, DropIndex)
                      else "definition differs: " + "; ".join(c.differences))
            reason += _note(engine.index_step_note(c.current))
            add(1, StepSpec("drop_index", c.current.name, (engine.drop_index_sql(c.current),),
                            reason, ddl_tx, isinstance(c, DropIndex)),
                c if isinstance(c, DropIndex) else None)
    touched_tables: dict[str, str] = {}
    for c in changes:
        if isinstance(c, (CreateIndex, ReplaceIndex)):
            rows = actual.tables[key(c.desired.table)].rows
            touched_tables[key(c.desired.table)] = c.desired.table
            kind = "create_index" if isinstance(c, CreateIndex) else "replace_index"
            reason = ("index missing" if isinstance(c, CreateIndex)
                      else "definition differs: " + "; ".join(c.differences))
            reason += _note(engine.index_step_note(c.desired))
            add(1, StepSpec(kind, c.desired.name, (engine.create_index_sql(c.desired),),
                            reason, ddl_tx), c, rows)
    view_creates = [c for c in changes if isinstance(c, (CreateView, ReplaceView))]
    every_view = State(engine=desired.engine, views={**actual.views, **desired.views})
    for c in _dependencies_first(view_creates, every_view):
        kind = "create_view" if isinstance(c, CreateView) else "replace_view"
        reason = ("view missing" if isinstance(c, CreateView)
                  else "; ".join(c.differences) if c.current.signature == c.desired.signature
                  else "definition differs: " + "; ".join(c.differences))
        sql: tuple[str, ...] = (engine.create_view_sql(c.desired),)
        if key(c.name) in in_place:
            reason += " (CREATE OR REPLACE: the old columns are kept, in order)"
        elif isinstance(c, ReplaceView):
            restore = engine.view_restore_sql(c.current)
            if restore:
                sql += restore
                reason += "; its owner, privileges and comment are put back"
        add(1, StepSpec(kind, c.desired.name, sql, reason, engine.transactional_views), c)
        if isinstance(c, ReplaceView):
            for trig in _triggers_of(c.current, actual):
                add(1, StepSpec("restore_trigger", trig.name, (trig.sql.rstrip(";") + ";",),
                                f"DROP VIEW {c.current.name} dropped this INSTEAD OF trigger; "
                                "restored verbatim", True))
    settings = [c for c in changes if isinstance(c, SetSetting)]
    for c in settings:
        if engine.is_transactional_setting(c.setting):
            add(1, StepSpec("set_setting", c.setting, (engine.transactional_setting_sql(c),),
                            f"{c.setting}: {c.current} -> {c.desired}", True), c)
    deferred = [c for c in settings if not engine.is_transactional_setting(c.setting)]
    phase2, warnings = engine.settings_steps(deferred, actual, profile)
    by_setting = {c.setting: c for c in deferred}
    for spec in phase2:
        change = (by_setting.pop(spec.object, None)
                  if spec.kind in ("set_pragma", "set_setting") else None)
        add(2, spec, change)
    statistics_sql = (engine.vacuum_analyze_sql if profile.vacuum == "analyze"
                      else engine.analyze_sql)
    if profile.analyze and specs:
        changed = set(touched_tables)        # tables whose indexes this plan changes
        for index in desired.indexes.values():
            if key(index.table) not in actual.analyzed:
                touched_tables.setdefault(key(index.table), index.table)
        for k in sorted(touched_tables):
            add(3, StepSpec("analyze", touched_tables[k], (statistics_sql(touched_tables[k]),),
                            "refresh planner statistics after index changes"
                            if k in changed else
                            "the table has managed indexes and no statistics", False))
    if all(spec.kind in MAINTENANCE for _, spec, _, _ in specs):
        specs = []
    analyzed = {key(spec.object) for _, spec, _, _ in specs if spec.kind == "analyze"}
    for item in interrupted:
        for table in item.analyze:
            if key(table) in analyzed or key(table) not in actual.tables:
                continue
            analyzed.add(key(table))
            add(3, StepSpec("analyze", table, (statistics_sql(table),),
                            f"apply {item.row_id} (history row {item.row_id}) was interrupted "
                            "before its ANALYZE finished", False))
    steps = tuple(
        Step(number=n, kind=spec.kind, object=spec.object, sql=spec.sql, reason=spec.reason,
             transactional=spec.transactional, destructive=spec.destructive, phase=phase,
             rows=rows, change=change, server_wide=spec.server_wide)
        for n, (phase, spec, change, rows) in enumerate(sorted(specs, key=_run_order), start=1)
    )
    persistent, runtime = engine.split_settings(profile.settings)
    for c in changes:
        lost = _triggers_of(c.current, actual) if isinstance(c, DropView) else []
        if lost:
            warnings.append(f"prune drops view {c.current.name}, and SQLite deletes its "
                            f"INSTEAD OF triggers with it: {', '.join(t.name for t in lost)}; "
                            "declare the view to keep them")
    warnings = (list(actual.warnings) + list(desired.warnings)
                + lint(profile, actual, desired, steps, engine) + warnings
                + [item.describe() for item in interrupted])
    idx, views = unmanaged(actual, desired)
    return Plan(
        engine=engine.name, target=target, profile_name=profile.name,
        profile_version=profile.version, profile_sha256=profile.sha256, steps=steps,
        runtime=tuple(runtime.values()), warnings=tuple(warnings),
        unmanaged=tuple([f"index {i.name} on {i.table}" for i in idx]
                        + [f"view {v.name}" for v in views]) if not profile.prune else (),
        prior=prior_state(actual, persistent),
        desired={"settings": {k: s.value for k, s in sorted(persistent.items())},
                 "indexes": {i.name: {"sql": engine.create_index_sql(i),
                                      "signature": jsonable(i.signature)}
                             for i in desired.indexes.values()},
                 "views": {v.name: {"sql": engine.create_view_sql(v),
                                    "signature": jsonable(v.signature)}
                           for v in desired.views.values()},
                 "prune": profile.prune},
        phase_titles=dict(engine.phase_titles), runtime_note=engine.runtime_note,
    )


def _run_order(spec: tuple[int, StepSpec, Change | None, int | None]) -> tuple[int, bool]:
    """Phase by phase, and within phase 1 the transactional steps first: apply runs them in
    one transaction before the others (PostgreSQL's views before its concurrent index
    builds), and the plan lists the steps in the order they run."""
    phase, step = spec[0], spec[1]
    return phase, phase == 1 and not step.transactional


def _note(text: str) -> str:
    return f" ({text})" if text else ""


def _bound_dependents(changes: list[Change], actual: State, desired: State,
                      engine: Engine) -> tuple[list[Change], set[str]]:
    """Where a view is bound to the views it reads (PostgreSQL), dropping a view needs every
    live view that reads it, directly or not, dropped first and created again after: declared
    ones from the profile, the others verbatim from their live definition. Never CASCADE.
    Returns the extra changes and the keys of every view that must be dropped and created
    (not replaced in place)."""
    if not engine.views_bind_dependents:
        return [], set()
    planned = {key(c.name): c for c in changes if isinstance(c, (DropView, ReplaceView))}
    todo = [k for k, c in planned.items() if isinstance(c, DropView)
            or not engine.view_replaceable(c.current, c.desired)]
    rebuilt = set(todo)
    extra: list[Change] = []
    while todo:
        gone = todo.pop()
        for k, view in sorted(actual.views.items()):
            if gone not in view.depends_on or k in rebuilt:
                continue
            rebuilt.add(k)
            todo.append(k)
            if k in planned:
                continue
            want = desired.views.get(k, view)
            source = "as declared" if k in desired.views else "verbatim, as it is now"
            extra.append(ReplaceView(view, want, (f"reads view {actual.views[gone].name}, "
                                                  "which is dropped and created again; "
                                                  f"recreated {source}",)))
    return extra, rebuilt


def _view_drop_spec(c: DropView | ReplaceView, actual: State, engine: Engine) -> StepSpec:
    triggers = [t.name for t in _triggers_of(c.current, actual)]
    if isinstance(c, DropView):
        reason = "not declared in the profile (prune: true)"
        if triggers:
            reason += "; also drops its INSTEAD OF triggers " + ", ".join(triggers)
        return StepSpec("drop_view", c.current.name, (engine.drop_view_sql(c.current),),
                        reason, engine.transactional_views, True)
    return StepSpec("drop_view", c.current.name, (engine.drop_view_sql(c.current),),
                    "replaced: dropped before it is created again",
                    engine.transactional_views)


def _triggers_of(view: View, actual: State) -> list:
    return sorted((t for t in actual.triggers.values() if key(t.table) == key(view.name)),
                  key=lambda t: t.name)


def _dependencies_first(changes: list, state: State) -> list:
    """Views in an order where each comes after the views it reads from."""
    by_key = {key(c.name): c for c in changes}
    ordered: list = []
    seen: set[str] = set()

    def visit(k: str, trail: tuple[str, ...]) -> None:
        if k in seen or k in trail:
            return
        view = state.views.get(k)
        for dep in sorted(view.depends_on if view else ()):
            visit(dep, trail + (k,))
        seen.add(k)
        if k in by_key:
            ordered.append(by_key[k])

    for k in sorted(by_key):
        visit(k, ())
    return ordered


def _dependents_first(changes: list, state: State) -> list:
    """Views in an order where each is dropped before the views it reads from."""
    return list(reversed(_dependencies_first(changes, state)))
