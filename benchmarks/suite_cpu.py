"""``make bench-suite``: CPU-seconds per scenario on each target, split by process kind, from the kernel.

Runs a fixed sample of scenarios (``--tags``, default the 25 ``@p0`` inference ones) through the parallel runner
(``--jobs``, default 2) while the kernel's process accounting (acct(2)) is on: every process that ends
during the run leaves a record of its user and system time. Queen, hives, workers, the harness
(behave and the runner), rbee-keeper and the programs hives run (nvidia-smi, iptables, the
supervisor) all end within the run; the container engine does not, so its daemons' CPU is read
from /proc before and after (dockerd, containerd) and its short-lived helpers (runc, shims) come
from the accounting. Prints each run's wall time, how busy the CPUs were and any failed scenario (counted, not dropped),
then CPU-seconds per scenario by kind, median of ``--runs`` (min, max).
Needs root (acct(2) and CAP_SYS_PACCT). Usage: python -m benchmarks.suite_cpu [--runs 3] [--targets docker,local]
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import statistics
import struct
import subprocess
import sys
import tempfile
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import psutil

RECORD = struct.Struct("<bbHIIIIIIf8H16s")  # struct acct_v3 (linux/acct.h): 64 bytes
AHZ = 100  # comp_t ticks per second (USER_HZ)
ENGINE_DAEMONS = ("dockerd", "containerd")
KINDS = {  # the command name as the kernel keeps it (15 characters at most) → the kind
    "queen-rbee": "queen", "rbee-hive": "hive", "llm-worker-rbe": "worker", "llm-worker-rbee": "worker",
    "rbee-keeper": "keeper", "behave": "harness", "python": "harness", "python3": "harness",
    "nvidia-smi": "hive (nvidia-smi)", "hive-supervisor": "hive", "iptables": "harness (faults)",
    "ip": "harness (faults)", "nsenter": "harness (faults)", "mount": "harness (faults)",
    "runc": "engine", "containerd-shim": "engine", "docker-init": "engine", "containerd-shi": "engine",
    "docker-proxy": "engine", "fuse-overlayfs": "engine", "fusermount3": "engine", "exe": "engine",
}


def comp_t(value: int) -> float:
    """A comp_t (13-bit mantissa, 3-bit base-8 exponent) in seconds."""
    return ((value & 0x1FFF) << (3 * (value >> 13))) / AHZ


@dataclass(frozen=True)
class Ended:
    """One process the kernel accounted for when it ended."""

    pid: int
    ppid: int
    comm: str
    cpu_s: float


def records(path: Path) -> list[Ended]:
    """Every process the accounting file recorded."""
    data = path.read_bytes()
    found = []
    for offset in range(0, len(data) - RECORD.size + 1, RECORD.size):
        fields = RECORD.unpack_from(data, offset)
        if fields[1] != 3:  # ac_version: only acct_v3 records are read
            continue
        pid, ppid, utime, stime, comm = fields[6], fields[7], fields[10], fields[11], fields[18]
        found.append(Ended(pid, ppid, comm.split(b"\0", 1)[0].decode(errors="replace"), comp_t(utime) + comp_t(stime)))
    return found


def kind_of(ended: Ended, comm_of: dict[int, str]) -> str:
    """The kind a process's CPU counts for: by its name, or by its parent's (the hive's nvidia-smi is a
    Python script, which the kernel names after the interpreter once it has started)."""
    kind = KINDS.get(ended.comm)
    if kind is not None and kind != "harness":
        return kind
    if comm_of.get(ended.ppid) in ("rbee-hive", "hive-supervisor"):
        return "hive (nvidia-smi, helpers)"
    return kind or f"other: {ended.comm}"


def engine_cpu() -> float:
    """CPU-seconds the container engine's daemons have used so far."""
    total = 0.0
    for process in psutil.process_iter(["name"]):
        if process.info["name"] in ENGINE_DAEMONS:
            times = process.cpu_times()
            total += times.user + times.system
    return total


def accounted(path: Path) -> None:
    """Turn the kernel's process accounting on (into *path*) or, with None, off."""
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    if libc.acct(str(path).encode() if path else None) != 0:
        raise OSError(ctypes.get_errno(), f"acct({path}): {os.strerror(ctypes.get_errno())} (root is needed)")


def run_once(target: str, tags: str, jobs: int, work: Path) -> tuple[int, dict[str, float]]:
    """One run of the sample: (scenarios run, CPU-seconds by kind). A failed scenario is named, and counted."""
    pacct, reports = work / "pacct", work / "reports"
    pacct.write_bytes(b"")
    engine_before = engine_cpu()
    accounted(pacct)
    try:
        done = subprocess.run([sys.executable, "-m", "rbee_bdd.runner.parallel", "--jobs", str(jobs), "--reports",
                               str(reports), "--", "--tags", tags, "-D", f"target={target}",
                               "-D", f"reports_dir={reports}", "-f", "null"],
                              capture_output=True, text=True, check=False)
    finally:
        accounted(None)
    ran = [line for line in done.stdout.splitlines() if line.startswith(("parallel: done", "parallel: FAILED"))]
    print("\n".join(f"bench-suite: {line}" for line in ran), flush=True)  # wall time, busy CPUs, failures
    facts = [json.loads(line) for line in (reports / "facts.jsonl").read_text().splitlines()]
    if done.returncode != 0 and not facts:
        raise RuntimeError(f"the sample did not run on {target}:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    by_kind: dict[str, float] = defaultdict(float)
    ended = records(pacct)
    comm_of = {e.pid: e.comm for e in ended}
    for process in ended:
        by_kind[kind_of(process, comm_of)] += process.cpu_s
    if target == "docker":
        by_kind["engine"] += engine_cpu() - engine_before
    return sum(1 for f in facts if f["status"] in ("passed", "failed")), dict(by_kind)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.suite_cpu", description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--targets", default="docker,local")
    parser.add_argument("--jobs", type=int, default=2, help="behave processes at once, as make's JOBS")
    parser.add_argument("--tags", default="@integration and @p0 and @inference", help="the sample of scenarios")
    args = parser.parse_args(argv)
    for target in args.targets.split(","):
        per_run: list[dict[str, float]] = []
        for run in range(1, args.runs + 1):
            with tempfile.TemporaryDirectory(prefix="rbee-bench-suite-") as tmp:
                count, by_kind = run_once(target, args.tags, args.jobs, Path(tmp))
            per_scenario = {kind: seconds / count for kind, seconds in by_kind.items()}
            per_scenario["total"] = sum(by_kind.values()) / count
            per_run.append(per_scenario)
            print(f"bench-suite: {target} run {run}: {count} scenarios, {per_scenario['total']:.2f} CPU-s per "
                  "scenario", flush=True)
        kinds = sorted({kind for run in per_run for kind in run if kind != "total"},
                       key=lambda k: -statistics.median(run.get(k, 0.0) for run in per_run))
        named = [k for k in kinds if not k.startswith("other:")][:12]
        others = [k for k in kinds if k not in named]
        rest = "other" + (f" ({', '.join(k.removeprefix('other: ') for k in others[:4])}…)" if others else "")
        for run in per_run:
            run[rest] = sum(run.get(k, 0.0) for k in others)
        kinds = [*named, rest, "total"]
        print(f"\nCPU-seconds per scenario on {target} ({args.tags}), median of {args.runs} (min–max):")
        for kind in kinds:
            values = [run.get(kind, 0.0) for run in per_run]
            print(f"  {kind:24} {statistics.median(values):6.2f}  ({min(values):.2f}–{max(values):.2f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
