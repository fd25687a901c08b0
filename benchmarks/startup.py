"""``make bench-startup``: how fast the stack comes up and answers, on each target.

Prints the median (and min/max) over N runs of: queen healthy, hive healthy and queen + 1
hive ready (until queen lists the hive), each from the start of the stack; cold first token
(no worker yet: spawn + load + first token) and warm first token (a ready worker), each
measured from outside like the suite does; each in plain HTTP and over TLS (a CA made for the run,
every hop HTTPS), side by side.
Usage: python -m benchmarks.startup [--runs N] [--targets docker,local] [--transports plain,tls]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from rbee_bdd.core.cleanup import CleanupStack
from rbee_bdd.core.identity import RunIdentity
from rbee_bdd.core.waiting import scaled
from rbee_bdd.host.sweep import sweep
from rbee_bdd.stack.config import SuiteConfig
from rbee_bdd.stack.stack import Stack

MODEL = "tinyllama"
TARGETS_MS = {"local stack ready": 800.0, "docker stack ready": 1200.0, "warm first token": 300.0}


def first_token(stack: Stack) -> float:
    job = stack.queen().submit_infer(MODEL, max_tokens=8, seed=1)
    job.stream.wait_ended(scaled(60))
    latency = job.stream.first_token_after(job.submitted_at)
    if job.stream.terminal != "[DONE]" or latency is None:
        raise RuntimeError(f"job {job.job_id} did not complete: {job.stream.summary()}")
    return latency


def measure(target: str, runs: int, tls: bool) -> dict[str, list[float]]:
    config = SuiteConfig.from_userdata({"target": target}, Path.cwd())
    run = RunIdentity.new()
    figures: dict[str, list[float]] = {"queen healthy": [], "hive healthy": [], "stack ready": [],
                                       "cold first token": [], "warm first token": []}
    for index in range(1, runs + 1):
        cleanup = CleanupStack(f"bench {target} {index}")
        try:
            with tempfile.TemporaryDirectory(prefix="rbee-bench-") as logs:
                started = time.monotonic()
                stack = Stack(config, run.scenario(index), Path(logs), cleanup, tls=tls)
                stack.start(hives=1)
                figures["stack ready"].append(time.monotonic() - started)
                figures["queen healthy"].append(stack.phases["queen healthy"])
                figures["hive healthy"].append(stack.phases["hives healthy"])
                figures["cold first token"].append(first_token(stack))
                figures["warm first token"].append(first_token(stack))
        finally:
            errors = cleanup.run()
            if errors:
                raise RuntimeError("; ".join(errors))
        print(f"bench-startup: {target} {'tls' if tls else 'plain'} run {index}/{runs}: "
              + ", ".join(f"{k} {v[-1] * 1000:.0f} ms" for k, v in figures.items()), flush=True)
    return figures


def report(results: dict[str, dict[str, list[float]]]) -> None:
    print(f"\n{'target':14} {'figure':18} {'median ms':>10} {'min':>8} {'max':>8}  target")
    for key, figures in results.items():
        target = key.split()[0]
        for name, values in figures.items():
            goal = TARGETS_MS.get(f"{target} {name}") or TARGETS_MS.get(name)
            goal_text = f"≤ {goal:.0f} ms" if goal else ""
            ms = [v * 1000 for v in values]
            print(f"{key:14} {name:18} {statistics.median(ms):10.0f} {min(ms):8.0f} {max(ms):8.0f}  {goal_text}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--targets", default="docker,local")
    parser.add_argument("--transports", default="plain,tls", help="plain HTTP, TLS on every hop, or both")
    args = parser.parse_args()
    sweep()
    results = {}
    try:
        for target in args.targets.split(","):
            for transport in args.transports.split(","):
                results[f"{target} {transport}"] = measure(target, args.runs, transport == "tls")
    except KeyboardInterrupt:
        print("bench-startup: interrupted", file=sys.stderr)
        return 130
    report(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
