"""An SSE response whose reader must keep up.

A reader that stops reading fills its socket buffers, then the server's transport buffer;
from then on every write waits. A write that waits longer than the stall bound ends the
response: the connection is closed and the event iterator is closed, which runs its own
clean-up (for a job stream: the job is cancelled when no reader is left).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator

from starlette.responses import StreamingResponse
from starlette.types import Message, Send

log = logging.getLogger("rbee.streaming")


# How a stream route's OpenAPI entry describes its events (with response_class=EventStreamResponse).
SSE_RESPONSES: dict[int | str, dict[str, object]] = {200: {
    "description": "server-sent events; the last one's data is [DONE], [CANCELLED] or [ERROR] CODE: message",
    "content": {"text/event-stream": {"schema": {
        "type": "object", "properties": {"event": {"type": "string"}, "data": {"type": "string"}}}}},
}}


class EventStreamResponse(StreamingResponse):
    """Server-sent events; as response_class, the OpenAPI document says text/event-stream."""

    media_type = "text/event-stream"


class ReaderStalled(Exception):
    """A write to the reader waited longer than the stall bound."""


class GuardedStreamingResponse(StreamingResponse):
    """A text/event-stream response that gives up on a reader stalled for *stall_timeout_s*."""

    def __init__(self, content: AsyncGenerator[bytes, None], stall_timeout_s: float, reader: str,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(content, media_type="text/event-stream", headers=headers)
        self.stall_timeout_s = stall_timeout_s
        self.reader = reader
        self._events = content

    async def stream_response(self, send: Send) -> None:
        async def guarded(message: Message) -> None:
            try:
                await asyncio.wait_for(send(message), self.stall_timeout_s)
            except TimeoutError:
                raise ReaderStalled from None

        try:
            await super().stream_response(guarded)
        except ReaderStalled:
            log.warning("stream reader %s stalled: no write went through for %.1f s; disconnecting it",
                        self.reader, self.stall_timeout_s)
        finally:
            with contextlib.suppress(Exception):
                await self._events.aclose()
