"""Process faults whose undoing is registered before they are done."""

from __future__ import annotations

import contextlib
import os
import signal

from rbee_bdd import timeline
from rbee_bdd.cleanup import CleanupStack


def pause_process(pid: int, what: str, cleanup: CleanupStack) -> None:
    """SIGSTOP *pid*; its SIGCONT is registered first, so it is resumed whatever happens."""

    def resume() -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGCONT)
            timeline.fault(f"SIGCONT to {what} (pid {pid})")

    cleanup.push(f"resume {what}", resume)
    timeline.fault(f"SIGSTOP to {what} (pid {pid})")
    os.kill(pid, signal.SIGSTOP)


def process_state(pid: int) -> str:
    """The kernel's one-letter state of *pid* (``T`` when stopped); ``gone`` if it no longer exists."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return "gone"
