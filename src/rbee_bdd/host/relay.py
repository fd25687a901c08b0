"""A TCP relay the harness owns, standing where an attacker on the network would: it forwards every
connection to its upstream and keeps a copy of the bytes in both directions, for a scenario to look
for what crossed the network in the clear."""

from __future__ import annotations

import contextlib
import socket
import threading

KEPT_BYTES = 4 * 2**20  # what the relay keeps of each direction at most
CHUNK = 64 * 1024


class Relay:
    """Listens on *host* (an OS-assigned port) and relays each connection to *upstream*."""

    def __init__(self, host: str, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self._listener = socket.create_server((host, 0))
        self.host, self.port = host, self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._seen: dict[str, bytearray] = {"to upstream": bytearray(), "from upstream": bytearray()}
        self._sockets: list[socket.socket] = []
        self.connections = 0
        self._closed = False
        threading.Thread(target=self._accept, name="relay-accept", daemon=True).start()

    def seen(self, direction: str) -> bytes:
        """A copy of what crossed the relay in one direction (``to upstream`` or ``from upstream``)."""
        with self._lock:
            return bytes(self._seen[direction])

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                client.close()
                continue
            server.settimeout(None)
            with self._lock:
                self.connections += 1
                self._sockets += [client, server]
            for source, sink, direction in ((client, server, "to upstream"), (server, client, "from upstream")):
                threading.Thread(target=self._pump, args=(source, sink, direction), name="relay-pump",
                                 daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, direction: str) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(CHUNK):
                with self._lock:
                    kept = self._seen[direction]
                    kept += data[:max(0, KEPT_BYTES - len(kept))]
                sink.sendall(data)
        for end in (source, sink):
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self._closed = True
        with contextlib.suppress(OSError):
            self._listener.close()
        with self._lock:
            for sock in self._sockets:
                with contextlib.suppress(OSError):
                    sock.close()
            self._sockets.clear()
