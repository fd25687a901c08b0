"""``make bench-flow``: what queen adds to a job, and how the stack holds a steady load.

1. Routing overhead: first-token latency of a job through queen minus the same job sent
   straight to the worker, on one warm worker, alternating, N times each.
2. Load: R requests spread evenly over S seconds from C concurrent clients through queen
   (tinyllama, 8 tokens, a hive with up to 2 workers): latency to the first token and to
   [DONE] at p50/p95/p99, errors, throughput.
Usage: python -m benchmarks.flow [--target local] [--overhead-runs 200] [--requests 1000]
       [--seconds 60] [--clients 20] [--transport plain|tls]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.table import percentile
from rbee_bdd.clients.api import infer_body
from rbee_bdd.clients.http import request
from rbee_bdd.clients.sse import JobStream
from rbee_bdd.core.cleanup import cleaned_up
from rbee_bdd.core.identity import RunIdentity
from rbee_bdd.host.sweep import sweep
from rbee_bdd.stack.config import SuiteConfig
from rbee_bdd.stack.stack import Stack

MODEL = "tinyllama"
TOKENS = 8
OVERHEAD_P99_TARGET_MS = 20.0


def read_job(stream_url: str, started: float) -> tuple[float, float]:
    """Read a job's stream to its end: (seconds to the first token, seconds to the end)."""
    stream = JobStream(stream_url).start()
    if not stream.wait_ended(120) or stream.terminal != "[DONE]":
        raise RuntimeError(f"{stream_url}: {stream.summary()}")
    first = stream.first_token_after(started)
    if first is None:
        raise RuntimeError(f"{stream_url}: no token")
    return first, stream.events[-1].at - started


def via_queen(queen_url: str, seed: int) -> tuple[float, float]:
    started = time.monotonic()
    created = request("POST", f"{queen_url}/v1/jobs", json=infer_body(MODEL, max_tokens=TOKENS, seed=seed)).json()
    return read_job(queen_url + created["sse_url"], started)


def direct(worker_url: str, seed: int) -> tuple[float, float]:
    started = time.monotonic()
    body = {"job_id": f"bench-{uuid.uuid4().hex[:12]}", "prompt": "Hello bee", "max_tokens": TOKENS,
            "temperature": 0.7, "seed": seed}
    created = request("POST", f"{worker_url}/v1/jobs", json=body).json()
    return read_job(worker_url + created["sse_url"], started)


def overhead(stack: Stack, runs: int) -> dict[str, list[float]]:
    queen_url = stack.queen().url
    via_queen(queen_url, 0)  # the warm worker every later job reuses
    (row,) = stack.queen().workers(model=MODEL)
    worker_url = stack.worker(row["hive_id"], row["worker_id"]).url
    figures: dict[str, list[float]] = {"direct": [], "queen": []}
    for index in range(runs):
        figures["direct"].append(direct(worker_url, index)[0] * 1000)
        figures["queen"].append(via_queen(queen_url, index)[0] * 1000)
        if (index + 1) % 50 == 0:
            print(f"bench-flow: overhead {index + 1}/{runs}", flush=True)
    return figures


@dataclass
class LoadResult:
    first_ms: list[float] = field(default_factory=list)
    done_ms: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def load(stack: Stack, requests: int, seconds: float, clients: int) -> tuple[LoadResult, float]:
    """*requests* jobs, the k-th due at k * seconds / requests, taken by *clients* threads."""
    queen_url = stack.queen().url
    result = LoadResult()
    due = iter(range(requests))
    due_lock = threading.Lock()
    start = time.monotonic() + 0.5
    pace = threading.Event()  # never set: its wait() spaces the requests out

    def client() -> None:
        while True:
            with due_lock:
                index = next(due, None)
            if index is None:
                return
            pace.wait(max(0.0, start + index * seconds / requests - time.monotonic()))
            try:
                first, done = via_queen(queen_url, index)
            except Exception as exc:  # every failure is counted and shown
                with result.lock:
                    result.errors.append(f"{type(exc).__name__}: {exc}")
                continue
            with result.lock:
                result.first_ms.append(first * 1000)
                result.done_ms.append(done * 1000)
            if (index + 1) % 200 == 0:
                print(f"bench-flow: load {index + 1}/{requests}", flush=True)

    threads = [threading.Thread(target=client, name=f"client-{i}") for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return result, time.monotonic() - start


def pcts(values: list[float]) -> str:
    if not values:
        return "-"
    return " ".join(f"{percentile(values, p):8.1f}" for p in (50, 95, 99))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--target", default="local", choices=("local", "docker"))
    parser.add_argument("--overhead-runs", type=int, default=200)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--transport", default="plain", choices=("plain", "tls"),
                        help="plain HTTP, or TLS on every hop (a CA made for the run)")
    args = parser.parse_args()
    sweep()
    config = SuiteConfig.from_userdata({"target": args.target}, Path.cwd())
    try:
        with cleaned_up("bench-flow") as cleanup, tempfile.TemporaryDirectory(prefix="rbee-bench-") as logs:
            stack = Stack(config, RunIdentity.new().scenario(1), Path(logs), cleanup, tls=args.transport == "tls")
            stack.start(hives=1, hive_args=("--max-workers", "2"))
            print(f"bench-flow: {args.target} stack up ({args.transport}); measuring routing overhead", flush=True)
            figures = overhead(stack, args.overhead_runs)
            print(f"bench-flow: {args.requests} requests over {args.seconds:g} s from {args.clients} clients",
                  flush=True)
            result, elapsed = load(stack, args.requests, args.seconds, args.clients)
    except KeyboardInterrupt:
        print("bench-flow: interrupted", file=sys.stderr)
        return 130
    queen_ms, direct_ms = figures["queen"], figures["direct"]
    print(f"\nfirst token, ms ({args.overhead_runs} each, {args.target}, {args.transport})   p50      p95      p99")
    print(f"{'straight to the worker':38} {pcts(direct_ms)}")
    print(f"{'through queen':38} {pcts(queen_ms)}")
    over = [percentile(queen_ms, p) - percentile(direct_ms, p) for p in (50, 95, 99)]
    print(f"{'queen overhead':38} " + " ".join(f"{v:8.1f}" for v in over)
          + f"   target p99 ≤ {OVERHEAD_P99_TARGET_MS:.0f} ms")
    done = len(result.done_ms)
    print(f"\nload: {args.requests} requests, {args.clients} clients, {elapsed:.1f} s"
          f"   p50      p95      p99")
    print(f"{'first token, ms':38} {pcts(result.first_ms)}")
    print(f"{'whole job ([DONE]), ms':38} {pcts(result.done_ms)}")
    print(f"completed {done}, errors {len(result.errors)} (target 0), throughput {done / elapsed:.1f} jobs/s, "
          f"mean job {statistics.fmean(result.done_ms) if done else 0:.1f} ms")
    for error in result.errors[:5]:
        print(f"  error: {error}")
    return 1 if result.errors else 0


if __name__ == "__main__":
    sys.exit(main())
