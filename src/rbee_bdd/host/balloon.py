"""Memory pressure from outside: a balloon process that joins a worker's memory cgroup and fills it
until the kernel's OOM killer ends the worker.

The worker is made the OOM killer's first choice (its ``oom_score_adj`` raised to 1000, which
needs no privilege beyond owning it, where lowering the balloon's would need CAP_SYS_RESOURCE);
the balloon stops growing the moment the worker is gone, and exits (its memory freed, the cgroup
empty of it) so that the hive can remove the cgroup as for any dead worker.

``python -m rbee_bdd.host.balloon CGROUP_DIR VICTIM_PID`` is the balloon itself (root).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from rbee_bdd.core.cleanup import CleanupStack
from rbee_bdd.host.cgroupfs import memory_cgroup_dir
from rbee_bdd.host.signals import process_state

STEP_BYTES = 4 * 2**20
GIVE_UP_S = 30.0


def limit_bytes(cgroup: Path) -> int | None:
    """The cgroup's memory limit (v1 or v2), None when it has none: a balloon there would fill the host."""
    for name in ("memory.limit_in_bytes", "memory.max"):
        path = cgroup / name
        if path.exists():
            text = path.read_text().strip()
            return None if text == "max" or int(text) >= 2**62 else int(text)
    return None


def gone(pid: int) -> bool:
    return process_state(pid) in ("gone", "Z", "X")


def inflate(cgroup: Path, victim: int) -> int:
    """Join *cgroup* and grow until *victim* is gone (0), or give up after GIVE_UP_S (1)."""
    (cgroup / "cgroup.procs").write_text(str(os.getpid()))
    held: list[bytes] = []
    deadline = time.monotonic() + GIVE_UP_S
    while not gone(victim):
        if time.monotonic() > deadline:
            return 1
        held.append(b"\x01" * STEP_BYTES)  # written, so charged to the cgroup (not lazily mapped zeros)
        time.sleep(0.005)
    return 0


def start_balloon(victim: int, cleanup: CleanupStack) -> subprocess.Popen[bytes]:
    """A balloon in *victim*'s memory cgroup (which must have a limit); killed by *cleanup* if still there."""
    cgroup = memory_cgroup_dir(victim)
    if limit_bytes(cgroup) is None:
        raise ValueError(f"{cgroup} has no memory limit: a balloon would fill the host's memory")
    Path(f"/proc/{victim}/oom_score_adj").write_text("1000")
    balloon = subprocess.Popen([sys.executable, "-m", "rbee_bdd.host.balloon", str(cgroup), str(victim)])


    def remove() -> None:
        balloon.kill()
        balloon.wait()

    cleanup.push(f"remove the memory balloon (pid {balloon.pid})", remove)
    return balloon


if __name__ == "__main__":
    sys.exit(inflate(Path(sys.argv[1]), int(sys.argv[2])))
