"""Bounded load on queen from the harness: heartbeats of a synthetic hive at a fixed rate."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from rbee_bdd.clients.http import client
from rbee_bdd.core.cleanup import CleanupStack


def synthetic_heartbeat(hive_id: str, workers: int, serial: int) -> dict[str, Any]:
    """A heartbeat of *workers* idle-looking workers of a model no request asks for."""
    processes = [{"pid": 10_000 + i, "group": "llm", "instance": f"{hive_id}-w{i}", "cpu_pct": 1.5,
                  "rss_mb": 120.0 + i, "io_r_mb_s": 0.0, "io_w_mb_s": 0.0, "uptime_s": float(serial),
                  "gpu_util_pct": 0.0, "vram_mb": 0.0, "total_vram_mb": 0.0, "model": "synthetic"}
                 for i in range(workers)]
    return {"hive_id": hive_id, "url": "http://127.0.0.1:9", "models": [],
            "workers": [{"worker_id": p["instance"], "model": "synthetic", "state": "starting", "pid": p["pid"]}
                        for p in processes],
            "processes": processes}


@dataclass
class HeartbeatFlood:
    """Posts synthetic heartbeats to queen at *rate* per second for at most *duration* seconds."""

    queen_url: str
    hive_id: str
    workers: int
    rate: float
    duration: float
    cluster_token: str = ""  # what a real hive authenticates with (empty: the stack runs without auth)
    sent: int = 0
    failures: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self, cleanup: CleanupStack) -> HeartbeatFlood:
        cleanup.push(f"stop the heartbeat flood of {self.hive_id}", self.stop)
        self._thread = threading.Thread(target=self._run, name=f"flood {self.hive_id}", daemon=True)
        self._thread.start()
        return self

    @property
    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.cluster_token}"} if self.cluster_token else {}

    def _run(self) -> None:
        end = time.monotonic() + self.duration
        with client(5.0) as session:
            while not self._stop.is_set() and time.monotonic() < end:
                started = time.monotonic()
                try:
                    session.post(f"{self.queen_url}/v1/hive-heartbeat", headers=self._headers,
                                 json=synthetic_heartbeat(self.hive_id, self.workers, self.sent)).raise_for_status()
                    self.sent += 1
                except httpx.HTTPError:
                    self.failures += 1
                self._stop.wait(max(0.0, 1 / self.rate - (time.monotonic() - started)))

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
