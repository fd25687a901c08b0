"""Serving a FastAPI app on a given or OS-assigned port, announcing where it listens."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import uvicorn
from fastapi import FastAPI
from uvicorn.protocols.http.h11_impl import H11Protocol

# What a connection buffers for a reader that does not read, before writes wait: in the
# transport (asyncio's default is 64 KiB) and in the kernel (which would otherwise grow the send
# buffer to megabytes). Small, so a stalled stream reader is noticed in seconds, not minutes.
WRITE_BUFFER_HIGH = 8 * 1024
SOCKET_SEND_BUFFER = 16 * 1024


class BoundedBufferProtocol(H11Protocol):
    """uvicorn's h11 protocol with a small write buffer per connection."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        transport.set_write_buffer_limits(high=WRITE_BUFFER_HIGH)
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SOCKET_SEND_BUFFER)
        super().connection_made(transport)


def bind(host: str, port: int) -> socket.socket:
    """Bind a listening socket; port 0 lets the OS choose."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto must say TCP: asyncio sets TCP_NODELAY on accepted sockets only when it does, and
    # without it every small response waits ~40 ms on Nagle and the peer's delayed ACK
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    sock.listen(128)
    sock.set_inheritable(False)
    return sock


def write_port_file(path: Path | None, port: int) -> None:
    """Atomically write the bound port, so a reader never sees a partial file."""
    if path is None:
        return
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(f"{port}\n")
    tmp.replace(path)


def serve(app: FastAPI, sock: socket.socket) -> None:
    """Run *app* on *sock* until SIGTERM/SIGINT; lifespan hooks run on both ends."""
    config = uvicorn.Config(
        app, http=BoundedBufferProtocol, log_level="warning", access_log=False, timeout_graceful_shutdown=30,
        lifespan="on",
    )
    server = uvicorn.Server(config)
    server.run(sockets=[sock])
