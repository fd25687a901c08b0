"""Process faults whose undoing is registered before they are done."""

from __future__ import annotations

import contextlib
import os
import signal

from rbee_bdd.core import timeline
from rbee_bdd.core.cleanup import CleanupStack
from rbee_bdd.core.waiting import eventually


def pause_process(pid: int, what: str, cleanup: CleanupStack) -> None:
    """SIGSTOP *pid*; its SIGCONT is registered first, so it is resumed whatever happens."""

    def resume() -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGCONT)
            timeline.fault(f"SIGCONT to {what} (pid {pid})")

    cleanup.push(f"resume {what}", resume)
    signal_process(pid, signal.SIGSTOP, what)


# What the kernel shows once a signal has taken effect: a killed process is gone (or a zombie
# its parent has not reaped yet), a stopped one is in state T. Other signals are handled by the
# process itself, so their effect is for the caller to wait on.
TAKEN_EFFECT = {signal.SIGKILL: ("gone", "Z"), signal.SIGSTOP: ("T", "t"), signal.SIGCONT: None}


def signal_process(pid: int, sig: signal.Signals, what: str, timeout: float = 5.0) -> None:
    """Send *sig* to *pid* (a host pid) and, for SIGKILL and SIGSTOP, wait until the kernel shows its effect."""
    timeline.fault(f"{sig.name} to {what} (pid {pid})")
    os.kill(pid, sig)
    states = TAKEN_EFFECT.get(sig)
    if states:
        eventually(lambda: process_state(pid) in states, timeout,
                   f"{what} (pid {pid}) to show the effect of {sig.name} (state in {states})")


def process_state(pid: int) -> str:
    """The kernel's one-letter state of *pid* (``T`` when stopped); ``gone`` if it no longer exists."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return "gone"
