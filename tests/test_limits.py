"""The per-client limits on their own: authentication failures by address, repeated log lines."""

from __future__ import annotations

import logging

from rbee.common.logdedup import RepeatFilter
from rbee.common.throttle import AuthFailureThrottle


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_an_address_is_throttled_from_its_bound_on_and_freed_when_the_window_passes() -> None:
    clock = Clock()
    throttle = AuthFailureThrottle(limit=3, window_s=30, clock=clock)
    for _ in range(2):
        throttle.failed("10.0.0.1")
    assert throttle.retry_after("10.0.0.1") == 0  # one short of the bound
    throttle.failed("10.0.0.1")
    assert throttle.retry_after("10.0.0.1") == 30  # at the bound: the whole window
    assert throttle.retry_after("10.0.0.2") == 0  # another address is not held up
    clock.now += 29.5
    assert throttle.retry_after("10.0.0.1") == 1
    clock.now += 0.5
    assert throttle.retry_after("10.0.0.1") == 0  # the first failure left the window
    assert AuthFailureThrottle(limit=0).retry_after("x") == 0


def record(msg: str, level: int = logging.WARNING, name: str = "rbee.test") -> logging.LogRecord:
    return logging.LogRecord(name, level, __file__, 1, msg, None, None)


def test_repeated_warnings_pass_once_per_interval_with_the_count_of_those_held_back() -> None:
    clock = Clock()
    repeats = RepeatFilter(interval_s=10, clock=clock)
    assert repeats.filter(record("bad request from %s"))
    assert not any(repeats.filter(record("bad request from %s")) for _ in range(5))
    assert repeats.filter(record("another kind"))  # another template is another kind
    assert repeats.filter(record("bad request from %s", logging.INFO))  # INFO is never held back
    clock.now += 10
    again = record("bad request from %s")
    assert repeats.filter(again)
    assert again.msg == "bad request from %s (and 5 more like it in the last 10 s)"
