"""The local target: queen and hives as plain processes on loopback.

Hives and workers listen on 127.0.0.1 with OS-assigned ports. Queen, where the host allows it
(Linux), listens on a loopback address of its own at QUEEN_PORT, known before it starts, so the
hives start together with it; elsewhere on 127.0.0.1 with an OS-assigned port, before the hives."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

import psutil

from rbee_bdd.clients.credentials import (
    ScenarioCredentials,
    hive_credentials,
    per_hive_flags,
    queen_flags,
    worker_env_flags,
)
from rbee_bdd.core import timeline
from rbee_bdd.core.identity import NODE_ENV, SCENARIO_ENV, ScenarioIdentity
from rbee_bdd.core.waiting import eventually, scaled
from rbee_bdd.host.cgroupfs import own_slice_dirs, remove_tree, slice_pids
from rbee_bdd.host.netutil import own_loopback_address
from rbee_bdd.host.processes import kill_all, processes_with_env
from rbee_bdd.stack.config import SuiteConfig
from rbee_bdd.stack.model_hub import hub_flags
from rbee_bdd.stack.targets.base import (
    QUEEN_PORT,
    HiveSpec,
    NodeStartError,
    ProcessRow,
    died_at_start,
    program_of,
    tail_file,
    wait_healthy,
)
from rbee_bdd.stack.transport import Transport

START_TIMEOUT_S = 20.0


# Runs a command in its own mount namespace in which every cgroup filesystem is read-only:
# the kernel then refuses the hive's cgroup writes (EROFS), as in an unprivileged container.
READ_ONLY_CGROUPS = [
    "unshare", "--mount", "--propagation", "private", "sh", "-c",
    "for m in $(awk '$3 == \"cgroup\" || $3 == \"cgroup2\" {print $2}' /proc/self/mounts); do "
    'mount -o remount,bind,ro "$m" || exit 125; done; exec "$@"', "sh",
]


def write_file(target: Path, data: bytes, mode: int) -> None:
    """Replace *target* at once (a reader sees the old file or the new one), created with *mode*."""
    tmp = target.with_name(f".{target.name}.{threading.get_ident()}.tmp")  # nodes may start at once
    tmp.unlink(missing_ok=True)
    tmp.touch(mode=mode)
    tmp.chmod(mode)  # whatever the umask
    tmp.write_bytes(data)
    tmp.replace(target)


class LocalNode:
    """One daemon process; its output goes to its log file. Restarts keep its port."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], log_path: Path, work_dir: Path,
                 slice_name: str = "", host: str = "127.0.0.1", port: int = 0, scheme: str = "http",
                 untrusted: bool = False) -> None:
        self.name = name
        self.scheme = scheme
        self.untrusted = untrusted  # its certificate is to be refused (see wait_healthy)
        self.host = host
        self.slice_name = slice_name  # a hive's cgroup slice: its workers are there, even adopted ones
        self.args = args
        self.env = env
        self.log_path = log_path
        self.work_dir = work_dir
        self.port_file = work_dir / f"{name}.port"
        self.gpu_state = work_dir / f"{name}-nvidia-smi.json"
        self.port = port  # 0: the OS chooses at the first start (kept by restarts)
        self.url = ""
        self.popen: subprocess.Popen[bytes] | None = None
        self.rename: Callable[[list[str]], list[str]] = list  # to the build's own flag names

    @property
    def address(self) -> str:
        return self.host

    @property
    def direct_url(self) -> str:
        return self.url

    @property
    def pid(self) -> int:
        assert self.popen is not None
        return self.popen.pid

    def start(self) -> None:
        self.port_file.unlink(missing_ok=True)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            try:
                self.popen = subprocess.Popen(
                    self.rename([*self.args, "--port", str(self.port), "--port-file", str(self.port_file)]),
                    stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=self.env,
                    cwd=self.work_dir, start_new_session=True,
                )
            except OSError as exc:
                raise NodeStartError(f"cannot start {self.name} ({self.args[0]}): {exc.strerror}") from None
        self._wait_ready()

    def exit_code(self) -> int | None:
        return None if self.popen is None else self.popen.poll()

    def is_running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def _wait_ready(self) -> None:
        def port() -> str:
            if (code := self.exit_code()) is not None:
                raise died_at_start(self.name, code, self.log_tail())
            return self.port_file.read_text().strip() if self.port_file.exists() else ""

        try:
            bound = eventually(port, START_TIMEOUT_S, f"{self.name} to write its port file")
        except NodeStartError:
            raise
        except AssertionError as exc:
            raise NodeStartError(f"{exc}\n{self.name}'s log ends with:\n{self.log_tail()}") from None
        self.port = int(bound)
        self.url = f"{self.scheme}://{self.host}:{self.port}"
        wait_healthy(self.url, self.name, self.exit_code, self.log_tail, START_TIMEOUT_S, self.untrusted)

    def _tree(self) -> list[psutil.Process]:
        """The daemon, its descendants, and whatever runs in its cgroup slice (adopted workers); as a user
        other than root (no slice), the processes marked with the scenario and this node."""
        found: dict[int, psutil.Process] = {}
        with contextlib.suppress(psutil.Error):
            root = psutil.Process(self.pid)
            found = {p.pid: p for p in [root, *root.children(recursive=True)]}
        slices = own_slice_dirs(self.slice_name) if self.slice_name else []
        for directory in slices:
            for pid in slice_pids(directory) - set(found):
                with contextlib.suppress(psutil.Error):
                    found[pid] = psutil.Process(pid)
        if self.slice_name and not slices and os.geteuid() != 0:  # without root a hive makes no cgroups:
            # an adopted worker is no child of the hive that adopted it; it carries the node's marks
            marks = self.env[SCENARIO_ENV], self.name
            for proc in processes_with_env(SCENARIO_ENV, marks[0]):
                with contextlib.suppress(psutil.Error):
                    if proc.pid not in found and proc.environ().get(NODE_ENV) == marks[1]:
                        found[proc.pid] = proc
        return list(found.values())

    def processes(self) -> list[ProcessRow]:
        rows = []
        for proc in self._tree():
            with contextlib.suppress(psutil.Error):
                rows.append(ProcessRow(proc.pid, " ".join(proc.cmdline())))
        return rows

    def stop(self, timeout: float) -> int | None:
        """SIGTERM the daemon (it stops its workers), SIGKILL after *timeout*; reap stragglers."""
        if self.popen is None:
            return None
        timeline.fault(f"stop (SIGTERM, SIGKILL after {timeout:g} s) to {self.name}")
        tree = self._tree()
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(scaled(timeout))
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        kill_all([p for p in tree[1:] if p.is_running()], grace=scaled(5))
        return self.popen.returncode

    def kill(self, sig: int) -> int | None:
        timeline.fault(f"{signal.Signals(sig).name} to {self.name}")
        if self.popen is None or self.popen.poll() is not None:
            return None if self.popen is None else self.popen.returncode
        self.popen.send_signal(sig)
        if sig == signal.SIGKILL:
            return self.popen.wait(scaled(10))
        return None

    def daemon_pid(self) -> int:
        assert self.popen is not None and self.popen.poll() is None, f"{self.name} is not running"
        return self.popen.pid

    def crash_and_recover(self) -> None:
        timeline.fault(f"SIGKILL to the daemon process of {self.name}, which comes back")
        """SIGKILL the daemon alone (its workers, in their own sessions, keep running); start it again."""
        self.kill(signal.SIGKILL)
        self.start()

    def write_file(self, path: str, data: bytes, mode: int = 0o644) -> None:
        write_file(Path(path), data, mode)

    def read_file(self, path: str) -> bytes:
        try:
            return Path(path).read_bytes()
        except OSError as exc:
            raise AssertionError(f"{path} of {self.name}: {exc.strerror}") from None

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def list_dir(self, path: str) -> list[str]:
        return sorted(p.name for p in Path(path).iterdir())

    def remove_file(self, path: str) -> None:
        Path(path).unlink(missing_ok=True)

    def write_gpu_state(self, state: dict[str, object]) -> None:
        tmp = self.gpu_state.with_suffix(".tmp")
        tmp.write_text(json.dumps(state))
        tmp.chmod(0o644)
        tmp.replace(self.gpu_state)

    def log_tail(self, lines: int = 20) -> str:
        return tail_file(self.log_path, lines)


class LocalTarget:
    """Starts the configured programs as local processes, marked by the scenario's env vars."""

    queen_address_known_before_start: bool  # where queen has an address of its own

    def __init__(self, config: SuiteConfig, identity: ScenarioIdentity, log_dir: Path,
                 credentials: ScenarioCredentials | None = None, audit: bool = False,
                 transport: Transport | None = None) -> None:
        self.config = config
        self.transport = transport or Transport()
        self.identity = identity
        self.log_dir = log_dir
        self.work_dir = Path(tempfile.mkdtemp(prefix=f"rbee-bdd-{identity.scenario_id}-"))
        self.secrets_dir = self.work_dir / "secrets"
        self.nodes: list[LocalNode] = []
        self.hive_names: list[str] = []
        self.worker_programs: dict[str, str] = {}
        self.mounts: list[Path] = []  # tmpfs mounts of hives' download dirs, unmounted at teardown
        self.credentials = credentials
        self.audit = audit
        self.audit_paths: dict[str, str] = {}  # a daemon's audit trail where it is not in the log folder
        self.queen_host = own_loopback_address()
        self.queen_address_known_before_start = self.queen_host is not None
        if credentials is not None or self.transport.tls:
            self.secrets_dir.mkdir(mode=0o700)
        if credentials is not None:
            self.write_credentials(credentials.files())
            for node in ["queen", *credentials.hive_tokens]:  # one folder: every node's own files
                self.write_credentials(credentials.node_files(node))

    def write_credentials(self, files: dict[str, bytes]) -> None:
        mode = self.credentials.file_mode if self.credentials is not None else 0o600
        for name, data in files.items():
            write_file(self.secrets_dir / name, data, mode)

    def audit_path(self, node: str) -> str:
        return self.audit_paths.get(node, str(self.log_dir / f"{node}-audit.jsonl"))

    def secret_path(self, name: str) -> str:
        return str(self.secrets_dir / name)

    def _security_flags(self, node: str, credential_flags: list[str], hosts: list[str]) -> list[str]:
        """Credentials, audit trail and transport (every address on loopback: no plaintext flag needed)."""
        flags = [*credential_flags, *per_hive_flags(str(self.secrets_dir), node, self.credentials)] \
            if self.credentials is not None else []
        for name, data in self.transport.files(node, [*hosts, "127.0.0.1", "localhost"]).items():
            (self.secrets_dir / name).parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            write_file(self.secrets_dir / name, data, 0o600)
        return flags + (["--audit-log", self.audit_path(node)] if self.audit else []) + \
            self.transport.flags(str(self.secrets_dir), node, off_loopback=False)

    def _start(self, name: str, args: list[str], extra_env: dict[str, str] | None = None,
               slice_name: str = "", host: str = "127.0.0.1", port: int = 0) -> LocalNode:
        env = {**os.environ, **self.identity.env(), NODE_ENV: name, "PYTHONUNBUFFERED": "1", **(extra_env or {}),
               **self.config.coverage_env()}  # with coverage, the daemons and their workers measure themselves
        node = LocalNode(name, args, env, self.log_dir / f"{name}.log", self.work_dir, slice_name, host, port,
                         self.transport.scheme, self.transport.untrusted(name))
        node.rename = self.config.profile.rename
        self.nodes.append(node)
        node.start()
        return node

    def start_queen(self, extra_args: tuple[str, ...] = (), audit_disk_bytes: int = 0) -> LocalNode:
        host = self.queen_host or "127.0.0.1"
        if audit_disk_bytes:
            disk = self.work_dir / "queen-audit"
            self._mount_tmpfs(disk, audit_disk_bytes)
            self.audit_paths["queen"] = str(disk / "audit.jsonl")
        args = [*self.config.queen_cmd, "--host", host,
                "--hive-stale-after", str(self.config.hive_stale_after),
                *self._security_flags("queen", queen_flags(str(self.secrets_dir)), [host]), *extra_args]
        return self._start("queen", args, host=host, port=QUEEN_PORT if self.queen_host else 0)

    def queen_url_for_hives(self) -> str:
        if self.queen_host:
            return f"{self.transport.scheme}://{self.queen_host}:{QUEEN_PORT}"
        queen = next(node for node in self.nodes if node.name == "queen")
        return queen.url

    def harness_address(self) -> str:
        return "127.0.0.1"

    def start_hive(self, spec: HiveSpec) -> LocalNode:
        gpu_state = self.work_dir / f"{spec.name}-nvidia-smi.json"
        # without root, the hive has no right to write cgroups already (and no right to unshare)
        wrapper = [] if spec.cgroups or os.geteuid() != 0 else READ_ONLY_CGROUPS
        worker_cmd = " ".join(self.config.worker_cmd)
        if spec.worker_wrapper:  # a copy of its own, which the scenario may change without touching the others
            worker_cmd = str(self.work_dir / f"{spec.name}-bin" / spec.worker_wrapper)
            Path(worker_cmd).parent.mkdir(exist_ok=True)
            shutil.copy2(Path(self.config.nvidia_smi).parent / spec.worker_wrapper, worker_cmd)
            self.worker_programs[spec.name] = worker_cmd
        credential_flags, credential_env = hive_credentials(str(self.secrets_dir), self.credentials,
                                                            spec.credentials_in_env)
        args = [*wrapper, *self.config.hive_cmd, "--host", "127.0.0.1", "--queen-url", spec.queen_url,
                "--models", str(self.config.models_dir), "--hive-id", spec.name,
                "--heartbeat-interval", str(spec.heartbeat_interval), "--worker-cmd", worker_cmd,
                "--nvidia-smi", self._nvidia_smi(), "--cgroup-slice", self._slice(spec.name),
                "--state-dir", str(self.work_dir / f"{spec.name}-state"),
                "--download-dir", self.download_dir(spec.name),
                *self._security_flags(spec.name, credential_flags, []), *worker_env_flags(self.config.profile.claims),
                *hub_flags(self.harness_address(), self.config.profile.claims),
                *(["--config", self.config_path(spec.name)] if spec.config else []), *spec.extra_args]
        if spec.config:
            write_file(Path(self.config_path(spec.name)), spec.config, 0o644)
        Path(self.download_dir(spec.name)).mkdir(parents=True, exist_ok=True)  # there from the start, as on docker
        if spec.download_disk_bytes:
            self._mount_tmpfs(Path(self.download_dir(spec.name)), spec.download_disk_bytes)
        self.hive_names.append(spec.name)
        node = self._start(spec.name, args, {"FAKE_NVIDIA_SMI_STATE": str(gpu_state),
                                             "RBEE_REAL_WORKER": " ".join(self.config.worker_cmd), **credential_env},
                           self._slice(spec.name) if spec.cgroups else "")
        node.gpu_state = gpu_state
        return node

    def worker_program(self, hive: str) -> str:
        return program_of(self.worker_programs, hive)

    def config_path(self, node: str) -> str:
        return str(self.work_dir / f"{node}.toml")

    def download_dir(self, hive: str) -> str:
        return str(self.work_dir / f"{hive}-downloads")

    def _mount_tmpfs(self, directory: Path, size: int) -> None:
        """A small disk of its own for *directory* (root only: see capabilities.tmpfs_reason)."""
        directory.mkdir(exist_ok=True)
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(directory)],
                              capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise NodeStartError(f"cannot mount a tmpfs on {directory}: {done.stderr.strip()}")
        self.mounts.append(directory)

    def hive_slice(self, hive: str) -> str:
        return self._slice(hive)

    def _nvidia_smi(self) -> str:
        """The nvidia-smi hives query. The suite's fake is a Python script: run it with the suite's own
        interpreter, not whatever ``env python3`` finds (a pyenv shim costs 0.15 CPU-s a call, hives
        call it every second)."""
        if not self.config.fake_nvidia_smi:
            return self.config.nvidia_smi
        fake = Path(self.config.nvidia_smi)
        launcher = self.work_dir / "nvidia-smi"
        if not launcher.exists():
            launcher.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{fake}" "$@"\n')
            launcher.chmod(0o755)
        return str(launcher)

    def _slice(self, hive: str) -> str:
        """Hives on one machine share its cgroup: each gets a slice of its own."""
        return f"rbee-{self.identity.scenario_id}-{hive}.slice"

    def _slices(self) -> list[Path]:
        return [d for node in self.hive_names for d in own_slice_dirs(self._slice(node))]

    def teardown(self) -> None:
        for node in reversed(self.nodes):
            node.stop(timeout=20)
        self.nodes.clear()
        # a daemon whose start was interrupted before it was recorded still carries the scenario's mark
        kill_all(processes_with_env(SCENARIO_ENV, self.identity.scenario_id), grace=scaled(5))
        for leftover in self._slices():  # a hive killed before it could remove its slice
            with contextlib.suppress(OSError):
                remove_tree(leftover)
        for mount in self.mounts:
            subprocess.run(["umount", "-l", str(mount)], capture_output=True, check=False)
        self.mounts.clear()
        shutil.rmtree(self.work_dir, ignore_errors=True)

    def leftovers(self) -> list[str]:
        procs = processes_with_env(SCENARIO_ENV, self.identity.scenario_id)
        found = []
        for proc in procs:
            with contextlib.suppress(psutil.Error):
                found.append(f"process {proc.pid} ({' '.join(proc.cmdline())[:80]})")
        if self.work_dir.exists():
            found.append(f"directory {self.work_dir}")
        found += [f"cgroup {path}" for path in self._slices()]
        return found
