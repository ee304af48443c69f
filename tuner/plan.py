"""build_plan(changes, ...) -> Plan: ordering into three phases, safety flags, reasons, and the
manifest apply checks the plan against (tuner.plantypes).

Phase 1 is the transactional DDL (dependent views dropped first, a replaced object's drop before
its create, views created in dependency order with their INSTEAD OF triggers restored, then
transactional settings). Phase 2 is what cannot run in a transaction (the engine orders it).
Phase 3 is statistics. A plan with nothing but maintenance is an empty plan. No I/O here.
"""

from __future__ import annotations

from collections.abc import Sequence

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
from tuner.model import Profile, State, View, key
from tuner.planfile import seal
from tuner.plantypes import (
    Manifest,
    Plan,
    ProfileStamp,
    Step,
    jsonable,
    prior_state,
    state_fingerprint,
)

MAINTENANCE = ("analyze",)


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
            reason += _note(engine.index_step_note(c.current, actual))
            drop = engine.drop_index_sql(c.current, actual)
            add(1, StepSpec("drop_index", c.current.name, (drop,), reason, ddl_tx,
                            isinstance(c, DropIndex)),
                c if isinstance(c, DropIndex) else None)
    touched_tables: dict[str, str] = {}
    for c in changes:
        if isinstance(c, (CreateIndex, ReplaceIndex)):
            rows = actual.tables[key(c.desired.table)].rows
            touched_tables[key(c.desired.table)] = c.desired.table
            kind = "create_index" if isinstance(c, CreateIndex) else "replace_index"
            reason = ("index missing" if isinstance(c, CreateIndex)
                      else "definition differs: " + "; ".join(c.differences))
            reason += _note(engine.index_step_note(c.desired, actual))
            add(1, StepSpec(kind, c.desired.name, (engine.create_index_sql(c.desired, actual),),
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
            restore = engine.view_restore_sql(c.current, actual)
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
    persistent, runtime = engine.split_settings(profile.settings, actual)
    for c in changes:
        lost = _triggers_of(c.current, actual) if isinstance(c, DropView) else []
        if lost and isinstance(c, DropView):
            warnings.append(f"prune drops view {c.current.name}, and SQLite deletes its "
                            f"INSTEAD OF triggers with it: {', '.join(t.name for t in lost)}; "
                            "declare the view to keep them")
    warnings = (list(actual.warnings) + list(desired.warnings)
                + lint(profile, actual, desired, steps, engine) + warnings
                + [item.describe() for item in interrupted])
    idx, views = unmanaged(actual, desired)
    prior = prior_state(actual, persistent)
    manifest = Manifest(
        engine=engine.name, database=engine.display(target),
        profile=ProfileStamp(profile.name, profile.version, profile.sha256),
        fingerprint=state_fingerprint(prior), plan_hash="", steps=len(steps),
        # As a plan file carries them (JSON), so a plan read back compares the same.
        prior=jsonable(prior),
        desired=jsonable({"settings": {k: s.value for k, s in sorted(persistent.items())},
                 "indexes": {i.name: {"sql": engine.create_index_sql(i, actual),
                                      "signature": jsonable(i.signature)}
                             for i in desired.indexes.values()},
                 "views": {v.name: {"sql": engine.create_view_sql(v),
                                    "signature": jsonable(v.signature)}
                           for v in desired.views.values()},
                 "prune": profile.prune}))
    return seal(Plan(
        steps=steps, manifest=manifest, target=engine.display(target),
        runtime=tuple(runtime.values()),
        warnings=tuple(warnings),
        unmanaged=tuple([f"index {i.name} on {i.table}" for i in idx]
                        + [f"view {v.name}" for v in views]) if not profile.prune else (),
        phase_titles=dict(engine.phase_titles), runtime_note=engine.runtime_note))


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
        return StepSpec("drop_view", c.current.name, (engine.drop_view_sql(c.current, actual),),
                        reason, engine.transactional_views, True)
    return StepSpec("drop_view", c.current.name, (engine.drop_view_sql(c.current, actual),),
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
