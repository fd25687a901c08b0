"""The run's reports from the command line: summary, soak, rerun, merge (``python -m rbee_bdd.reports``)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rbee_bdd.reports.facts import FACTS, read_facts, relocate_rerun, soak, summary
from rbee_bdd.reports.merge import merge


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rbee_bdd.reports", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    one = commands.add_parser("summary", help="summary.md and a printed table for one run")
    one.add_argument("reports", type=Path)
    many = commands.add_parser("soak", help="pass rates over several runs")
    many.add_argument("out", type=Path, help="where soak.md goes")
    many.add_argument("runs", type=Path, nargs="+")
    rerun = commands.add_parser("rerun", help="make rerun.txt's paths work with `behave @<file>`")
    rerun.add_argument("file", type=Path)
    merging = commands.add_parser("merge", help="one JUnit set, report.html and rerun.txt from a run's parts")
    merging.add_argument("reports", type=Path)
    args = parser.parse_args(argv)
    if args.command == "rerun":
        relocate_rerun(args.file, Path.cwd())
        return 0
    if args.command == "merge":
        done = merge(args.reports)
        print("report: merged " + ", ".join(f"{value} {name}" for name, value in done.items()))
        return 0
    if args.command == "summary":
        facts = read_facts(args.reports)
        if not facts:
            print(f"report: no scenario facts in {args.reports / FACTS}", file=sys.stderr)
            return 1
        text = summary(facts)
        (args.reports / "summary.md").write_text(text)
    else:
        text = soak(args.runs)
        args.out.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
