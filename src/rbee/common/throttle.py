"""Authentication failures per client address: past a bound in a window, the address waits.

Guessing credentials costs an attacker one request per guess; after ``limit`` refusals for
credentials (401) from one address within ``window_s`` seconds, every request from that
address is answered 429 ``TOO_MANY_AUTH_FAILURES`` with ``Retry-After`` until the window that
holds those failures has passed. Successful requests do not reset the count.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable

DEFAULT_LIMIT = 50
DEFAULT_WINDOW_S = 60.0
MAX_ADDRESSES = 10_000  # addresses tracked at once: the oldest are forgotten beyond this


class AuthFailureThrottle:
    """Counts 401s by client address in a sliding window."""

    def __init__(self, limit: int = DEFAULT_LIMIT, window_s: float = DEFAULT_WINDOW_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.window_s = window_s
        self._clock = clock
        self._failures: dict[str, deque[float]] = {}
        self.throttled = 0  # requests answered 429 for it, since start

    def _recent(self, address: str) -> deque[float]:
        now = self._clock()
        times = self._failures.get(address, deque())
        while times and times[0] <= now - self.window_s:
            times.popleft()
        if not times:
            self._failures.pop(address, None)
        return times

    def retry_after(self, address: str) -> int:
        """0 when *address* may be heard, else the seconds it must wait (whole, at least 1)."""
        if self.limit <= 0:
            return 0
        times = self._recent(address)
        if len(times) < self.limit:
            return 0
        self.throttled += 1
        return max(1, math.ceil(times[-self.limit] + self.window_s - self._clock()))

    def failed(self, address: str) -> None:
        if self.limit <= 0:
            return
        times = self._recent(address)
        if not times:
            if len(self._failures) >= MAX_ADDRESSES:
                self._failures.pop(next(iter(self._failures)))
            self._failures[address] = times
        times.append(self._clock())
