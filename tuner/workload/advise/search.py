"""The search of `tuner advise`: which indexes the declared workload needs, and which existing
ones earn nothing.

This module owns the engine-neutral advice: the problems of each declared query (a SCAN of a
large table, a temp B-tree for ORDER BY or GROUP BY, in the plan vocabulary of
tuner.workload.bench.measure), the candidate pool (from each SELECT core, parsed with sqlglot in
tuner.workload.shape, never with regular expressions), the rounds of evaluation, the small
set chosen for the whole workload, and the flags on existing indexes. A candidate is kept
only when its index appears in a query's plan, the plan's problem goes away, and the engine's
evaluator says the gain is MIN_GAIN or more. Rounds run with the indexes chosen so far in
place, so a join gets an index on each side. Then tuner.workload.advise.widen widens a chosen
index where that lets a query reading many rows through it skip the table.

How a candidate is tried without building it over the data is the engine's: an `Evaluator`
from the engine's advise part (SQLite: tuner.engines.sqlite.advise, a schema-only scratch copy
with sampled statistics; PostgreSQL: tuner.engines.postgres.advise, HypoPG's hypothetical
indexes), which calls `advise_with` here. It returns data; the CLI prints,
tuner.workload.advise.write edits the profile.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import sqlglot
from sqlglot import exp

from tuner.lint import low_cardinality, redundant
from tuner.model import Profile, Query, State, key
from tuner.workload.advise.model import (
    COVERING_MIN_ROWS,
    MAX_ROUNDS,
    MIN_GAIN,
    Advice,
    AdviseOptions,
    Evaluator,
    Gain,
    Recommendation,
    Verdict,
    advised_name,
)
from tuner.workload.advise.weigh import flag_writes, index_candidate, weigh
from tuner.workload.advise.widen import widen
from tuner.workload.advise.workload import WorkloadInput
from tuner.workload.bench.measure import PlanLine
from tuner.workload.shape import Candidate, Shape, parse_query

__all__ = ["MIN_GAIN", "Advice", "AdviseOptions", "Evaluator", "Gain", "Recommendation",
           "Workload", "advise_with", "parse_query", "where_key"]

@dataclass
class Workload:
    """What one advise run knows: the queries, their shapes, and the live state."""

    queries: dict[str, Query]
    shapes: dict[str, Shape]
    state: State
    threshold: int

    def problems(self, plans: dict[str, list[PlanLine]]) -> dict[str, list[dict[str, Any]]]:
        """The problems of each query under `plans`, for the queries that have any."""
        found = {q: _problems(self.queries[q], plans[q], self.shapes[q], self.state,
                              self.threshold) for q in self.queries}
        return {q: ps for q, ps in found.items() if ps}


def advise_with(profile: Profile, state: State, plans: dict[str, list[PlanLine]],
                evaluator: Evaluator, threshold: int, dialect: str,
                workload: WorkloadInput | None = None) -> Advice:
    """The advice, given the live `state`, each declared query's plan on the live database and
    the engine's `evaluator`; `dialect` is sqlglot's name for the engine's SQL. `workload`: a
    capture's weights and writes (tuner.workload.advise.weigh), its reads already among the
    profile's queries.

    The profile's own indexes are put in place first where the database lacks them, so the
    advice is the same before and after `tuner apply`."""
    live = state
    state, plans, unplaced = _declared_in_place(profile, state, plans, evaluator)
    work = Workload({q.name: q for q in profile.queries},
                     {q.name: parse_query(q.sql, state, dialect, q.params)
                     for q in profile.queries},
                     state, threshold)
    advice = Advice(pending=[i.name for k, i in state.indexes.items() if k not in live.indexes])
    bad = work.problems(plans)
    problems = dict(bad)                    # on the live plans, for weigh
    advice.problems = [p for ps in bad.values() for p in ps]
    advice.notes = [{"query": q, "note": shape.note} for q, shape in work.shapes.items()
                    if shape.note and q in bad]
    advice.notes += [{"query": None, "note": f"index {name}: declared but not built, and "
                      "advise cannot try it (an expression, a WHERE other than column = "
                      "constant or column IN (constants), or a method other than "
                      "B-tree): advised on as if absent"}
                     for name in unplaced]
    write_flags = flag_writes(evaluator, work, plans, state, workload) if workload else []
    taken = {key(n) for n in state.indexes} | {key(i.name) for i in profile.indexes}
    chosen = _search(evaluator, work, plans, bad, taken)
    widen(evaluator, work, chosen, plans, taken)
    texts: dict[str, tuple[str, float, float]] = {}
    if workload:
        chosen, advice.rejected, texts = weigh(evaluator, chosen, state, workload, problems)
    advice.recommendations = _recommend(chosen, state, texts)
    _mark_declared(advice.recommendations, profile)
    advice.flags = _flags(state, plans, bool(profile.queries)) + write_flags
    return advice


def _declared_in_place(profile: Profile, state: State, plans: dict[str, list[PlanLine]],
                       evaluator: Evaluator
                       ) -> tuple[State, dict[str, list[PlanLine]], list[str]]:
    """The state and plans with the profile's indexes the database lacks put in place as
    candidates (the ones a candidate can express: plain columns, a `column = constant` or
    `column IN (constants)` WHERE), their plan lines naming them as the profile does; and the
    names of those it could not put in place."""
    shown: dict[str, str] = {}
    unplaced: list[str] = []
    added = dict(state.indexes)
    for index in profile.indexes:
        cand = index_candidate(index)
        if key(index.name) in state.indexes or key(index.table) not in state.tables:
            continue
        if cand is None:
            unplaced.append(index.name)
            continue
        as_shown = evaluator.add(cand, index.name)
        if as_shown is not None:
            shown[as_shown] = index.name
            added[key(index.name)] = index
    if not shown:
        return state, plans, unplaced
    renamed = {q: [replace(ln, index=shown.get(ln.index or "", ln.index),
                           detail=_renamed(ln.detail, shown))
                   for ln in evaluator.baseline(query)]
               for q, query in ((q.name, q) for q in profile.queries)}
    return replace(state, indexes=added), renamed, unplaced


def _renamed(detail: str, shown: dict[str, str]) -> str:
    for old, new in shown.items():
        detail = detail.replace(old, new)
    return detail


def _problems(query: Query, lines: list[PlanLine], shape: Shape, state: State,
              threshold: int) -> list[dict[str, Any]]:
    found = []
    for line in lines:
        if line.kind == "scan" and line.table and key(line.table) not in shape.derived:
            table = state.tables.get(shape.names.get(key(line.table), key(line.table)))
            rows = table.rows if table else None
            if rows is None or rows >= threshold:
                found.append({"query": query.name, "kind": "scan",
                              "table": table.name if table else line.table, "rows": rows,
                              "plan": line.detail})
        elif line.kind == "temp_btree" and line.purpose and (
                "ORDER BY" in line.purpose or "GROUP BY" in line.purpose):
            found.append({"query": query.name, "kind": "temp_btree", "table": None,
                          "rows": None, "plan": line.detail})
    return found


def _still_bad(lines: list[PlanLine], names: dict[str, str], table: str,
               problems: list[dict[str, Any]]) -> tuple[bool, bool]:
    """(the large scan of `table` remains, a temp B-tree remains)."""
    scans = any(ln.kind == "scan" and names.get(key(ln.table or ""), key(ln.table or ""))
                == key(table) and ln.index is None for ln in lines)
    temps = sum(1 for ln in lines if ln.kind == "temp_btree" and ln.purpose
                and ("ORDER BY" in ln.purpose or "GROUP BY" in ln.purpose))
    return scans, temps >= sum(1 for p in problems if p["kind"] == "temp_btree")


def _signature(table: str, columns: tuple[str, ...], include: tuple[str, ...]) -> tuple:
    return (key(table), tuple(map(key, columns)), tuple(sorted(map(key, include))))


def _search(evaluator: Evaluator, work: Workload, plans: dict[str, list[PlanLine]],
            bad: dict[str, list[dict[str, Any]]], taken: set[str]) -> list[Verdict]:
    """Rounds of evaluation: try every candidate, keep a small set, put it in place, and try
    the rest against the queries still in trouble."""
    state = work.state
    pool: list[Candidate] = []
    for qname in bad:
        for core in work.shapes[qname].parts():
            for use in core.uses.values():
                pool += evaluator.candidates(use, core, state)
    existing = {_signature(i.table, tuple(c.column or "" for c in i.columns), i.include)
                for i in state.indexes.values() if not i.where}
    pool = [c for c in dict.fromkeys(pool)
            if c.where or _signature(c.table, c.columns, c.include) not in existing]
    chosen: list[Verdict] = []
    for _ in range(MAX_ROUNDS):
        verdicts = [v for v in (_try(evaluator, work, c, advised_name(c, taken), plans, bad)
                                for c in pool) if v]
        picked = _pick(verdicts)
        for v in picked:
            v.shown = evaluator.add(v.cand, v.name) or v.shown
            taken.add(key(v.name))
        chosen += picked
        pool = [c for c in pool if all(c != v.cand for v in picked)]
        plans = {q: evaluator.baseline(work.queries[q]) for q in work.queries}
        bad = work.problems(plans)
        if not picked or not bad or not pool:
            break
    kept = _merge_prefixes(chosen)
    for v in chosen:
        if all(v is not k for k in kept):
            evaluator.remove(v.shown)     # the set in place is the one recommended
    return kept


def _try(evaluator: Evaluator, work: Workload, cand: Candidate, name: str,
         plans: dict[str, list[PlanLine]], bad: dict[str, list[dict[str, Any]]]
         ) -> Verdict | None:
    """The queries `cand` serves: its index appears in their plan, the large scan of its table
    or a temp B-tree goes away, and the evaluator measures a gain of MIN_GAIN or more."""
    shown = evaluator.add(cand, name)
    if shown is None:
        return None
    served = {}
    try:
        for qname, problems in bad.items():
            shape = work.shapes[qname]
            if key(cand.table) not in shape.uses:
                continue
            lines = evaluator.explain(work.queries[qname])
            line = next((ln for ln in lines if ln.index == shown), None)
            if line is None:
                continue
            was_scan, was_temp = _still_bad(plans[qname], shape.names, cand.table, problems)
            now_scan, now_temp = _still_bad(lines, shape.names, cand.table, problems)
            if not ((was_scan and not now_scan) or (was_temp and not now_temp)):
                continue
            if any(p["kind"] == "scan" and key(p["table"] or "") == key(cand.table)
                   for p in problems) and now_scan:
                continue
            gain = evaluator.gain(work.queries[qname], cand, line, shape,
                                  sorted_by_index=not now_temp)
            if gain is None:
                continue
            before = next((p["plan"] for p in problems if p["kind"] == "scan"
                           and key(p["table"] or "") == key(cand.table)), None)
            if before is None:
                before = next((p["plan"] for p in problems if p["kind"] == "temp_btree"),
                              problems[0]["plan"])
            served[qname] = (gain, before, line.detail.replace(shown, name))
    finally:
        evaluator.remove(shown)
    return Verdict(cand, name, shown, served) if served else None


def _pick(verdicts: list[Verdict]) -> list[Verdict]:
    """A small set: greedily the candidate serving most unserved queries; on a tie a partial
    index first, then covering columns only where the query visits COVERING_MIN_ROWS or more,
    then the wider one."""
    def worth(v: Verdict) -> tuple:
        many = max(s[0].visited for s in v.served.values()) >= COVERING_MIN_ROWS
        return (len(remaining & set(v.served)), v.cand.where is not None,
                v.cand.covering if many else -v.cand.covering, len(v.cand.columns))

    remaining = {q for v in verdicts for q in v.served}
    chosen: list[Verdict] = []
    while remaining:
        best = max(verdicts, key=worth)
        if not remaining & set(best.served):
            break
        chosen.append(best)
        remaining -= set(best.served)
    return chosen


def _merge_prefixes(chosen: list[Verdict]) -> list[Verdict]:
    """Drop a chosen index that is a prefix of a wider chosen one (and whose INCLUDE columns
    the wider one carries too); the wider one serves its queries as well (the same leading
    columns give the same seeks)."""
    kept = []
    for v in chosen:
        cols = tuple(map(key, v.cand.columns))
        wider = next((o for o in chosen if o is not v and key(o.cand.table) == key(v.cand.table)
                      and o.cand.where == v.cand.where and len(o.cand.columns) > len(cols)
                      and tuple(map(key, o.cand.columns))[:len(cols)] == cols
                      and {key(c) for c in v.cand.include}
                      <= {key(c) for c in o.cand.columns + o.cand.include}), None)
        if wider is None:
            kept.append(v)
            continue
        for q, served in v.served.items():
            wider.served.setdefault(q, served)
    return kept


def _recommend(chosen: list[Verdict], state: State,
               texts: dict[str, tuple[str, float, float]]) -> list[Recommendation]:
    recs = []
    for v in chosen:
        served = sorted(v.served)
        nrow = state.tables[key(v.cand.table)].rows or 0
        worst = max(v.served[q][0].visited for q in served)
        fixes = "; ".join(f"{q}: {v.served[q][1]} -> {v.served[q][2]}" for q in served)
        rows = "row" if round(worst) == 1 else "rows"
        gains = [v.served[q][0] for q in served if v.served[q][0].cost]
        cost = "".join(f", estimated cost of {g.cost_of} {g.cost[0]:,.1f} -> {g.cost[1]:,.1f}"
                       for g in gains[:1] if g.cost)
        reason = f"about {worst:,.0f} {rows} visited instead of ~{nrow:,}{cost} ({fixes})"
        reason += "".join(f"; {note}" for note in v.notes)
        figures = None
        if v.name in texts:
            text, saving, write_s = texts[v.name]
            reason += f"; {text}"
            figures = {"saving_s": saving, "write_cost_s": write_s}
        recs.append(Recommendation(v.name, v.cand.table, v.cand.columns,
                                   v.cand.where.sql if v.cand.where else None, served, reason,
                                   v.cand.include, figures=figures))
    return recs


def _mark_declared(recs: list[Recommendation], profile: Profile) -> None:
    """Mark the recommendations the profile already declares (same table, key columns and
    partial WHERE) but the database does not have yet: `tuner apply` builds them."""
    declared = {(key(i.table), tuple(key(c.column or "") for c in i.columns),
                 where_key(i.where)): i.name for i in profile.indexes}
    for rec in recs:
        rec.declared = declared.get((key(rec.table), tuple(map(key, rec.columns)),
                                     where_key(rec.where)))


def where_key(where: str | None) -> str | None:
    """A partial index's WHERE as a comparable key: parsed, identifiers unquoted and
    case-folded, printed again (`"Status" = 'a'` and `status='a'` give the same key)."""
    if where is None:
        return None
    try:
        tree = sqlglot.parse_one(where, read="sqlite")
    except sqlglot.errors.ParseError:
        return where
    for ident in tree.find_all(exp.Identifier):
        ident.set("this", key(ident.name))
        ident.set("quoted", False)
    return tree.sql(dialect="sqlite")


def _flags(state: State, plans: dict[str, list[PlanLine]], have_queries: bool
           ) -> list[dict[str, Any]]:
    used = {key(ln.index) for lines in plans.values() for ln in lines if ln.index}
    indexes = list(state.indexes.values())
    out = []
    for index in indexes:
        if index.owned_by_engine:
            continue
        reasons = redundant(index, indexes, state) + low_cardinality(index, state)
        if have_queries and not index.unique and key(index.name) not in used:
            reasons.append(f"index {index.name}: no declared query uses it "
                           "(the plan of every declared query)")
        for reason in reasons:
            out.append({"index": index.name, "table": index.table, "reason": reason})
    return out
