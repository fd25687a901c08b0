"""One chaos run, end to end: stack, references, workload under the nemesis, heal, final look, verdict.

Usage: python -m rbee_bdd.faults.chaos [--seed 1] [--duration 60] [--clients 4] [--target docker]
       [--concurrent 1] [--reports reports/chaos]
The seed is printed first; the same seed replays the same fault schedule. The history goes to
``<reports>/<run>/history.jsonl``, the verdict to ``verdict.txt`` and the timeline picture to
``timeline.png`` beside it; the exit code is 1
when the checker finds a violation.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from rbee_bdd.clients.metrics import scrape
from rbee_bdd.core.cleanup import CleanupStack, cleaned_up
from rbee_bdd.core.identity import RunIdentity
from rbee_bdd.core.waiting import eventually
from rbee_bdd.faults.chaos.checker import Bounds, Violation, summary, verdicts, violations_of
from rbee_bdd.faults.chaos.history import History
from rbee_bdd.faults.chaos.nemesis import FAULTS, WORKER_MEMORY_MIB, Nemesis, faults_for, schedule
from rbee_bdd.faults.chaos.picture import draw
from rbee_bdd.faults.chaos.workload import MODEL, TEMPERATURE, Workload, every_params
from rbee_bdd.host.sweep import sweep
from rbee_bdd.stack.config import SuiteConfig
from rbee_bdd.stack.stack import Stack

HIVES = 2
TIMELINE = "timeline.png"  # beside the history: faults per node, jobs by start time and latency
MAX_WORKERS = 2  # per hive


def hive_args(workers: int = MAX_WORKERS, memory_mib: int = WORKER_MEMORY_MIB) -> tuple[str, ...]:
    """The chaos stack's hives: a few workers each, each worker's cgroup under a memory limit."""
    return "--max-workers", str(workers), "--worker-memory-limit", f"{memory_mib}M"


@dataclass(frozen=True)
class Settings:
    seed: int = 1
    duration_s: float = 60.0
    clients: int = 4
    concurrent: int = 1  # faults at once, at most
    faults: tuple[str, ...] = FAULTS


def record_references(stack: Stack, history: History) -> None:
    """The fault-free completion of every parameter set the clients use."""
    queen = stack.queen()
    for params in every_params():
        job = queen.submit_infer(MODEL, params.prompt, params.max_tokens, params.seed, TEMPERATURE)
        job.wait_ended_with("[DONE]", 60)
        history.add("reference", model=MODEL, prompt=params.prompt, seed=params.seed, max_tokens=params.max_tokens,
                    text=job.stream.text())


def daemons_memory(stack: Stack) -> dict[str, int]:
    names = {"queen", *stack.hive_nodes}
    return {name: rss for name, rss in stack.telemetry.daemon_memory().items() if name in names}


def record_final(stack: Stack, history: History, memory_before: dict[str, int], converge_s: float) -> None:
    """What the stack looks like after the last heal, once queen's registry had time to converge."""

    def registry_and_processes() -> tuple[list[str], list[str]]:
        registry = sorted(w["worker_id"] for w in stack.queen().workers())
        running = sorted(r.worker_id for hive in stack.hive_nodes for r in stack.processes.workers(hive))
        return registry, running

    def converged() -> bool:
        registry, running = registry_and_processes()
        held = scrape(stack.queen().url)
        return registry == running and not held.get("rbee_queen_jobs_active") and \
            not held.get("rbee_queen_reservations")

    with contextlib.suppress(AssertionError):  # the final event shows what did not converge; the checker judges
        eventually(converged, converge_s, "queen's registry to match the process tables and release everything")
    registry, running = registry_and_processes()
    held = scrape(stack.queen().url)
    history.add("final", registry_workers=registry, process_workers=running,
                jobs_active=int(held.get("rbee_queen_jobs_active", 0)),
                streams_open=int(held.get("rbee_queen_job_streams_open", 0)),
                reservations=int(held.get("rbee_queen_reservations", 0)),
                memory_before=memory_before, memory_after=daemons_memory(stack))


def run(stack: Stack, cleanup: CleanupStack, settings: Settings, out_dir: Path) -> list[Violation]:
    """A chaos run against a started *stack*; its violations (the history and verdict are in *out_dir*)."""
    history = History(out_dir / "history.jsonl")
    try:
        print(f"chaos: seed {settings.seed}, {settings.duration_s:g} s, {settings.clients} clients, "
              f"faults {', '.join(settings.faults)} (at most {settings.concurrent} at once)", flush=True)
        record_references(stack, history)
        memory_before = daemons_memory(stack)
        plan = schedule(settings.seed, settings.duration_s, settings.faults)
        print(f"chaos: {len(plan)} faults planned: "
              + ", ".join(f"{p.name}@{p.at_s:.1f}s" for p in plan), flush=True)
        offset = history.now()
        planned = [dataclasses.replace(p, at_s=p.at_s + offset) for p in plan]  # after the references
        workload = Workload(stack.queen, history, settings.clients, settings.seed).start()
        nemesis = Nemesis(stack, history, cleanup, settings.concurrent)
        nemesis.run(planned)  # returns once the last fault is healed
        remaining = offset + settings.duration_s - history.now()
        if remaining > 0:
            nemesis.stopping.wait(remaining)
        busy = workload.stop(timeout_s=240)
        history.add("workload_stopped", still_busy=busy)
        record_final(stack, history, memory_before, converge_s=stack.config.hive_stale_after + 15)
    finally:
        history.close()
    judged = verdicts(history.events, Bounds())
    violations = violations_of(judged)
    accepted = sum(1 for e in history.events if e["type"] == "accepted")
    ends = {e["marker"].split(":")[0] for e in history.events if e["type"] == "end"}
    faults = sum(1 for e in history.events if e["type"] == "fault")
    verdict = (f"seed {settings.seed}: {accepted} jobs accepted, {faults} faults injected and healed, endings "
               f"{sorted(ends)}; {len(violations)} violation(s)\n{summary(judged)}\n"
               + "\n".join(v.describe() for v in violations))
    (out_dir / "verdict.txt").write_text(verdict + "\n")
    draw(history.events, out_dir / TIMELINE, f"chaos seed {settings.seed}: {accepted} jobs, {faults} faults, "
         f"{len(violations)} violation(s)")
    print(f"chaos: {verdict}", flush=True)
    return violations


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="rbee_bdd.faults.chaos", description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--duration", type=float, default=60.0, metavar="SECONDS")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--concurrent", type=int, default=1, help="faults at once, at most")
    parser.add_argument("--target", default="docker", choices=("docker", "local"))
    parser.add_argument("--reports", type=Path, default=Path("reports/chaos"))
    args = parser.parse_args(argv)
    faults, left_out = faults_for(args.target)
    settings = Settings(args.seed, args.duration, args.clients, args.concurrent, faults)
    print(f"chaos: seed {args.seed}", flush=True)
    for reason in left_out:
        print(f"chaos: {reason}", flush=True)
    sweep()
    config = SuiteConfig.from_userdata({"target": args.target}, Path.cwd())
    out_dir = args.reports / f"seed{args.seed}-{time.strftime('%Y%m%d-%H%M%S')}"
    try:
        with cleaned_up("chaos") as cleanup:
            stack = Stack(config, RunIdentity.new().scenario(1), out_dir / "logs", cleanup, tls=config.tls)
            stack.start(HIVES, hive_args=hive_args())
            violations = run(stack, cleanup, settings, out_dir)
    except KeyboardInterrupt:
        print("chaos: interrupted; everything it started is removed", file=sys.stderr)
        return 130
    left = stack.leftovers()  # after the teardown: no process, container, network, cgroup or directory
    print(f"chaos: left behind after the teardown: {len(left)}" + (f": {', '.join(left)}" if left else ""))
    print(f"chaos: history, verdict and timeline in {out_dir}")
    return 1 if violations or left else 0
