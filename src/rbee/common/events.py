"""A job's event log: append-only, replayable, with any number of SSE readers.

Both queen and worker keep one per job. Events appended before a reader subscribes
are replayed to it, so a client may POST a job and open its stream afterwards.
"""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from rbee.common.scrub import scrub

DONE = "[DONE]"
CANCELLED = "[CANCELLED]"


def error_marker(code: str, message: str) -> str:
    """``[ERROR] CODE: message``, the message scrubbed of paths, URLs and addresses (clients read it)."""
    return f"[ERROR] {code}: {scrub(message)}"


@dataclass(frozen=True)
class Event:
    """One SSE event; ``name`` None is a terminal marker sent as a plain data line."""

    name: str | None
    data: str

    def encode(self) -> bytes:
        head = f"event: {self.name}\n" if self.name else ""
        body = "".join(f"data: {line}\n" for line in self.data.split("\n"))
        return f"{head}{body}\n".encode()


@dataclass
class EventLog:
    """Append-only events of one job; closed by exactly one terminal marker."""

    events: list[Event] = field(default_factory=list)
    terminal: str | None = None
    readers: int = 0
    followers: int = 0  # readers whose leaving before the end abandons the log (see follow)
    _changed: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def append(self, name: str, payload: dict[str, Any]) -> None:
        if self.terminal is not None:
            return
        async with self._changed:
            self.events.append(Event(name, json.dumps(payload, separators=(",", ":"))))
            self._changed.notify_all()

    async def close(self, marker: str) -> bool:
        """Append the terminal *marker*; False if the log was already closed."""
        async with self._changed:
            if self.terminal is not None:
                return False
            self.terminal = marker
            self.events.append(Event(None, marker))
            self._changed.notify_all()
            return True

    def _has_more(self, index: int) -> bool:
        return len(self.events) > index

    async def stream(self, keepalive_s: float = 5.0) -> AsyncGenerator[bytes, None]:
        """Yield every event, from the first, until the terminal marker; keep-alives between."""
        self.readers += 1
        try:
            async for chunk in self._replay(keepalive_s):
                yield chunk
        finally:
            self.readers -= 1

    async def follow(self, on_abandoned: Callable[[], None], keepalive_s: float = 5.0
                     ) -> AsyncGenerator[bytes, None]:
        """Like stream(), and call *on_abandoned* if the last follower (a reader that came through
        follow(); plain stream() readers do not count) leaves before the terminal marker."""
        finished = False
        events = self.stream(keepalive_s)
        self.followers += 1
        try:
            async for chunk in events:
                yield chunk
            finished = True
        finally:
            await events.aclose()
            self.followers -= 1
            if not finished and self.terminal is None and self.followers == 0:
                on_abandoned()

    async def _replay(self, keepalive_s: float) -> AsyncIterator[bytes]:
        index = 0
        while True:
            async with self._changed:
                try:
                    await asyncio.wait_for(
                        self._changed.wait_for(functools.partial(self._has_more, index)), keepalive_s
                    )
                except TimeoutError:
                    pending: list[Event] = []
                else:
                    pending = self.events[index:]
            if not pending:
                yield b": keep-alive\n\n"
                continue
            for event in pending:
                yield event.encode()
                index += 1
                if event.name is None:
                    return
