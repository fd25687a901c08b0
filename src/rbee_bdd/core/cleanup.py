"""Cleanups that always run: LIFO, each registered before the thing it undoes is created."""

from __future__ import annotations

import contextlib
import logging
import signal
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from types import FrameType

log = logging.getLogger("rbee_bdd.core.cleanup")


@dataclass
class CleanupStack:
    """Undo actions run last-in first-out; a failing one never stops the rest."""

    name: str
    _actions: list[tuple[str, Callable[[], None]]] = field(default_factory=list)

    def push(self, description: str, action: Callable[[], None]) -> None:
        self._actions.append((description, action))

    def run(self) -> list[str]:
        """Run every action; return the descriptions of those that failed, with why."""
        errors: list[str] = []
        with deferred_signals():
            while self._actions:
                description, action = self._actions.pop()
                try:
                    action()
                except Exception as exc:  # keep cleaning whatever failed
                    errors.append(f"{description}: {type(exc).__name__}: {exc}")
        return errors


@contextlib.contextmanager
def cleaned_up(name: str) -> Iterator[CleanupStack]:
    """A cleanup stack for a command-line tool (a benchmark, the fuzzer): run on the way out,
    whatever happens, its failures printed on stderr as ``name: clean-up failed: …``."""
    cleanup = CleanupStack(name)
    try:
        yield cleanup
    finally:
        if errors := cleanup.run():
            print(f"{name}: clean-up failed: " + "; ".join(errors), file=sys.stderr)


class _Signals:
    deferring = 0
    pending: int | None = None
    received: int | None = None  # the first SIGINT or SIGTERM of the run


def signal_received() -> str:
    """The name of the signal that interrupted the run ("" while none did)."""
    return signal.Signals(_Signals.received).name if _Signals.received is not None else ""


def _raise_interrupt(signum: int, _frame: FrameType | None) -> None:
    first = _Signals.received is None
    _Signals.received = signum if first else _Signals.received
    if first and not _Signals.deferring:
        out = sys.__stderr__ or sys.stderr
        out.write(f"\nrbee-bdd: {signal.Signals(signum).name} received: stopping the scenario, finishing its "
                  "cleanup first…\n")
        out.flush()
    if _Signals.deferring:
        _Signals.pending = signum
        # the real stderr: behave captures sys.stderr during hooks and would show this only afterwards
        out = sys.__stderr__ or sys.stderr
        out.write(f"\nrbee-bdd: {signal.Signals(signum).name} received, finishing cleanup first…\n")
        out.flush()
        return
    raise KeyboardInterrupt(f"interrupted by {signal.Signals(signum).name}")


def install_signal_handlers() -> None:
    """SIGINT and SIGTERM become KeyboardInterrupt, so behave aborts and after-hooks clean up."""
    signal.signal(signal.SIGINT, _raise_interrupt)
    signal.signal(signal.SIGTERM, _raise_interrupt)


class deferred_signals:
    """While cleaning up, a Ctrl+C is remembered instead of interrupting the cleanup."""

    def __enter__(self) -> None:
        _Signals.deferring += 1

    def __exit__(self, *_: object) -> None:
        _Signals.deferring -= 1
        if not _Signals.deferring and _Signals.pending is not None:
            signum, _Signals.pending = _Signals.pending, None
            raise KeyboardInterrupt(f"interrupted by {signal.Signals(signum).name}")
