"""ProcessMonitor: spawns workers into their own cgroups and reports what each one uses.

Workers live in ``rbee.slice/{group}/{instance}``. Collection walks that tree (or, with no
cgroups, the pids the monitor was told about), reads CPU, memory and I/O as real deltas
between samples, and joins GPU usage from nvidia-smi. A dead or unreadable worker is
skipped and named in ``Collection.skipped``; it never fails the whole collection.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import psutil

from rbee.hive.cgroups import SLICE, Cgroup, CgroupError, CgroupTree, Limits, check_name, detect
from rbee.hive.gpu import GpuReading, read_gpus
from rbee.hive.procfs import ProcUsage, boot_time, read_cmdline, read_usage

MB = 1024 * 1024


class SpawnError(Exception):
    """A worker could not be started; nothing was left running."""


@dataclass(frozen=True)
class ProcessStats:
    pid: int
    group: str
    instance: str
    cpu_pct: float
    rss_mb: float
    io_r_mb_s: float
    io_w_mb_s: float
    uptime_s: float
    gpu_util_pct: float
    vram_mb: float
    total_vram_mb: float
    model: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Collection:
    stats: list[ProcessStats] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    gpu_status: str = "ok"


@dataclass
class _Sample:
    at: float
    cpu_ns: int
    read_bytes: int
    write_bytes: int


def model_of(cmdline: list[str]) -> str:
    """The model's name from a worker command line: the stem of ``--model PATH``."""
    for index, word in enumerate(cmdline):
        if word == "--model" and index + 1 < len(cmdline):
            return Path(cmdline[index + 1]).stem
        if word.startswith("--model="):
            return Path(word.partition("=")[2]).stem
    return ""


class ProcessMonitor:
    """Spawns into cgroups when it can; collects from the cgroup tree or the tracked pids."""

    def __init__(self, tree: CgroupTree | None = None, reason: str = "", nvidia_smi: str = "nvidia-smi",
                 nvidia_timeout_s: float = 1.0, platform: str | None = None) -> None:
        self.platform = platform or sys.platform
        self.tree = tree if self.platform == "linux" else None
        self.reason = reason if self.tree is None else ""
        if self.tree is None and not self.reason:
            self.reason = f"no cgroups on {self.platform}"
        self.nvidia_smi = nvidia_smi
        self.nvidia_timeout_s = nvidia_timeout_s
        self._tracked: dict[tuple[str, str], int] = {}
        self._samples: dict[int, _Sample] = {}
        self._cmdlines: dict[tuple[int, float], list[str]] = {}
        self._booted_at: float | None = None

    @classmethod
    def detect(cls, slice_name: str = SLICE, **kwargs: Any) -> ProcessMonitor:
        """A monitor on this machine's cgroups, or degraded with the reason."""
        check_name("slice", slice_name)
        found = detect(platform=kwargs.get("platform"), slice_name=slice_name)
        if isinstance(found, str):
            return cls(None, found, **kwargs)
        return cls(found, **kwargs)

    @property
    def cgroups_enabled(self) -> bool:
        return self.tree is not None

    # --- spawning ------------------------------------------------------------------
    def prepare(self, group: str, instance: str, limits: Limits) -> Callable[[], None] | None:
        """Create the worker's cgroup; returns the preexec function that joins it (None: no cgroups)."""
        check_name("group", group)
        check_name("instance", instance)
        if self.tree is None:
            return None
        cgroup = self.tree.create(group, instance, limits)
        return cgroup.join

    def track(self, group: str, instance: str, pid: int) -> None:
        """Remember a worker's pid (how workers are found when there are no cgroups)."""
        self._tracked[(group, instance)] = pid

    def oom_kills(self, group: str, instance: str) -> int | None:
        """How many of the instance's processes the kernel OOM-killed (None: no cgroup to ask)."""
        if self.tree is None:
            return None
        try:
            return self.tree.open(group, instance).oom_kills()
        except (CgroupError, OSError, ValueError):
            return None

    def kill_all(self, group: str, instance: str) -> None:
        """SIGKILL every process left in the instance's cgroup (none without cgroups)."""
        if self.tree is None:
            return
        with contextlib.suppress(CgroupError, OSError, ValueError):
            for pid in self.tree.open(group, instance).pids():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)

    def release(self, group: str, instance: str) -> None:
        """Forget a worker that exited and remove its cgroup."""
        self._tracked.pop((group, instance), None)
        if self.tree is not None:
            with contextlib.suppress(CgroupError):
                self.tree.open(group, instance).remove()

    def spawn(self, group: str, instance: str, argv: list[str], limits: Limits,
              **popen: Any) -> subprocess.Popen[bytes]:
        """Start *argv* inside ``{group}/{instance}`` with *limits*; SpawnError if it cannot start."""
        if not argv or shutil.which(argv[0]) is None:
            raise SpawnError(f"worker program {argv[0] if argv else '(none)'!r} not found")
        try:
            join = self.prepare(group, instance, limits)
        except CgroupError as exc:
            raise SpawnError(str(exc)) from None
        try:
            proc = subprocess.Popen(argv, preexec_fn=join, **popen)
        except (OSError, subprocess.SubprocessError) as exc:
            self.release(group, instance)
            raise SpawnError(f"cannot start {argv[0]}: {exc}") from None
        self.track(group, instance, proc.pid)
        return proc

    def clear_leftovers(self, keep: frozenset[str] = frozenset()) -> list[str]:
        """Kill what a previous hive left in the cgroup tree (it crashed), except the instances
        in *keep* (adopted), and remove those cgroups."""
        cleared: list[str] = []
        if self.tree is None:
            return cleared
        for cgroup in self.tree.walk():
            if cgroup.instance in keep:
                continue
            procs = []
            for pid in cgroup.pids():
                with contextlib.suppress(psutil.Error):
                    procs.append(psutil.Process(pid))
            for proc in procs:
                with contextlib.suppress(psutil.Error):
                    proc.kill()
            psutil.wait_procs(procs, timeout=5)
            with contextlib.suppress(CgroupError):
                cgroup.remove()
            cleared.append(f"{cgroup.group}/{cgroup.instance} ({len(procs)} process(es))")
        return cleared

    # --- collecting ------------------------------------------------------------------
    def _workers(self) -> list[tuple[str, str, list[int], Cgroup | None]]:
        if self.tree is not None:
            return [(c.group, c.instance, c.pids(), c) for c in self.tree.walk()]
        return [(g, i, [pid], None) for (g, i), pid in sorted(self._tracked.items())]

    def enumerate(self) -> list[tuple[str, str, list[int]]]:
        """(group, instance, pids) of every worker: from the cgroup tree, else the tracked pids."""
        return [(group, instance, pids) for group, instance, pids, _ in self._workers()]

    def read_gpus(self) -> GpuReading:
        return read_gpus(self.nvidia_smi, self.nvidia_timeout_s)

    def collect(self, gpu: GpuReading | None = None) -> Collection:
        """Stats of every worker; *gpu* is a reading taken elsewhere (None: ask nvidia-smi now)."""
        result = Collection()
        gpu = gpu if gpu is not None else self.read_gpus()
        result.gpu_status = gpu.status
        for group, instance, pids, cgroup in self._workers():
            try:
                result.stats.append(self._stats(group, instance, pids, cgroup, gpu))
            except (psutil.Error, OSError, ValueError) as exc:
                result.skipped.append(f"{group}/{instance}: {type(exc).__name__}: {exc}")
        live = {s.pid for s in result.stats}
        self._samples = {pid: s for pid, s in self._samples.items() if pid in live}
        self._cmdlines = {key: v for key, v in self._cmdlines.items() if key[0] in live}
        return result

    def _usage(self, pid: int) -> tuple[ProcUsage, list[str]]:
        """Usage and command line of *pid*: /proc on Linux (command line cached), psutil elsewhere."""
        if self.platform == "linux":
            if self._booted_at is None:
                self._booted_at = boot_time()
            usage = read_usage(pid, self._booted_at)
            key = (pid, usage.started_at)
            if key not in self._cmdlines:
                self._cmdlines[key] = read_cmdline(pid)
            return usage, self._cmdlines[key]
        proc = psutil.Process(pid)
        with proc.oneshot():
            times = proc.cpu_times()
            io = proc.io_counters() if hasattr(proc, "io_counters") else None
            usage = ProcUsage(proc.create_time(), times.user + times.system, proc.memory_info().rss,
                              io.read_chars if io else 0, io.write_chars if io else 0)
            return usage, proc.cmdline()

    def _stats(self, group: str, instance: str, pids: list[int], cgroup: Cgroup | None,
               gpu: GpuReading) -> ProcessStats:
        if not pids:
            raise ValueError("no process in the cgroup")
        pid = pids[0]
        usage, cmdline = self._usage(pid)
        now = time.monotonic()
        cpu_ns = cgroup.cpu_usage_ns() if cgroup is not None else int(usage.cpu_s * 1e9)
        sample = _Sample(now, cpu_ns, usage.read_bytes, usage.write_bytes)
        previous = self._samples.get(pid)
        self._samples[pid] = sample
        rss = usage.rss_bytes
        uptime = max(time.time() - usage.started_at, 1e-6)
        if previous is None or now <= previous.at:
            elapsed, base = uptime, _Sample(now - uptime, 0, 0, 0)  # first sample: lifetime average
        else:
            elapsed, base = now - previous.at, previous
        gpu_usage = gpu.usage(pid)
        return ProcessStats(
            pid=pid, group=group, instance=instance,
            cpu_pct=round(max(0.0, (cpu_ns - base.cpu_ns) / 1e9 / elapsed * 100), 1),
            rss_mb=round(rss / MB, 1),
            io_r_mb_s=round(max(0, sample.read_bytes - base.read_bytes) / MB / elapsed, 3),
            io_w_mb_s=round(max(0, sample.write_bytes - base.write_bytes) / MB / elapsed, 3),
            uptime_s=round(uptime, 1), gpu_util_pct=gpu_usage.util_pct, vram_mb=gpu_usage.vram_mb,
            total_vram_mb=gpu_usage.total_vram_mb, model=model_of(cmdline),
        )
