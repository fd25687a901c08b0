"""Running rbee-keeper as a real process and keeping what it printed."""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass

from rbee_bdd.waiting import scaled


@dataclass(frozen=True)
class KeeperResult:
    exit_code: int
    stdout: str
    stderr: str
    seconds: float

    def describe(self) -> str:
        return (f"exit code {self.exit_code} after {self.seconds:.2f} s\n--- stdout ---\n{self.stdout[-1500:]}"
                f"\n--- stderr ---\n{self.stderr[-1500:]}")


def run_keeper(command: list[str], queen_url: str, args: list[str], timeout: float = 60.0) -> KeeperResult:
    """Run ``rbee-keeper --queen-url URL ARGS…`` to completion (killed after *timeout*)."""
    started = time.monotonic()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    done = subprocess.run([*command, "--queen-url", queen_url, *args], capture_output=True, text=True,
                          timeout=scaled(timeout), env=env, stdin=subprocess.DEVNULL, check=False)
    return KeeperResult(done.returncode, done.stdout, done.stderr, time.monotonic() - started)
