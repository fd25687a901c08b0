"""Queen's wait queue: first come first served per model, only the head woken."""

from __future__ import annotations

import asyncio

from rbee.queen.waitqueue import WaitQueue


def test_places_count_from_one_per_model() -> None:
    async def run() -> None:
        queue = WaitQueue()
        assert [queue.join("m", "a"), queue.join("m", "b"), queue.join("n", "c")] == [1, 2, 1]
        assert queue.at_head("m", "a") and not queue.at_head("m", "b") and queue.at_head("n", "c")
        assert queue.waiting() == 3
    asyncio.run(run())


def test_the_next_in_line_is_woken_when_the_head_leaves_and_not_before() -> None:
    async def run() -> None:
        queue = WaitQueue()
        for job in ("a", "b", "c"):
            queue.join("m", job)
        assert await queue.turn("m", "b", 0.05) is False  # a is still at the head
        queue.leave("m", "c")  # one behind it leaving wakes nobody
        assert await queue.turn("m", "b", 0.05) is False
        waiter = asyncio.create_task(queue.turn("m", "b", 5))
        await asyncio.sleep(0)
        queue.leave("m", "a")
        assert await waiter is True and queue.at_head("m", "b")
        queue.leave("m", "b")
        assert queue.waiting() == 0 and not queue.at_head("m", "b")
    asyncio.run(run())


def test_leaving_twice_or_from_an_unknown_line_is_harmless() -> None:
    async def run() -> None:
        queue = WaitQueue()
        queue.join("m", "a")
        queue.leave("m", "a")
        queue.leave("m", "a")
        queue.leave("x", "a")
        assert queue.waiting() == 0 and await queue.turn("m", "a", 0.01) is False
    asyncio.run(run())
