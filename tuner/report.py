"""Turning plans and states into what people and scripts read: text, JSON and profile YAML.

Functions here return strings or plain data; only cli.py prints them.
"""

from __future__ import annotations

import re
from typing import Any

import click

from tuner.apply import ApplyResult
from tuner.history import HistoryRow
from tuner.model import Index, State
from tuner.plantypes import PHASES, SYMBOLS, Plan, Step
from tuner.workload.noise import change_words

COLORS = {"+": "green", "-": "red", "~": "yellow", "!": "cyan", "*": "blue"}
SERVER_WIDE = "[server-wide]"
LABELS = {"create_index": "index", "replace_index": "index", "drop_index": "index",
          "create_view": "view", "replace_view": "view", "drop_view": "view",
          "restore_trigger": "trigger", "set_setting": "setting", "set_pragma": "setting",
          "analyze": "analyze", "vacuum": "vacuum", "reload": "reload"}


def plan_summary_line(plan: Plan) -> str:
    """`Plan: 3 to create, 1 to replace, 0 to drop, 1 setting.`"""
    c = plan.summary()
    settings = "setting" if c["settings"] == 1 else "settings"
    return (f"Plan: {c['create']} to create, {c['replace']} to replace, {c['drop']} to drop, "
            f"{c['settings']} {settings}.")


def _step_line(step: Step) -> str:
    sym = click.style(step.symbol, fg=COLORS.get(step.symbol), bold=True)
    what = f"{LABELS.get(step.kind, step.kind)} {step.object}"
    change = step.change
    desired = getattr(change, "desired", None)
    if isinstance(desired, Index):
        what += f" on {desired.table} {desired.columns_label}"
        if desired.where:
            what += f" WHERE {desired.where}"
    if step.rows is not None:
        what += f"  (~{step.rows:,} rows)"
    if step.destructive:
        what += click.style("  [destructive]", fg="red")
    if step.server_wide:
        what += click.style(f"  {SERVER_WIDE}", fg="magenta")
    return f"  {sym} {what}\n      {step.reason}"


def server_wide_note(steps: list[Step]) -> list[str]:
    """What a plan says under its summary when some steps change the whole server."""
    numbers = [s.number for s in steps if s.server_wide]
    if not numbers:
        return []
    one = len(numbers) == 1
    which = (f"step {numbers[0]} changes" if one else
             f"steps {', '.join(map(str, numbers))} change")
    return [f"{SERVER_WIDE} {which} the whole server, every database on it, not just this "
            f"one: `tuner apply` skips {'it' if one else 'them'} unless given "
            "--server-settings."]


def skipped_text(steps: list[Step]) -> str:
    """What apply says of the server-wide steps it leaves out (no --server-settings)."""
    listed = "; ".join(f"step {s.number} {s.kind} {s.object}" for s in steps)
    one = len(steps) == 1
    return (f"Skipped {len(steps)} server-wide step{'' if one else 's'} (changing the whole "
            f"server, every database on it): {listed}. Apply again with --server-settings "
            f"to include {'it' if one else 'them'}.\n")


def plan_text(plan: Plan) -> str:
    """The Terraform-like reading of a plan."""
    out = [f"tuner plan: profile {plan.profile_name} v{plan.profile_version} -> "
           f"{plan.target} ({plan.engine})", ""]
    if plan.empty:
        out.append("No changes. The database matches the profile.")
    for number, title in (plan.phase_titles or PHASES).items():
        steps = [s for s in plan.steps if s.phase == number]
        if steps:
            out.append(f"Phase {number}: {title}")
            out += [_step_line(s) for s in steps]
            out.append("")
    if not plan.empty:
        out.append(click.style(plan_summary_line(plan), bold=True))
        out += server_wide_note(list(plan.steps))
    if plan.runtime:
        out += ["", plan.runtime_note or "Runtime settings (per connection, applied by "
                    "tuner.runtime on every connection; never planned, never drift):"]
        out += [f"  {s.name} = {_value(s.value)}" for s in plan.runtime]
    if plan.unmanaged:
        out += ["", "Unmanaged (not in the profile, left alone; prune: true would drop them):"]
        out += [f"  {u}" for u in plan.unmanaged]
    if plan.warnings:
        out += ["", "Warnings:"]
        out += [click.style("  ! ", fg="yellow") + w for w in plan.warnings]
    return "\n".join(out).rstrip() + "\n"


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def plan_json(plan: Plan) -> dict[str, Any]:
    """The machine-readable plan: steps as objects, runtime settings, warnings."""
    return {
        "engine": plan.engine,
        "database": plan.target,
        "profile": {"name": plan.profile_name, "version": plan.profile_version,
                    "sha256": plan.profile_sha256},
        "changes": not plan.empty,
        "summary": plan.summary(),
        "fingerprint": plan.fingerprint,
        "plan_hash": plan.plan_hash,
        "steps": [s.as_dict() for s in plan.steps],
        "runtime_settings": [{"name": s.name, "value": s.value} for s in plan.runtime],
        "warnings": list(plan.warnings),
        "unmanaged": list(plan.unmanaged),
    }


def state_as_profile(state: State, name: str, settings_key: str) -> dict[str, Any]:
    """The live state as a valid profile with `prune: true`: planned against the same
    database it gives no changes."""
    profile: dict[str, Any] = {
        "profile": _profile_name(name),
        "version": 1,
        "engine": state.engine,
        settings_key: {k: s.value for k, s in state.settings.items() if s.explicit},
    }
    indexes = [_index_entry(i) for _, i in sorted(state.indexes.items())
               if not i.owned_by_engine]
    if indexes:
        profile["indexes"] = indexes
    views = []
    for _, v in sorted(state.views.items()):
        entry: dict[str, Any] = {"name": v.name, "sql": v.sql}
        if v.columns:
            entry["columns"] = list(v.columns)
        views.append(entry)
    if views:
        profile["views"] = views
    profile["prune"] = True
    return profile


def _index_entry(index: Index) -> dict[str, Any]:
    columns: list[Any] = []
    for c in index.columns:
        if c.column is not None and c.order == "asc" and not c.collate:
            columns.append(c.column)
            continue
        entry: dict[str, Any] = {"column": c.column} if c.column is not None else {
            "expr": c.expr}
        if c.order != "asc":
            entry["order"] = c.order
        if c.collate:
            entry["collate"] = c.collate
        columns.append(entry)
    out: dict[str, Any] = {"name": index.name, "table": index.table, "columns": columns}
    if index.unique:
        out["unique"] = True
    if index.include:
        out["include"] = list(index.include)
    if index.method:
        out["method"] = index.method
    if index.where:
        out["where"] = index.where
    return out


def _profile_name(name: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-.")
    return cleaned if cleaned[:1].isalnum() else "inspected"


def table(headers: list[str], rows: list[list[str]]) -> list[str]:
    """`headers` over `rows`, each column as wide as its widest cell."""
    widths = [max(len(str(c)) for c in col) for col in zip(headers, *rows, strict=False)]
    return ["  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()
            for cells in [headers, *rows]]


def bench_text(report: Any) -> str:
    """A bench report as a table, the query plans under it."""
    d = report.as_dict()
    head = (f"{len(d['queries'])} queries of profile {d['profile']['name']} "
            f"v{d['profile']['version']} on {d['database']}, {d['runs']} runs after "
            f"{d['warmup']} warm-up:")
    if report.compare:
        head += f" before vs. after the plan ({d['applied_steps']} steps, applied to a copy)"
        headers = ["query", "rows", "before ms", "after ms", "after p95", "speedup", "same rows"]
        rows = [[q["name"], f"{q['rows']:,}", f"{q['before']['median_ms']:.3f}",
                 f"{q['median_ms']:.3f}", f"{q['p95_ms']:.3f}",
                 speedup_words(q),
                 "yes" if q["same_rows"] else "NO (results differ)"] for q in d["queries"]]
    else:
        headers = ["query", "rows", "median ms", "p95 ms"]
        rows = [[q["name"], f"{q['rows']:,}", f"{q['median_ms']:.3f}", f"{q['p95_ms']:.3f}"]
                for q in d["queries"]]
    lines = [head, "", *table(headers, rows), ""]
    lines.append("Query plans:")
    for q in d["queries"]:
        if report.compare:
            lines.append(f"  {q['name']}:")
            lines.append(f"    before: {'; '.join(q['before']['plan'])}")
            lines.append(f"    after:  {'; '.join(q['plan'])}")
        else:
            lines.append(f"  {q['name']}: {'; '.join(q['plan'])}")
    cost = d["write_cost"]
    if cost is not None:
        lines.append("")
        if cost["measurable"]:
            lines.append(f"Write cost: {cost['batch']:,} rows inserted into {cost['table']} in "
                         f"one transaction (rolled back): {cost['before_ms']:.2f} ms before, "
                         f"{cost['after_ms']:.2f} ms after "
                         f"({cost_words(cost)}).")
        else:
            lines.append(f"Write cost: not measurable ({cost['reason']}).")
        for skipped in cost["skipped"] if cost["measurable"] else []:
            lines.append(f"  skipped {skipped}")
    if d.get("left_out_settings"):
        lines.append("")
        lines.append("Left out of the comparison (server-wide settings, not applied to the "
                     "copy):")
        lines += [f"  {s['name']}: {s['reason']}" for s in d["left_out_settings"]]
    return "\n".join(lines) + "\n"


def speedup_words(q: dict[str, Any]) -> str:
    """A compared query's change, from its JSON form: "3.2x faster", "1.1x slower, within
    noise"."""
    if not q.get("speedup"):
        return "-"
    words = change_words(q["before"]["median_ms"], q["median_ms"])
    return words + (", within noise" if q.get("within_noise") else "")


def cost_words(cost: dict[str, Any]) -> str:
    """A measured write cost's change, from its JSON form: "1.58x slower"."""
    words = change_words(cost["before_ms"], cost["after_ms"])
    return words + (", within noise" if cost.get("within_noise") else "")


def bench_noise_warning(report: Any) -> str | None:
    """One line when a comparison reports differences its runs cannot tell from noise."""
    if not report.compare:
        return None
    d = report.as_dict()
    noisy = [q["name"] for q in d["queries"] if q.get("within_noise")]
    if d["write_cost"] and d["write_cost"].get("within_noise"):
        noisy.append("the write cost")
    if not noisy:
        return None
    shown = ", ".join(noisy[:4]) + (f" and {len(noisy) - 4} more" if len(noisy) > 4 else "")
    return (f"warning: within noise: {shown}: {d['runs']} runs a side cannot tell before from "
            f"after (Mann-Whitney, 5%); measure with more runs (--runs {max(20, 2 * d['runs'])})")


def file_steps_text(plan: Plan) -> str:
    """A saved plan's steps, for review before applying it."""
    lines = [f"Saved plan {plan.plan_hash[:12]} (profile "
             f"{plan.manifest.profile.name} v"
             f"{plan.manifest.profile.version}, made "
             f"{plan.manifest.created}):"]
    for step in plan.steps:
        sym = click.style(SYMBOLS.get(step.kind, "*"), bold=True)
        wide = f"  {SERVER_WIDE}" if step.server_wide else ""
        lines.append(f"  {sym} {step.kind} {step.object}{wide}\n      {step.reason}")
    return "\n".join(lines) + "\n"


def apply_summary(result: ApplyResult) -> str:
    """One paragraph on what an apply did, and the steps it skipped."""
    skipped = skipped_text(result.skipped) if result.skipped else ""
    if result.status == "no_changes":
        return "Nothing applied; no backup taken.\n" + skipped
    text = f"Applied {len(result.steps)} steps in {result.seconds:.2f} s"
    text += f"; backup: {result.backup.path}" if result.backup else "; no backup (--no-backup)"
    text += f"; history id {result.history_id}"
    if result.interrupted:
        text += ("; marked interrupted: history row "
                 + ", ".join(str(n) for n in result.interrupted))
    return text + ".\n" + skipped


def history_text(records: list[HistoryRow]) -> str:
    """`tuner history` for people: one line per apply or restore, and its error if any."""
    if not records:
        return "No applies recorded.\n"
    headers = ["id", "started (UTC)", "operation", "status", "profile / detail", "plan",
               "steps", "seconds", "backup"]
    rows = []
    for r in records:
        apply = r.operation == "apply"
        rows.append([str(r.id), r.started_at, r.operation, r.status,
                     f"{r.profile_name} v{r.profile_version}" if apply else (r.detail or ""),
                     (r.plan_sha256 or "")[:8], f"{r.steps_applied}/{r.steps_total}"
                     if apply else "", f"{r.duration_s:.2f}" if r.duration_s is not None
                     else "", r.backup_path or ("(no backup)" if r.no_backup else "")])
    head, *lines = table(headers, rows)
    out = [head]
    for r, line in zip(records, lines, strict=True):
        out.append(line)
        if r.error:
            out.append(f"      error: {r.error}")
    return "\n".join(out) + "\n"


def check_text(report: Any, db: str) -> str:
    """`tuner check` for people: the verdict, then what drifted and which queries scan."""
    pending = [f"  {p['setting']}: {p['value']} is written ({p['source']}), the server still "
               f"runs with {p['running']} until it reloads or restarts" for p in report.pending]
    elsewhere = ([f"Also pending on the server, not in this profile (left alone): "
                  f"{', '.join(report.pending_elsewhere)}"] if report.pending_elsewhere else [])
    if report.healthy:
        text = f"OK: {db} matches the profile and no declared query scans a large table."
        return "\n".join([text, *(["Pending (not drift):", *pending] if pending else []),
                          *elsewhere])
    lines = [f"FAIL: {db}"]
    if report.drift:
        lines.append(f"Drift ({len(report.drift)} step(s) to apply; see `tuner plan`):")
        lines += [f"  {d['kind']} {d['object']}"
                  f"{' ' + SERVER_WIDE if d.get('server_wide') else ''}: {d['reason']}"
                  for d in report.drift]
    if report.scans:
        lines.append("Queries scanning a large table:")
        lines += [f"  {s['query']}: SCAN {s['table']} (~{s['rows']:,} rows)"
                  if s["rows"] is not None else f"  {s['query']}: SCAN {s['table']}"
                  for s in report.scans]
    if pending:
        lines += ["Pending (not drift):", *pending]
    return "\n".join(lines + elsewhere)


def advise_text(advice: Any, db: str) -> str:
    """`tuner advise` for people: problems, recommended indexes with reasons, flagged ones."""
    lines = []
    if advice.pending:
        lines.append(f"Declared in the profile, not built yet (tuner apply builds them), advised "
                     f"on as if built: {', '.join(advice.pending)}.")
    if advice.problems:
        which = "declared and captured" if advice.workload else "declared"
        lines.append(f"Problems in the {which} queries on {db}:")
        for p in advice.problems:
            size = f" (~{p['rows']:,} rows)" if p.get("rows") is not None else ""
            lines.append(f"  {p['query']}: {p['plan']}{size}")
    else:
        lines.append(f"No declared query scans a large table or sorts in a temp B-tree on {db}.")
    if advice.recommendations:
        lines.append("Recommended indexes:")
        for r in advice.recommendations:
            where = f" WHERE {r.where}" if r.where else ""
            include = f" INCLUDE ({', '.join(r.include)})" if r.include else ""
            lines.append(f"  {r.name} ON {r.table}({', '.join(r.columns)}){include}{where}")
            lines.append(f"    serves: {', '.join(r.queries)}")
            lines.append(f"    why: {r.reason}")
            if r.declared:
                lines.append(f"    already declared in the profile as {r.declared}: "
                             "tuner apply builds it")
    else:
        lines.append("No index to recommend.")
    for n in advice.notes:
        lines.append(f"  {n['query']}: {n['note']}" if n["query"] else f"  {n['note']}")
    if advice.rejected:
        lines.append(f"Not recommended (the writes in {advice.workload} cost more):")
        for r in advice.rejected:
            lines.append(f"  {r['name']} ON {r['table']}({', '.join(r['columns'])})")
            lines.append(f"    why: {r['reason']}")
    if advice.captured:
        lines.append(f"Captured reads advised on (from {advice.workload}):")
        lines += [f"  {q.name}: {q.sql}" for q in advice.captured]
    pending = {p.lower() for p in advice.pending}
    built = [f for f in advice.flags if f["index"].lower() not in pending]
    declared = [f for f in advice.flags if f["index"].lower() in pending]
    if built:
        lines.append("Existing indexes that earn nothing:")
        lines += [f"  {f['reason']}" for f in built]
    if declared:
        lines.append("Indexes the profile declares (not built yet) that would earn nothing:")
        lines += [f"  {f['reason']}" for f in declared]
    return "\n".join(lines)


def advise_written_text(written: Any, advice: Any) -> str:
    """What `tuner advise --write` did to the profile file."""
    declared = [r.declared for r in advice.recommendations if r.declared]
    lines = []
    if written.queries:
        lines.append(f"Wrote {len(written.queries)} captured read(s) to {written.path}'s "
                     f"queries: ({', '.join(written.queries)}), so bench and check watch them.")
    if written.added:
        lines.append(f"Wrote {len(written.added)} index{'es' if len(written.added) > 1 else ''}"
                     f" to {written.path} ({', '.join(written.added)}); version "
                     f"{written.old_version} -> {written.new_version}. Review it, then run "
                     "tuner plan.")
    elif not written.queries:
        lines.append(f"Nothing to add: {written.path} left unchanged.")
    if declared:
        lines.append(f"Already declared, not yet applied: {', '.join(declared)}.")
    if advice.flags:
        lines.append("Flagged indexes are reported only; --write never removes an index.")
    return "\n".join(lines)
