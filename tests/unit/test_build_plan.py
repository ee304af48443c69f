"""build_plan() on States and Profiles built by hand, no database: phases, safety flags, the
typed manifest, and engines that depend only on their arguments (PostgreSQL's inspection facts
travel in State.facts)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from tuner.diff import diff
from tuner.engines.lookup import engine_named
from tuner.engines.postgres.inspect import PgFacts
from tuner.model import Index, IndexColumn, Profile, Setting, State, Table
from tuner.plan import build_plan
from tuner.planfile import body_hash, parse_plan_file, render_body, render_plan_file
from tuner.plantypes import Plan, state_fingerprint

TABLE = Table("t", ("id", "a", "b"), "CREATE TABLE t(id INTEGER PRIMARY KEY, a, b)", rows=1000)


def profile(engine: str = "sqlite", **changes: Any) -> Profile:
    base = Profile(name="p", version=1, engine=engine, path="p.yaml", sha256="0" * 64,
                   settings={}, indexes=(), views=(), prune=False, analyze=True,
                   vacuum="auto", runtime={}, queries=(), data={})
    return replace(base, **changes)


def index(name: str, *columns: str, table: str = "t") -> Index:
    keys = tuple(("column", c, False, "") for c in columns)
    return Index(name, table, tuple(IndexColumn(column=c) for c in columns),
                 signature=(table, False, keys, None))


def state(engine: str = "sqlite", *indexes: Index, settings: dict[str, Any] | None = None,
          analyzed: frozenset[str] = frozenset(), facts: object = None) -> State:
    table = TABLE if engine == "sqlite" else replace(TABLE, name="public.t")
    return State(engine, settings={k: Setting(k, v) for k, v in (settings or {}).items()},
                 indexes={i.name: i for i in indexes}, tables={table.name: table},
                 analyzed=analyzed, objects={"table:t": "abc"}, facts=facts)


def plan_for(actual: State, desired: State, prof: Profile, target: str = "app.db") -> Plan:
    engine = engine_named(prof.engine)
    return build_plan(diff(actual, desired, prune=prof.prune), actual, desired, prof, engine,
                      target)


def test_a_missing_index_is_transactional_ddl_then_statistics() -> None:
    want = index("t_a", "a")
    plan = plan_for(state(), state("sqlite", want), profile(indexes=(want,)))
    assert [(s.number, s.phase, s.kind, s.object, s.transactional) for s in plan.steps] == [
        (1, 1, "create_index", "t_a", True), (2, 3, "analyze", "t", False)]
    assert plan.steps[0].sql == ('CREATE INDEX IF NOT EXISTS "t_a" ON "t" ("a");',)
    assert plan.steps[0].rows == 1000
    assert plan.summary() == {"create": 1, "replace": 0, "drop": 0, "settings": 0}


def test_maintenance_alone_is_an_empty_plan() -> None:
    have = index("t_a", "a")
    plan = plan_for(state("sqlite", have), state("sqlite", have), profile(indexes=(have,)))
    assert plan.empty and plan.steps == ()


def test_journal_mode_is_a_setting_outside_the_transaction() -> None:
    plan = plan_for(state(settings={"journal_mode": "delete"}),
                    state(settings={"journal_mode": "wal"}),
                    profile(settings={"journal_mode": "wal"}))
    (step,) = plan.steps
    assert (step.phase, step.kind, step.transactional) == (2, "set_pragma", False)
    assert plan.desired["settings"] == {"journal_mode": "wal"}


def test_the_manifest_is_typed_and_matches_the_body() -> None:
    want = index("t_a", "a")
    plan = plan_for(state(), state("sqlite", want), profile(indexes=(want,)))
    m = plan.manifest
    assert (m.engine, m.database, m.profile.name, m.steps) == ("sqlite", "app.db", "p", 2)
    assert m.fingerprint == state_fingerprint(m.prior)
    assert m.plan_hash == body_hash(render_body(plan))
    again = parse_plan_file(render_plan_file(plan))
    assert again.intact and again.manifest == replace(m, created=again.manifest.created)
    assert [(s.number, s.kind, s.object, s.statements) for s in again.steps] == [
        (s.number, s.kind, s.object, s.statements) for s in plan.steps]


def test_build_plan_depends_only_on_its_arguments() -> None:
    want = index("t_a", "a")
    args = (state(), state("sqlite", want), profile(indexes=(want,)))
    one, two = plan_for(*args), plan_for(*args)
    assert one.steps == two.steps and one.plan_hash == two.plan_hash


def test_postgresql_reads_what_inspection_learned_from_the_state() -> None:
    want = index("t_a", "a", table="public.t")
    prof = profile("postgresql", indexes=(want,))
    plain = plan_for(state("postgresql", facts=PgFacts(url="postgresql://x/db")),
                     state("postgresql", want), prof, "postgresql://x/db")
    assert "CONCURRENTLY" in plain.steps[0].sql[0]
    assert not plain.steps[0].transactional
    partitioned = PgFacts(url="postgresql://x/db", partitioned=frozenset({"public.t"}))
    plan = plan_for(state("postgresql", facts=partitioned), state("postgresql", want), prof,
                    "postgresql://x/db")
    assert "CONCURRENTLY" not in plan.steps[0].sql[0]
    assert "partitioned" in plan.steps[0].reason
