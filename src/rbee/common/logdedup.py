"""Repeated warnings and errors logged once per interval, with how often they came.

A client can make a daemon fail the same way on every request (a malformed request, a socket
closed early, a full file table): one log line each would fill the disk and bury everything
else (an attack once made queen log 274,000 tracebacks, 121 MB in 40 s). A warning or error
whose logger, level and message template were already logged within the interval is held
back; the next one logged after the interval says how many were held back, and a traceback
is written only with the first of each interval.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

INTERVAL_S = 10.0
MAX_KINDS = 1000  # distinct (logger, level, template) kinds remembered at once


class RepeatFilter(logging.Filter):
    """Lets the first of each kind of WARNING-or-worse record through per interval; counts the rest."""

    def __init__(self, interval_s: float = INTERVAL_S, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.interval_s = interval_s
        self._clock = clock
        self._seen: dict[tuple[str, int, str], tuple[float, int]] = {}  # kind → (logged at, held back since)

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        kind = (record.name, record.levelno, str(record.msg))
        now = self._clock()
        logged_at, held = self._seen.get(kind, (-self.interval_s, 0))
        if now - logged_at < self.interval_s:
            self._seen[kind] = (logged_at, held + 1)
            return False
        if len(self._seen) >= MAX_KINDS and kind not in self._seen:
            self._seen.pop(next(iter(self._seen)))
        self._seen[kind] = (now, 0)
        if held:
            record.msg = f"{record.msg} (and {held} more like it in the last {now - logged_at:.0f} s)"
        return True
