"""The suite's Gherkin vocabulary: counts with their noun, singular or plural as English wants.

``{n:Workers}`` matches "1 worker" and "3 workers" and gives the number; ``{n:Node}`` names a
daemon (``queen``, ``hive "hive-1"``). Registered by
``features/environment.py`` before behave loads the steps.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import parse
from behave import register_type

NOUNS = {
    "Seconds": ("second", "seconds"),
    "Workers": ("worker", "workers"),
    "Hives": ("hive", "hives"),
    "WorkerProcesses": ("worker process", "worker processes"),
    "ReadyWorkers": ("ready worker", "ready workers"),
    "Jobs": ("job", "jobs"),
    "Requests": ("request", "requests"),
}


ParseType = Callable[[str], Any]


def with_pattern(pattern: str) -> Callable[[ParseType], ParseType]:
    """``parse.with_pattern``, typed (the parse package has no type hints)."""
    return cast(Callable[[ParseType], ParseType], parse.with_pattern(pattern))


def count_of(singular: str, plural: str) -> Callable[[str], int]:
    """A parse type for "<n> <noun>": 1 takes the singular, any other number the plural."""

    @with_pattern(rf"\d+ (?:{plural}|{singular})")
    def count(text: str) -> int:
        number, noun = text.split(" ", 1)
        expected = singular if number == "1" else plural
        if noun != expected:
            raise ValueError(f"say {number} {expected!r}, not {text!r}")
        return int(number)

    return count


@with_pattern(r'queen|hive "[^"]+"')
def parse_node(text: str) -> str:
    """``{n:Node}``: ``queen`` or ``hive "hive-1"`` → the node's name in the stack."""
    return text if text == "queen" else text.split('"')[1]


def register() -> None:
    register_type(**{name: count_of(*words) for name, words in NOUNS.items()}, Node=parse_node)
