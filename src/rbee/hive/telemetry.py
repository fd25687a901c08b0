"""The hive's telemetry: ProcessMonitor stats for heartbeats, GPU readings polled on their own.

nvidia-smi is read by a background task, so one that hangs (up to its timeout) never
delays a heartbeat; heartbeats carry the latest reading and its status.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from rbee.common.protocol import PROTOCOL, software_version
from rbee.hive.gpu import GpuReading
from rbee.hive.monitor import Collection, ProcessMonitor
from rbee.hive.workers import Worker


def heartbeat_body(hive_id: str, url: str, models: list[str], capabilities: dict[str, Any],
                   workers: list[Worker], collection: Collection, state: str = "serving",
                   instance_id: str = "") -> dict[str, Any]:
    """The body of ``POST /v1/hive-heartbeat``; *state* is ``serving`` or ``draining``."""
    return {
        "hive_id": hive_id, "instance_id": instance_id, "url": url, "protocol": PROTOCOL,
        "version": software_version(), "state": state,
        "models": models, "capabilities": capabilities,
        "workers": [w.to_heartbeat() for w in workers],
        "processes": [s.to_dict() for s in collection.stats],
        "telemetry": {"gpu_status": collection.gpu_status, "skipped": collection.skipped},
    }


class Telemetry:
    def __init__(self, monitor: ProcessMonitor, gpu_interval_s: float) -> None:
        self.monitor = monitor
        self.gpu_interval_s = gpu_interval_s
        self.gpu = GpuReading(status="not read yet")
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._poll_gpus())

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _poll_gpus(self) -> None:
        while True:
            self.gpu = await asyncio.to_thread(self.monitor.read_gpus)
            await asyncio.sleep(self.gpu_interval_s)

    def collect(self) -> Collection:
        return self.monitor.collect(self.gpu)

    def capabilities(self) -> dict[str, Any]:
        tree = self.monitor.tree
        return {
            "platform": self.monitor.platform,
            "cgroups": {"enabled": tree is not None, "version": tree.version if tree else None,
                        "reason": self.monitor.reason, "degraded": tree is None},
            "gpu": {"gpus": self.gpu.gpus, "status": self.gpu.status},
        }
