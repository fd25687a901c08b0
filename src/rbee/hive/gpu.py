"""GPU telemetry from nvidia-smi, under a hard timeout: missing, hung or garbled → zeros and a flag."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from dataclasses import dataclass, field

GPU_QUERY = ["--query-gpu=uuid,utilization.gpu,memory.used,memory.total", "--format=csv,noheader,nounits"]
APPS_QUERY = ["--query-compute-apps=pid,gpu_uuid,used_memory", "--format=csv,noheader,nounits"]


@dataclass(frozen=True)
class GpuUsage:
    util_pct: float
    vram_mb: float
    total_vram_mb: float


@dataclass
class GpuReading:
    """Per-pid GPU usage; ``status`` is "ok" or why the numbers are zeros."""

    status: str = "ok"
    gpus: int = 0
    by_pid: dict[int, GpuUsage] = field(default_factory=dict)
    free_mb: list[float] = field(default_factory=list)  # per GPU, in nvidia-smi's order

    def usage(self, pid: int) -> GpuUsage:
        return self.by_pid.get(pid, GpuUsage(0.0, 0.0, 0.0))


def _run(command: list[str], timeout_s: float) -> str:
    """Run *command*; kill its whole process group if it outlives *timeout_s*."""
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
                          text=True, start_new_session=True) as proc:
        try:
            out, _ = proc.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            raise
    if proc.returncode != 0:
        raise ValueError(f"exit code {proc.returncode}")
    return out


def _rows(text: str, columns: int) -> list[list[str]]:
    rows = [[cell.strip() for cell in line.split(",")] for line in text.splitlines() if line.strip()]
    if any(len(row) != columns for row in rows):
        raise ValueError("unexpected CSV shape")
    return rows


def read_gpus(program: str = "nvidia-smi", timeout_s: float = 1.0) -> GpuReading:
    """Ask nvidia-smi which pids use which GPU, how much memory, how busy."""
    try:
        rows = _rows(_run([program, *GPU_QUERY], timeout_s), 4)
        gpus = {uuid: (float(util), float(total)) for uuid, util, _used, total in rows}
        free_mb = [float(total) - float(used) for _uuid, _util, used, total in rows]
        apps = _rows(_run([program, *APPS_QUERY], timeout_s), 3)
        by_pid: dict[int, GpuUsage] = {}
        for pid, uuid, used in apps:
            util, total = gpus.get(uuid, (0.0, 0.0))
            by_pid[int(pid)] = GpuUsage(util, float(used), total)
    except FileNotFoundError:
        return GpuReading(status=f"{program} not found")
    except subprocess.TimeoutExpired:
        return GpuReading(status=f"{program} did not answer within {timeout_s:g} s")
    except (ValueError, OSError) as exc:
        return GpuReading(status=f"{program} output unusable: {exc}")
    return GpuReading(gpus=len(gpus), by_pid=by_pid, free_mb=free_mb)
