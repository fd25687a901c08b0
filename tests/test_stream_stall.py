"""A stream's reader is stalled when it takes nothing for the bound, not when one write waits that long.

A write that waits resumes only once the transport's buffer drained to its low-water mark; for a
slow reader that can take longer than the bound while the reader keeps taking bytes (the soak
found queen cutting such a reader of a 3000-token job). These drive the guard with a transport
whose buffer shrinks, or not, while one write waits.
"""

import asyncio

import pytest

from rbee.common import streaming
from rbee.common.streaming import GuardedStreamingResponse, ReaderStalled

BOUND_S = 0.3


class DrainingTransport:
    """A write buffer that loses *step* bytes at every look while *draining*."""

    def __init__(self, size: int, step: int) -> None:
        self.size = size
        self.step = step

    def get_write_buffer_size(self) -> int:
        self.size = max(0, self.size - self.step)
        return self.size


def guard(transport: DrainingTransport | None) -> GuardedStreamingResponse:
    async def events():
        yield b""

    response = GuardedStreamingResponse(events(), BOUND_S, "test reader")
    response._transport = transport  # what BoundedBufferProtocol hands each request
    return response


async def send_waiting(seconds: float):
    async def send(message) -> None:
        await asyncio.sleep(seconds)

    return send


@pytest.fixture(autouse=True)
def fast_polls(monkeypatch):
    monkeypatch.setattr(streaming, "PROGRESS_POLL_S", 0.02)


def test_a_write_may_wait_past_the_bound_while_the_reader_takes_bytes():
    async def run() -> None:
        response = guard(DrainingTransport(size=1_000_000, step=100))
        await response._send_while_taken(await send_waiting(3 * BOUND_S), {"type": "http.response.body"})

    asyncio.run(run())


def test_a_reader_that_takes_nothing_is_stalled_after_the_bound():
    async def run() -> float:
        response = guard(DrainingTransport(size=8192, step=0))
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(ReaderStalled):
            await response._send_while_taken(await send_waiting(10), {"type": "http.response.body"})
        return loop.time() - started

    waited = asyncio.run(run())
    assert BOUND_S <= waited < BOUND_S + 0.5, f"stalled after {waited:.2f} s, bound {BOUND_S} s"


def test_without_a_transport_one_write_may_wait_the_bound():
    async def run() -> None:
        response = guard(None)
        with pytest.raises(ReaderStalled):
            await response._send_while_taken(await send_waiting(10), {"type": "http.response.body"})
        await response._send_while_taken(await send_waiting(BOUND_S / 3), {"type": "http.response.body"})

    asyncio.run(run())
