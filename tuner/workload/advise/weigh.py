"""Weighing indexes against a captured workload: read saving against write cost.

This module owns the cost-benefit rule of `tuner advise --workload`. A chosen index's read
saving is, for each captured query it serves, the query's captured time (calls x mean time)
times the share of the work the index removes (the evaluator's estimate: rows visited through
it against the table's rows on SQLite, the planner's estimated cost before and after on
PostgreSQL). Its write cost is the rows the capture wrote to its table (the ones an index on
its columns has to maintain) times the engine's per-row maintenance cost of that index
(Evaluator.write_cost: measured on a sample on SQLite, a validated model on PostgreSQL). It is
recommended only when the saving exceeds the cost; a declared query the capture never saw has
no weight, so an index serving one is kept as without a workload. Existing indexes are
flagged when the capture wrote more cost into them than the captured reads using them saved.
"""

from __future__ import annotations

from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

from tuner.model import Index, State, key
from tuner.workload.advise.model import Evaluator, Gain, Verdict, Workload
from tuner.workload.advise.workload import TableWrites, WorkloadInput
from tuner.workload.bench.measure import PlanLine
from tuner.workload.shape import Candidate, Where, constant

Plans = dict[str, list[PlanLine]]


def secs(x: float) -> str:
    """A duration for a reason: `12.3 s`, `4.5 ms`, `80 µs`."""
    if x >= 1:
        return f"{x:,.1f} s"
    if x >= 1e-3:
        return f"{x * 1e3:.1f} ms"
    return f"{x * 1e6:.2g} µs" if x < 1e-5 else f"{x * 1e6:.0f} µs"


#: The share of a query's time assumed saved where the evaluator has no estimated cost and the
#: query did not scan the table before (SQLite: the index removes a sort or the table lookups
#: of a query that already searched another index): half.
NO_SCAN_SHARE = 0.5


def _share(gain: Gain, rows: int, scanned: bool) -> float:
    """The share of a query's work an index removes, from the evaluator's estimate: the
    estimated cost before and after, else the rows visited against the table's rows when the
    query scanned the table, else NO_SCAN_SHARE."""
    if gain.cost and gain.cost[0] > 0:
        return max(0.0, 1.0 - gain.cost[1] / gain.cost[0])
    if not scanned:
        return NO_SCAN_SHARE
    return max(0.0, 1.0 - gain.visited / rows) if rows else 0.0


def write_cost(evaluator: Evaluator, cand: Candidate, writes: dict[str, TableWrites]
               ) -> tuple[float, float, float]:
    """(seconds, rows written, seconds per row) the capture's writes cost index `cand`."""
    tw = writes.get(key(cand.table))
    if tw is None:
        return 0.0, 0.0, 0.0
    cols = cand.columns + cand.include + ((cand.where.column,) if cand.where else ())
    rows = tw.rows_for(cols)
    if not rows:
        return 0.0, 0.0, 0.0
    per_row = evaluator.write_cost(cand)
    return rows * per_row, rows, per_row


def _cost_text(cost: float, rows: float, per_row: float, table: str) -> str:
    if not rows:
        return f"costs nothing: the capture wrote no row of {table} it would maintain"
    return (f"costs ~{secs(cost)} over {rows:,.0f} captured row writes into {table} "
            f"(~{secs(per_row)} per row)")


def weigh(evaluator: Evaluator, chosen: list[Verdict], state: State,
          workload: WorkloadInput, problems: dict[str, list[dict[str, Any]]]
          ) -> tuple[list[Verdict], list[dict[str, Any]], dict[str, tuple[str, float, float]]]:
    """(the verdicts worth their writes, the rejected ones as JSON-ready entries, for each
    kept verdict by index name: the text to add to its reason, its saving and its cost).
    `problems`: each query's problems on the live plans (did it scan the table?)."""
    kept, rejected, texts = [], [], {}
    for v in chosen:
        rows = state.tables[key(v.cand.table)].rows or 0
        weighted = [q for q in sorted(v.served) if q in workload.weights]
        saving = sum(workload.weights[q].total_s * _share(
            v.served[q][0], rows, any(p["kind"] == "scan" and key(p["table"] or "")
                                      == key(v.cand.table) for p in problems.get(q, [])))
            for q in weighted)
        calls = sum(workload.weights[q].calls for q in weighted)
        cost, written, per_row = write_cost(evaluator, v.cand, workload.writes)
        unweighted = [q for q in v.served if q not in workload.weights]
        saves = (f"saves ~{secs(saving)} over the captured {calls:,} "
                 f"call{'s' if calls != 1 else ''} of "
                 f"{', '.join(weighted)}" if weighted else "saves nothing the capture measured")
        text = f"{saves}; {_cost_text(cost, written, per_row, v.cand.table)}"
        if unweighted or saving > cost:
            if unweighted:
                text += f"; serves {', '.join(sorted(unweighted))} (declared, not in the capture)"
            kept.append(v)
            texts[v.name] = (text, saving, cost)
            continue
        evaluator.remove(v.shown)
        rejected.append({"name": v.name, "table": v.cand.table,
                         "columns": list(v.cand.columns), "include": list(v.cand.include),
                         "where": v.cand.where.sql if v.cand.where else None,
                         "queries": sorted(v.served), "saving_s": saving,
                         "write_cost_s": cost, "reason": f"not recommended: {text}: the "
                         f"writes would cost more than the reads save"})
    return kept, rejected, texts


def index_candidate(index: Index) -> Candidate | None:
    """A profile's or the database's index as a candidate, when it is one tuner can try: plain
    key columns, and at most a `column = constant` or `column IN (constants)` partial WHERE."""
    cols = tuple(c.column for c in index.columns)
    if not cols or not all(cols) or index.method not in (None, "btree"):
        return None
    where = None
    if index.where:
        where = _simple_where(index.where)
        if where is None:
            return None
    return Candidate(index.table, cols, where, include=tuple(index.include))  # type: ignore[arg-type]


def _simple_where(text: str) -> Where | None:
    try:
        tree = sqlglot.parse_one(text, read="sqlite")
    except SqlglotError:
        return None
    if isinstance(tree, exp.EQ) and isinstance(tree.this, exp.Column) \
            and isinstance(tree.expression, exp.Literal):
        return Where(tree.this.name, constant(tree.expression))
    if isinstance(tree, exp.In) and isinstance(tree.this, exp.Column) \
            and not tree.args.get("query") and len(tree.expressions) > 1 \
            and all(isinstance(e, exp.Literal) for e in tree.expressions):
        return Where(tree.this.name, tuple(map(constant, tree.expressions)))
    return None


def flag_writes(evaluator: Evaluator, work: Workload, plans: Plans, state: State,
                workload: WorkloadInput) -> list[dict[str, Any]]:
    """Existing indexes whose maintenance over the captured writes costs more than the captured
    reads using them save (`plans`: each query's plan with the existing and declared indexes;
    the evaluator's last explain of each query is that plan)."""
    out = []
    for index in state.indexes.values():
        if index.owned_by_engine or index.unique or not index.valid:
            continue
        cand = index_candidate(index)
        if cand is None or key(index.table) not in workload.writes:
            continue
        cost, written, per_row = write_cost(evaluator, cand, workload.writes)
        if not cost:
            continue
        rows = state.tables[key(index.table)].rows or 0
        saving, users = 0.0, []
        for q, lines in plans.items():
            line = next((ln for ln in lines if ln.index and key(ln.index) == key(index.name)),
                        None)
            if line is None or q not in workload.weights:
                continue
            users.append(q)
            evaluator.explain(work.queries[q])     # the plan `visited` reads (PostgreSQL)
            try:
                visited = evaluator.visited(work.queries[q], cand, line, work.shapes[q], True)
            except (KeyError, IndexError):
                visited = rows / 10
            saving += workload.weights[q].total_s * (max(0.0, 1 - visited / rows) if rows
                                                     else 0.0)
        if cost <= saving:
            continue
        reads = (f"the captured reads using it ({', '.join(users)}) save ~{secs(saving)}"
                 if users else "no captured read uses it")
        costs = _cost_text(cost, written, per_row, index.table)
        out.append({"index": index.name, "table": index.table, "saving_s": saving,
                    "write_cost_s": cost, "reason": f"index {index.name}: {costs}; {reads}"})
    return out
