"""Podman's Docker-compatible API for a run: found, or started for the run and stopped after it.

``python -m rbee_bdd.host.podman run -- COMMAND…`` runs COMMAND with ``DOCKER_HOST`` set to a
Podman service socket. A service that already answers there is used as it is; otherwise
``podman system service`` is started on that socket for the command and stopped when it ends
(also on Ctrl+C). The Docker target then runs unchanged: the Docker SDK speaks to Podman.
The images are built into Podman's store through the same API; Docker's store is not touched.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import docker
from docker.errors import DockerException

from rbee_bdd.core.identity import RUN_LABEL
from rbee_bdd.host.engine import name_and_version
from rbee_bdd.host.sweep import of_dead_runs, sweep

MIN_VERSION = (4, 0)  # the compat API the Docker SDK needs (networks, top, archives) answers from 4.0 on
START_TIMEOUT_S = 20.0
SWEEP_TIMEOUT_S = 30.0  # at most this long, after the command, for the leftovers of its runs to be removable
INSTALL_HINT = "apt-get install podman catatonit uidmap slirp4netns fuse-overlayfs (or: make podman-setup)"


class PodmanUnavailable(Exception):
    """Podman cannot serve the run; the message says why and what to do."""


def default_socket() -> Path:
    """Root's under /run; a user's under XDG_RUNTIME_DIR (or /tmp), so that two users never share one."""
    if os.geteuid() == 0:
        return Path("/run/rbee-podman/podman.sock")
    runtime = os.environ.get("XDG_RUNTIME_DIR") or f"/tmp/rbee-podman-{os.geteuid()}"
    return Path(runtime) / "rbee-podman.sock"


def version_of(name: str) -> tuple[int, ...]:
    """(4, 3, 1) from "4.3.1" or "4.3.1-dev"; () if it is not a version."""
    numbers = []
    for part in name.split("-")[0].split("."):
        if not part.isdigit():
            return ()
        numbers.append(int(part))
    return tuple(numbers)


def check_engine(address: str) -> str | None:
    """None when nothing answers at *address*; else "Podman Engine 4.3.1"; PodmanUnavailable when what
    answers is not a Podman recent enough for the run."""
    try:
        client = docker.DockerClient(base_url=address, timeout=10)
        client.ping()
        name, version = name_and_version(client)
    except DockerException as exc:
        if "Connection refused" in str(exc) or "No such file" in str(exc) or "FileNotFound" in str(exc):
            return None
        raise PodmanUnavailable(f"the socket {address} answers, but not as a Docker-compatible API "
                                f"({exc}); remove it, or set RBEE_PODMAN_SOCKET to another path") from None
    if not name.startswith("Podman"):
        raise PodmanUnavailable(f"the socket {address} is {name or 'an engine'} {version}, not Podman; "
                                "leave ENGINE unset to run on Docker, or set RBEE_PODMAN_SOCKET to Podman's")
    if version_of(version)[:2] < MIN_VERSION:
        raise PodmanUnavailable(f"Podman {version} at {address} is too old: the run needs "
                                f"{'.'.join(map(str, MIN_VERSION))} or newer ({INSTALL_HINT} from a newer release)")
    return f"{name} {version}"


def check_rootless() -> None:
    """A user other than root needs subordinate id ranges for Podman's user namespace."""
    if os.geteuid() == 0:
        return
    user = os.environ.get("USER") or str(os.geteuid())
    for table in ("/etc/subuid", "/etc/subgid"):
        try:
            lines = Path(table).read_text().splitlines()
        except OSError:
            lines = []
        if not any(line.split(":")[0] in (user, str(os.geteuid())) for line in lines):
            raise PodmanUnavailable(f"user {user} has no range in {table}: rootless Podman needs one "
                                    f"(as root: usermod --add-subuids 100000-165535 --add-subgids 100000-165535 "
                                    f"{user}, or make rootless-user)")


PR_SET_PDEATHSIG = 1


def _end_with_parent() -> None:
    """In the service's process before exec: SIGTERM when this process dies, even by SIGKILL."""
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


@contextlib.contextmanager
def service(socket_path: Path) -> Iterator[tuple[str, bool]]:
    """DOCKER_HOST's value for Podman's service at *socket_path*, and whether it was started for the block
    (because none answered)."""
    address = f"unix://{socket_path}"
    if shutil.which("podman") is None:
        raise PodmanUnavailable(f"podman is not installed: {INSTALL_HINT}")
    check_rootless()
    running = check_engine(address)
    if running is not None:
        print(f"podman: using {running} already serving {address}", flush=True)
        yield address, False
        return
    socket_path.parent.mkdir(parents=True, exist_ok=True)
    socket_path.unlink(missing_ok=True)  # a socket left by a service that died
    log_path = socket_path.with_suffix(".log")
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(["podman", "system", "service", "--time=0", address], stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True,
                                preexec_fn=_end_with_parent)
    try:
        started, running = time.monotonic(), None
        while running is None:
            if proc.poll() is not None:
                raise PodmanUnavailable(f"podman system service exited with {proc.returncode}; "
                                        f"its output: {log_path}")
            if time.monotonic() - started > START_TIMEOUT_S:
                raise PodmanUnavailable(f"podman system service did not answer at {address} within "
                                        f"{START_TIMEOUT_S:g} s; its output: {log_path}")
            time.sleep(0.2)  # the service process is starting; it answers once its socket listens
            with contextlib.suppress(PodmanUnavailable):
                running = check_engine(address)
        print(f"podman: started {running} at {address} for this run (pid {proc.pid})", flush=True)
        yield address, True
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        socket_path.unlink(missing_ok=True)


def run(command: list[str], socket_path: Path) -> int:
    """COMMAND's exit code, run with DOCKER_HOST set to Podman's service; Ctrl+C reaches COMMAND first.

    Before a service started here stops, whatever runs that ended left on it is removed: a runner killed
    with SIGKILL leaves its clean-up to its reaper, which needs the service to answer.
    """
    with service(socket_path) as (address, started):
        os.environ["DOCKER_HOST"] = address  # for COMMAND, and for the sweep below
        child = subprocess.Popen(command)
        while True:
            try:
                code = child.wait()
                break
            except KeyboardInterrupt:  # the terminal sent SIGINT to the whole group: let COMMAND clean up
                with contextlib.suppress(ProcessLookupError):
                    child.send_signal(signal.SIGINT)
        if started:  # a service found running stays, and so does its owner's clean-up
            sweep_ended_runs()
        return code


def sweep_ended_runs(timeout_s: float = SWEEP_TIMEOUT_S) -> None:
    """Remove what runs that ended left on the engine, waiting up to *timeout_s* for their last processes
    (a runner killed with SIGKILL leaves behave processes that its reaper is still ending) to be gone."""
    deadline = time.monotonic() + timeout_s
    client = docker.from_env(timeout=30)
    while True:
        for item in sweep(of_dead_runs):
            print(f"podman: removed {item}, left by a run that ended", flush=True)
        left = client.containers.list(all=True, filters={"label": RUN_LABEL}) + \
            client.networks.list(filters={"label": RUN_LABEL})
        if not left or time.monotonic() > deadline:
            break
        time.sleep(0.5)  # their owners are ending: the next sweep finds them dead


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rbee_bdd.host.podman", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    runner = commands.add_parser("run", help="run COMMAND with DOCKER_HOST set to a Podman service")
    runner.add_argument("argv", nargs=argparse.REMAINDER, metavar="-- COMMAND")
    args = parser.parse_args(argv)
    command = args.argv[1:] if args.argv[:1] == ["--"] else args.argv
    if not command:
        parser.error("no COMMAND to run")
    socket_path = Path(os.environ.get("RBEE_PODMAN_SOCKET") or default_socket())
    try:
        return run(command, socket_path)
    except PodmanUnavailable as exc:
        print(f"podman: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
