"""Where a new worker runs, and the preflights that refuse a model with no room: on the GPU, or in
the memory the worker may use (its cgroup limit, else what the machine has available).

The estimate is the model file's size plus a margin for the context and scratch buffers.
The reference worker is a CPU build of llama.cpp; on a GPU hive it is still placed (with
CUDA_VISIBLE_DEVICES) on the GPU the preflight chose, as a CUDA build would use it.
"""

from __future__ import annotations

from pathlib import Path

import psutil

from rbee.common.errors import RbeeError
from rbee.hive.gpu import GpuReading

MARGIN = 1.2  # model weights plus about a fifth for the KV cache and scratch buffers
MIB = 2**20


def needed_mb(model_path: Path) -> float:
    return model_path.stat().st_size * MARGIN / MIB


def choose_gpu(model: str, model_path: Path, reading: GpuReading) -> int:
    """The index of the GPU with the most free memory, if the model fits there; else 503."""
    if reading.status != "ok" or not reading.free_mb:
        raise RbeeError("DEVICE_UNAVAILABLE", f"cannot place {model} on a GPU: {reading.status or 'no GPU'}", 503)
    need = needed_mb(model_path)
    best = max(range(len(reading.free_mb)), key=lambda i: reading.free_mb[i])
    if reading.free_mb[best] < need:
        raise RbeeError("DEVICE_MEMORY_EXHAUSTED",
                        f"model {model} needs {need:.1f} MiB of GPU memory; the GPU with the most free "
                        f"(GPU {best}) has {reading.free_mb[best]:.1f} MiB", 503)
    return best


def check_memory(model: str, model_path: Path, limit_bytes: int | None) -> None:
    """507 INSUFFICIENT_MEMORY, naming both numbers, when the model cannot fit the worker's memory."""
    size = model_path.stat().st_size
    need = int(size * MARGIN)
    room, where = (limit_bytes, "its memory limit allows") if limit_bytes else \
        (psutil.virtual_memory().available, "this machine has available")
    if need > room:
        raise RbeeError("INSUFFICIENT_MEMORY", f"model {model} needs about {need} bytes ({size} on disk plus "
                        f"20 %), more than the {room} bytes {where}", 507)
