"""``make bench``: the telemetry pipeline's figures, measured on real processes and cgroups.

- collection time of ProcessMonitor for 10 and 100 workers (real processes in real cgroups);
- the heartbeat payload for 100 workers (bytes of the JSON a hive posts);
- spawn → UI stream latency (a real stack: hive spawns a worker, queen's heartbeat stream
  shows it), p50 and p95.
Each figure over --runs repetitions; prints a table beside the targets.
Usage: python -m benchmarks.telemetry [--runs N] [--target local|docker]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path

from benchmarks.table import header, percentile, row
from rbee.hive.cgroups import Limits, V1Tree, V2Tree, detect
from rbee.hive.gpu import GpuReading
from rbee.hive.monitor import ProcessMonitor
from rbee.hive.telemetry import Telemetry, heartbeat_body
from rbee.hive.workers import Worker
from rbee_bdd.core.cleanup import CleanupStack
from rbee_bdd.core.identity import RunIdentity
from rbee_bdd.core.waiting import eventually
from rbee_bdd.host.sweep import sweep
from rbee_bdd.stack.config import SuiteConfig
from rbee_bdd.stack.stack import Stack


@contextlib.contextmanager
def private_tree():
    """A cgroup tree under a parent of its own, removed afterwards."""
    found = detect()
    if isinstance(found, str):
        sys.exit(f"bench: needs writable cgroups: {found}")
    parent = f"rbee-bench-{uuid.uuid4().hex[:8]}"
    if isinstance(found, V1Tree):
        roots = {name: path.parent / parent for name, path in found.roots.items()}
        for root in roots.values():
            root.mkdir()
        tree: V1Tree | V2Tree = V1Tree(roots)
        dirs = list(roots.values())
    else:
        base = found.root.parent / parent
        base.mkdir()
        tree, dirs = V2Tree(base), [base]
    try:
        yield tree
    finally:
        for root in dirs:
            for path in sorted(root.rglob("*"), key=lambda p: -len(p.parts)):
                if path.is_dir():
                    path.rmdir()
            root.rmdir()


def collection(workers: int, runs: int) -> tuple[list[float], int]:
    """Milliseconds per collect() over *workers* real processes; and the 100-worker payload size."""
    with private_tree() as tree:
        monitor = ProcessMonitor(tree)
        ids = [f"worker-{os.getpid()}-{i + 1}" for i in range(workers)]  # as the hive names them
        procs = [monitor.spawn("llm", worker_id, ["sleep", "600"], Limits()) for worker_id in ids]
        try:
            gpu = GpuReading(gpus=2)
            monitor.collect(gpu)
            times = []
            for _ in range(max(runs, 20)):
                started = time.perf_counter()
                stats = monitor.collect(gpu)
                times.append((time.perf_counter() - started) * 1000)
            assert len(stats.stats) == workers, stats.skipped
            records = [Worker(ids[i], "tinyllama", "job-0123456789abcdef", "corr-" + "0" * 32,
                              pid=p.pid, port=40000 + i, url=f"http://rbee-0123abcd-s1-hive-1:{40000 + i}",
                              state="ready") for i, p in enumerate(procs)]
            telemetry = Telemetry(monitor, 2.0)
            body = heartbeat_body("hive-1", "http://rbee-0123abcd-s1-hive-1:7835", ["tinyllama", "slowllama"],
                                  telemetry.capabilities(), records, stats)
            size = len(json.dumps(body, separators=(",", ":")).encode())  # as httpx sends it
        finally:
            for proc in procs:
                proc.kill()
                proc.wait()
            for worker_id in ids:
                monitor.release("llm", worker_id)
    return times, size


def spawn_to_stream(target: str, samples: int) -> list[float]:
    """Milliseconds from a hive's spawn answer to the worker's first sighting on queen's UI stream."""
    config = SuiteConfig.from_userdata({"target": target, "heartbeat_interval": "30"}, Path.cwd())
    cleanup = CleanupStack("bench telemetry")
    latencies = []
    try:
        with tempfile.TemporaryDirectory(prefix="rbee-bench-") as logs:
            stack = Stack(config, RunIdentity.new().scenario(1), Path(logs), cleanup)
            stack.start(hives=1, heartbeat_interval=30.0)  # periodic beats out of the way: pushes only
            ui = stack.telemetry.watch_heartbeats(cleanup)
            hive = stack.hive("hive-1")
            for _ in range(samples):
                answer = hive.spawn("tinyllama")
                answered = time.monotonic()
                worker_id = answer.json()["worker_id"]

                def seen(wid: str = worker_id) -> float | None:
                    for event in ui.named("heartbeat"):
                        if any(w["worker_id"] == wid for w in event.json()["workers"]):
                            return event.at
                    return None

                at = eventually(seen, 10, f"{worker_id} on the UI stream")
                latencies.append(max(0.0, at - answered) * 1000)
                eventually(lambda wid=worker_id: hive.worker(wid)["state"] == "ready", 30, "worker ready")
                hive.stop_worker(worker_id)
    finally:
        cleanup.run()
    return latencies


def main() -> int:
    parser = argparse.ArgumentParser(description="Telemetry benchmarks (figures, not tests).")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--target", default="local", choices=["local", "docker"])
    args = parser.parse_args()
    if shutil.which("sleep") is None:
        sys.exit("bench: needs the sleep program")
    sweep()
    ten, _ = collection(10, args.runs)
    hundred, size = collection(100, args.runs)
    latencies = spawn_to_stream(args.target, max(20, args.runs))
    print(header())
    print(row("collect, 10 workers", ten, "ms", "≤ 5 ms (upstream < 10 ms)"))
    print(row("collect, 100 workers", hundred, "ms", "≤ 100 ms (upstream < 1 s)"))
    print(row("heartbeat payload, 100 workers", [size / 1024], "KiB", "≤ 30 KB (upstream < 100 KB)"))
    print(row(f"spawn → UI stream p50 ({args.target})", [percentile(latencies, 50)], "ms", ""))
    print(row(f"spawn → UI stream p95 ({args.target})", [percentile(latencies, 95)], "ms",
              "p95 ≤ 100 ms (upstream < 100 ms)"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
