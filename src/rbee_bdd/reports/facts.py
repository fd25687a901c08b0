"""The suite's own accounting: one fact line per scenario, and the summary made from them.

The hooks append to ``<reports>/facts.jsonl``; ``python -m rbee_bdd.reports summary <reports>``
prints the table and writes ``summary.md``; ``python -m rbee_bdd.reports soak <dir>...``
gives each scenario's pass rate over several runs and names the flaky ones.
"""

from __future__ import annotations

import json
import os
import statistics
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rbee_bdd.reports.traceability import CONTRACT, ELSEWHERE, clause_ids, elsewhere

FACTS = "facts.jsonl"


@dataclass
class ScenarioFact:
    feature: str
    scenario: str
    location: str
    status: str  # passed | failed | skipped | error | interrupted
    seconds: float
    skip_reason: str = ""
    stack_start_s: float | None = None
    leftovers: list[str] = field(default_factory=list)
    failed_step: str = ""  # the step that failed, with its keyword
    error: str = ""  # its message (or the cleanup's, or the leftovers)
    caps: list[str] = field(default_factory=list)  # the optional capabilities (@cap.*) it verifies
    clauses: list[str] = field(default_factory=list)  # the contract's clauses (@contract.*) it verifies


def failed_step(scenario: Any) -> tuple[str, str]:
    """A behave scenario's step that failed, with its keyword, and its message ("", "" when none did)."""
    for step in scenario.all_steps if hasattr(scenario, "all_steps") else scenario.steps:
        if getattr(step.status, "name", "") in ("failed", "error", "hook_error"):
            return f"{step.keyword} {step.name}", str(step.error_message or "")[-2000:]
    return "", ""


def append_fact(reports_dir: Path, fact: ScenarioFact) -> None:
    reports_dir.mkdir(parents=True, exist_ok=True)
    with (reports_dir / FACTS).open("a") as handle:
        handle.write(json.dumps(asdict(fact)) + "\n")


def read_facts(reports_dir: Path) -> list[ScenarioFact]:
    path = reports_dir / FACTS
    if not path.exists():
        return []
    return [ScenarioFact(**json.loads(line)) for line in path.read_text().splitlines() if line.strip()]


FAILED = ("failed", "error", "interrupted")  # the statuses that count as a failure


def tally(facts: list[ScenarioFact]) -> dict[str, int]:
    """Scenarios, passed, failed (FAILED but interrupted), interrupted and skipped: the run in five numbers."""
    statuses = [fact.status for fact in facts]
    interrupted = statuses.count("interrupted")
    return {"scenarios": len(statuses), "passed": statuses.count("passed"),
            "failed": sum(status in FAILED for status in statuses) - interrupted, "interrupted": interrupted,
            "skipped": statuses.count("skipped")}


CORE = "core (no @cap)"
NOT_CLAIMED = "does not claim"


def conformance(facts: list[ScenarioFact]) -> list[tuple[str, int, int, int, int]]:
    """Per capability (and the core): scenarios passed, failed, not claimed, skipped otherwise."""
    rows: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for fact in facts:
        for cap in fact.caps or [CORE]:
            row = rows[cap]
            if fact.status == "passed":
                row[0] += 1
            elif fact.status in FAILED:
                row[1] += 1
            elif NOT_CLAIMED in fact.skip_reason:
                row[2] += 1
            else:
                row[3] += 1
    order = sorted(rows, key=lambda name: (name != CORE, name))
    return [(name, rows[name][0], rows[name][1], rows[name][2], rows[name][3]) for name in order]


def conformance_markdown(facts: list[ScenarioFact]) -> list[str]:
    lines = ["## Conformance", "", "| capability | passed | failed | not claimed | skipped (machine) | verdict |",
             "|---|---:|---:|---:|---:|---|"]
    for name, passed, failed, unclaimed, skipped in conformance(facts):
        verdict = ("FAILS" if failed else "not claimed" if unclaimed and not passed
                   else "conforms" if passed else "untested here")
        lines.append(f"| {name} | {passed} | {failed} | {unclaimed} | {skipped} | {verdict} |")
    return [*lines, ""]


def traceability_markdown(facts: list[ScenarioFact], contract: Path = CONTRACT,
                          listed_path: Path = ELSEWHERE) -> list[str]:
    """Each clause of the contract: its scenarios passed and failed in this run, or where else it is verified."""
    if not contract.exists():
        return []
    passed: dict[str, int] = defaultdict(int)
    failed: dict[str, int] = defaultdict(int)
    for fact in facts:
        for clause in fact.clauses:
            if fact.status == "passed":
                passed[clause] += 1
            elif fact.status in FAILED:
                failed[clause] += 1
    listed = elsewhere(listed_path)
    lines = ["## Contract traceability", "", "| clause | passed | failed | elsewhere |", "|---|---:|---:|---|"]
    for clause in clause_ids(contract):
        kind, reason = listed.get(clause, ("", ""))
        lines.append(f"| `{clause}` | {passed[clause]} | {failed[clause]} | {f'{kind}: {reason}' if kind else ''} |")
    return [*lines, ""]


def summary(facts: list[ScenarioFact]) -> str:
    """The run in markdown: counts, skips with reasons, time per feature, slowest scenarios."""
    counts = tally(facts)
    lines = ["# rbee acceptance: run summary", "",
             "| scenarios | passed | failed | interrupted | skipped |", "|---:|---:|---:|---:|---:|",
             f"| {counts['scenarios']} | {counts['passed']} | {counts['failed']} | {counts['interrupted']} "
             f"| {counts['skipped']} |", ""]
    failed = [f for f in facts if f.status in FAILED]
    if failed:
        lines += ["## Failed", ""]
        for fact in failed:
            lines.append(f"- `{fact.location}` {fact.feature}: {fact.scenario}" +
                         (" (interrupted)" if fact.status == "interrupted" else ""))
            if fact.failed_step:
                lines.append(f"  - failed step: `{fact.failed_step}`")
            if fact.error:
                message = fact.error.strip().splitlines()
                lines.append("  - message: " + " / ".join(line.strip() for line in message[:6])[:600])
        lines.append("")
    lines += conformance_markdown(facts)
    lines += traceability_markdown(facts)
    skipped = [f for f in facts if f.status == "skipped"]
    if skipped:
        lines += ["## Skipped", ""] + [f"- {f.scenario}: {f.skip_reason or '(no reason given)'}" for f in skipped]
        lines.append("")
    per_feature: dict[str, float] = defaultdict(float)
    for fact in facts:
        per_feature[fact.feature] += fact.seconds
    lines += ["## Wall time per feature", "", "| feature | seconds |", "|---|---:|"]
    lines += [f"| {name} | {seconds:.1f} |" for name, seconds in sorted(per_feature.items(), key=lambda i: -i[1])]
    lines += ["", "## The 10 slowest scenarios", "", "| scenario | seconds |", "|---|---:|"]
    lines += [f"| {f.scenario} | {f.seconds:.1f} |" for f in sorted(facts, key=lambda f: -f.seconds)[:10]]
    starts = [f.stack_start_s for f in facts if f.stack_start_s is not None]
    if starts:
        lines += ["", "Stack start-up (queen + hives until queen lists them): "
                      f"median {statistics.median(starts):.2f} s, max {max(starts):.2f} s "
                      f"over {len(starts)} scenarios."]
    leftovers = [item for f in facts for item in f.leftovers]
    lines += ["", f"Left behind after scenarios (processes, containers, networks, cgroups, work dirs): "
                  f"{len(leftovers)}" + (f" — {', '.join(leftovers)}" if leftovers else " (expected: 0)")]
    return "\n".join(lines) + "\n"


def soak(run_dirs: list[Path]) -> str:
    """Each scenario's pass rate over the runs; flaky = passed in some runs and failed in others."""
    results: dict[str, list[str]] = defaultdict(list)
    for run in run_dirs:
        for fact in read_facts(run):
            results[f"{fact.feature}: {fact.scenario}"].append(fact.status)
    lines = [f"# Soak: {len(run_dirs)} runs", "", "| scenario | passed | rate | verdict |", "|---|---:|---:|---|"]
    flaky = 0
    for name, statuses in sorted(results.items()):
        ran = [s for s in statuses if s != "skipped"]
        passed = ran.count("passed")
        if not ran:
            verdict = "skipped"
        elif passed == len(ran):
            verdict = "stable"
        elif passed:
            verdict, flaky = "FLAKY", flaky + 1
        else:
            verdict = "FAILS"
        rate = f"{100 * passed / len(ran):.0f} %" if ran else "-"
        lines.append(f"| {name} | {passed}/{len(ran)} | {rate} | {verdict} |")
    lines += ["", f"flaky scenarios: {flaky}"]
    return "\n".join(lines) + "\n"


def relocate_rerun(path: Path, base: Path) -> int:
    """Make the paths of behave's rerun file relative to the file's own folder, as ``behave @FILE`` reads them.

    behave writes them relative to where it ran (*base*); returns how many scenarios the file names.
    """
    if not path.exists():
        path.write_text("")
        return 0
    lines = []
    for line in path.read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            lines.append(line)
            continue
        location, colon, rest = line.partition(":")
        absolute = (base / location).resolve()
        lines.append(os.path.relpath(absolute, path.parent.resolve()) + colon + rest)
    path.write_text("\n".join(lines) + ("\n" if lines else ""))
    return sum(1 for line in lines if line.strip() and not line.lstrip().startswith("#"))
