"""Contract traceability: every clause of docs/contract.md has an id, and something verifies it.

A clause ends with its id(s), written ``{#area.name}``. A scenario names the clauses it verifies
with ``@contract.<id>`` tags (its own or its feature's). ``docs/contract-elsewhere.toml`` lists
the clauses verified otherwise: ``[unit]`` by a unit test (named), ``[harness]`` by what the
harness itself does in every run, ``[not-here]`` not verifiable on this machine (why), and
``[gaps]`` not verified yet (what is missing; shown as gaps in every report, never hidden).

``python -m rbee_bdd.reports.traceability [--table]`` fails on a clause that no scenario names and the
file does not list, on a tag naming no clause, and on a listed id the contract does not have;
``--table`` prints the table (clause, scenarios, elsewhere) as Markdown.
"""

from __future__ import annotations

import argparse
import re
import sys
import tomllib
from collections import defaultdict
from pathlib import Path

from behave.parser import parse_file

CONTRACT = Path("docs/contract.md")
ELSEWHERE = Path("docs/contract-elsewhere.toml")
CLAUSE_ID = re.compile(r"(?<!`)\{#([a-z0-9][a-z0-9.-]*)\}")  # an id in backticks is an example
TAG_PREFIX = "contract."
KINDS = ("unit", "harness", "not-here", "gaps")


def clause_ids(contract: Path = CONTRACT) -> list[str]:
    """The contract's clause ids, in the order they are written."""
    return CLAUSE_ID.findall(contract.read_text(encoding="utf-8"))


def elsewhere(path: Path = ELSEWHERE) -> dict[str, tuple[str, str]]:
    """id -> (kind, reason) of the clauses verified elsewhere, not verifiable here, or not yet."""
    data = tomllib.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    return {clause: (kind, str(reason)) for kind in KINDS for clause, reason in data.get(kind, {}).items()}


def scenarios_by_clause(features: Path) -> dict[str, list[str]]:
    """id -> the scenarios (``file:line name``) whose tags name it; an outline counts once."""
    found: dict[str, list[str]] = defaultdict(list)
    for path in sorted(features.rglob("*.feature")):
        feature = parse_file(str(path))
        if feature is None:
            continue
        for scenario in feature.scenarios:  # outlines once, not per row
            tags = {*feature.tags, *scenario.tags}
            for tag in sorted(t for t in tags if t.startswith(TAG_PREFIX)):
                found[tag.removeprefix(TAG_PREFIX)].append(f"{path}:{scenario.line} {scenario.name}")
    return dict(found)


def problems(features: Path, contract: Path = CONTRACT, listed_path: Path = ELSEWHERE) -> list[str]:
    ids = clause_ids(contract)
    known = set(ids)
    verified = scenarios_by_clause(features)
    listed = elsewhere(listed_path)
    found = [f"{contract}: clause id {{#{i}}} written more than once" for i in sorted({i for i in ids
                                                                                     if ids.count(i) > 1})]
    found += [f"{contract}: clause {{#{i}}} is verified by no scenario (tag @{TAG_PREFIX}{i}) and not listed "
              f"in {listed_path}" for i in ids if i not in verified and i not in listed]
    found += [f"{where.split(' ', 1)[0]}: @{TAG_PREFIX}{i} names no clause of {contract}"
              for i, wheres in sorted(verified.items()) if i not in known for where in wheres]
    found += [f"{listed_path}: {i} is not a clause of {contract}" for i in sorted(listed) if i not in known]
    return found


def table(features: Path, contract: Path = CONTRACT, listed_path: Path = ELSEWHERE) -> str:
    """The traceability table in Markdown: each clause, the scenarios naming it, or where else."""
    verified = scenarios_by_clause(features)
    listed = elsewhere(listed_path)
    rows = ["| clause | scenarios | elsewhere |", "|---|---|---|"]
    for clause in clause_ids(contract):
        names = verified.get(clause, [])
        kind, reason = listed.get(clause, ("", ""))
        rows.append(f"| `{clause}` | {len(names)} | {f'{kind}: {reason}' if kind else ''} |")
    gaps = sum(1 for kind, _ in listed.values() if kind == "gaps")
    rows.append(f"\n{len(verified)} clause(s) named by scenarios, {len(listed) - gaps} verified elsewhere or "
                f"not verifiable here, {gaps} not verified yet (gaps).")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rbee_bdd.reports.traceability",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("features", type=Path, nargs="?", default=Path("features"))
    parser.add_argument("--table", action="store_true", help="print the traceability table (Markdown)")
    args = parser.parse_args(argv)
    if args.table:
        print(table(args.features))
        return 0
    found = problems(args.features)
    for line in found:
        print(f"traceability: {line}", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
