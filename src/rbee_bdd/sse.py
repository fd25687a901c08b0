"""Reading a job's SSE stream from outside, in the background, with arrival times."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
from httpx_sse import SSEError, connect_sse

TERMINAL_PREFIXES = ("[DONE]", "[ERROR]", "[CANCELLED]")


@dataclass(frozen=True)
class StreamEvent:
    name: str
    data: str
    at: float  # time.monotonic() on arrival

    def json(self) -> dict[str, Any]:
        return dict(json.loads(self.data))


@dataclass
class JobStream:
    """Collects every event of one stream; ``terminal`` is set when the marker arrives."""

    url: str
    headers: dict[str, str] = field(default_factory=dict)
    opened_at: float = field(default_factory=time.monotonic)
    events: list[StreamEvent] = field(default_factory=list)
    terminal: str | None = None
    failure: str | None = None
    response_headers: dict[str, str] = field(default_factory=dict)
    _ended: threading.Event = field(default_factory=threading.Event)

    def start(self) -> JobStream:
        threading.Thread(target=self._read, name=f"sse {self.url}", daemon=True).start()
        return self

    def _read(self) -> None:
        try:
            with httpx.Client(timeout=httpx.Timeout(10.0, read=60.0)) as client, \
                    connect_sse(client, "GET", self.url, headers=self.headers) as source:
                self.response_headers = dict(source.response.headers)
                if source.response.status_code != 200:
                    self.failure = f"HTTP {source.response.status_code}: {source.response.read()[:300]!r}"
                    return
                for sse in source.iter_sse():
                    self.events.append(StreamEvent(sse.event, sse.data, time.monotonic()))
                    if sse.data.startswith(TERMINAL_PREFIXES):
                        self.terminal = sse.data
                        return
            self.failure = "stream closed without a terminal marker"
        except (httpx.HTTPError, SSEError) as exc:
            self.failure = f"{type(exc).__name__}: {exc}"
        finally:
            self._ended.set()

    def wait_ended(self, timeout: float) -> bool:
        return self._ended.wait(timeout)

    @property
    def ended(self) -> bool:
        return self._ended.is_set()

    def tokens(self) -> list[dict[str, Any]]:
        return [e.json() for e in self.events if e.name == "token"]

    def text(self) -> str:
        return "".join(t["t"] for t in self.tokens())

    def narration(self) -> list[dict[str, Any]]:
        return [e.json() for e in self.events if e.name == "narration"]

    def first_token_after(self, start: float) -> float | None:
        """Seconds from *start* to the first token, or None if no token came."""
        first = next((e.at for e in self.events if e.name == "token"), None)
        return None if first is None else first - start

    def summary(self) -> str:
        names = [e.name if e.name != "message" else e.data[:60] for e in self.events]
        return f"{len(self.events)} events {names[-8:]}, terminal={self.terminal!r}, failure={self.failure!r}"
