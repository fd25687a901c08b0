"""A chaos run's history: one JSON object a line, each with ``t`` (seconds since the run began,
monotonic) and ``type``.

Types: ``reference`` (the fault-free completion of a job's parameters), ``invoke`` (a client
asks for a job: op, client, model, prompt, seed, max_tokens, timeout_s, plan), ``accepted``
(op, job_id), ``refused`` (op, status, code), ``token`` (op, i, text), ``narration`` (op, actor,
action), ``end`` (op, marker, via: stream or status), ``fault`` and ``heal`` (name, node,
detail), ``final`` (what the stack looked like after the last heal).
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

Event = dict[str, Any]


class History:
    """Appends events, in memory and to a file as they come (a run that dies leaves its history)."""

    def __init__(self, path: Path | None = None) -> None:
        self.started = time.monotonic()
        self.events: list[Event] = []
        self._lock = threading.Lock()
        self._file = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._file = path.open("w", encoding="utf-8")

    def now(self) -> float:
        return round(time.monotonic() - self.started, 4)

    def add(self, kind: str, at: float | None = None, **fields: Any) -> Event:
        """Record an event of *kind*, at *at* (a time.monotonic() reading) or now."""
        t = round(at - self.started, 4) if at is not None else self.now()
        event = {"t": t, "type": kind, **fields}
        with self._lock:
            self.events.append(event)
            if self._file is not None:
                self._file.write(json.dumps(event, separators=(",", ":")) + "\n")
                self._file.flush()
        return event

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def load(path: Path) -> list[Event]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
