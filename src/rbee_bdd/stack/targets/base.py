"""What every target offers: nodes (queen, hives) that start, answer, show processes, stop."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import httpx

from rbee_bdd.clients.http import request
from rbee_bdd.core.waiting import GiveUp, eventually

QUEEN_PORT = 7833
HIVE_PORT = 7835


class NodeStartError(GiveUp):
    """A daemon did not come up; the message carries its exit code and the end of its log."""


def died_at_start(node: str, code: int | None, log_tail: str) -> NodeStartError:
    return NodeStartError(f"{node} exited during start-up with exit code {code}; its log ends with:\n{log_tail}")


def namespace_pid(host_pid: int) -> int:
    """The pid a process has in its own pid namespace (a container's), from /proc's NSpid."""
    try:
        for line in Path(f"/proc/{host_pid}/status").read_text().splitlines():
            if line.startswith("NSpid:"):
                return int(line.split()[-1])
    except (OSError, ValueError):
        pass
    return host_pid


@dataclass(frozen=True)
class ProcessRow:
    """One process of a node's process table; ``pid`` is the host's pid."""

    pid: int
    command: str

    @property
    def node_pid(self) -> int:
        """The pid as the node itself (and so its hive's reports) sees it."""
        return namespace_pid(self.pid)

    @property
    def worker_id(self) -> str:
        """The value of ``--worker-id`` on the command line, or ""."""
        words = self.command.split()
        return words[words.index("--worker-id") + 1] if "--worker-id" in words[:-1] else ""


@dataclass(frozen=True)
class HiveSpec:
    """What a hive node needs to start."""

    name: str
    queen_url: str  # as the hive reaches queen
    heartbeat_interval: float
    cgroups: bool = True  # False: the hive runs without the rights to write cgroups
    worker_wrapper: str = ""  # a program of fixtures/bin that the hive starts instead, and that execs the worker
    extra_args: tuple[str, ...] = ()
    config: bytes = b""  # a TOML file the hive gets as --config (none when empty)
    download_disk_bytes: int = 0  # its --download-dir on a tmpfs of this size (0: the node's own disk)
    credentials_in_env: bool = False  # its cluster token (and a user's token) in its environment, not a file


class Node(Protocol):
    name: str
    url: str  # where the harness reaches the daemon

    @property
    def address(self) -> str:
        """Where the harness reaches other ports of the node (a hive's workers)."""
        ...

    @property
    def direct_url(self) -> str:
        """The daemon's URL with no proxy between (a proxy would hide a client's TCP backpressure)."""
        ...

    def processes(self) -> list[ProcessRow]: ...

    def stop(self, timeout: float) -> int | None:
        """SIGTERM, SIGKILL after *timeout*; the exit code."""
        ...

    def start(self) -> None:
        """Start again after stop(), on the same address as before; wait until healthy."""
        ...

    def crash_and_recover(self) -> None:
        """SIGKILL the daemon's process alone (not its machine) and wait until it serves again."""
        ...

    def daemon_pid(self) -> int:
        """The host pid of the daemon's own process (the one listening on its port)."""
        ...

    def write_file(self, path: str, data: bytes, mode: int = 0o644) -> None:
        """Replace a file on the node's own filesystem (as the daemon sees it)."""
        ...

    def read_file(self, path: str) -> bytes:
        """A file of the node's own filesystem; AssertionError naming it when it cannot be read."""
        ...

    def log_text(self) -> str:
        """Everything the daemon has written to its log so far."""
        ...

    def list_dir(self, path: str) -> list[str]:
        """Names in a directory of the node's own filesystem."""
        ...

    def remove_file(self, path: str) -> None:
        """Remove the file at *path* on the node's filesystem."""
        ...

    def exit_code(self) -> int | None:
        """The daemon's exit code once it has exited; None while it runs."""
        ...

    def kill(self, sig: int) -> int | None:
        """Send *sig* to the daemon; for SIGKILL, wait until it is gone. The exit code, if it ended."""
        ...

    def write_gpu_state(self, state: dict[str, object]) -> None:
        """Tell the node's fake nvidia-smi how to behave (see fixtures/bin/nvidia-smi)."""
        ...

    def log_tail(self, lines: int = 20) -> str: ...


class Target(Protocol):
    """Starts nodes of one scenario; everything it creates is labelled and removable."""

    # True where queen_url_for_hives() is known before queen runs, so hives may start with it
    queen_address_known_before_start: bool

    def start_queen(self, extra_args: tuple[str, ...] = (), audit_disk_bytes: int = 0) -> Node:
        """Start queen with *extra_args*; with *audit_disk_bytes*, its audit trail on a disk of that size."""
        ...

    def audit_path(self, node: str) -> str:
        """Where the node *node* keeps its audit log, on its own filesystem."""
        ...

    def secret_path(self, name: str) -> str:
        """Where a credential file of the scenario lies, as the daemons see it."""
        ...

    def write_credentials(self, files: dict[str, bytes]) -> None:
        """(Re)write the credential files, private, where every node reads them."""
        ...

    def queen_url_for_hives(self) -> str:
        """Where hives reach the queen this target started."""
        ...

    def start_hive(self, spec: HiveSpec) -> Node: ...

    def worker_program(self, hive: str) -> str:
        """The worker program *hive* starts, on its filesystem: its own copy of its worker_wrapper."""
        ...

    def download_dir(self, hive: str) -> str:
        """The hive's --download-dir, on its filesystem."""
        ...

    def config_path(self, node: str) -> str:
        """Where *node*'s --config file is, on its filesystem."""
        ...

    def hive_slice(self, hive: str) -> str:
        """The cgroup slice, under the hive's own cgroup, where *hive* makes its workers' cgroups."""
        ...

    def harness_address(self) -> str:
        """The address on which the nodes reach a server the harness runs (a model hub)."""
        ...

    def teardown(self) -> None: ...

    def leftovers(self) -> list[str]: ...


def program_of(programs: dict[str, str], hive: str) -> str:
    """*hive*'s own worker program, from a target's record of them."""
    assert hive in programs, f"{hive} was started without a worker wrapper: its worker program is the suite's"
    return programs[hive]


EXIT_LOOK_S = 0.5  # reading a container's exit code is an engine call (inspect): not at every poll of /health


def wait_healthy(url: str, node: str, exit_code: Callable[[], int | None], log_tail: Callable[[], str],
                 timeout: float, untrusted: bool = False) -> None:
    """Poll ``GET /health`` until 200; fail, with exit code and log, if the daemon died (seen within
    EXIT_LOOK_S, and at the end).

    A daemon *untrusted* on purpose (its certificate expired, for another name or from another CA) is up
    once its TLS handshake fails verification, as it will for its peers: the harness never skips it.
    """

    looked = -EXIT_LOOK_S  # when the daemon's exit code was last read

    def died() -> None:
        nonlocal looked
        looked = time.monotonic()
        if (code := exit_code()) is not None:
            raise died_at_start(node, code, log_tail())

    def check() -> bool:
        if time.monotonic() - looked >= EXIT_LOOK_S:
            died()
        try:
            answered = request("GET", f"{url}/health", timeout=1.0).status_code == 200
        except httpx.ConnectError as exc:
            if untrusted and "CERTIFICATE_VERIFY_FAILED" in str(exc):
                return True
            raise AssertionError(f"{url}/health: {exc}") from None
        except httpx.HTTPError as exc:
            raise AssertionError(f"{url}/health: {exc}") from None
        assert not untrusted, f"{node} was to present a certificate its peers refuse, and one was accepted"
        return answered

    what = "to refuse its certificate" if untrusted else "to answer /health"
    try:
        eventually(check, timeout, f"{node} {what} at {url}")
    except NodeStartError:
        raise
    except AssertionError as exc:
        died()  # it may have ended since the last look
        raise NodeStartError(f"{exc}\n{node}'s log ends with:\n{log_tail()}") from None


def tail_file(path: Path, lines: int) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"
