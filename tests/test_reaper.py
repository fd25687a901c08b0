"""The reaper: after ``kill -9`` of the runner mid-scenario, nothing of its run stays."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

from rbee_bdd.core.identity import OWNER_ENV, RUN_ENV
from rbee_bdd.core.waiting import eventually

ROOT = Path(__file__).resolve().parents[1]


def marked_processes(runner_pid: int) -> list[int]:
    """Processes whose environment names *runner_pid* as their owner."""
    found = []
    for proc in psutil.process_iter():
        try:
            if proc.environ().get(OWNER_ENV, "").startswith(f"{runner_pid}:"):
                found.append(proc.pid)
        except psutil.Error:
            continue
    return found


def test_a_killed_runner_leaves_nothing_after_ten_seconds(tmp_path: Path) -> None:
    behave = str(Path(sys.executable).parent / "behave")
    runner = subprocess.Popen([behave, "-D", "target=local", "-D", f"reports_dir={tmp_path}",
                               "features/faults/cascading_shutdown.feature:7"], cwd=ROOT,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        eventually(lambda: len(marked_processes(runner.pid)) >= 5, 60, "queen, 2 hives and workers to run")
        run_id = psutil.Process(marked_processes(runner.pid)[0]).environ()[RUN_ENV]
    finally:
        os.kill(runner.pid, signal.SIGKILL)
        runner.wait()
    killed = time.monotonic()
    eventually(lambda: marked_processes(runner.pid) == [], 10, "every process of the killed run to be gone")
    eventually(lambda: list(Path(tempfile.gettempdir()).glob(f"rbee-bdd-{run_id}-s*")) == [],
               10 - (time.monotonic() - killed), "the run's work folders to be gone")
    print(f"nothing left {time.monotonic() - killed:.1f} s after kill -9")
