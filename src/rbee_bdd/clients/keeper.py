"""Running rbee-keeper as a real process and keeping what it printed."""

from __future__ import annotations

import os
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO

from rbee_bdd.core.waiting import scaled


@dataclass(frozen=True)
class KeeperResult:
    exit_code: int
    stdout: str
    stderr: str
    seconds: float

    def describe(self) -> str:
        return (f"exit code {self.exit_code} after {self.seconds:.2f} s\n--- stdout ---\n{self.stdout[-1500:]}"
                f"\n--- stderr ---\n{self.stderr[-1500:]}")


Rename = Callable[[list[str]], list[str]]


class KeeperProcess:
    """rbee-keeper running in the background: its output is read as it comes."""

    def __init__(self, command: list[str], queen_url: str, args: list[str],
                 extra_env: dict[str, str] | None = None, rename: Rename = list) -> None:
        self.started = time.monotonic()
        self.popen = subprocess.Popen(rename([*command, "--queen-url", queen_url, *args]), stdin=subprocess.DEVNULL,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                      env={**os.environ, "PYTHONUNBUFFERED": "1", **(extra_env or {})},
                                      start_new_session=True)
        self.stdout: list[str] = []
        self.stderr: list[str] = []
        self._pumps = [threading.Thread(target=self._pump, args=(stream, sink), daemon=True)
                       for stream, sink in ((self.popen.stdout, self.stdout), (self.popen.stderr, self.stderr))]
        for pump in self._pumps:
            pump.start()

    @staticmethod
    def _pump(stream: IO[str] | None, sink: list[str]) -> None:
        if stream is None:
            return
        while chunk := stream.read(1):
            sink.append(chunk)

    def send_signal(self, sig: int) -> None:
        self.popen.send_signal(sig)

    def wait(self, timeout: float) -> KeeperResult:
        """Wait for the exit (killed after *timeout*); what it printed."""
        try:
            self.popen.wait(scaled(timeout))
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait()
        for pump in self._pumps:  # they end at end of file, once the process is gone
            pump.join(5)
        return KeeperResult(self.popen.returncode, "".join(self.stdout), "".join(self.stderr),
                            time.monotonic() - self.started)

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.kill()
            self.popen.wait()


def run_keeper(command: list[str], queen_url: str, args: list[str], timeout: float = 60.0,
               extra_env: dict[str, str] | None = None, rename: Rename = list) -> KeeperResult:
    """Run ``rbee-keeper --queen-url URL ARGS…`` to completion (killed after *timeout*); *rename* maps
    the flags to the build's names (its profile)."""
    started = time.monotonic()
    env = {**os.environ, "PYTHONUNBUFFERED": "1", **(extra_env or {})}
    done = subprocess.run(rename([*command, "--queen-url", queen_url, *args]), capture_output=True, text=True,
                          timeout=scaled(timeout), env=env, stdin=subprocess.DEVNULL, check=False)
    return KeeperResult(done.returncode, done.stdout, done.stderr, time.monotonic() - started)
