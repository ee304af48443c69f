"""Owns reading PostgreSQL's `EXPLAIN (FORMAT JSON, VERBOSE)` into the plan vocabulary every
engine's bench report uses (tuner.workload.bench.measure.PlanLine, SQLite's EXPLAIN QUERY PLAN
words), so that report.py, `tuner check` and the HTML page stay engine-neutral.

The mapping (https://www.postgresql.org/docs/current/using-explain.html):

- `Seq Scan` (parallel or not): `SCAN table`;
- `Index Scan` / `Index Only Scan` with an Index Cond: `SEARCH table USING INDEX name` /
  `USING COVERING INDEX name` (an index-only scan answers from the index alone, as SQLite's
  covering index does); without one the whole index is read in order: `SCAN ... USING ...`;
- `Bitmap Heap Scan`: `SEARCH table USING INDEX name` for each `Bitmap Index Scan` under it;
- `Tid Scan`: `SEARCH table USING TID`;
- `Sort`: `USE TEMP B-TREE FOR ORDER BY`, or `GROUP BY` under a sorted aggregate, or
  `DISTINCT` under `Unique`; `Incremental Sort`: `... FOR RIGHT PART OF ORDER BY` (SQLite's
  words for sorting only the tail of the key); a sort for a merge join is shown as it is;
- a hashed `Aggregate` (HashAggregate): `USE TEMP B-TREE FOR GROUP BY`: grouping that no
  index order serves, built in memory, as SQLite's temp B-tree is.

Steps are listed children first (the scans, then the sort over them), as SQLite lists them.
Joins, limits and other plumbing are not steps of their own. Pure functions: no I/O.
"""

from __future__ import annotations

from typing import Any

from tuner.workload.bench.measure import PlanLine

DEFAULT_SCHEMA = "public"


def plan_lines(explained: Any) -> list[PlanLine]:
    """The classified steps of one `EXPLAIN (FORMAT JSON[, VERBOSE])` result: the list
    psycopg returns for the json column (`[{"Plan": {...}}]`), or its top node."""
    if isinstance(explained, list):
        explained = explained[0] if explained else {}
    root = explained.get("Plan", explained) if isinstance(explained, dict) else {}
    out: list[PlanLine] = []
    _walk(root, None, out)
    return out


def _walk(node: dict[str, Any], parent: dict[str, Any] | None, out: list[PlanLine]) -> None:
    kind = node.get("Node Type", "")
    if node.get("Parent Relationship") in ("SubPlan", "InitPlan") and node.get("Subplan Name"):
        out.append(PlanLine(str(node["Subplan Name"])))
    if kind == "Bitmap Heap Scan":
        out.extend(_bitmap(node))
        return
    for child in node.get("Plans", []):
        _walk(child, node, out)
    line = _classify(node, parent)
    if line is not None:
        out.append(line)


def relation_name(node: dict[str, Any]) -> str:
    """The relation of a plan node as profiles and inspection name it: bare in `public`,
    else schema.name."""
    return _table(node)


def _table(node: dict[str, Any]) -> str:
    name = str(node.get("Relation Name", "?"))
    schema = node.get("Schema")
    return name if schema in (None, "", DEFAULT_SCHEMA) else f"{schema}.{name}"


def _on(node: dict[str, Any]) -> str:
    alias = node.get("Alias")
    table = _table(node)
    return f"{table} {alias}" if alias and alias != node.get("Relation Name") else table


def _classify(node: dict[str, Any], parent: dict[str, Any] | None) -> PlanLine | None:
    kind = node.get("Node Type", "")
    if kind == "Seq Scan":
        prefix = "Parallel " if node.get("Parallel Aware") else ""
        return PlanLine(f"{prefix}Seq Scan on {_on(node)}", "scan", table=_table(node))
    if kind in ("Index Scan", "Index Only Scan"):
        index = str(node.get("Index Name", "?"))
        using = ("COVERING INDEX " if kind == "Index Only Scan" else "INDEX ") + index
        cond = node.get("Index Cond")
        detail = f"{kind} using {index} on {_on(node)}" + (f" {cond}" if cond else "")
        return PlanLine(detail, "search" if cond else "scan", table=_table(node), using=using,
                        index=index)
    if kind == "Tid Scan":
        return PlanLine(f"Tid Scan on {_on(node)}", "search", table=_table(node), using="TID")
    if kind in ("Sort", "Incremental Sort"):
        keys = ", ".join(node.get("Sort Key", []))
        detail = f"{kind} (Sort Key: {keys})"
        if parent is not None and parent.get("Node Type") == "Merge Join":
            return PlanLine(detail + " for a merge join")
        return PlanLine(detail, "temp_btree", purpose=_sort_purpose(kind, parent))
    if kind == "Aggregate" and node.get("Strategy") in ("Hashed", "Mixed"):
        keys = ", ".join(node.get("Group Key", []))
        return PlanLine(f"HashAggregate (Group Key: {keys})", "temp_btree", purpose="GROUP BY")
    return None


def _sort_purpose(kind: str, parent: dict[str, Any] | None) -> str:
    if kind == "Incremental Sort":
        return "RIGHT PART OF ORDER BY"
    above = (parent or {}).get("Node Type")
    if above == "Aggregate":
        return "GROUP BY"
    if above == "Unique":
        return "DISTINCT"
    return "ORDER BY"


def _bitmap(heap: dict[str, Any]) -> list[PlanLine]:
    """One SEARCH per Bitmap Index Scan under a Bitmap Heap Scan (through BitmapAnd/Or)."""
    found: list[PlanLine] = []
    todo = list(heap.get("Plans", []))
    while todo:
        node = todo.pop(0)
        if node.get("Node Type") == "Bitmap Index Scan":
            index = str(node.get("Index Name", "?"))
            cond = node.get("Index Cond")
            found.append(PlanLine(f"Bitmap Heap Scan on {_on(heap)} (Bitmap Index Scan on "
                                  f"{index}" + (f" {cond})" if cond else ")"), "search",
                                  table=_table(heap), using=f"INDEX {index}", index=index))
        else:
            todo = list(node.get("Plans", [])) + todo
    return found or [PlanLine(f"Bitmap Heap Scan on {_on(heap)}", "search", table=_table(heap))]
