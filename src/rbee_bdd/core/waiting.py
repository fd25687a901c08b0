"""Waiting for real conditions: ``eventually()`` polls fast and says what it last saw."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from rbee_bdd.core import timeline

T = TypeVar("T")

_multiplier = 1.0
_diagnosis: Callable[[], str] | None = None  # what the scenario's stack looks like, for a wait that gives up
_diagnosing = False


def set_timeout_multiplier(value: float) -> None:
    """Scale every timeout of the harness (``-D timeout_multiplier=…``)."""
    global _multiplier
    if value <= 0:
        raise ValueError(f"timeout_multiplier must be > 0, got {value}")
    _multiplier = value


def scaled(seconds: float) -> float:
    """*seconds* scaled by the run's timeout multiplier."""
    return seconds * _multiplier


def set_diagnosis(describe: Callable[[], str] | None) -> None:
    """What a wait that gives up adds to its message (the stack's state and hints); None: nothing."""
    global _diagnosis
    _diagnosis = describe


def diagnosis() -> str:
    """The installed diagnosis, on a line of its own ("" when none is installed, or it failed)."""
    global _diagnosing
    if _diagnosis is None or _diagnosing:
        return ""
    _diagnosing = True
    try:
        text = _diagnosis()
    except Exception as exc:  # a diagnosis must never hide the timeout it explains
        text = f"(the stack's state could not be read: {exc!r})"
    finally:
        _diagnosing = False
    return f"\n{text}" if text else ""


class EventuallyTimeout(AssertionError):
    """The condition did not hold in time; the message says what was last seen."""


class GiveUp(AssertionError):
    """Raised by a check when the condition can never hold (the daemon died): ``eventually`` stops at once."""


FIRST_INTERVAL_S = 0.02
MAX_INTERVAL_S = 0.1  # a long wait polls at 10 Hz: polls are HTTP requests, and CPU is shared by parallel runs


def eventually(check: Callable[[], T], timeout: float, what: str, interval: float = FIRST_INTERVAL_S) -> T:
    """Call *check* until it returns a truthy value without raising AssertionError.

    *timeout* is scaled by the multiplier. On timeout, raises EventuallyTimeout naming
    *what* was awaited and the last value or assertion seen. A GiveUp from *check* ends the
    wait at once and is raised as it is. Polls start every *interval* seconds and slow down
    to MAX_INTERVAL_S (a condition that holds soon is seen soon; a long wait costs little).
    """
    deadline = time.monotonic() + scaled(timeout)
    last: object = "nothing (never checked)"
    while True:
        try:
            value = check()
        except GiveUp:
            timeline.waited(f"{what}: given up")
            raise
        except AssertionError as exc:
            last = f"assertion: {exc}"
        else:
            if value:
                timeline.waited(f"{what}: held after {time.monotonic() - deadline + scaled(timeout):.2f} s")
                return value
            last = value
        if time.monotonic() >= deadline:
            timeline.waited(f"{what}: timed out after {scaled(timeout):.1f} s; last saw: {last}")
            raise EventuallyTimeout(f"waited {scaled(timeout):.1f} s for {what}; last saw: {last}{diagnosis()}")
        time.sleep(min(interval, max(0.0, deadline - time.monotonic())))
        interval = max(interval, min(interval * 1.5, MAX_INTERVAL_S))  # a caller's slower pace stays


def holds(check: Callable[[], object], timeout: float, what: str, interval: float = FIRST_INTERVAL_S) -> None:
    """``eventually()`` for a check that asserts: the condition holds once *check* returns without raising."""

    def ran() -> bool:
        check()
        return True

    eventually(ran, timeout, what, interval)
