"""What happened to the scenario's stack, when: faults injected and healed, and what the last
``eventually()`` saw. Kept per scenario for the report of a failed one."""

from __future__ import annotations

import time
from dataclasses import dataclass, field


@dataclass
class Timeline:
    started: float = field(default_factory=time.monotonic)
    entries: list[tuple[float, str, str]] = field(default_factory=list)
    last_wait: str = ""

    def record(self, kind: str, text: str) -> None:
        self.entries.append((time.monotonic() - self.started, kind, text))

    def render(self) -> str:
        lines = [f"{at:8.3f} s  {kind:8} {text}" for at, kind, text in self.entries]
        if self.last_wait:
            lines.append(f"last wait: {self.last_wait}")
        return "\n".join(lines) or "(nothing recorded)"


_current = Timeline()


def begin() -> Timeline:
    """A new timeline for the scenario that starts now."""
    global _current
    _current = Timeline()
    return _current


def current() -> Timeline:
    return _current


def fault(text: str) -> None:
    """Record a fault injected, or healed, now."""
    _current.record("fault", text)


def waited(text: str) -> None:
    _current.last_wait = text
