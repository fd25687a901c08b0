"""What happened to the scenario's stack, when: faults injected and healed, and what the last
``eventually()`` saw. Kept per scenario for the report of a failed one."""

from __future__ import annotations

import time
from dataclasses import dataclass, field


@dataclass
class Timeline:
    started: float = field(default_factory=time.monotonic)
    entries: list[tuple[float, str, str]] = field(default_factory=list)
    step: str = ""  # the step running now
    last_wait: str = ""  # the last wait of that step ("" when it has not waited)

    def record(self, kind: str, text: str) -> None:
        self.entries.append((time.monotonic() - self.started, kind, text))

    def begin_step(self, name: str) -> None:
        """A new step: the waits of earlier steps are no longer its "last wait"."""
        self.step = name
        self.last_wait = ""

    def render(self) -> str:
        lines = [f"{at:8.3f} s  {kind:8} {text}" for at, kind, text in self.entries]
        if self.step:
            lines.append(f"last step: {self.step}")
            lines.append(f"last wait of that step: {self.last_wait or '(it did not wait)'}")
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


def step(name: str) -> None:
    """The scenario's next step starts now."""
    _current.begin_step(name)


def last_fault_at() -> float | None:
    """When (time.monotonic()) the scenario's last fault was injected or healed; None if none was."""
    faults = [at for at, kind, _ in _current.entries if kind == "fault"]
    return _current.started + faults[-1] if faults else None


def waited(text: str) -> None:
    _current.last_wait = text
