"""Which device a new worker runs on: the preflight that refuses a model no GPU has room for.

The estimate is the model file's size plus a margin for the context and scratch buffers.
The reference worker is a CPU build of llama.cpp; on a GPU hive it is still placed (with
CUDA_VISIBLE_DEVICES) on the GPU the preflight chose, as a CUDA build would use it.
"""

from __future__ import annotations

from pathlib import Path

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
