"""Queen's view of the hives and their workers, fed by heartbeats."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, Field

from rbee.common.protocol import PROTOCOL, PROTOCOL_PATTERN, UNVERSIONED, compatible
from rbee.common.validation import IDENTIFIER

# a hive's URL: scheme, host and port, nothing else (no path, user, query or whitespace)
HIVE_URL = r"^https?://(?:[A-Za-z0-9._-]+|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?/?$"


class WorkerInfo(BaseModel):
    worker_id: str = Field(pattern=IDENTIFIER)
    model: str
    port: int = Field(default=0, ge=0, le=65535)
    state: str
    error: str = ""


class ProcessStats(BaseModel):
    pid: int
    group: str
    instance: str
    cpu_pct: float = Field(ge=0)
    rss_mb: float = Field(ge=0)
    io_r_mb_s: float = Field(ge=0)
    io_w_mb_s: float = Field(ge=0)
    uptime_s: float = Field(ge=0)
    gpu_util_pct: float = Field(ge=0)
    vram_mb: float = Field(ge=0)
    total_vram_mb: float = Field(ge=0)
    model: str


class HiveHeartbeat(BaseModel):
    hive_id: str = Field(pattern=IDENTIFIER)
    instance_id: str = Field(default="", pattern=r"^([0-9a-f]{16})?$",
                             description="the hive's own id, kept across its restarts ('': not told)")
    url: str = Field(pattern=HIVE_URL, max_length=300)
    protocol: str = Field(default=UNVERSIONED, pattern=PROTOCOL_PATTERN)
    version: str = Field(default="unknown", max_length=100)
    state: Literal["serving", "draining"] = "serving"
    models: list[str] = Field(default_factory=list)
    capabilities: dict[str, Any] = Field(default_factory=dict)
    workers: list[WorkerInfo] = Field(default_factory=list)
    processes: list[ProcessStats] = Field(default_factory=list)
    telemetry: dict[str, Any] = Field(default_factory=dict)


@dataclass
class HiveEntry:
    heartbeat: HiveHeartbeat
    last_seen: float = field(default_factory=lambda: time.monotonic())  # read at record time (tests move the clock)
    reported_stale: bool = False

    def stats(self, worker_id: str) -> dict[str, Any]:
        for process in self.heartbeat.processes:
            if process.instance == worker_id:
                return process.model_dump(exclude={"instance", "model", "group"})
        return {}


def worker_url(hive_url: str, port: int) -> str:
    """A worker listens on its hive's host: the hive's URL with the worker's port."""
    parts = urlsplit(hive_url)
    return f"{parts.scheme}://{parts.hostname}:{port}"


class Pulse:
    """Wakes every waiter each time something changes (sync to fire, async to wait)."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def fire(self) -> None:
        self._event.set()
        self._event = asyncio.Event()

    async def wait(self, timeout: float) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):  # no task per wait, as wait_for would make
                await self._event.wait()


class HiveIdConflict(Exception):
    """A heartbeat claims a hive id another live hive instance holds."""

    def __init__(self, hive_id: str, holder_url: str, silent_s: float, stale_after_s: float) -> None:
        super().__init__(f"hive id {hive_id} is held by another live hive (at {holder_url}, heard {silent_s:.1f} s "
                         f"ago): a hive may take it over once that one has been silent for {stale_after_s:g} s")


class Registry:
    """Hives and workers as their latest heartbeats describe them, plus queen's reservations."""

    def __init__(self, stale_after_s: float, remove_after_s: float) -> None:
        self.stale_after_s = stale_after_s
        self.remove_after_s = max(remove_after_s, stale_after_s)
        self._hives: dict[str, HiveEntry] = {}
        self._reserved: set[str] = set()
        self._given = itertools.count()  # the order in which hives were given jobs
        self._last_given: dict[str, int] = {}
        self.changed = Pulse()

    def record(self, heartbeat: HiveHeartbeat) -> None:
        """A hive's heartbeat replaces everything queen knew about that hive.

        HiveIdConflict, nothing changed, when another instance holds the hive id and has been heard
        within the staleness bound; once it has been silent past it, the new instance takes the id.
        """
        held = self._hives.get(heartbeat.hive_id)
        if held is not None and self.available(held) and held.heartbeat.instance_id and heartbeat.instance_id \
                and held.heartbeat.instance_id != heartbeat.instance_id:
            raise HiveIdConflict(heartbeat.hive_id, held.heartbeat.url, time.monotonic() - held.last_seen,
                                 self.stale_after_s)
        self._hives[heartbeat.hive_id] = HiveEntry(heartbeat)
        self.changed.fire()

    def available(self, entry: HiveEntry) -> bool:
        return time.monotonic() - entry.last_seen <= self.stale_after_s

    def schedulable(self, entry: HiveEntry) -> bool:
        """Available, speaking a protocol queen understands, and not shutting down."""
        return self.available(entry) and compatible(entry.heartbeat.protocol) and entry.heartbeat.state == "serving"

    def state(self, entry: HiveEntry) -> str:
        """``incompatible``, ``unavailable``, ``draining`` or ``serving``."""
        if not compatible(entry.heartbeat.protocol):
            return "incompatible"
        return entry.heartbeat.state if self.available(entry) else "unavailable"

    def expire(self) -> tuple[list[str], list[str]]:
        """Hives that just went silent past the staleness bound, and those now removed."""
        now = time.monotonic()
        stale = [hid for hid, e in self._hives.items()
                 if not e.reported_stale and now - e.last_seen > self.stale_after_s]
        for hid in stale:
            self._hives[hid].reported_stale = True
        removed = [hid for hid, e in self._hives.items() if now - e.last_seen > self.remove_after_s]
        for hid in removed:
            del self._hives[hid]
        return stale, removed

    def size(self) -> tuple[int, int]:
        """(hives, workers) known, available or not."""
        return len(self._hives), sum(len(e.heartbeat.workers) for e in self._hives.values())

    def hives(self) -> list[dict[str, Any]]:
        now = time.monotonic()
        return [
            {"hive_id": hid, "url": e.heartbeat.url, "models": e.heartbeat.models,
             "available": self.available(e) and compatible(e.heartbeat.protocol), "state": self.state(e),
             "version": e.heartbeat.version, "protocol": e.heartbeat.protocol, "queen_protocol": PROTOCOL,
             "last_seen_s_ago": round(now - e.last_seen, 3),
             "workers": len(e.heartbeat.workers), "capabilities": e.heartbeat.capabilities}
            for hid, e in sorted(self._hives.items())
        ]

    def hive_urls(self) -> dict[str, str]:
        """Every hive queen knows of, available or not, by id."""
        return {hid: e.heartbeat.url for hid, e in sorted(self._hives.items())}

    def hive_protocol(self, hive_id: str) -> str | None:
        """The protocol version of the hive's last heartbeat (None: unknown hive)."""
        entry = self._hives.get(hive_id)
        return entry.heartbeat.protocol if entry else None

    def hive_url(self, hive_id: str) -> str | None:
        entry = self._hives.get(hive_id)
        return entry.heartbeat.url if entry else None

    def hives_with_model(self, model: str, hive_id: str | None = None) -> list[str]:
        return [hid for hid, e in sorted(self._hives.items())
                if self.schedulable(e) and model in e.heartbeat.models and hive_id in (None, hid)]

    def with_model_in_state(self, state: str, model: str, hive_id: str | None = None) -> list[str]:
        """Hives in *state* (see ``state``) that have *model*."""
        return [hid for hid, e in sorted(self._hives.items())
                if self.state(e) == state and model in e.heartbeat.models and hive_id in (None, hid)]

    def unavailable_with_model(self, model: str, hive_id: str | None = None) -> list[str]:
        """Hives still known but silent past the staleness bound that have *model*."""
        return [hid for hid, e in sorted(self._hives.items())
                if not self.available(e) and model in e.heartbeat.models and hive_id in (None, hid)]

    def has_hives(self) -> bool:
        return any(self.available(e) and compatible(e.heartbeat.protocol) for e in self._hives.values())

    def workers(self, model: str | None = None, idle: bool | None = None,
                hive_id: str | None = None) -> list[dict[str, Any]]:
        """Workers of available hives, filtered like ``GET /v1/workers?model=&idle=&hive=``."""
        rows = []
        for hid, entry in sorted(self._hives.items()):
            if not self.available(entry) or not compatible(entry.heartbeat.protocol) or hive_id not in (None, hid):
                continue
            serving = entry.heartbeat.state == "serving"  # a draining hive's workers take no new job
            for w in entry.heartbeat.workers:
                is_idle = serving and w.state == "ready" and w.worker_id not in self._reserved
                if model not in (None, w.model) or idle not in (None, is_idle):
                    continue
                url = worker_url(entry.heartbeat.url, w.port) if w.port else ""
                rows.append({**w.model_dump(), **entry.stats(w.worker_id), "url": url, "hive_id": hid,
                             "idle": is_idle})
        return rows

    def reserve_idle(self, model: str, hive_id: str | None = None,
                     exclude: frozenset[str] = frozenset()) -> dict[str, Any] | None:
        """Take an idle ready worker serving *model* for one job (not one of *exclude*), or None.

        Of several, one on the hive with the fewest busy workers, and of those the hive given a job
        longest ago, so the load spreads over hives even when every job ends before the next is placed.
        """
        busy = Counter(row["hive_id"] for row in self.workers() if row["worker_id"] in self._reserved)
        candidates = [row for row in self.workers(model=model, idle=True, hive_id=hive_id)
                      if row["worker_id"] not in exclude]
        for row in sorted(candidates, key=lambda r: (busy[r["hive_id"]], self._last_given.get(r["hive_id"], -1))):
            self._reserved.add(row["worker_id"])
            self._last_given[row["hive_id"]] = next(self._given)
            return row
        return None

    def reservations(self) -> int:
        return len(self._reserved)

    def reserve(self, worker_id: str) -> None:
        self._reserved.add(worker_id)

    def release(self, worker_id: str) -> None:
        self._reserved.discard(worker_id)
        self.changed.fire()
