"""The hive's channel to queen: narrations batched, the order of everything kept."""

from __future__ import annotations

import asyncio

from rbee.common.narration import Narration
from rbee.hive.queen_link import HEARTBEAT, MAX_BATCH, QueenLink


def narration(n: int) -> Narration:
    return Narration("llm-worker-rbee", "token", f"event {n}", job_id="job-1")


def test_runs_of_narrations_become_one_batch_each_in_order_around_a_heartbeat() -> None:
    async def run() -> list[object]:
        link = QueenLink("http://127.0.0.1:1", 1.0, dict)
        for n in (1, 2):
            await link.narrate(narration(n))
        await link.push_heartbeat()
        await link.narrate(narration(3))
        return await link._take()

    taken = asyncio.run(run())
    assert [item if item == HEARTBEAT else [e["human"] for e in item] for item in taken] == [
        ["event 1", "event 2"], HEARTBEAT, ["event 3"]]


def test_a_batch_holds_at_most_max_batch_and_the_rest_waits_its_turn() -> None:
    async def run() -> tuple[list[object], list[object]]:
        link = QueenLink("http://127.0.0.1:1", 1.0, dict)
        for n in range(MAX_BATCH + 1):
            await link.narrate(narration(n))
        return await link._take(), await link._take()

    first, second = asyncio.run(run())
    assert [len(batch) for batch in first] == [MAX_BATCH]  # type: ignore[arg-type]
    assert [[e["human"] for e in batch] for batch in second] == [[f"event {MAX_BATCH}"]]  # type: ignore[union-attr]
