"""The parts of a run (parallel processes, CI shards) made into one set of reports.

``python -m rbee_bdd.reports merge REPORTS [MORE_REPORTS…]`` reads ``<reports>/parts/``:
``junit-<part>/TESTS-*.xml`` → ``junit/`` (a feature split over parts becomes one suite
again), ``html-<part>.jsonl`` → ``report.html``, ``rerun-<part>.txt`` → ``rerun.txt``; and
updates ``durations.json`` from the facts, so the next run balances its parts better.
"""

from __future__ import annotations

import html
import json
import os
import xml.etree.ElementTree as ElementTree
from collections import defaultdict
from pathlib import Path

from rbee_bdd.reports.facts import ScenarioFact, conformance, read_facts, relocate_rerun, tally
from rbee_bdd.reports.html import page

PARTS = "parts"
DURATIONS = "durations.json"
COUNTS = ("tests", "errors", "failures", "skipped")


def merge_junit(sources: list[Path], out: Path) -> int:
    """Every ``TESTS-*.xml`` of *sources* into *out*, suites of the same feature joined; the file count."""
    suites: dict[str, list[ElementTree.Element]] = defaultdict(list)
    for source in sources:
        for path in sorted(source.glob("TESTS-*.xml")):
            suites[path.name].append(ElementTree.parse(path).getroot())
    out.mkdir(parents=True, exist_ok=True)
    for name, roots in suites.items():
        merged = roots[0]
        for other in roots[1:]:
            for key in COUNTS:
                merged.set(key, str(int(merged.get(key, "0")) + int(other.get(key, "0"))))
            merged.set("time", f"{float(merged.get('time', '0')) + float(other.get('time', '0')):.6f}")
            merged.extend(list(other))
        ElementTree.ElementTree(merged).write(out / name, encoding="utf-8", xml_declaration=True)
    return len(suites)


def merge_rerun(sources: list[Path], out: Path) -> int:
    """The parts' rerun files as one, its paths relative to itself; how many scenarios it names."""
    lines = [line for source in sorted(sources) if source.exists() for line in source.read_text().splitlines()
             if line.strip() and not line.startswith("#")]
    out.write_text("".join(f"{line}\n" for line in lines))
    return relocate_rerun(out, Path.cwd())


def summary_html(facts: list[ScenarioFact]) -> str:
    cells = "".join(f"<td style='padding:0 1em'>{label}: <b>{value}</b></td>" for label, value in tally(facts).items())
    matrix = "".join(f"<tr><td>{html.escape(name)}</td><td>{passed}</td><td>{failed}</td><td>{unclaimed}</td>"
                     f"<td>{skipped}</td></tr>" for name, passed, failed, unclaimed, skipped in conformance(facts))
    head = "".join(f"<th style='padding:0 1em'>{h}</th>" for h in
                   ("capability", "passed", "failed", "not claimed", "skipped (machine)"))
    return (f"<div class='feature-container'><table><tr>{cells}</tr></table>"
            f"<h3>Conformance</h3><table><tr>{head}</tr>{matrix}</table></div>")


def duration_key(location: str, scenario: str) -> str:
    """How durations.json names a scenario: its feature file and its name (stable when lines move)."""
    return f"{os.path.relpath(location.rsplit(':', 1)[0])}::{scenario}"


def update_durations(reports: Path, facts: list[ScenarioFact]) -> None:
    """Remember how long each scenario took (by feature file and name) for the next balance."""
    path = reports / DURATIONS
    try:
        known = json.loads(path.read_text())
    except (OSError, ValueError):
        known = {}
    for fact in facts:
        if fact.status in ("passed", "failed"):
            known[duration_key(fact.location, fact.scenario)] = fact.seconds
    path.write_text(json.dumps(known, indent=1, sort_keys=True) + "\n")


def merge(reports: Path, title: str = "rbee acceptance") -> dict[str, int]:
    """Make the reports of *reports*' parts whole; what was merged, counted."""
    parts = reports / PARTS
    facts = read_facts(reports)
    junit = merge_junit(sorted(parts.glob("junit-*")), reports / "junit")
    html_parts = sorted(parts.glob("html-*.jsonl"))
    if html_parts:
        (reports / "report.html").write_text(page(html_parts, title, summary_html(facts)), encoding="utf-8")
    rerun = merge_rerun(sorted(parts.glob("rerun-*.txt")), reports / "rerun.txt")
    update_durations(reports, facts)
    return {"junit files": junit, "html parts": len(html_parts), "rerun scenarios": rerun, "facts": len(facts)}
