"""Finding the suite's own processes by the marks in their environment, and ending them."""

from __future__ import annotations

import contextlib

import psutil


def processes_with_env(key: str, value: str) -> list[psutil.Process]:
    """Every process whose environment has ``key=value`` (how the suite marks its processes)."""
    found = []
    for proc in psutil.process_iter():
        with contextlib.suppress(psutil.Error):
            if proc.environ().get(key) == value:
                found.append(proc)
    return found


def kill_all(procs: list[psutil.Process], grace: float) -> None:
    """SIGTERM, wait up to *grace*, then SIGKILL whatever is left."""
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            proc.terminate()
    _, alive = psutil.wait_procs(procs, timeout=grace)
    for proc in alive:
        with contextlib.suppress(psutil.Error):
            proc.kill()
    psutil.wait_procs(alive, timeout=grace)
