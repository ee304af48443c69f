"""Hand-written PostgreSQL plan files for the apply tests, while PostgreSQL planning is built
elsewhere: the same header, manifest and body format `tuner plan --out` writes."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import psycopg

from tuner.model import State
from tuner.planfile import MANIFEST_BEGIN, MANIFEST_END, body_hash, parse_plan_file
from tuner.plantypes import Plan, prior_state, state_fingerprint

#: What the stand-in inspection reports: the plans below are made for this state.
EMPTY = State(engine="postgresql")


@dataclass(frozen=True)
class HandStep:
    """One step of a hand-written plan."""

    kind: str
    object: str
    sql: str
    transactional: bool = False


def plan_text(steps: list[HandStep], target: str = "postgresql://test") -> str:
    """A whole plan file: phase 1 holds the transactional steps, phase 2 the others."""
    numbered = list(enumerate(steps, 1))
    body = ""
    for phase, transactional in ((1, True), (2, False)):
        mine = [(n, s) for n, s in numbered if s.transactional == transactional]
        if not mine:
            continue
        body += f"-- Phase {phase}: hand-written\n" + ("BEGIN;\n" if transactional else "")
        for n, s in mine:
            body += (f"\n-- tuner:step {n} kind={s.kind} transactional="
                     f"{'true' if s.transactional else 'false'} destructive=false "
                     f"object={json.dumps(s.object)}\n-- reason: test\n{s.sql}\n")
        body += "\nCOMMIT;\n\n" if transactional else "\n"
    prior = prior_state(EMPTY)
    manifest = {"format": 1, "tuner_version": "test", "engine": "postgresql",
                "profile": {"name": "hand", "version": 1, "sha256": "0" * 64},
                "database": target, "created": "2026-12-01T00:00:00Z",
                "fingerprint": state_fingerprint(prior), "plan_hash": body_hash(body),
                "steps": len(steps), "prior": prior,
                "desired": {"settings": {}, "indexes": {}, "views": {}}}
    lines = "\n".join("-- " + line for line in json.dumps(manifest, indent=2).splitlines())
    return f"-- hand-written plan\n{MANIFEST_BEGIN}\n{lines}\n{MANIFEST_END}\n\n{body}"


def hand_plan(steps: list[HandStep]) -> Plan:
    """The plan file read back, as apply reads it."""
    plan = parse_plan_file(plan_text(steps))
    assert plan.intact and len(plan.steps) == len(steps)
    return plan


def write_plan(path: Path, steps: list[HandStep]) -> Path:
    """Write a hand-written plan file for `tuner apply --plan`."""
    path.write_text(plan_text(steps), encoding="utf-8")
    return path


def pg(url: str, sql: str, params: list | None = None) -> list[tuple]:
    """Run one statement in autocommit on a connection of its own; its rows, if any."""
    with psycopg.connect(url, autocommit=True) as conn:
        cur = conn.execute(sql, params)
        return cur.fetchall() if cur.description else []


def qi(name: str) -> str:
    """Quote an identifier (test-side SQL only)."""
    return '"' + name.replace('"', '""') + '"'


def dbname(url: str) -> str:
    """The database a URL names."""
    return url.rsplit("/", 1)[1]


def db_setting(url: str, name: str) -> str | None:
    """The database-level (ALTER DATABASE ... SET) value of a setting, or None."""
    rows = pg(url, "SELECT unnest(setconfig) FROM pg_db_role_setting WHERE setrole = 0 AND "
                   "setdatabase = (SELECT oid FROM pg_database WHERE datname = "
                   "current_database())")
    values = dict(str(r[0]).split("=", 1) for r in rows)
    return values.get(name)


def indexes(url: str) -> dict[str, bool]:
    """Index name -> valid, in schema public."""
    return {r[0]: r[1] for r in pg(url, "SELECT c.relname, i.indisvalid FROM pg_index i "
                                        "JOIN pg_class c ON c.oid = i.indexrelid JOIN "
                                        "pg_namespace n ON n.oid = c.relnamespace "
                                        "WHERE n.nspname = 'public'")}


def history_rows(url: str) -> list[dict]:
    """tuner.tuner_history as dicts ([] without the table)."""
    if not pg(url, "SELECT to_regclass('tuner.tuner_history')")[0][0]:
        return []
    with psycopg.connect(url, autocommit=True) as conn:
        cur = conn.execute("SELECT * FROM tuner.tuner_history ORDER BY id")
        names = [c.name for c in cur.description or ()]
        return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
