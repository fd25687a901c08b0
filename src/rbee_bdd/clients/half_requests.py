"""Clients that hold a daemon's connections open as an attacker would: half a request's headers, or a
body that never comes, over raw sockets (TLS for an ``https`` daemon); what the daemon answered and
when it closed each is noted."""

from __future__ import annotations

import contextlib
import select
import socket
import ssl
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from rbee_bdd.clients.http import open_socket
from rbee_bdd.core.cleanup import CleanupStack


@dataclass
class HeldConnection:
    """One connection the client holds: when it was opened, what came back and when the server closed it."""

    sock: socket.socket
    opened: float
    answer: bytes = b""
    closed_after: float | None = None  # seconds from opened to the server's close (None: still open)
    answered_after: float | None = None  # seconds from opened to the answer's first byte (None: none came)

    @property
    def status(self) -> int | None:
        """The HTTP status of the answer, if one came."""
        first = self.answer.split(b"\r\n", 1)[0].split()
        return int(first[1]) if len(first) >= 2 and first[1].isdigit() else None


def hold(url: str, count: int, payload: bytes, cleanup: CleanupStack) -> list[HeldConnection]:
    """Open *count* connections to *url*'s origin and send *payload* on each, never the rest."""
    held = []
    for _ in range(count):
        sock = open_socket(url)
        cleanup.push("close a held connection", sock.close)
        held.append(HeldConnection(sock, time.monotonic()))
        with contextlib.suppress(OSError):  # closed by the server at once: what the watch will see
            sock.sendall(payload)
    return held


def half_headers(url: str) -> bytes:
    """The first lines of a GET of *url*'s path, without the blank line that would end its headers."""
    parts = urlsplit(url)
    return f"GET {parts.path or '/'} HTTP/1.1\r\nHost: {parts.netloc}\r\nX-Held: 1\r\n".encode()


def watch(held: list[HeldConnection], timeout: float) -> None:
    """Read every connection until the server closes it or *timeout* seconds pass."""
    deadline = time.monotonic() + timeout
    open_ones = {c.sock: c for c in held if c.closed_after is None}
    for sock in open_ones:
        sock.setblocking(False)  # over TLS a readable socket may hold no answer yet (a session ticket)
    while open_ones and (left := deadline - time.monotonic()) > 0:
        buffered = [s for s in open_ones if isinstance(s, ssl.SSLSocket) and s.pending()]
        readable = buffered or select.select(list(open_ones), [], [], left)[0]
        for sock in readable:
            conn = open_ones[sock]
            try:
                data = sock.recv(65536)
            except (ssl.SSLWantReadError, BlockingIOError):
                continue  # TLS records that carry no data (a session ticket): nothing answered yet
            except OSError:
                data = b""
            if data:
                if not conn.answer:
                    conn.answered_after = time.monotonic() - conn.opened
                conn.answer += data
                continue
            conn.closed_after = time.monotonic() - conn.opened
            del open_ones[sock]
