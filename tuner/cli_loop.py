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
    return access.verdict if access else "-"


def _searches(found: list[Access]) -> int:
    return sum(1 for a in found if a.verdict == "SEARCH")


def loop_text(r: LoopReport) -> str:
    """The report as text: what ran, what was advised and applied, the before/after table per
    captured statement, the totals."""
    d = r.before.driven
    lines = [f"Ran {d.total:,} bot operations in {d.seconds:.2f} s with capture on "
             f"({', '.join(f'{n} {k}' for k, n in d.ops.items())}); capture: {r.capture}.", ""]
    for k, step in enumerate(r.passes, 1):
        if not step.added:
            lines.append(f"Pass {k}: advise from the latest capture recommends nothing more.")
            continue
        lines.append(f"Pass {k}: advised from the latest capture, written into {r.profile} "
                     f"({len(step.added)} index(es)):")
        for rec in step.added:
            entry = rec.as_profile()
            where = f" WHERE {entry['where']}" if entry.get("where") else ""
            lines.append(f"  + {entry['name']} ON {entry['table']}"
                         f"({', '.join(entry['columns'])}){where}")
        if step.applied:
            lines.append(f"  applied (tuner apply): {step.applied.status} in "
                         f"{step.applied.seconds:.2f} s; the same operations run again, "
                         f"captured into {step.after.capture if step.after else '-'}")
    lines.append("")
    same = "the same statements and calls" if r.same else "NOT the same statements"
    lines.append(f"Captured time per statement, untuned ({r.capture}) and after the last "
                 f"apply ({r.after.capture}; {same}):")
    lines.append(f"  {'statement':<{TEXT_WIDTH}} {'calls':>6} {'before ms':>10} "
                 f"{'after ms':>9}  plan before -> after")
    after = r.after.by_fingerprint()
    for st in sorted(r.before.statements, key=lambda s: (s.kind != "select", -s.total_s)):
        later = after.get(st.fingerprint)
        text = " ".join(st.text.split())
        text = text if len(text) <= TEXT_WIDTH else text[:TEXT_WIDTH - 3] + "..."
        hot = "*" if st.fingerprint in r.hot_reads else " "
        plan = "write" if st.fingerprint not in r.access_before else (
            f"{_plan(r.access_before.get(st.fingerprint))} -> "
            f"{_plan(r.access_after.get(st.fingerprint))}")
        lines.append(f"{hot} {text:<{TEXT_WIDTH}} {st.calls:>6} {st.total_s * 1000:>10.1f} "
                     f"{(later.total_s if later else 0) * 1000:>9.1f}  {plan}")
    lines.append(_total("total", r.before.seconds, r.after.seconds))
    lines.append(f"  reads {r.before.read_seconds * 1000:.1f} -> "
                 f"{r.after.read_seconds * 1000:.1f} ms; writes "
                 f"{r.before.write_seconds * 1000:.1f} -> {r.after.write_seconds * 1000:.1f} ms "
                 "(before: the untuned file, rollback journal; after: the profile's settings)")
    lines.append(_total("sample replay (each statement's slowest sample, min(calls, 200) "
                        "times, writes rolled back)", r.sample_before.seconds,
                        r.sample_after.seconds, width=0))
    explained = list(r.access_after.values())
    hot_access = [a for fp, a in r.access_after.items() if fp in r.hot_reads]
    lines.append(f"After the apply: {_searches(explained)} of {len(explained)} captured reads "
                 f"are a SEARCH; hot reads (*, the ones advise weighed): "
                 f"{_searches(hot_access)} of {len(hot_access)}.")
    lines.append("Advising again from the last capture: " + (
        "nothing more to recommend." if not r.again else
        f"{len(r.again)} more, left unapplied after {len(r.passes) - 1} passes: "
        f"{', '.join(x.name for x in r.again)}."))
    return "\n".join(lines) + "\n"


def _total(label: str, before: float, after: float, width: int = TEXT_WIDTH + 7) -> str:
    speed = f"{before / after:.1f}x faster" if after else "-"
    if not width:
        return f"  {label}: {before * 1000:.1f} -> {after * 1000:.1f} ms, {speed}"
    return f"  {label:<{width}} {before * 1000:>10.1f} {after * 1000:>9.1f}  {speed}"
