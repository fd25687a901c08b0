"""A stream's reader is stalled when it takes nothing for the bound, not when one write waits that long.

A write that waits resumes only once the transport's buffer drained to its low-water mark; for a
slow reader that can take longer than the bound while the reader keeps taking bytes (the soak
found queen cutting such a reader of a 3000-token job). These drive the guard with a transport
whose buffer shrinks, or not, while one write waits.
"""

import asyncio
import contextlib
import select
import socket
import threading
from collections.abc import Iterator

import pytest

from rbee.common import streaming
from rbee.common.streaming import GuardedStreamingResponse, ReaderStalled

BOUND_S = 0.3


class DrainingTransport:
    """A write buffer that loses *step* bytes at every look while *draining*."""

    def __init__(self, size: int, step: int, sock: socket.socket | None = None) -> None:
        self.size = size
        self.step = step
        self.sock = sock

    def get_write_buffer_size(self) -> int:
        self.size = max(0, self.size - self.step)
        return self.size

    def get_extra_info(self, name: str) -> socket.socket | None:
        return self.sock if name == "socket" else None


@pytest.fixture
def full_connection() -> Iterator[tuple[socket.socket, socket.socket]]:
    """A loopback TCP connection whose sender's kernel buffers are full: (sender, reader)."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        reader = socket.create_connection(server.getsockname())
        reader.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sender, _ = server.accept()
    sender.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 16384)
    sender.setblocking(False)
    try:
        while True:
            sender.send(b"x" * 512)
    except BlockingIOError:
        pass
    yield sender, reader
    sender.close()
    reader.close()


def guard(transport: DrainingTransport | None, bound_s: float = BOUND_S) -> GuardedStreamingResponse:
    async def events():
        yield b""

    response = GuardedStreamingResponse(events(), bound_s, "test reader")
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


def test_a_reader_whose_acknowledgements_come_while_the_buffer_stands_still_is_not_stalled(full_connection):
    # the transport's buffer moves only when the kernel wakes the writer (a third of its send buffer
    # free); the reader's acknowledgements come sooner: a steady slow reader is judged by them
    sender, reader = full_connection
    reading = threading.Event()

    def read_slowly() -> None:
        while not reading.wait(0.005):
            reader.recv(1024)

    def refill_when_woken() -> None:  # as an event loop does: on the kernel's "writable", all it takes
        while not reading.is_set():
            if select.select([], [sender], [], 0.05)[1]:
                with contextlib.suppress(BlockingIOError):
                    while True:
                        sender.send(b"x" * 512)

    threads = [threading.Thread(target=work, daemon=True) for work in (read_slowly, refill_when_woken)]
    for thread in threads:
        thread.start()

    async def run() -> None:  # acknowledgements came about every 0.2 s here: a bound of 1 s, a write of 2.5
        response = guard(DrainingTransport(size=8192, step=0, sock=sender), bound_s=1.0)
        await response._send_while_taken(await send_waiting(2.5), {"type": "http.response.body"})

    try:
        asyncio.run(run())
    finally:
        reading.set()
        for thread in threads:
            thread.join()


def test_a_reader_of_a_full_connection_that_reads_nothing_is_stalled(full_connection):
    sender, _ = full_connection

    async def run() -> None:
        response = guard(DrainingTransport(size=8192, step=0, sock=sender))
        with pytest.raises(ReaderStalled):
            await response._send_while_taken(await send_waiting(10), {"type": "http.response.body"})

    asyncio.run(run())


def test_without_a_transport_one_write_may_wait_the_bound():
    async def run() -> None:
        response = guard(None)
        with pytest.raises(ReaderStalled):
            await response._send_while_taken(await send_waiting(10), {"type": "http.response.body"})
        await response._send_while_taken(await send_waiting(BOUND_S / 3), {"type": "http.response.body"})

    asyncio.run(run())


def fill(sender: socket.socket) -> None:
    """Write to a non-blocking socket until its kernel takes no more."""
    with contextlib.suppress(BlockingIOError):
        while True:
            sender.send(b"x" * 512)


def test_acknowledged_bytes_grow_only_while_the_reader_reads(full_connection):
    sender, reader = full_connection
    transport = DrainingTransport(size=0, step=0, sock=sender)
    pause = threading.Event()  # never set: its wait() is a pause between looks

    def acknowledged() -> int:
        value = streaming.acknowledged_bytes(transport)
        assert value is not None, "this kernel gives tcpi_bytes_acked (Linux 4.1 and later)"
        return value

    # the reader's kernel takes more than its buffer's size for a while (it packs what it queued), then
    # its window closes and the acknowledgements stop, with the sender's queue still full
    before = -1
    for _ in range(50):
        fill(sender)
        pause.wait(0.1)
        if (settled := acknowledged()) == before:
            break
        before = settled
    fill(sender)
    pause.wait(0.3)
    assert acknowledged() == before, f"nothing read for 0.3 s, yet {acknowledged() - before} more acknowledged"
    reader.setblocking(False)
    taken = 0
    for _ in range(100):  # reading frees the reader's window: the sender's queued bytes go and are acknowledged
        with contextlib.suppress(BlockingIOError):
            taken += len(reader.recv(4096))
        pause.wait(0.01)
        if acknowledged() > before:
            break
    assert acknowledged() > before, f"the reader took {taken} bytes, acknowledged stayed at {before}"
    assert streaming.acknowledged_bytes(DrainingTransport(size=0, step=0)) is None, "no socket: unknown"


def settle(sender: socket.socket) -> None:
    """Fill the sender until its peer acknowledges nothing more (its window closed)."""
    transport = DrainingTransport(size=0, step=0, sock=sender)
    before = -1
    for _ in range(50):
        fill(sender)
        threading.Event().wait(0.1)
        if (now := streaming.acknowledged_bytes(transport)) == before:
            return
        before = now if now is not None else -1


def writes_for(seconds: float, response: GuardedStreamingResponse) -> None:
    """Writes taken at once (buffers in front of the socket absorb them), one every 20 ms for *seconds*."""
    async def run() -> None:
        loop = asyncio.get_running_loop()
        ends = loop.time() + seconds
        while loop.time() < ends:
            await response._send_while_taken(await send_waiting(0.02), {"type": "http.response.body"})

    asyncio.run(run())


def test_a_reader_that_takes_nothing_is_stalled_even_when_every_write_is_taken_at_once(full_connection):
    # over TLS, uvloop's own transport under the TLS layer takes writes long after the socket is full
    sender, _ = full_connection
    settle(sender)
    response = guard(DrainingTransport(size=0, step=0, sock=sender))
    with pytest.raises(ReaderStalled):
        writes_for(BOUND_S + 1.0, response)


def test_a_reader_that_reads_is_not_stalled_by_writes_taken_at_once(full_connection):
    sender, reader = full_connection
    settle(sender)
    reading = threading.Event()

    def read_slowly() -> None:
        while not reading.wait(0.005):
            with contextlib.suppress(BlockingIOError):
                reader.recv(1024)
            fill(sender)

    thread = threading.Thread(target=read_slowly, daemon=True)
    thread.start()
    try:
        writes_for(BOUND_S + 1.0, guard(DrainingTransport(size=0, step=0, sock=sender)))
    finally:
        reading.set()
        thread.join()
