"""Running the suite as N behave processes at once, and a slice of it per CI shard.

``python -m rbee_bdd.runner.parallel --jobs N [--shard I/M] [--reports DIR] -- BEHAVE_ARGS…``

1. The selected scenarios are listed by a dry run of behave with the same selection
   (tags, names, paths, ``-D`` settings).
2. With ``--shard I/M`` only the I-th of M slices is kept: slices are balanced by the
   durations recorded in ``<reports>/durations.json`` by earlier runs (a scenario never run
   counts its steps), and the split is deterministic.
3. The scenarios are split the same way into N parts; scenarios tagged ``@serial`` (time
   bounds that do not hold under CPU contention) run alone, after the parallel part.
4. Each part is one behave process reading its scenarios from a ``@file``. ``{part}`` in
   BEHAVE_ARGS becomes the part's name, so each writes outputs of its own; the parts share
   the reports folder (facts, logs, Allure results). ``python -m rbee_bdd.reports merge``
   makes one JUnit set, one HTML report and one rerun.txt of the parts afterwards.

Every scenario already has its own stack, ports, labels and cgroup slices, and each part its
own Docker network, so the parts need no other isolation. The parts end when this runner ends (even by SIGKILL).
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from behave.formatter.base import Formatter

from rbee_bdd.core.identity import PART_ENV
from rbee_bdd.reports.facts import FACTS, FAILED, ScenarioFact, read_facts, tally
from rbee_bdd.reports.merge import DURATIONS, PARTS, duration_key
from rbee_bdd.reports.progress import RUN_STARTED_ENV
from rbee_bdd.runner.tag_hints import hints

SERIAL_TAG = "serial"
MIN_PART_SECONDS = 20.0  # a part's estimated work at least: each behave process costs about a second to start
OUTPUT_OPTIONS = {"-f", "--format", "-o", "--outfile", "--junit-directory"}  # take a value
OUTPUT_FLAGS = {"--junit", "--no-junit", "--no-summary", "--summary"}


@dataclass(frozen=True)
class Selected:
    """A scenario the selection keeps: where it is, its name, tags and number of steps."""

    location: str  # file:line, as behave reads it back
    name: str
    tags: tuple[str, ...]
    steps: int

    @property
    def key(self) -> str:
        """Stable across edits that move lines: the feature file and the scenario's name."""
        return duration_key(self.location, self.name)


class SelectedLocations(Formatter):  # type: ignore[misc]  # behave has no type hints
    """A dry-run formatter: one JSON line per scenario the selection keeps."""

    name = "rbee-selected"
    description = "the scenarios the selection keeps, as JSON lines"

    def scenario(self, scenario: Any) -> None:
        if scenario.should_run(self.config):
            stream = self.open()
            record = {"location": f"{scenario.location.filename}:{scenario.location.line}", "name": scenario.name,
                      "tags": sorted(scenario.effective_tags), "steps": len(scenario.steps)}
            stream.write(json.dumps(record) + "\n")


def selection_args(behave_args: list[str]) -> list[str]:
    """BEHAVE_ARGS less every output option (formatters, outfiles, JUnit, summary)."""
    kept: list[str] = []
    skip_value = False
    for word in behave_args:
        if skip_value:
            skip_value = False
        elif word in OUTPUT_OPTIONS:
            skip_value = True
        elif word in OUTPUT_FLAGS or any(word.startswith(o + "=") for o in OUTPUT_OPTIONS):
            continue
        else:
            kept.append(word)
    return kept


def list_selected(behave: str, behave_args: list[str]) -> list[Selected]:
    """The scenarios behave would run with these arguments (a dry run: no hook, no stack)."""
    with tempfile.NamedTemporaryFile("r", suffix=".jsonl") as out:
        command = [behave, "--dry-run", "--no-summary", "--no-snippets", *selection_args(behave_args),
                   "-f", "rbee_bdd.runner.parallel:SelectedLocations", "-o", out.name]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        listing = out.read()
    if done.returncode != 0 and not listing.strip():
        raise SystemExit(f"parallel: listing the scenarios failed:\n{done.stdout}{done.stderr}")
    records = [json.loads(line) for line in listing.splitlines() if line.strip()]
    return [Selected(r["location"], r["name"], tuple(r["tags"]), r["steps"]) for r in records]


def read_durations(reports: Path) -> dict[str, float]:
    path = reports / DURATIONS
    try:
        return {str(k): float(v) for k, v in json.loads(path.read_text()).items()}
    except (OSError, ValueError):
        return {}


def estimate(scenario: Selected, durations: dict[str, float]) -> float:
    """Seconds the scenario took last time; never run: 1 s a step plus a stack's start."""
    return durations.get(scenario.key, 2.0 + scenario.steps)


def balance(scenarios: list[Selected], parts: int, durations: dict[str, float]) -> list[list[Selected]]:
    """Longest first, each to the part with the least work so far (ties: the lower part).

    Deterministic: the same scenarios and durations always give the same parts.
    """
    bins: list[list[Selected]] = [[] for _ in range(parts)]
    loads = [0.0] * parts
    for scenario in sorted(scenarios, key=lambda s: (-estimate(s, durations), s.location)):
        index = loads.index(min(loads))
        bins[index].append(scenario)
        loads[index] += estimate(scenario, durations)
    return [sorted(b, key=lambda s: s.location) for b in bins]


def parse_shard(text: str) -> tuple[int, int]:
    index, _, total = text.partition("/")
    try:
        i, n = int(index), int(total)
    except ValueError:
        raise SystemExit(f"parallel: --shard takes I/N (e.g. 2/4), got {text!r}") from None
    if not 1 <= i <= n:
        raise SystemExit(f"parallel: --shard {text}: I must be between 1 and N")
    return i, n


def absolute(location: str) -> str:
    """file:line with the file made absolute (a @file's paths are read relative to the file itself)."""
    path, _, line = location.rpartition(":")
    return f"{Path(path).resolve()}:{line}"


def _die_with_parent() -> None:
    """In a part: SIGTERM when the runner dies (its hooks then clean up as for Ctrl+C)."""
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


interrupted = threading.Event()  # a Ctrl+C (or SIGTERM) reached the runner


def cpu_times() -> tuple[float, float]:
    """The machine's busy and total CPU time so far (jiffies, from /proc/stat's first line)."""
    fields = [float(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0.0)  # idle + iowait
    return sum(fields) - idle, sum(fields)


def busy_share(before: tuple[float, float], after: tuple[float, float]) -> float:
    """The share of the machine's CPU time that was busy between two readings of cpu_times()."""
    total = after[1] - before[1]
    return (after[0] - before[0]) / total if total > 0 else 0.0


def next_chunk(remaining: list[Selected], slots: int, durations: dict[str, float]) -> list[Selected]:
    """Take the next part off *remaining* (sorted longest first): about a 2·slots-th of the work left.

    Parts shrink as the run goes on (guided self-scheduling), so the slots finish close together
    even when the estimates are poor (a fresh clone has no recorded durations); at least one scenario.
    """
    if slots == 1:  # nothing to balance
        everything, remaining[:] = remaining[:], []
        return sorted(everything, key=lambda s: s.location)
    share = max(MIN_PART_SECONDS, sum(estimate(s, durations) for s in remaining) / (2 * slots))
    chunk: list[Selected] = []
    took = 0.0
    while remaining and (not chunk or took + estimate(remaining[0], durations) <= share):
        scenario = remaining.pop(0)
        chunk.append(scenario)
        took += estimate(scenario, durations)
    return sorted(chunk, key=lambda s: s.location)  # a feature's scenarios together, in file order


def start_part(behave: str, behave_args: list[str], name: str, scenarios: list[Selected],
               work: Path) -> subprocess.Popen[bytes]:
    """One behave process running *scenarios*, its outputs named after *name*."""
    listing = work / f"{name}.txt"
    listing.write_text("".join(f"{absolute(s.location)}\n" for s in scenarios))
    args = [word.replace("{part}", name) for word in behave_args]
    command = [behave, "--no-summary", *without_paths(args), f"@{listing}"]
    return subprocess.Popen(command, env={**os.environ, PART_ENV: name}, preexec_fn=_die_with_parent)


def exit_code(returncode: int) -> int:
    """A part's exit status as a shell gives it: killed by signal N is 128+N (never below 0)."""
    return returncode if returncode >= 0 else 128 - returncode


def run_pool(behave: str, behave_args: list[str], scenarios: list[Selected], slots: int, first: int,
             durations: dict[str, float], work: Path) -> int:
    """Run *scenarios* in at most *slots* behave processes at once, each new one taking the next part.

    Parts are named part<first>, part<first+1>, …; after a Ctrl+C no new part starts and the running
    ones finish their cleanup. The worst exit code.
    """
    remaining = sorted(scenarios, key=lambda s: (-estimate(s, durations), s.location))
    running: dict[str, tuple[subprocess.Popen[bytes], int]] = {}
    started = time.monotonic()
    codes: list[int] = []
    number = first
    while running or (remaining and not interrupted.is_set()):
        try:
            while remaining and len(running) < slots and not interrupted.is_set():
                chunk = next_chunk(remaining, slots, durations)
                name = f"part{number}"
                number += 1
                running[name] = (start_part(behave, behave_args, name, chunk, work), len(chunk))
            time.sleep(0.25)  # the runner's own poll, not a step's wait
            for name, (process, count) in list(running.items()):
                if process.poll() is not None:
                    codes.append(exit_code(process.returncode))
                    del running[name]
                    print(f"parallel: {name} ({count} scenario(s)) ended at {time.monotonic() - started:.0f} s, "
                          f"{len(remaining)} scenario(s) not yet started", flush=True)
        except KeyboardInterrupt:  # wait for the parts' cleanup
            if not interrupted.is_set():
                print("parallel: interrupted: the parts finish their scenarios' cleanup first…", flush=True)
                for process, _ in running.values():  # a Ctrl+C reached them too; a SIGINT sent to the
                    process.send_signal(signal.SIGINT)  # runner alone did not (a second one is harmless)
            interrupted.set()
    return max(codes, default=0)


# behave's options that take a value (``behave --help``): the word after them is not a path
TAKE_VALUE = {"-D", "--define", "-e", "--exclude", "-i", "--include", "-j", "--jobs", "-n", "--name", "-r", "--runner",
              "-t", "--tags", "--stage", "--lang", "--logging-level", "--logging-format", "--logging-datefmt",
              "--logging-filter", *OUTPUT_OPTIONS}


def without_paths(args: list[str]) -> list[str]:
    """BEHAVE_ARGS less the feature paths (a part names its scenarios in its @file)."""
    kept: list[str] = []
    expect_value = False
    for word in args:
        if expect_value or word.startswith("-"):
            kept.append(word)
            expect_value = not expect_value and word in TAKE_VALUE
        # else: a feature path: dropped
    return kept


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rbee_bdd.runner.parallel", description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=1, help="behave processes at once (default 1)")
    parser.add_argument("--shard", default="1/1", metavar="I/N", help="run only the I-th of N balanced slices")
    parser.add_argument("--reports", type=Path, default=Path("reports"), help="the run's reports folder")
    parser.add_argument("behave_args", nargs=argparse.REMAINDER, help="-- then behave's arguments")
    args = parser.parse_args(argv)
    behave_args = [a for a in args.behave_args if a != "--"] if args.behave_args[:1] == ["--"] else args.behave_args
    if args.jobs < 1:
        raise SystemExit("parallel: --jobs must be 1 or more")
    behave = str(Path(sys.executable).parent / "behave")
    shard, shards = parse_shard(args.shard)
    durations = read_durations(args.reports)
    mistyped = hints(behave_args)
    for line in mistyped:
        print(f"parallel: {line}", file=sys.stderr)
    selected = list_selected(behave, behave_args)
    if not selected:  # a mistyped tag must not read as a green run
        print("parallel: no scenario matches the selection (tags, names, paths); nothing ran", file=sys.stderr)
        return 1
    mine = balance(selected, shards, durations)[shard - 1]
    serial = [s for s in mine if SERIAL_TAG in s.tags]
    together = [s for s in mine if SERIAL_TAG not in s.tags]
    jobs = max(1, min(args.jobs, len(together)))
    print(f"parallel: {len(selected)} scenarios selected; shard {shard}/{shards}: {len(mine)}, "
          f"{len(together)} in {jobs} behave process(es) at once, each new one taking the next part, "
          f"{len(serial)} @serial after them", flush=True)
    args.reports.mkdir(parents=True, exist_ok=True)
    (args.reports / FACTS).unlink(missing_ok=True)  # the parts append to it, as one run
    shutil.rmtree(args.reports / PARTS, ignore_errors=True)  # an earlier run's parts must not be merged in
    started, cpu_before = time.monotonic(), cpu_times()
    os.environ[RUN_STARTED_ENV] = f"{time.time():.3f}"  # every part's progress lines count from here
    with tempfile.TemporaryDirectory(prefix="rbee-bdd-parts-") as tmp:
        # names unique across shards too (shard 2's first part is part201): outputs and HTML ids follow them
        code = run_pool(behave, behave_args, together, jobs, shard * 100 + 1, durations, Path(tmp))
        if serial and not interrupted.is_set():
            print(f"parallel: the {len(serial)} @serial scenario(s), alone", flush=True)
            code = max(code, run_pool(behave, behave_args, serial, 1, shard * 100 + 99, durations, Path(tmp)))
    facts = read_facts(args.reports)
    counts = tally(facts)
    print(f"parallel: done in {time.monotonic() - started:.0f} s, the machine's CPUs "
          f"{100 * busy_share(cpu_before, cpu_times()):.0f} % busy", flush=True)
    print(recap(facts), end="", flush=True)
    if counts["interrupted"] or interrupted.is_set():
        print(f"parallel: the run was interrupted: {counts['interrupted']} scenario(s) stopped and cleaned up, "
              f"{len(mine) - counts['scenarios']} not run", flush=True)
    print(f"parallel: {counts['passed']} passed, {counts['failed']} failed, {counts['interrupted']} interrupted, "
          f"{counts['skipped']} skipped", flush=True)
    return code


def recap(facts: list[ScenarioFact]) -> str:
    """The failed scenarios again, with their step and the message's last lines: a log's tail says what failed."""
    lines = []
    for fact in facts:
        if fact.status in FAILED:
            message = [line.rstrip()[:300] for line in fact.error.splitlines() if line.strip()][-4:]
            lines.append(f"parallel: {fact.status.upper()} {fact.location}  {fact.scenario}\n")
            lines.extend(f"    {line}\n" for line in [fact.failed_step or "(in a hook)", *message])
    return "".join(lines)


if __name__ == "__main__":
    sys.exit(main())
