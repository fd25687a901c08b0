"""Jobs waiting for a worker, first come first served, one line per model.

Only the job at the head of a line watches the registry for a free worker; the others wait for
their turn, woken one at a time as the head leaves. With a thousand jobs in line, a registry
change then wakes one task, not a thousand (each of which used to look up its place in line:
about a quarter of queen's CPU under 1000 clients, measured with py-spy by make bench-load).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import OrderedDict


class WaitQueue:
    def __init__(self) -> None:
        self._lines: dict[str, OrderedDict[str, asyncio.Event]] = {}

    def join(self, model: str, job_id: str) -> int:
        """Put the job at the end of its model's line; its place (1 at the head)."""
        line = self._lines.setdefault(model, OrderedDict())
        line[job_id] = asyncio.Event()
        if len(line) == 1:
            line[job_id].set()
        return len(line)

    def leave(self, model: str, job_id: str) -> None:
        """Take the job out of its line (once it has a worker, gave up or was cancelled); the new
        head, if the job was the head, is woken."""
        line = self._lines.get(model)
        if line is None or line.pop(job_id, None) is None:
            return
        if not line:
            del self._lines[model]
            return
        head = next(iter(line.values()))
        head.set()

    def at_head(self, model: str, job_id: str) -> bool:
        line = self._lines.get(model)
        return bool(line) and next(iter(line)) == job_id  # type: ignore[arg-type]

    async def turn(self, model: str, job_id: str, timeout: float) -> bool:
        """Wait until the job heads its line, at most *timeout* seconds; whether it does."""
        line = self._lines.get(model)
        turn = line.get(job_id) if line else None
        if turn is None:
            return False
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(max(0.0, timeout)):
                await turn.wait()
        return turn.is_set()

    def waiting(self) -> int:
        return sum(len(line) for line in self._lines.values())
