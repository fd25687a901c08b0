"""Finding the suite's own processes by the marks in their environment, and ending them."""

from __future__ import annotations

import contextlib
import os

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


def processes_in_pid_namespace_of(pid: int) -> list[tuple[int, str]]:
    """(host pid, command line) of every process in the pid namespace of host process *pid*, from /proc.

    A container engine's ``top`` may answer with the container's own pids (Podman runs ``ps`` inside
    the container); the host's are the ones its probes and signals use.
    """
    try:
        namespace = os.stat(f"/proc/{pid}/ns/pid").st_ino
    except OSError:
        return []
    rows = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            if os.stat(f"/proc/{entry.name}/ns/pid").st_ino != namespace:
                continue
            with open(f"/proc/{entry.name}/cmdline", "rb") as cmdline:
                args = cmdline.read().rstrip(b"\0").replace(b"\0", b" ").decode(errors="replace")
            if args:  # a kernel thread or a process ending has none
                rows.append((int(entry.name), args))
    return rows
