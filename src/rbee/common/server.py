"""Serving a FastAPI app on a given or OS-assigned port, announcing where it listens."""

from __future__ import annotations

import asyncio
import logging
import signal
import socket
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import FrameType
from typing import Any

import uvicorn
from fastapi import FastAPI
from uvicorn.protocols.http.h11_impl import H11Protocol

from rbee.common.streaming import TRANSPORT_EXTENSION

# What a connection buffers for a reader that does not read, before writes wait: in the
# transport (asyncio's default is 64 KiB) and in the kernel (which would otherwise grow the send
# buffer to megabytes). Small, so a stalled stream reader is noticed in seconds, not minutes.
WRITE_BUFFER_HIGH = 8 * 1024
SOCKET_SEND_BUFFER = 16 * 1024


class BoundedBufferProtocol(H11Protocol):
    """uvicorn's h11 protocol with a small write buffer per connection, whose requests carry the
    connection's transport (the ``rbee.transport`` extension: a stream judges its reader's progress by it)."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        transport.set_write_buffer_limits(high=WRITE_BUFFER_HIGH)
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SOCKET_SEND_BUFFER)
        super().connection_made(transport)

    def handle_events(self) -> None:
        super().handle_events()
        scope = getattr(self, "scope", None)  # the request just parsed: its task has not run yet
        if scope is not None:
            scope.setdefault("extensions", {})[TRANSPORT_EXTENSION] = self.transport


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


Drain = Callable[[], Awaitable[None]]


class DrainingServer(uvicorn.Server):
    """uvicorn, but the first SIGTERM runs *drain* while the server still answers, then stops it.

    A second SIGTERM, or SIGINT, stops at once. Either way the process then exits with code 0.
    """

    def __init__(self, config: uvicorn.Config, drain: Drain | None, reload: Callable[[], None] | None) -> None:
        super().__init__(config)
        self._drain = drain
        self._reload = reload
        self._loop: asyncio.AbstractEventLoop | None = None
        self._draining = False

    async def serve(self, sockets: list[socket.socket] | None = None) -> None:
        self._loop = asyncio.get_running_loop()
        if self._reload is not None:
            self._loop.add_signal_handler(signal.SIGHUP, self._reload)
        await super().serve(sockets)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self._drain is None or self._loop is None or self._draining or sig != signal.SIGTERM:
            # as uvicorn does, except that the signal is not raised again once the server has
            # stopped: a stop that was asked for ends the process with exit code 0
            if self.should_exit and sig == signal.SIGINT:
                self.force_exit = True
            else:
                self.should_exit = True
            return
        self._draining = True
        self._loop.call_soon_threadsafe(self._start_drain)

    def _start_drain(self) -> None:
        assert self._loop is not None
        self._drain_task = self._loop.create_task(self._drain_then_exit())

    async def _drain_then_exit(self) -> None:
        assert self._drain is not None
        try:
            await self._drain()
        except Exception:
            logging.getLogger("rbee.server").exception("shutdown drain failed; stopping anyway")
        finally:
            self.should_exit = True


def serve(app: FastAPI | Any, sock: socket.socket, drain: Drain | None = None,
          reload: Callable[[], None] | None = None) -> None:
    """Run the ASGI *app* on *sock* until SIGTERM/SIGINT; lifespan hooks run on both ends.

    With *drain*, SIGTERM first awaits it (the server still answering), then stops. With
    *reload*, SIGHUP calls it (configuration and credentials read again).
    """
    config = uvicorn.Config(
        app, http=BoundedBufferProtocol, log_level="warning", access_log=False, timeout_graceful_shutdown=30,
        lifespan="on",
    )
    DrainingServer(config, drain, reload).run(sockets=[sock])
