"""An SSE response whose reader must keep up.

A reader that stops reading fills its socket buffers, then the server's transport buffer;
from then on every write waits. A reader that takes nothing for the stall bound ends the
response: the connection is closed and the event iterator is closed, which runs its own
clean-up (for a job stream: the job is cancelled when no reader is left).

"Takes nothing" is judged by progress, not by how long one write waits: a waiting write
resumes only once the transport's buffer has drained to its low-water mark, which for a
slow but steady reader can take longer than the bound. Where the server says which
transport carries the response (the ``rbee.transport`` extension, see server.py), a write
may wait as long as the reader acknowledges bytes: its acknowledged bytes grow (TCP_INFO), the
kernel's queue of unacknowledged bytes shrinks, or the transport's buffer does. The transport's
buffer alone moves in steps (the kernel wakes a writer only once a third of its send buffer is
free): a reader taking 2.5 KB/s through a 4 KiB receive buffer moved it every 4.8 s, while its
acknowledgements came every 2.3 s. The bound runs across writes while bytes wait for the reader,
so a reader that takes nothing is cut even when buffers we do not bound (over TLS, the TLS layer's
own transport) take every write at once. Elsewhere one write may wait the bound.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import socket
import struct
import termios
from collections.abc import AsyncGenerator

from starlette.responses import StreamingResponse
from starlette.types import Message, Receive, Scope, Send

log = logging.getLogger("rbee.streaming")
TRANSPORT_EXTENSION = "rbee.transport"  # the asyncio transport of the request's connection
PROGRESS_POLL_S = 0.25


# How a stream route's OpenAPI entry describes its events (with response_class=EventStreamResponse).
SSE_RESPONSES: dict[int | str, dict[str, object]] = {200: {
    "description": "server-sent events; the last one's data is [DONE], [CANCELLED] or [ERROR] CODE: message",
    "content": {"text/event-stream": {"schema": {
        "type": "object", "properties": {"event": {"type": "string"}, "data": {"type": "string"}}}}},
}}


class EventStreamResponse(StreamingResponse):
    """Server-sent events; as response_class, the OpenAPI document says text/event-stream."""

    media_type = "text/event-stream"


TCP_INFO_BYTES_ACKED = struct.Struct("=Q")  # struct tcp_info's tcpi_bytes_acked (Linux 4.1+), at offset 120
TCP_INFO_BYTES_ACKED_AT = 120


def acknowledged_bytes(transport: asyncio.BaseTransport) -> int | None:
    """Bytes the peer has acknowledged on the transport's socket so far (None if the kernel does not say).

    It only grows, whatever the buffers in front of the socket do: over TLS the transport's buffer is
    the TLS layer's, and a TCP buffer of its own between it and the kernel refills the kernel's queue
    as the reader takes bytes, so neither buffer need move for a long time while the reader reads.
    """
    sock = transport.get_extra_info("socket")
    if sock is None:
        return None
    with contextlib.suppress(OSError, ValueError):
        info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 256)
        if len(info) >= TCP_INFO_BYTES_ACKED_AT + TCP_INFO_BYTES_ACKED.size:
            acked: int = TCP_INFO_BYTES_ACKED.unpack_from(info, TCP_INFO_BYTES_ACKED_AT)[0]
            return acked
    return None


def unacknowledged_bytes(transport: asyncio.BaseTransport) -> int:
    """Bytes the kernel holds for the transport's socket that the peer has not acknowledged (0 if unknown)."""
    sock = transport.get_extra_info("socket")
    if sock is None:
        return 0
    with contextlib.suppress(OSError, ValueError):
        queued: int = struct.unpack("i", fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, b"\0\0\0\0"))[0]
        return queued
    return 0


def took_some(before: tuple[int, int, int | None], after: tuple[int, int, int | None]) -> bool:
    """Whether the reader took bytes between two looks: it acknowledged more (where the kernel says),
    its unacknowledged bytes shrank, or the kernel accepted more from the transport's buffer."""
    (buffered, unacknowledged, acked), (now_buffered, now_unacknowledged, now_acked) = before, after
    grew = acked is not None and now_acked is not None and now_acked > acked
    return grew or now_unacknowledged < unacknowledged or now_buffered < buffered


class ReaderStalled(Exception):
    """Bytes waited for the reader for the stall bound, and it took none of them."""


class GuardedStreamingResponse(StreamingResponse):
    """A text/event-stream response that gives up on a reader stalled for *stall_timeout_s*."""

    def __init__(self, content: AsyncGenerator[bytes, None], stall_timeout_s: float, reader: str,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(content, media_type="text/event-stream", headers=headers)
        self.stall_timeout_s = stall_timeout_s
        self.reader = reader
        self._events = content
        self._transport: asyncio.WriteTransport | None = None
        self._last_look: tuple[int, int, int | None] | None = None  # the reader's progress as last seen
        self._progress_at = 0.0  # when the reader last took bytes, or nothing waited for it

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self._transport = scope.get("extensions", {}).get(TRANSPORT_EXTENSION)
        await super().__call__(scope, receive, send)

    async def _send_while_taken(self, send: Send, message: Message) -> None:
        """Send *message*; ReaderStalled once the reader took nothing for the stall bound.

        The bound runs across writes while bytes wait for the reader: over TLS a write may be taken at once
        by buffers in front of the socket that ours do not bound (the TLS layer's own transport), so a
        reader that takes nothing need not make any one write wait."""
        transport = self._transport
        if transport is None:
            try:
                await asyncio.wait_for(send(message), self.stall_timeout_s)
            except TimeoutError:
                raise ReaderStalled from None
            return
        loop = asyncio.get_running_loop()
        self._check(transport, loop.time())
        sending = asyncio.ensure_future(send(message))
        try:
            while not (await asyncio.wait({sending}, timeout=PROGRESS_POLL_S))[0]:
                self._check(transport, loop.time())
        finally:
            if not sending.done():
                sending.cancel()
        sending.result()

    def _check(self, transport: asyncio.WriteTransport, now: float) -> None:
        """Note the reader's progress; ReaderStalled when bytes waited for it the whole bound, untaken."""
        look = self._look(transport)
        buffered, unacknowledged, _ = look
        waiting = buffered > 0 or unacknowledged > 0  # in the transport's buffer, or in the kernel's queue
        if self._last_look is None or not waiting or took_some(self._last_look, look):
            self._progress_at = now
        self._last_look = look
        if now - self._progress_at >= self.stall_timeout_s:
            raise ReaderStalled

    @staticmethod
    def _look(transport: asyncio.WriteTransport) -> tuple[int, int, int | None]:
        """(the transport's buffer, the kernel's unacknowledged bytes, the bytes acknowledged so far)."""
        return transport.get_write_buffer_size(), unacknowledged_bytes(transport), acknowledged_bytes(transport)

    async def stream_response(self, send: Send) -> None:
        async def guarded(message: Message) -> None:
            await self._send_while_taken(send, message)

        try:
            await super().stream_response(guarded)
        except ReaderStalled:
            log.warning("stream reader %s stalled: it took nothing for %.1f s; disconnecting it",
                        self.reader, self.stall_timeout_s)
            if self._transport is not None:  # cut now: the server then sees a reader gone, not an app
                self._transport.abort()      # that returned mid-response (which it logs as an ERROR)
        finally:
            with contextlib.suppress(Exception):
                await self._events.aclose()
