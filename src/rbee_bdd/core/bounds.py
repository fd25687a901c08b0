"""A time bound checked from both sides: not before its lower bound, not after its upper one (scaled)."""

from __future__ import annotations

from hamcrest import all_of, greater_than_or_equal_to, less_than_or_equal_to
from hamcrest.core.matcher import Matcher

from rbee_bdd.core.waiting import scaled


def in_bounds(low: float, high: float) -> Matcher[float]:
    """Matches seconds from *low* (as it is: the behaviour's own bound) to *high* (scaled by the run's
    timeout multiplier, like every wait)."""
    return all_of(greater_than_or_equal_to(low), less_than_or_equal_to(scaled(high)))
