"""``make bench-load``: 100 and then 1000 concurrent clients against one local stack.

Every client submits one job through queen and holds its stream open until the job's
terminal marker: the jobs beyond the workers' capacity wait their turn in queen's queue.
Each load is run ``--runs`` times; the table gives the median of the runs for each figure:
time to queen's answer to the POST, to the first token and to the end (p50/p95/p99), throughput (jobs/s, tokens/s),
errors, and queen's and the hive's peak RSS, CPU (share of one core over the load) and peak
open file descriptors, sampled from /proc by psutil every 0.2 s. A histogram of each load's
latencies (all runs) is saved as a PNG beside the table.

Usage: python -m benchmarks.load [--clients 100 1000] [--runs 3] [--tokens 16] [--workers 2]
       [--reports reports/bench-load]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from benchmarks.table import percentile
from rbee_bdd.clients.api import infer_body
from rbee_bdd.clients.async_jobs import JobOutcome, async_client, run_job
from rbee_bdd.core.cleanup import cleaned_up
from rbee_bdd.core.identity import RunIdentity
from rbee_bdd.host.sweep import sweep
from rbee_bdd.stack.config import SuiteConfig
from rbee_bdd.stack.stack import Stack

MODEL = "tinyllama"
SAMPLE_S = 0.2


@dataclass
class Usage:
    """One daemon's resources over a load: peaks, and CPU seconds used."""

    rss_peak_mb: float = 0.0
    fds_peak: int = 0
    cpu_s: float = 0.0


class Sampler:
    """Samples each named process (RSS, open fds) until stopped; CPU from the times at both ends."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.processes = {name: psutil.Process(pid) for name, pid in pids.items()}
        self.usage = {name: Usage() for name in pids}
        self.cpu_start = {name: self._cpu(p) for name, p in self.processes.items()}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sampler", daemon=True)

    @staticmethod
    def _cpu(process: psutil.Process) -> float:
        times = process.cpu_times()
        return float(times.user + times.system)

    def _sample(self) -> None:
        for name, process in self.processes.items():
            usage = self.usage[name]
            usage.rss_peak_mb = max(usage.rss_peak_mb, process.memory_info().rss / 2**20)
            usage.fds_peak = max(usage.fds_peak, process.num_fds())

    def _run(self) -> None:
        while not self._stop.wait(SAMPLE_S):
            self._sample()

    def __enter__(self) -> Sampler:
        self._sample()
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()
        for name, process in self.processes.items():
            self.usage[name].cpu_s = self._cpu(process) - self.cpu_start[name]


@dataclass
class LoadRun:
    """One load of *clients* concurrent jobs: every outcome, the wall time, each daemon's usage."""

    clients: int
    outcomes: list[JobOutcome]
    seconds: float
    usage: dict[str, Usage] = field(default_factory=dict)

    def values(self, what: str) -> list[float]:
        """Milliseconds to queen's answer ("accepted"), to the first token ("first") or to the marker
        ("latency"), of the completed jobs."""
        measure = {"accepted": JobOutcome.accepted_s, "first": JobOutcome.first_token_s,
                   "latency": JobOutcome.latency_s}[what]
        got = [measure(o) for o in self.outcomes if o.done]
        return [v * 1000 for v in got if v is not None]

    @property
    def errors(self) -> list[str]:
        return [o.error or o.terminal for o in self.outcomes if not o.done]

    def figures(self) -> dict[str, float]:
        done = [o for o in self.outcomes if o.done]
        result = {f"{what} p{p}": percentile(self.values(what), p) if done else float("nan")
                  for what in ("accepted", "first", "latency") for p in (50, 95, 99)}
        result["jobs/s"] = len(done) / self.seconds
        result["tokens/s"] = sum(o.tokens for o in done) / self.seconds
        result["errors"] = float(len(self.errors))
        for name, usage in self.usage.items():
            result[f"{name} RSS peak MiB"] = usage.rss_peak_mb
            result[f"{name} CPU %"] = 100 * usage.cpu_s / self.seconds
            result[f"{name} fds peak"] = float(usage.fds_peak)
        return result


async def load(queen_url: str, clients: int, tokens: int, first_seed: int) -> tuple[list[JobOutcome], float]:
    """*clients* jobs at once, each with its own stream; every outcome and the wall time."""
    async with async_client(clients + 8) as session:
        started = time.monotonic()
        bodies = [infer_body(MODEL, max_tokens=tokens, seed=first_seed + i) for i in range(clients)]
        outcomes = await asyncio.gather(*(run_job(session, queen_url, body) for body in bodies))
        return list(outcomes), time.monotonic() - started


def measure(stack: Stack, clients: int, tokens: int, seed: int) -> LoadRun:
    pids = {"queen": stack.node("queen").daemon_pid(), "hive": stack.node("hive-1").daemon_pid()}
    with Sampler(pids) as sampler:
        outcomes, seconds = asyncio.run(load(stack.queen().url, clients, tokens, seed))
    return LoadRun(clients, outcomes, seconds, sampler.usage)


def table(runs: dict[int, list[LoadRun]]) -> str:
    counts = sorted(runs)
    names = list(runs[counts[0]][0].figures())
    lines = [f"\n{'figure (median of runs)':28}" + "".join(f"{f'{c} clients':>16}" for c in counts)]
    for name in names:
        cells = [statistics.median(r.figures()[name] for r in runs[c]) for c in counts]
        unit = " ms" if name.startswith(("accepted", "first", "latency")) else ""
        lines.append(f"{name + unit:28}" + "".join(f"{cell:16.1f}" for cell in cells))
    return "\n".join(lines)


def histogram(runs: list[LoadRun], path: Path) -> None:
    """Time to first token and job latency of one load (every run), as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    for axis, what, title in ((axes[0], "first", "time to first token"), (axes[1], "latency", "job latency")):
        values = [v for run in runs for v in run.values(what)]
        axis.hist(values, bins=40, color="#d9a400")
        axis.set_title(f"{runs[0].clients} clients: {title}")
        axis.set_xlabel("ms")
        axis.set_ylabel("jobs")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--clients", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--tokens", type=int, default=16, help="max_tokens of every job")
    parser.add_argument("--workers", type=int, default=2, help="the hive's --max-workers")
    parser.add_argument("--reports", type=Path, default=Path("reports/bench-load"))
    args = parser.parse_args()
    sweep()
    config = SuiteConfig.from_userdata({"target": "local"}, Path.cwd())
    runs: dict[int, list[LoadRun]] = {c: [] for c in args.clients}
    try:
        with cleaned_up("bench-load") as cleanup, tempfile.TemporaryDirectory(prefix="rbee-bench-") as logs:
            stack = Stack(config, RunIdentity.new().scenario(1), Path(logs), cleanup)
            stack.start(hives=1, hive_args=("--max-workers", str(args.workers)))
            warm = measure(stack, 4 * args.workers, args.tokens, 0)  # the workers spawn and load their model
            print(f"bench-load: local stack up, {len(stack.processes.workers())} warm worker(s) "
                  f"({len(warm.errors)} warm-up error(s))", flush=True)
            for run in range(1, args.runs + 1):
                for clients in args.clients:
                    done = measure(stack, clients, args.tokens, 1000 * run)
                    runs[clients].append(done)
                    print(f"bench-load: run {run}/{args.runs}, {clients} clients: {done.seconds:.1f} s, "
                          f"{len(done.errors)} error(s)", flush=True)
    except KeyboardInterrupt:
        print("bench-load: interrupted", file=sys.stderr)
        return 130
    print(table(runs))
    args.reports.mkdir(parents=True, exist_ok=True)
    for clients, done in runs.items():
        path = args.reports / f"latency-{clients}-clients.png"
        histogram(done, path)
        print(f"bench-load: histogram {path}")
    errors = [e for done in runs.values() for run in done for e in run.errors]
    for error in sorted(set(errors))[:5]:
        print(f"  error: {error}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
