import asyncio

from rbee.common.events import DONE, EventLog


async def _collect(log: EventLog) -> list[bytes]:
    return [chunk async for chunk in log.stream(keepalive_s=0.05)]


def test_late_reader_gets_every_event_then_the_marker():
    async def scenario() -> list[bytes]:
        log = EventLog()
        await log.append("token", {"t": "a", "i": 0})
        await log.close(DONE)
        return await _collect(log)

    chunks = asyncio.run(scenario())
    assert chunks == [b'event: token\ndata: {"t":"a","i":0}\n\n', b"data: [DONE]\n\n"]


def test_only_one_terminal_marker_and_nothing_after_it():
    async def scenario() -> tuple[bool, bool, int]:
        log = EventLog()
        first = await log.close(DONE)
        second = await log.close("[ERROR] X: y")
        await log.append("token", {"t": "late", "i": 9})
        return first, second, len(log.events)

    assert asyncio.run(scenario()) == (True, False, 1)


def test_idle_stream_sends_keepalives():
    async def scenario() -> list[bytes]:
        log = EventLog()

        async def finish_later() -> None:
            await asyncio.sleep(0.2)
            await log.close(DONE)

        task = asyncio.create_task(finish_later())
        chunks = await _collect(log)
        await task
        return chunks

    chunks = asyncio.run(scenario())
    assert b": keep-alive\n\n" in chunks
    assert chunks[-1] == b"data: [DONE]\n\n"
