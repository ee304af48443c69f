"""`tuner demo --workload`'s output: it runs tuner.workload.demo.loop and prints what it did,
the replay before and after per captured statement, and the totals. `tuner demo` calls it."""

from __future__ import annotations

from pathlib import Path

from tuner.capture.access import Access
from tuner.cli_common import note, out
from tuner.workload.demo.data import DemoTarget
from tuner.workload.demo.loop import LoopReport, workload_loop

#: Characters of a statement's text shown in the table.
TEXT_WIDTH = 64


def run_workload_demo(target: DemoTarget, folder: Path, ops: int, seed: int) -> LoopReport:
    """Run the loop and print its report."""
    report = workload_loop(target, folder, ops=ops, seed=seed, say=note)
    out(loop_text(report), nl=False)
    return report


def _plan(access: Access | None) -> str:
    return access.verdict if access else "write"


def _searches(found: list[Access]) -> int:
    return sum(1 for a in found if a.verdict == "SEARCH")


def loop_text(r: LoopReport) -> str:
    """The report as text: what ran, what was advised and applied, the replay table, totals."""
    lines = [f"Ran {r.driven.total:,} bot operations in {r.driven.seconds:.2f} s with capture "
             f"on ({', '.join(f'{n} {k}' for k, n in r.driven.ops.items())}); capture: "
             f"{r.capture}.", ""]
    recs = r.advice.to_write()
    lines.append(f"Advised from the capture and written into {r.profile} "
                 f"({len(recs)} index(es)):")
    for rec in recs:
        entry = rec.as_profile()
        where = f" WHERE {entry['where']}" if entry.get("where") else ""
        lines.append(f"  + {entry['name']} ON {entry['table']}"
                     f"({', '.join(entry['columns'])}){where}")
    lines.append(f"Applied (tuner apply): {r.applied.status} in {r.applied.seconds:.2f} s.")
    lines.append("")
    lines.append("Replay of the capture (each statement's sample, min(calls, "
                 "cap) times; writes rolled back):")
    header = f"  {'statement':<{TEXT_WIDTH}} {'calls':>6} {'runs':>5} {'before ms':>10} " \
             f"{'after ms':>9}  plan before -> after"
    lines.append(header)
    after = r.after.by_fingerprint()
    for done in r.before.statements:
        st = done.statement
        later = after.get(st.fingerprint)
        text = " ".join(st.text.split())
        text = text if len(text) <= TEXT_WIDTH else text[:TEXT_WIDTH - 3] + "..."
        hot = "*" if st.fingerprint in r.hot_reads else " "
        plan = "write" if done.is_write else (
            f"{_plan(r.access_before.get(st.fingerprint))} -> "
            f"{_plan(r.access_after.get(st.fingerprint))}")
        lines.append(f"{hot} {text:<{TEXT_WIDTH}} {st.calls:>6} {done.runs:>5} "
                     f"{done.seconds * 1000:>10.1f} "
                     f"{(later.seconds if later else 0) * 1000:>9.1f}  {plan}")
    total_b, total_a = r.before.seconds, r.after.seconds
    speed = f"{total_b / total_a:.1f}x faster" if total_a else "-"
    lines.append(f"  {'total':<{TEXT_WIDTH}} {'':>6} {'':>5} {total_b * 1000:>10.1f} "
                 f"{total_a * 1000:>9.1f}  {speed}")
    lines.append(f"  reads {r.before.read_seconds * 1000:.1f} -> "
                 f"{r.after.read_seconds * 1000:.1f} ms; writes "
                 f"{r.before.write_seconds * 1000:.1f} -> {r.after.write_seconds * 1000:.1f} ms "
                 "(before: the untuned file, rollback journal; after: the profile's settings)")
    explained = list(r.access_after.values())
    hot_access = [a for fp, a in r.access_after.items() if fp in r.hot_reads]
    lines.append(f"After the apply: {_searches(explained)} of {len(explained)} captured reads "
                 f"are a SEARCH; hot reads (*, the ones advise weighed): "
                 f"{_searches(hot_access)} of {len(hot_access)}.")
    lines.append("Advising again from the same capture: " + (
        "nothing more to recommend." if not r.again else
        f"{len(r.again)} more: {', '.join(x.name for x in r.again)}."))
    return "\n".join(lines) + "\n"
