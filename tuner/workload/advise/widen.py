"""The covering pass of `tuner advise`: once the workload-wide set is chosen, widen a chosen
index so that a declared query reading many rows through it, or through another index while
comparing every key column of the chosen one with a value, answers from the index alone.

A query already served by a SEARCH (through a UNIQUE index, say) is never a problem, so it
brings no candidates of its own. Once the chosen set is in place, its planner may move to a
chosen index whose key fits its equality columns better but which lacks a column it reads,
and then visit the table once per row; or it stays on its index (a UNIQUE one) and visits
every row of a key the chosen index would split further. This pass explains every declared
query with the chosen set in place. Where a plan SEARCHes a chosen index, or another index
while the query compares every key column of a chosen one with a value, without covering and
visits
COVERING_MIN_ROWS rows or more (the evaluator's estimate, for the query's own parameter
values; never for a query with LIMIT, which stops early and gets no covering candidate
either), it tries that index with the columns the query reads added: at most MAX_COVERING
covering columns in all, in the engine's form (the evaluator's `widen`: trailing key columns
on SQLite, ORDER BY / GROUP BY columns first so they give the order too; INCLUDE on
PostgreSQL). It keeps the wider index when the query's plan becomes
covering (SQLite's USING COVERING INDEX, PostgreSQL's Index Only Scan) and no declared query's
plan gets worse: no new problem, and every query that used the index still uses it, covering
where it was. The query then counts among those the index serves.
"""

from __future__ import annotations

from tuner.model import key
from tuner.workload.advise.model import (
    COVERING_MIN_ROWS,
    Evaluator,
    Gain,
    Verdict,
    Workload,
    advised_name,
)
from tuner.workload.bench.measure import PlanLine
from tuner.workload.shape import MAX_COVERING, Candidate, Shape

Plans = dict[str, list[PlanLine]]


def widen(evaluator: Evaluator, work: Workload, chosen: list[Verdict], live: Plans,
          taken: set[str]) -> None:
    """Widen the `chosen` indexes (in place, and in the evaluator) where that lets a declared
    query visiting many rows skip the table; `live` holds each query's plan on the live
    database (the "before" of the reason), `taken` the index names in use."""
    if not chosen:
        return
    plans = _explain_all(evaluator, work)
    for verdict in chosen:
        for qname in work.queries:
            need = _needed(evaluator, work, verdict, qname, plans)
            if need is not None:
                plans = _try(evaluator, work, verdict, qname, need, plans, live, taken)


def _explain_all(evaluator: Evaluator, work: Workload) -> Plans:
    return {q: evaluator.explain(query) for q, query in work.queries.items()}


def _covering(line: PlanLine) -> bool:
    return (line.using or "").startswith("COVERING INDEX")


def _reads(shape: Shape, table: str, rowid: str | None) -> set[str] | None:
    """The columns of `table` the query reads, in every SELECT core; None when it reads `*`
    (no index carries every column). The rowid is in every SQLite index entry already."""
    out: set[str] = set()
    for core in shape.parts():
        use = core.uses.get(key(table))
        if use is None:
            continue
        if use.star:
            return None
        out |= {c for c in use.used if key(c) not in (rowid, "rowid")}
    return out


def _needed(evaluator: Evaluator, work: Workload, verdict: Verdict, qname: str,
            plans: Plans) -> tuple[list[str], float] | None:
    """(the columns to add, the rows visited) when `qname` reads many rows through the
    chosen index, or through another index while comparing every key column of the chosen
    one with a value, without covering, and a few more columns would cover it; else None."""
    cand, shape = verdict.cand, work.shapes[qname]
    line = next((ln for ln in plans[qname] if ln.index == verdict.shown), None)
    if line is None:
        line = _neighbour(verdict, shape, plans[qname])
    if line is None or line.kind != "search" or _covering(line):
        return None         # a SCAN through an index is a small table's (else a problem)
    if shape.limited:
        return None         # LIMIT stops it early: no covering columns, as in candidates()
    table = work.state.tables.get(key(cand.table))
    reads = _reads(shape, cand.table, key(table.rowid_alias) if table and table.rowid_alias
                   else None)
    if not reads or key(cand.table) not in shape.uses:
        return None
    have = {key(c) for c in cand.columns + cand.include}
    if cand.where:
        have.add(key(cand.where.column))
    use = shape.uses[key(cand.table)]
    # The ORDER BY / GROUP BY columns first: as trailing key columns they give the order too.
    ordered = [c for c in use.order or use.group or [] if c in reads]
    extra = list(dict.fromkeys(c for c in ordered + sorted(reads) if key(c) not in have))
    if not extra or cand.covering + len(extra) > MAX_COVERING:
        return None
    in_order = not any(ln.kind == "temp_btree" for ln in plans[qname])
    visited = evaluator.visited(work.queries[qname], cand, line, shape, in_order)
    return (extra, visited) if visited >= COVERING_MIN_ROWS else None


def _neighbour(verdict: Verdict, shape: Shape, lines: list[PlanLine]) -> PlanLine | None:
    """The SEARCH line by which a query reads the chosen index's table through another index,
    when the query compares every key column of the chosen index with one value (and repeats
    its partial WHERE): the chosen index, widened, would seek the same rows or fewer and
    could cover the query (e.g. a query served by a UNIQUE index that filters one more
    column, beside a chosen index on both columns)."""
    cand = verdict.cand
    use = shape.uses.get(key(cand.table))
    if use is None:
        return None
    single = {key(c) for c, n, _ in use.eq if n == 1}
    if not {key(c) for c in cand.columns} <= single:
        return None
    if cand.where and (key(cand.where.column), cand.where.value) not in \
            {(key(c), v) for c, _, v in use.eq}:
        return None
    return next((ln for ln in lines if ln.kind == "search" and ln.index
                 and ln.index != verdict.shown and ln.table
                 and shape.names.get(key(ln.table), key(ln.table)) == key(cand.table)), None)


def _try(evaluator: Evaluator, work: Workload, verdict: Verdict, qname: str,
         need: tuple[list[str], float], plans: Plans, live: Plans, taken: set[str]) -> Plans:
    """Put the wider index in place of the chosen one; keep it if it covers `qname` and no
    plan gets worse, else put the chosen one back. Returns the plans with what is kept."""
    extra, visited = need
    wide = evaluator.widen(verdict.cand, extra)
    name = advised_name(wide, taken)
    evaluator.remove(verdict.shown)
    shown = evaluator.add(wide, name)
    if shown is not None:
        after = _explain_all(evaluator, work)
        if _no_worse(work, qname, verdict.shown, shown, plans, after):
            _adopt(verdict, wide, name, shown, after)
            verdict.served[qname] = (Gain(visited), _before(work, qname, wide.table, live),
                                     _line(after[qname], shown).detail.replace(shown, name))
            verdict.notes.append(f"{', '.join(extra)} added so {qname} reads only the index "
                                 f"(about {visited:,.0f} rows)")
            taken.add(key(name))
            return after
        evaluator.remove(shown)
    verdict.shown = evaluator.add(verdict.cand, verdict.name) or verdict.shown
    return _explain_all(evaluator, work)


def _line(lines: list[PlanLine], index: str) -> PlanLine:
    return next(ln for ln in lines if ln.index == index)


def _no_worse(work: Workload, qname: str, old: str, new: str, before: Plans,
              after: Plans) -> bool:
    """`qname` now covered by index `new`, and no plan worse than with index `old`: no more
    problems, and each query that used `old` uses `new`, covering where it was."""
    if not any(ln.index == new and _covering(ln) for ln in after[qname]):
        return False
    was, now = work.problems(before), work.problems(after)
    for q in work.queries:
        if len(now.get(q, [])) > len(was.get(q, [])):
            return False
        used = [ln for ln in before[q] if ln.index == old]
        if used and not any(ln.index == new and (_covering(ln) or not any(map(_covering, used)))
                            for ln in after[q]):
            return False
    return True


def _adopt(verdict: Verdict, wide: Candidate, name: str, shown: str, after: Plans
           ) -> None:
    """Make `verdict` the wider index; its served queries' plans name it."""
    served = {}
    for q, (gain, before, text) in verdict.served.items():
        line = next((ln for ln in after[q] if ln.index == shown), None)
        served[q] = (gain, before, line.detail.replace(shown, name) if line else text)
    verdict.served = served
    verdict.cand, verdict.name, verdict.shown = wide, name, shown


def _before(work: Workload, qname: str, table: str, live: Plans) -> str:
    """How `qname` read `table` on the live database."""
    names = work.shapes[qname].names
    return next((ln.detail for ln in live[qname] if ln.table
                 and names.get(key(ln.table), key(ln.table)) == key(table)),
                "; ".join(ln.detail for ln in live[qname]))
