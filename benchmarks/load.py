"""``make bench-load``: 100 and then 1000 concurrent clients against one local stack.

Every client submits one job through queen and holds its stream open until the job's
terminal marker: the jobs beyond the workers' capacity wait their turn in queen's queue. The
clients run in ``--processes`` client processes (benchmarks/generator.py says why), which report
their own CPU and whether they were saturated. Each load is run ``--runs`` times; the table gives
the median of the runs for each figure: time to queen's answer to the POST, to the first token
and to the end (p50/p95/p99), throughput (jobs/s, tokens/s), errors, and the peak RSS, CPU (share
of one core over the load) and peak open file descriptors of queen, the hive and its workers
(together), sampled from /proc by psutil every 0.2 s, beside the generator's CPU. A histogram of
each load's latencies (all runs) is saved as a PNG beside the table; with ``--profile``, py-spy
records queen during the largest load's first run as a flame graph (queen-<N>-clients.svg).

Usage: python -m benchmarks.load [--clients 100 1000] [--runs 3] [--tokens 16] [--workers 2]
       [--processes 4] [--profile] [--reports reports/bench-load]
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from benchmarks.generator import Generated, Generator
from benchmarks.table import percentile
from rbee_bdd.clients.async_jobs import JobOutcome
from rbee_bdd.clients.http import with_credentials
from rbee_bdd.core.cleanup import cleaned_up
from rbee_bdd.core.identity import RunIdentity
from rbee_bdd.host.sweep import sweep
from rbee_bdd.stack.config import SuiteConfig
from rbee_bdd.stack.stack import Stack

MODEL = "tinyllama"
SAMPLE_S = 0.2
TARGETS = {"errors": "0", "accepted p99": "<= 1000 ms", "jobs/s": ">= 90 % of the smallest load's"}


@dataclass
class Usage:
    """One group of processes' resources over a load: peaks (summed over the group), CPU seconds used."""

    rss_peak_mb: float = 0.0
    fds_peak: int = 0
    cpu_s: float = 0.0
    cpu_timeline: list[tuple[float, float]] = field(default_factory=list)  # (time.monotonic(), CPU s so far)

    def cpu_between(self, start: float, end: float) -> float:
        """CPU seconds used from *start* to *end*, from the samples nearest them (0.2 s apart)."""
        def at(moment: float) -> float:
            return min(self.cpu_timeline, key=lambda sample: abs(sample[0] - moment))[1]
        return at(end) - at(start) if self.cpu_timeline else 0.0


class Sampler:
    """Samples each named group of processes (RSS, open fds) until stopped; CPU from the times at both ends."""

    def __init__(self, groups: dict[str, list[int]]) -> None:
        self.groups = {name: [psutil.Process(pid) for pid in pids] for name, pids in groups.items()}
        self.usage = {name: Usage() for name in groups}
        self._last_cpu: dict[int, float] = {}
        self.cpu_start = {name: self._cpu(group) for name, group in self.groups.items()}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sampler", daemon=True)

    def _cpu(self, group: list[psutil.Process]) -> float:
        """The group's CPU seconds so far; a process that has ended counts with its last reading."""
        total = 0.0
        for process in group:
            with contextlib.suppress(psutil.NoSuchProcess):
                times = process.cpu_times()
                self._last_cpu[process.pid] = float(times.user + times.system)
            total += self._last_cpu.get(process.pid, 0.0)
        return total

    def _sample(self) -> None:
        for name, group in self.groups.items():
            usage = self.usage[name]
            usage.cpu_timeline.append((time.monotonic(), self._cpu(group)))
            rss = fds = 0
            for process in group:
                with contextlib.suppress(psutil.NoSuchProcess):
                    rss, fds = rss + process.memory_info().rss, fds + process.num_fds()
            usage.rss_peak_mb = max(usage.rss_peak_mb, rss / 2**20)
            usage.fds_peak = max(usage.fds_peak, fds)

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
        for name, group in self.groups.items():
            self.usage[name].cpu_s = self._cpu(group) - self.cpu_start[name]


@dataclass
class LoadRun:
    """One load of *clients* concurrent jobs: every outcome, the wall time, each daemon's usage."""

    clients: int
    generated: Generated
    usage: dict[str, Usage] = field(default_factory=dict)

    @property
    def outcomes(self) -> list[JobOutcome]:
        return self.generated.outcomes

    @property
    def seconds(self) -> float:
        return self.generated.seconds

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
        result.update(self.burst())
        result["generator CPU %"] = 100 * self.generated.cpu_s / self.seconds
        result["generator busiest %"] = 100 * max(p.busy for p in self.generated.processes)
        result["generator loop late ms"] = max(p.late_ms for p in self.generated.processes)
        result["generator saturated"] = float(self.generated.saturated)
        return result


    def burst(self) -> dict[str, float]:
        """Queen while it takes the load in (from the start to the last answer to a POST): its share of
        a core and its CPU per accepted job. A share near 100 % says the burst is queen-bound: one event
        loop cannot answer N clients sooner than N times that CPU."""
        start = self.generated.start_at
        answered = [o.accepted for o in self.outcomes if o.accepted is not None]
        if not answered or max(answered) - start < 2 * SAMPLE_S:
            return {"queen CPU % in the burst": float("nan"), "queen CPU ms per accept": float("nan")}
        end = max(answered)
        used = self.usage["queen"].cpu_between(start, end)
        return {"queen CPU % in the burst": 100 * used / (end - start),
                "queen CPU ms per accept": 1000 * used / len(answered)}


class Profile:
    """py-spy recording one process into a flame graph SVG, for as long as the block runs."""

    def __init__(self, pid: int, svg: Path) -> None:
        self.pid, self.svg = pid, svg
        self._process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Profile:
        spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
        self.svg.parent.mkdir(parents=True, exist_ok=True)
        self._process = subprocess.Popen([spy, "record", "--pid", str(self.pid), "--rate", "200",
                                          "--output", str(self.svg), "--format", "flamegraph", "--nonblocking"],
                                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        return self

    def __exit__(self, *_: object) -> None:
        assert self._process is not None
        self._process.send_signal(signal.SIGINT)  # py-spy writes its SVG on SIGINT
        err = self._process.communicate(timeout=60)[1]
        print(f"bench-load: profile of queen {self.svg}" if self.svg.exists()
              else f"bench-load: py-spy wrote no profile: {err.decode(errors='replace')[-300:]}", flush=True)


class Bench:
    """One local stack (queen, one hive, warm workers) and the client processes driving it."""

    def __init__(self, stack: Stack, generator: Generator, tokens: int) -> None:
        self.stack, self.generator, self.tokens = stack, generator, tokens
        self.queen_url = stack.queen().url
        self.token = with_credentials(self.queen_url, None).get("Authorization", "").removeprefix("Bearer ")

    def groups(self) -> dict[str, list[int]]:
        hive = self.stack.node("hive-1").daemon_pid()
        workers = [p.pid for p in psutil.Process(hive).children(recursive=True)
                   if any("worker" in part for part in p.cmdline()[:2])]  # not the hive's nvidia-smi and helpers
        return {"queen": [self.stack.node("queen").daemon_pid()], "hive": [hive], "workers": workers}

    def measure(self, clients: int, seed: int, profile: Path | None = None) -> LoadRun:
        groups = self.groups()
        with Sampler(groups) as sampler:
            if profile is None:
                generated = self.generator.load(self.queen_url, self.token, MODEL, clients, self.tokens, seed)
            else:
                with Profile(groups["queen"][0], profile):
                    generated = self.generator.load(self.queen_url, self.token, MODEL, clients, self.tokens, seed)
        return LoadRun(clients, generated, sampler.usage)


def table(runs: dict[int, list[LoadRun]]) -> str:
    counts = sorted(runs)
    names = list(runs[counts[0]][0].figures())
    lines = [f"\n{'figure: median (min-max) of runs':32}" + "".join(f"{f'{c} clients':>26}" for c in counts)
             + "  target"]
    for name in names:
        cells = [f"{statistics.median(got):.1f} ({min(got):.1f}-{max(got):.1f})"
                 for got in ([r.figures()[name] for r in runs[c]] for c in counts)]
        unit = " ms" if name.startswith(("accepted", "first", "latency")) else ""
        target = next((t for key, t in TARGETS.items() if name.startswith(key)), "")
        lines.append(f"{name + unit:32}" + "".join(f"{cell:>26}" for cell in cells) + f"  {target}")
    base = statistics.median(r.figures()["jobs/s"] for r in runs[counts[0]])
    for count in counts[1:]:
        rate = statistics.median(r.figures()["jobs/s"] for r in runs[count])
        lines.append(f"jobs/s at {count} clients: {100 * rate / base:.0f} % of {counts[0]} clients' (target >= 90 %)")
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


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--clients", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--tokens", type=int, default=16, help="max_tokens of every job")
    parser.add_argument("--workers", type=int, default=2, help="the hive's --max-workers")
    parser.add_argument("--processes", type=int, default=4, help="client processes the jobs are split across")
    parser.add_argument("--profile", action="store_true", help="py-spy records queen during the largest load")
    parser.add_argument("--reports", type=Path, default=Path("reports/bench-load"))
    return parser.parse_args()


def run_loads(args: argparse.Namespace) -> dict[int, list[LoadRun]]:
    config = SuiteConfig.from_userdata({"target": "local"}, Path.cwd())
    runs: dict[int, list[LoadRun]] = {c: [] for c in args.clients}
    logs = args.reports / "logs"  # the daemons' logs stay for reading after the run
    shutil.rmtree(logs, ignore_errors=True)
    with cleaned_up("bench-load") as cleanup, Generator(args.processes) as generator:
        stack = Stack(config, RunIdentity.new().scenario(1), logs, cleanup)
        # queen's staleness bound as deployed (not the suite's 3 s for fault scenarios): during a 1000-client
        # burst on 2 cores queen answers a heartbeat seconds late, and the hive is not gone
        stack.start(hives=1, hive_args=("--max-workers", str(args.workers)), queen_args=("--hive-stale-after", "30"))
        bench = Bench(stack, generator, args.tokens)
        warm = bench.measure(4 * args.workers, 0)  # the workers spawn and load; the client processes import
        print(f"bench-load: local stack up, {len(stack.processes.workers())} warm worker(s) "
              f"({len(bench.groups()['workers'])} process(es) sampled), {args.processes} "
              f"client processes ({len(warm.errors)} warm-up error(s))", flush=True)
        for run in range(1, args.runs + 1):
            for clients in args.clients:
                profile = (args.reports / f"queen-{clients}-clients.svg"
                           if args.profile and run == 1 and clients == max(args.clients) else None)
                done = bench.measure(clients, 1000 * run, profile)
                runs[clients].append(done)
                print(f"bench-load: run {run}/{args.runs}, {clients} clients: {done.seconds:.1f} s, "
                      f"{len(done.errors)} error(s), generator saturated: "
                      f"{'yes' if done.generated.saturated else 'no'}", flush=True)
    return runs


def main() -> int:
    args = arguments()
    sweep()
    try:
        runs = run_loads(args)
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
