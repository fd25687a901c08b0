"""Jobs waiting for a worker, first come first served, one line per model."""

from __future__ import annotations

from collections import defaultdict, deque


class WaitQueue:
    def __init__(self) -> None:
        self._lines: defaultdict[str, deque[str]] = defaultdict(deque)

    def join(self, model: str, job_id: str) -> None:
        self._lines[model].append(job_id)

    def leave(self, model: str, job_id: str) -> None:
        line = self._lines[model]
        if job_id in line:
            line.remove(job_id)
        if not line:
            del self._lines[model]

    def position(self, model: str, job_id: str) -> int:
        """1 for the job at the head of its model's line."""
        return list(self._lines[model]).index(job_id) + 1

    def waiting(self) -> int:
        return sum(len(line) for line in self._lines.values())
