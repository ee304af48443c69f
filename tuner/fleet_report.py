"""A fleet's results as people and scripts read them: the live progress line, the final
table, the JSON document, and the exit code with the sentence that explains it.

Functions here return strings or plain data; only tuner.cli_fleet prints them. `label`
turns a member's target into what may be shown (the CLI passes a password redactor).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tuner.fleet import FleetResult, Outcome

Label = Callable[[str], str]

#: How each command names a member's `ok` and `changed` statuses in the table.
WORDS = {"plan": ("no changes", "changes"), "apply": ("no changes", "applied"),
         "check": ("healthy", "drift"), "history": ("read", "read")}

#: Ctrl-C: the shell's convention for a process ended by SIGINT (128 + 2).
EXIT_INTERRUPTED = 130


def progress_line(counts: dict[str, int], total: int, width: int = 24) -> str:
    """`[#######.........]  412/1000 done  37 changed  1 failed  0 skipped`."""
    finished = sum(counts.values())
    filled = width * finished // max(total, 1)
    return (f"[{'#' * filled}{'.' * (width - filled)}] {finished}/{total} done  "
            f"{counts.get('changed', 0)} changed  {counts.get('failed', 0)} failed  "
            f"{counts.get('skipped', 0)} skipped")


def exit_code(result: FleetResult, command: str, detailed: bool = False) -> tuple[int, str]:
    """The fleet's exit code and why: 130 interrupted, 1 any member failed or the fleet
    stopped early, 2 (plan --detailed-exitcode) any member has changes, 3 (check) any member
    drifted or scans, else 0."""
    failed, skipped = result.count("failed"), result.count("skipped")
    changed = result.count("changed")
    if result.stopped == "interrupted":
        return EXIT_INTERRUPTED, (f"exit {EXIT_INTERRUPTED}: interrupted; {skipped} "
                                  "database(s) not started")
    if failed:
        why = f"exit 1: {failed} database(s) failed"
        if result.stopped == "canary":
            why += f"; a canary failed, so {skipped} were not started"
        elif result.stopped == "max_failures":
            why += f"; --max-failures reached, so {skipped} were not started"
        return 1, why
    if command == "plan" and detailed and changed:
        return 2, f"exit 2: {changed} database(s) have changes"
    if command == "check" and changed:
        return 3, f"exit 3: {changed} database(s) drifted or scan a large table"
    if command == "history":
        return 0, "exit 0: all read"
    if command == "plan" and changed:
        return 0, (f"exit 0: planned; {changed} database(s) have changes (--detailed-exitcode "
                   "exits 2 for that)")
    return 0, "exit 0: all converged"


def totals_line(result: FleetResult, command: str) -> str:
    """`Fleet: 1000 databases in 3.2 s: 990 no changes, 8 changes, 2 failed, 0 skipped.`"""
    ok, changed = WORDS[command]
    t = result.totals()
    parts = [f"{t['ok']} {ok}"] if command == "history" else [
        f"{t['ok']} {ok}", f"{t['changed']} {changed}"]
    parts += [f"{t['failed']} failed", f"{t['skipped']} not started"]
    return f"Fleet: {t['databases']} databases in {result.seconds:.1f} s: {', '.join(parts)}."


def fleet_json(result: FleetResult, command: str, label: Label,
               detailed: bool = False) -> dict[str, Any]:
    """The machine-readable result: per member, totals, why it stopped, the exit code."""
    code, why = exit_code(result, command, detailed)
    members = []
    for outcome in result.outcomes:
        entry = outcome.as_dict()
        entry["target"] = label(outcome.target)
        members.append(entry)
    return {"command": command, "databases": members, "totals": result.totals(),
            "seconds": round(result.seconds, 3), "stopped": result.stopped,
            "exit_code": code, "exit_reason": why}


def fleet_text(result: FleetResult, command: str, label: Label, detailed: bool = False) -> str:
    """The final table (one row per member), the errors under it, totals and the exit."""
    rows = [_row(o, command, label) for o in result.outcomes]
    headers = (["database", "status", "records", "last"] if command == "history" else
               ["database", "status", "changes", "seconds", "backup" if command == "apply"
                else "plan file" if command == "plan" else "detail"])
    if command != "history" and not any(r[-1] for r in rows):
        headers, rows = headers[:-1], [r[:-1] for r in rows]  # an empty last column
    widths = [max(len(str(c)) for c in col) for col in zip(headers, *rows, strict=False)]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()
             for cells in [headers, *rows]]
    errors = [o for o in result.outcomes if o.status == "failed"]
    if errors:
        lines += ["", "Errors:"]
        # Most errors already start with the database's name; say it once.
        lines += [f"  {o.error}" if (o.error or "").startswith(label(o.target))
                  else f"  {label(o.target)}: {o.error}" for o in errors]
    lines += ["", totals_line(result, command), exit_code(result, command, detailed)[1]]
    return "\n".join(lines) + "\n"


def _row(o: Outcome, command: str, label: Label) -> list[str]:
    ok, changed = WORDS[command]
    status = {"ok": ok, "changed": changed, "failed": "FAILED",
              "skipped": "not started"}[o.status]
    if command == "history":
        records = (o.detail or {}).get("history", [])
        last = records[-1] if records else None
        return [label(o.target), status, str(len(records)) if o.status == "ok" else "-",
                f"{last['operation']} {last['status']} {last['started_at']}" if last else "-"]
    extra = (o.backup if command == "apply" else o.plan_file if command == "plan" else
             ", ".join(f"SCAN {s['table']}" for s in (o.detail or {}).get("scans", [])))
    done = o.status in ("ok", "changed")
    return [label(o.target), status, str(len(o.steps)) if done else "-",
            f"{o.seconds:.2f}" if o.status != "skipped" else "-", extra or ""]
