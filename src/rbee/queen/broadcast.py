"""Fan-out of heartbeat events to UI subscribers, each with a bounded buffer.

A subscriber that falls a whole buffer behind is dropped: its buffer is emptied, it gets
one final ``dropped`` event saying why, and the others never wait for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from rbee.common.events import Event

log = logging.getLogger("rbee.queen.broadcast")


@dataclass
class Subscriber:
    queue: asyncio.Queue[Event]
    name: str
    dropped: str | None = None


@dataclass
class Broadcaster:
    buffer: int = 64
    _by_id: dict[int, Subscriber] = field(default_factory=dict)
    _serial: int = 0

    def publish(self, name: str, payload: dict[str, Any]) -> None:
        event = Event(name, json.dumps(payload, separators=(",", ":")))
        for key in list(self._by_id):
            sub = self._by_id[key]
            try:
                sub.queue.put_nowait(event)
            except asyncio.QueueFull:
                self._drop(key, f"subscriber fell {self.buffer} events behind")

    def _drop(self, key: int, reason: str) -> None:
        sub = self._by_id.pop(key)
        sub.dropped = reason
        while not sub.queue.empty():
            sub.queue.get_nowait()
        sub.queue.put_nowait(Event("dropped", json.dumps({"reason": reason})))
        log.warning("UI subscriber %s dropped: %s", sub.name, reason)

    def count(self) -> int:
        return len(self._by_id)

    async def stream(self, name: str, snapshot: list[tuple[str, dict[str, Any]]],
                     keepalive_s: float = 5.0) -> AsyncIterator[bytes]:
        """Yield *snapshot* first, then every published event, until dropped or disconnected."""
        self._serial += 1
        key = self._serial
        sub = Subscriber(asyncio.Queue(self.buffer), name)
        self._by_id[key] = sub
        try:
            for event_name, payload in snapshot:
                yield Event(event_name, json.dumps(payload, separators=(",", ":"))).encode()
            while True:
                try:
                    event = await asyncio.wait_for(sub.queue.get(), keepalive_s)
                except TimeoutError:
                    yield b": keep-alive\n\n"
                    continue
                yield event.encode()
                if event.name == "dropped":
                    return
        finally:
            with contextlib.suppress(KeyError):
                self._by_id.pop(key)
