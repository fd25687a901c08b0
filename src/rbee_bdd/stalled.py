"""A client that subscribes to an SSE stream and never reads: the slowest possible consumer."""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

from rbee_bdd.cleanup import CleanupStack


def open_stalled_reader(url: str, cleanup: CleanupStack) -> socket.socket:
    """GET *url* over a socket with the smallest receive buffer, then never read from it."""
    parts = urlsplit(url)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
    cleanup.push("close the stalled reader", sock.close)
    sock.connect((parts.hostname or "127.0.0.1", parts.port or 80))
    request = f"GET {parts.path or '/'} HTTP/1.1\r\nHost: {parts.netloc}\r\nAccept: text/event-stream\r\n\r\n"
    sock.sendall(request.encode())
    return sock

