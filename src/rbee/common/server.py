"""Serving a FastAPI app on a given or OS-assigned port, announcing where it listens."""

from __future__ import annotations

import asyncio
import logging
import signal
import socket
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import FrameType
from typing import Any

import uvicorn
from fastapi import FastAPI
from uvicorn.config import STARTUP_FAILURE
from uvicorn.protocols.http.h11_impl import H11Protocol

from rbee.common.connections import COUNTS, ConnectionLimits, raise_file_limit
from rbee.common.streaming import TRANSPORT_EXTENSION
from rbee.common.tls import Tls

# What a connection buffers for a reader that does not read, before writes wait: in the
# transport (asyncio's default is 64 KiB) and in the kernel (which would otherwise grow the send
# buffer to megabytes). Small, so a stalled stream reader is noticed in seconds, not minutes.
WRITE_BUFFER_HIGH = 8 * 1024
SOCKET_SEND_BUFFER = 16 * 1024
SSL_SHUTDOWN_TIMEOUT_S = 1.0


# what a connection over the cap is told before it is closed
_REFUSAL = (b'{"error": {"code": "TOO_MANY_CONNECTIONS", "message": "the daemon serves its most connections; '
            b'try again", "correlation_id": ""}}')
TOO_MANY_CONNECTIONS = (b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n"
                        b"connection: close\r\nretry-after: 1\r\ncontent-length: "
                        + str(len(_REFUSAL)).encode() + b"\r\n\r\n" + _REFUSAL)


class BoundedBufferProtocol(H11Protocol):
    """uvicorn's h11 protocol with a small write buffer per connection, whose requests carry the
    connection's transport (the ``rbee.transport`` extension: a stream judges its reader's progress by it).

    It also keeps the daemon's connection limits: a connection over the cap is answered 503 and
    closed at once, and one that has not sent a whole request's headers within the header bound
    (after connecting, or after its previous answer) is closed.
    """

    limits = ConnectionLimits()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        if len(self.connections) >= self.limits.max_connections:
            COUNTS.refused += 1
            self.transport = transport  # connection_lost closes it
            self._refused = True
            transport.write(TOO_MANY_CONNECTIONS)
            transport.close()
            return
        self._refused = False
        self._served = False  # no answer sent yet on this connection
        COUNTS.open += 1
        transport.set_write_buffer_limits(high=WRITE_BUFFER_HIGH)
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SOCKET_SEND_BUFFER)
        super().connection_made(transport)
        self._await_headers()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self._refused:
            COUNTS.open -= 1
        self._headers_arrived()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if not self._refused:
            self._partial = True  # some of a request came: a cut now is a timeout, not an idle close
            super().data_received(data)

    def handle_events(self) -> None:
        cycle = self.cycle
        super().handle_events()
        if self.cycle is not cycle:  # a request's headers were parsed
            self._headers_arrived()
        scope = getattr(self, "scope", None)  # the request just parsed: its task has not run yet
        if scope is not None:
            scope.setdefault("extensions", {})[TRANSPORT_EXTENSION] = self.transport

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._served = True
        if not self.transport.is_closing():
            self._await_headers()  # the next request's, on this kept-alive connection

    def _await_headers(self) -> None:
        self._headers_arrived()
        self._partial = False
        self._header_timer: asyncio.TimerHandle | None = self.loop.call_later(
            self.limits.header_timeout_s, self._headers_too_late)

    def _headers_arrived(self) -> None:
        timer = getattr(self, "_header_timer", None)
        if timer is not None:
            timer.cancel()
            self._header_timer = None

    def _headers_too_late(self) -> None:
        """Close the connection; counted unless it is a kept-alive one that simply sent nothing more."""
        self._header_timer = None
        if self.transport.is_closing():
            return
        if self._partial or not self._served:
            # a request that never came whole: nothing to flush, so cut at once; a close over TLS would
            # wait for the client's close_notify (SSL_SHUTDOWN_TIMEOUT_S), its slot still taken
            COUNTS.header_timeouts += 1
            self.transport.abort()
        else:
            self.transport.close()


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

    def __init__(self, config: uvicorn.Config, drain: Drain | None, reload: Callable[[], None] | None,
                 handshake_timeout_s: float = 60.0) -> None:
        super().__init__(config)
        self._drain = drain
        self._reload = reload
        self._loop: asyncio.AbstractEventLoop | None = None
        self._draining = False
        self.handshake_timeout_s = handshake_timeout_s

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        """As uvicorn's, on the daemon's own sockets; over TLS a handshake that has not ended within the
        header bound is cut (asyncio would wait 60 s, the descriptor held and not yet counted by the cap),
        and a closing connection waits for the peer's close_notify SSL_SHUTDOWN_TIMEOUT_S at most (a
        client's idle pooled connection never sends it: asyncio would wait 30 s, and a worker asked to stop
        outlived its hive's grace and was killed)."""
        config = self.config
        if sockets is None or config.ssl is None:
            await super().startup(sockets)
            return
        await self.lifespan.startup()
        if self.lifespan.should_exit:
            sys.exit(STARTUP_FAILURE)

        def create_protocol(_loop: asyncio.AbstractEventLoop | None = None) -> asyncio.Protocol:
            return config.http_protocol_class(config=config, server_state=self.server_state,  # type: ignore[call-arg]
                                              app_state=self.lifespan.state, _loop=_loop)

        loop = asyncio.get_running_loop()
        self.servers = [await loop.create_server(create_protocol, sock=sock, ssl=config.ssl, backlog=config.backlog,
                                                 ssl_handshake_timeout=self.handshake_timeout_s,
                                                 ssl_shutdown_timeout=SSL_SHUTDOWN_TIMEOUT_S)
                        for sock in sockets]
        self.started = True

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
          reload: Callable[[], None] | None = None, limits: ConnectionLimits | None = None,
          tls: Tls | None = None, event_loop: str = "asyncio") -> None:
    """Run the ASGI *app* on *sock* until SIGTERM/SIGINT; lifespan hooks run on both ends.

    With *drain*, SIGTERM first awaits it (the server still answering), then stops. With
    *reload*, SIGHUP calls it (configuration and credentials read again). *limits* bound the
    connections (the soft file limit is raised to the hard one first). With *tls* enabled it serves HTTPS.
    *event_loop* ``auto`` runs on uvloop where it is installed: about a third less CPU per request
    under load (make bench-load), and about 20 ms more to start, so only queen, which takes every
    client, asks for it.
    """
    limits = raise_file_limit(limits or ConnectionLimits())
    protocol = type("LimitedProtocol", (BoundedBufferProtocol,), {"limits": limits})
    config = uvicorn.Config(
        app, http=protocol, loop=event_loop, log_level="warning", access_log=False, timeout_graceful_shutdown=30,
        lifespan="on", **(tls or Tls()).server_options(),
    )
    DrainingServer(config, drain, reload, limits.header_timeout_s).run(sockets=[sock])
