"""A behave formatter: one line per scenario with its result, duration and the run's elapsed time.

On a terminal the scenario running now is shown on a line that is rewritten in place; in CI
(no terminal) only the finished lines are printed. Use it with
``-f rbee_bdd.reports.progress:ScenarioProgress``.
"""

from __future__ import annotations

import os
import time
from typing import Any

from behave.formatter.base import Formatter

from rbee_bdd.core.behave_adapter import outcome_of
from rbee_bdd.core.identity import PART_ENV
from rbee_bdd.reports.facts import failed_step

RUN_STARTED_ENV = "RBEE_BDD_RUN_STARTED"  # set by the parallel runner: the run's start (epoch seconds)


def clock(seconds: float) -> str:
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes:02d}:{rest:02d}"


class ScenarioProgress(Formatter):  # type: ignore[misc]  # behave has no type hints
    name = "rbee-progress"
    description = "one line per scenario, with elapsed time"

    def __init__(self, stream_opener: Any, config: Any) -> None:
        super().__init__(stream_opener, config)
        self.started = float(os.environ.get(RUN_STARTED_ENV) or time.time())  # a part counts from the run's start
        self.current: Any = None
        self.current_started = 0.0
        self.count = 0
        self.tty: bool | None = None  # known once the stream is open

    def _write(self, text: str) -> None:
        stream = self.open()
        stream.write(text)
        stream.flush()

    def _on_tty(self) -> bool:
        if self.tty is None:
            # parts of a parallel run share the terminal: plain lines only, never rewritten in place
            self.tty = bool(getattr(self.open(), "isatty", lambda: False)()) and not os.environ.get(PART_ENV)
        return self.tty

    def _finish_current(self) -> None:
        if self.current is None:
            return
        status = (outcome_of(self.current) or
                  getattr(self.current.status, "name", str(self.current.status))).upper()
        took = time.time() - self.current_started
        line = (f"[{clock(time.time() - self.started)}] {status:8} {took:6.1f} s  "
                f"{self.current.location}  {self.current.name}")
        self._write(("\r\033[K" if self._on_tty() else "") + line + "\n")
        if status in ("FAILED", "ERROR", "HOOK_ERROR"):
            self._write(self._failure(self.current))
        self.current = None

    @staticmethod
    def _failure(scenario: Any) -> str:
        """The failed step and its message (or the hook's), indented under the scenario's line."""
        step, message = failed_step(scenario)
        text = (f"{step}\n{message}" if step else str(getattr(scenario, "error_message", "") or ""))[-4000:]
        return "".join(f"    {line}\n" for line in (text or "(no message)").splitlines())

    def feature(self, feature: Any) -> None:
        self._finish_current()

    def scenario(self, scenario: Any) -> None:
        self._finish_current()
        self.count += 1
        self.current = scenario
        self.current_started = time.time()
        if self._on_tty():
            self._write(f"[{clock(self.current_started - self.started)}] running  #{self.count} "
                        f"{scenario.location}  {scenario.name}")

    def eof(self) -> None:
        self._finish_current()

    def close(self) -> None:
        self._finish_current()
        super().close()
