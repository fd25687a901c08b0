"""A model hub the harness runs: serves model files over HTTP with Range, and counts requests.

It can throttle its answers (so concurrent downloads overlap), cut the first full download of
a file short after a fraction of its bytes (so a resume can be seen), stall a download part-way
(sending nothing more until it stops), answer a file with another status (401, 403), and send
a file without announcing its size (no Content-Length: the body ends when the connection closes).
"""

from __future__ import annotations

import hashlib
import re
import socket
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from rbee_bdd.core.cleanup import CleanupStack

RANGE = re.compile(r"^bytes=(\d+)-$")
CHUNK = 16 * 1024


@dataclass
class HubFile:
    data: bytes
    cut_first_at: float | None = None  # fraction of the bytes after which the first full GET is cut
    status: int = 200  # another status (401, 403) is answered instead of the file
    stall_at: float | None = None  # fraction of the bytes after which every GET sends nothing more
    unsized: bool = False  # no Content-Length: the body ends when the connection closes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


def hub_flags(address: str, claims: frozenset[str] | set[str]) -> list[str]:
    """``--model-hub`` for the harness's hub on *address* (any port), for a build that claims provisioning:
    hives download only from listed hubs when the hub's address is a private one."""
    return ["--model-hub", f"http://{address}"] if "provisioning" in claims else []


@dataclass
class ModelHub:
    """Files by URL path; ``requests`` lists (path, Range header or "") in arrival order."""

    host: str
    bytes_per_second: float = 0.0  # 0: as fast as possible
    files: dict[str, HubFile] = field(default_factory=dict)
    requests: list[tuple[str, str]] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    _stopping: threading.Event = field(default_factory=threading.Event)

    def add(self, name: str, source: Path, cut_first_at: float | None = None, **options: Any) -> str:
        """Serve *source* as ``/models/<name>.gguf`` (options: HubFile's); returns that path."""
        return self.add_bytes(name, source.read_bytes(), cut_first_at, **options)

    def add_bytes(self, name: str, data: bytes, cut_first_at: float | None = None, **options: Any) -> str:
        """Serve *data* as ``/models/<name>.gguf``, replacing what was served there; returns that path."""
        path = f"/models/{name}.gguf"
        with self._lock:
            self.files[path] = HubFile(data, cut_first_at, **options)
        return path

    def url(self, path: str) -> str:
        assert self._server is not None
        return f"http://{self.host}:{self._server.server_address[1]}{path}"

    def requests_for(self, path: str) -> list[str]:
        with self._lock:
            return [header for p, header in self.requests if p == path]

    def start(self, cleanup: CleanupStack) -> ModelHub:
        hub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                hub.answer(self)

        class Server(ThreadingHTTPServer):
            def handle_error(self, request: object, client_address: object) -> None:
                pass  # a client gone mid-answer (a hive killed while it downloads) is expected here

        self._server = Server((self.host, 0), Handler)
        self._server.daemon_threads = True
        cleanup.push("stop the model hub", self.stop)
        threading.Thread(target=self._server.serve_forever, name="model hub", daemon=True).start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # stalled answers end
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def answer(self, handler: BaseHTTPRequestHandler) -> None:
        wanted = handler.headers.get("Range", "")
        with self._lock:
            self.requests.append((handler.path, wanted))
            first_full = [p for p, r in self.requests if p == handler.path and not r] == [handler.path]
        hub_file = self.files.get(handler.path)
        if hub_file is None or hub_file.status != 200:
            handler.send_error(404 if hub_file is None else hub_file.status)
            return
        start = 0
        if match := RANGE.match(wanted):
            start = int(match.group(1))
            if start >= len(hub_file.data):
                handler.send_response(416)
                handler.send_header("Content-Range", f"bytes */{len(hub_file.data)}")
                handler.send_header("Content-Length", "0")
                handler.end_headers()
                return
            handler.send_response(206)
            handler.send_header("Content-Range", f"bytes {start}-{len(hub_file.data) - 1}/{len(hub_file.data)}")
        else:
            handler.send_response(200)
        body = hub_file.data[start:]
        if hub_file.unsized:
            handler.send_header("Connection", "close")
            handler.close_connection = True
        else:
            handler.send_header("Content-Length", str(len(body)))
        handler.send_header("Accept-Ranges", "bytes")
        handler.end_headers()
        limit = len(body)
        if not start and first_full and hub_file.cut_first_at is not None:
            limit = int(len(body) * hub_file.cut_first_at)
        if hub_file.stall_at is not None:
            limit = max(0, int(len(hub_file.data) * hub_file.stall_at) - start)
        self._send(handler, body[:limit])
        if hub_file.stall_at is not None:
            self._stopping.wait()  # the connection stays open and silent until the hub stops
            return
        if limit < len(body):
            handler.close_connection = True
            handler.connection.shutdown(socket.SHUT_WR)  # cut mid-body: the client gets a short answer

    def _send(self, handler: BaseHTTPRequestHandler, body: bytes) -> None:
        pace = threading.Event()  # never set: its wait() is the hub's bandwidth limit
        for offset in range(0, len(body), CHUNK):
            handler.wfile.write(body[offset:offset + CHUNK])
            if self.bytes_per_second:
                pace.wait(CHUNK / self.bytes_per_second)
        handler.wfile.flush()
