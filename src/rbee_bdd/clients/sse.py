"""Reading SSE streams from outside, in the background, with arrival times."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Self

import httpx
from httpx_sse import SSEError, connect_sse

from rbee_bdd.clients.http import client, with_credentials

TERMINAL_PREFIXES = ("[DONE]", "[ERROR]", "[CANCELLED]")


@dataclass(frozen=True)
class StreamEvent:
    name: str
    data: str
    at: float  # time.monotonic() on arrival

    def json(self) -> dict[str, Any]:
        return dict(json.loads(self.data))


@dataclass
class SseReader:
    """Collects every event of one stream until it ends, is closed, or ``is_last`` says so."""

    url: str
    headers: dict[str, str] = field(default_factory=dict)
    method: str = "GET"
    body: dict[str, Any] | None = None  # sent as JSON (a POST whose answer is a stream)
    events: list[StreamEvent] = field(default_factory=list)
    failure: str | None = None
    _ended: threading.Event = field(default_factory=threading.Event)
    _closing: bool = False
    _response: httpx.Response | None = None

    def start(self) -> Self:
        threading.Thread(target=self._read, name=f"sse {self.url}", daemon=True).start()
        return self

    def is_last(self, event: StreamEvent) -> bool:
        return False

    def _read(self) -> None:
        try:
            with client(httpx.Timeout(10.0, read=60.0)) as session, \
                    connect_sse(session, self.method, self.url, json=self.body,
                                headers=with_credentials(self.url, self.headers)) as source:
                self._response = source.response
                if source.response.status_code != 200:
                    self.failure = f"HTTP {source.response.status_code}: {source.response.read()[:300]!r}"
                    return
                for sse in source.iter_sse():
                    event = StreamEvent(sse.event, sse.data, time.monotonic())
                    self.events.append(event)
                    if self.is_last(event):
                        return
            self.failure = "stream closed by the server"
        except (httpx.HTTPError, SSEError, RuntimeError) as exc:
            if not self._closing:
                self.failure = f"{type(exc).__name__}: {exc}"
        finally:
            self._ended.set()

    def close(self) -> None:
        """Stop reading (the connection is closed from this side); returns once the reader has ended.

        The socket is shut down first: closing it alone does not wake a read blocked on it in the
        reading thread, which then waited for its read timeout (found by a chaos run: a client that
        dropped its stream while no byte was coming took 60 s to see it closed).
        """
        self._closing = True
        if self._response is not None:
            network = self._response.extensions.get("network_stream")
            sock = network.get_extra_info("socket") if network is not None else None
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(Exception):
                self._response.close()
        self._ended.wait(5)

    def wait_ended(self, timeout: float) -> bool:
        return self._ended.wait(timeout)

    @property
    def ended(self) -> bool:
        return self._ended.is_set()

    def named(self, name: str) -> list[StreamEvent]:
        return [e for e in list(self.events) if e.name == name]

    def summary(self) -> str:
        names = [e.name if e.name != "message" else e.data[:60] for e in self.events]
        return f"{len(self.events)} events {names[-8:]}, failure={self.failure!r}"


@dataclass
class JobStream(SseReader):
    """A job's stream: ``terminal`` is set when its marker arrives."""

    terminal: str | None = None

    def is_last(self, event: StreamEvent) -> bool:
        if event.data.startswith(TERMINAL_PREFIXES):
            self.terminal = event.data
            return True
        return False

    def tokens(self) -> list[dict[str, Any]]:
        return [e.json() for e in self.named("token")]

    def text(self) -> str:
        return "".join(t["t"] for t in self.tokens())

    def narration(self) -> list[dict[str, Any]]:
        return [e.json() for e in self.named("narration")]

    def first_token_after(self, start: float) -> float | None:
        """Seconds from *start* to the first token, or None if no token came."""
        first = next((e.at for e in self.events if e.name == "token"), None)
        return None if first is None else first - start

    def summary(self) -> str:
        return f"{super().summary()}, terminal={self.terminal!r}"


@dataclass
class HeartbeatStream(SseReader):
    """Queen's UI stream (``/v1/heartbeats/stream``); ends only when queen drops the reader."""

    def is_last(self, event: StreamEvent) -> bool:
        return event.name == "dropped"

    def heartbeats(self, since: float = 0.0) -> list[dict[str, Any]]:
        return [e.json() for e in self.named("heartbeat") if e.at >= since]

    def heartbeat_times(self, hive_id: str, since: float = 0.0) -> list[float]:
        return [e.at for e in self.named("heartbeat") if e.at >= since and e.json()["hive_id"] == hive_id]

    def latest_process(self, model: str) -> dict[str, Any] | None:
        """The newest ProcessStats of a worker serving *model*, from any hive."""
        for beat in reversed(self.heartbeats()):
            for process in beat.get("processes", []):
                if process["model"] == model:
                    return dict(process)
        return None
