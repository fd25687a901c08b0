"""SSE consumers that read slowly or not at all, over raw sockets with small receive buffers (TLS for https).

They ask with HTTP/1.0, so the response body is the plain event stream, ended by the server
closing the connection (no chunked framing to undo).
"""

from __future__ import annotations

import socket
import threading
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from rbee_bdd.clients.http import open_socket, with_credentials
from rbee_bdd.core.cleanup import CleanupStack

TERMINAL_PREFIXES = ("[DONE]", "[ERROR]", "[CANCELLED]")


def _connect(url: str, receive_buffer: int, cleanup: CleanupStack, what: str) -> socket.socket:
    parts = urlsplit(url)
    sock = open_socket(url, receive_buffer)
    cleanup.push(f"close the {what}", sock.close)
    headers = "".join(f"{key}: {value}\r\n" for key, value in with_credentials(url, {}).items())
    request = f"GET {parts.path or '/'} HTTP/1.0\r\nHost: {parts.netloc}\r\nAccept: text/event-stream\r\n{headers}\r\n"
    sock.sendall(request.encode())
    return sock


def open_stalled_reader(url: str, cleanup: CleanupStack) -> socket.socket:
    """GET *url* over a socket with the smallest receive buffer, then never read from it."""
    return _connect(url, 1024, cleanup, "stalled reader")


def read_to_end(sock: socket.socket, timeout: float) -> tuple[bytes, str]:
    """Drain a socket until the server closes it: (bytes read, how it ended) ; raises TimeoutError."""
    sock.settimeout(timeout)
    data = bytearray()
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except ConnectionResetError:
        return bytes(data), "reset by the server"
    except TimeoutError:
        raise TimeoutError(f"the server kept the connection open for {timeout:.0f} s "
                           f"({len(data)} bytes read)") from None
    return bytes(data), "closed by the server"


def parse_events(raw: bytes) -> list[tuple[str, str]]:
    """(event name, data) of every event in an HTTP/1.0 SSE response; comments skipped."""
    _, _, body = raw.partition(b"\r\n\r\n")
    events = []
    for block in body.decode(errors="replace").split("\n\n"):
        name, data = "message", []
        for line in block.split("\n"):
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].removeprefix(" "))
        if data:
            events.append((name, "\n".join(data)))
    return events


@dataclass
class PacedReader:
    """Reads a stream *chunk_bytes* at a time with *pause_s* between reads: a slow consumer.

    Each read takes *chunk_bytes* whole where the stream has them: over TLS one receive gives at most
    one record (one event, about 40 bytes, for a job stream), which would make the reader slower than
    it says."""

    url: str
    chunk_bytes: int
    pause_s: float
    raw: bytearray = field(default_factory=bytearray)
    ended_by: str = ""
    _ended: threading.Event = field(default_factory=threading.Event)
    _sock: socket.socket | None = None

    def start(self, cleanup: CleanupStack) -> PacedReader:
        self._sock = _connect(self.url, 4096, cleanup, "slow reader")
        threading.Thread(target=self._read, name=f"paced {self.url}", daemon=True).start()
        return self

    def _read(self) -> None:
        assert self._sock is not None
        pacing = threading.Event()  # never set: its wait() is the consumer's reading pace
        try:
            while chunk := self._take(self._sock, self.chunk_bytes):
                self.raw += chunk
                pacing.wait(self.pause_s)
            self.ended_by = "closed by the server"
        except OSError as exc:
            self.ended_by = f"{type(exc).__name__}: {exc}"
        finally:
            self._ended.set()

    @staticmethod
    def _take(sock: socket.socket, count: int) -> bytes:
        """*count* bytes, or fewer where the server closes the stream first."""
        taken = bytearray()
        while len(taken) < count and (chunk := sock.recv(count - len(taken))):
            taken += chunk
        return bytes(taken)

    def wait_ended(self, timeout: float) -> bool:
        return self._ended.wait(timeout)

    def events(self) -> list[tuple[str, str]]:
        return parse_events(bytes(self.raw))

    def terminal(self) -> str | None:
        return next((data for name, data in self.events() if data.startswith(TERMINAL_PREFIXES)), None)

    def summary(self) -> str:
        events = self.events()
        return f"{len(self.raw)} bytes, {len(events)} events, last {events[-3:]}, ended by {self.ended_by!r}"
