"""What a stack reports of itself, and what the kernel says of its processes: UI stream, telemetry, memory."""

from __future__ import annotations

import contextlib
import time
from typing import Any

import psutil

from rbee_bdd.clients.sse import HeartbeatStream
from rbee_bdd.core.cleanup import CleanupStack
from rbee_bdd.stack.facets.base import Facet


class StackTelemetry(Facet):
    """Queen's UI stream, a hive's telemetry, and the daemons' memory as the kernel counts it."""

    def watch_heartbeats(self, cleanup: CleanupStack) -> HeartbeatStream:
        """Subscribe to queen's UI stream; the subscription ends with the scenario."""
        stream = HeartbeatStream(self.stack.queen().url + "/v1/heartbeats/stream")
        cleanup.push("close the heartbeat stream", stream.close)
        return stream.start()

    def worker(self, hive: str, worker_id: str) -> dict[str, Any]:
        """The worker's ProcessStats in a collection the hive makes now (``GET /v1/telemetry``)."""
        rows = [p for p in self.stack.hive(hive).telemetry()["processes"] if p.get("instance") == worker_id]
        assert len(rows) == 1, f"{hive}'s telemetry should hold {worker_id} once: {rows}"
        return dict(rows[0])

    def daemon_memory(self) -> dict[str, int]:
        """Resident memory (bytes) of queen, each hive and each worker process, by name.

        Not counted: the container's init, and the nvidia-smi a hive runs every couple of seconds
        (7–9 MiB each while it lives): caught running in one reading and not the other, it looked
        like 16+ MiB of growth of the hive."""
        memory: dict[str, int] = {}
        for name, node in self.stack.daemon_nodes():
            for row in node.processes():
                if "docker-init" in row.command or "nvidia-smi" in row.command:
                    continue
                key = row.worker_id or name
                with contextlib.suppress(psutil.Error):
                    memory[key] = memory.get(key, 0) + psutil.Process(row.pid).memory_info().rss
        return memory

    @staticmethod
    def kernel_view(pid: int) -> dict[str, float]:
        """What the kernel says of a process (host pid): resident MiB and seconds since it started."""
        process = psutil.Process(pid)
        with process.oneshot():
            return {"rss_mb": process.memory_info().rss / 2**20, "uptime_s": time.time() - process.create_time()}
