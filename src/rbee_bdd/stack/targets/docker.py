"""The Docker target: queen and each hive in their own container, on a network of the run's behave process.

Workers are processes inside their hive's container. Containers publish their port on a
random 127.0.0.1 port of the host; inside the network they reach each other by name.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import io
import json
import os
import shutil
import signal
import tarfile
import tempfile
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from docker import DockerClient
from docker.errors import APIError, NotFound
from docker.models.containers import Container
from docker.models.networks import Network

from rbee_bdd.clients.credentials import (
    ScenarioCredentials,
    hive_credentials,
    per_hive_flags,
    queen_flags,
    worker_env_flags,
)
from rbee_bdd.clients.http import name_for_tls
from rbee_bdd.core import timeline
from rbee_bdd.core.identity import OWNER_LABEL, RUN_LABEL, SCENARIO_LABEL, RunIdentity, ScenarioIdentity
from rbee_bdd.core.waiting import eventually, scaled
from rbee_bdd.host.engine import connect, container_ulimits, is_podman
from rbee_bdd.host.processes import processes_in_pid_namespace_of
from rbee_bdd.stack.config import PROJECT, SuiteConfig
from rbee_bdd.stack.model_hub import hub_flags
from rbee_bdd.stack.targets.base import (
    HIVE_PORT,
    QUEEN_PORT,
    HiveSpec,
    NodeStartError,
    ProcessRow,
    died_at_start,
    program_of,
    wait_healthy,
)
from rbee_bdd.stack.transport import Transport

START_TIMEOUT_S = 30.0


# What the harness itself gives every container (a host folder of its own, bound before it starts),
# so that an image needs only the programs under test (plus /bin/sh and python3 for these fixture programs):
HARNESS_DIR = "/opt/rbee-bdd"
FIXTURE_BIN = f"{HARNESS_DIR}/bin"  # fake nvidia-smi, hive-supervisor, worker wrappers
FAKE_NVIDIA_SMI = f"{FIXTURE_BIN}/nvidia-smi"
GPU_STATE = f"{HARNESS_DIR}/nvidia-smi.json"
COVERAGE_CONFIG = f"{HARNESS_DIR}/coverage-daemons.ini"
STATE_DIR = f"{HARNESS_DIR}/state"  # the hive's --state-dir
DOWNLOAD_DIR = f"{HARNESS_DIR}/downloads"  # the hive's --download-dir
SECRETS_DIR = f"{HARNESS_DIR}/secrets"  # the scenario's credential files, private to root
AUDIT_LOG = f"{HARNESS_DIR}/audit.jsonl"  # each daemon's --audit-log, in its own container
AUDIT_DISK_DIR = "/rbee-audit"  # where a daemon's audit trail goes when it gets a small disk of its own
FIXTURES = PROJECT / "fixtures"


@dataclass(frozen=True)
class Entry:
    """A file (*data*) or, with data None, a folder the harness gives a container (bound or archived)."""

    path: str
    data: bytes | None
    mode: int


def tar_of_entries(entries: Iterable[Entry]) -> bytes:
    """A tar of *entries*, in their order (a folder before what it holds)."""
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w") as tar:
        for entry in entries:
            info = tarfile.TarInfo(entry.path.lstrip("/"))
            info.mode = entry.mode
            if entry.data is None:
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            else:
                info.size = len(entry.data)
                tar.addfile(info, io.BytesIO(entry.data))
    return archive.getvalue()


def entries_of(files: dict[str, bytes], mode: int, folder: str = "", folder_mode: int = 0o755) -> list[Entry]:
    """*files* (path: data) with *mode*, under *folder* (made with *folder_mode*) if given."""
    made = [Entry(folder, None, folder_mode)] if folder else []
    return made + [Entry(f"{folder}/{path}" if folder else path, data, mode) for path, data in files.items()]


def tar_of(files: dict[str, bytes], mode: int, folder: str = "", folder_mode: int = 0o755) -> bytes:
    """A tar of *files* (path: data) with *mode*, under *folder* (made with *folder_mode*) if given."""
    return tar_of_entries(entries_of(files, mode, folder, folder_mode))


def lay_out(entries: Iterable[Entry], root: Path, under: str) -> None:
    """Make *entries* (paths under *under*) in the host folder *root*, with their modes."""
    for entry in entries:
        target = root / PurePosixPath(entry.path).relative_to(under)  # ValueError for a path outside
        if entry.data is None:
            target.mkdir(parents=True, exist_ok=True)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(entry.data)
        target.chmod(entry.mode)


@functools.cache
def harness_entries() -> tuple[Entry, ...]:
    """HARNESS_DIR: the fixture programs, the daemons' coverage settings, empty work folders."""
    folders = [Entry(folder, None, 0o755) for folder in (HARNESS_DIR, FIXTURE_BIN, STATE_DIR, DOWNLOAD_DIR)]
    programs = [Entry(f"{FIXTURE_BIN}/{p.name}", p.read_bytes(), 0o755)
                for p in sorted((FIXTURES / "bin").iterdir()) if p.is_file()]
    settings = Entry(COVERAGE_CONFIG, (FIXTURES / "coverage-daemons.ini").read_bytes(), 0o644)
    return (*folders, *programs, settings)


def listening_inodes(pid: int, port: int) -> set[str]:
    """Inodes of the TCP sockets listening on *port* in the network namespace of *pid* (from its /proc)."""
    inodes = set()
    for table in ("tcp", "tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
                fields = line.split()
                if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:  # 0A: LISTEN
                    inodes.add(fields[9])
    return inodes


def listening_pid(rows: list[ProcessRow], port: int) -> int | None:
    """The host pid of the process among *rows* that holds the socket listening on TCP *port*."""
    if not rows:
        return None
    sockets = {f"socket:[{inode}]" for inode in listening_inodes(rows[0].pid, port)}
    for row in rows:
        with contextlib.suppress(OSError):
            fds = Path(f"/proc/{row.pid}/fd")
            if any(os.readlink(fd) in sockets for fd in fds.iterdir()):
                return row.pid
    return None


class DockerNode:
    """One daemon in one container; stop() keeps the container so start() can bring it back."""

    def __init__(self, name: str, container: Container, port: int, log_path: Path, scheme: str = "http",
                 untrusted: bool = False) -> None:
        self.name = name
        self.scheme = scheme
        self.untrusted = untrusted  # its certificate is to be refused (see wait_healthy)
        self.container = container
        self.port = port
        self.log_path = log_path
        self.url = ""
        self._find_url()

    def _find_url(self) -> None:
        self.container.reload()
        bindings = self.container.ports.get(f"{self.port}/tcp") or []
        if not bindings and (code := self.exit_code()) is not None:
            raise died_at_start(self.name, code, self.log_tail())
        if not bindings:
            raise NodeStartError(f"{self.name}: container {self.container.name} published no port "
                                 f"(state {self.container.status}); its log ends with:\n{self.log_tail()}")
        self.url = f"{self.scheme}://127.0.0.1:{bindings[0]['HostPort']}"

    @property
    def address(self) -> str:
        """The container's address on the run's network (the host routes to it)."""
        self.container.reload()
        networks = self.container.attrs["NetworkSettings"]["Networks"]
        return str(next(iter(networks.values()))["IPAddress"])

    @property
    def netns_pid(self) -> int:
        """A host pid inside the container's network namespace (its init)."""
        self.container.reload()
        return int(self.container.attrs["State"]["Pid"])

    @property
    def direct_url(self) -> str:
        """The container's own address and port, bypassing docker-proxy and its buffers."""
        return f"{self.scheme}://{self.address}:{self.port}"

    def wait_healthy(self) -> None:
        wait_healthy(self.url, self.name, self.exit_code, self.log_tail, START_TIMEOUT_S, self.untrusted)

    def start(self) -> None:
        self.container.start()
        self._find_url()
        self.wait_healthy()

    def kill(self, sig: int) -> int | None:
        """Signal the container's init, which passes it on (SIGKILL ends the whole container)."""
        timeline.fault(f"{signal.Signals(sig).name} to {self.name}")
        self.container.kill(signal=int(sig))
        if sig == signal.SIGKILL:
            return int(self.container.wait(timeout=int(scaled(10)))["StatusCode"])
        return None

    def daemon_pid(self) -> int:
        rows = self.processes()
        pid = listening_pid(rows, self.port)
        assert pid is not None, f"no process of {self.name} listens on port {self.port}: {rows}"
        return pid

    def crash_and_recover(self) -> None:
        """SIGKILL the daemon's process alone (the one listening on its port, whatever its name); the
        hive-supervisor in the container starts it again."""
        pid = self.daemon_pid()
        timeline.fault(f"SIGKILL to the daemon process of {self.name} (pid {pid}), which comes back")
        os.kill(pid, signal.SIGKILL)
        eventually(lambda: all(r.pid != pid for r in self.processes()), 10,
                   f"the killed daemon of {self.name} to be gone")
        self.wait_healthy()

    def write_gpu_state(self, state: dict[str, object]) -> None:
        self.write_file(GPU_STATE, json.dumps(state).encode())

    def write_file(self, path: str, data: bytes, mode: int = 0o644) -> None:
        """Replace the file at *path* inside the container with *data*, at once: a program reading it
        sees the old file or the new one, never half of it (the engine writes a file in steps, and a
        hive that found half a catalog moved it aside before the engine had set its times)."""
        target = Path(path)
        if not self._is_running():  # nothing reads it meanwhile (and nothing could be run to rename it)
            self.container.put_archive(str(target.parent), tar_of({target.name: data}, mode))
            return
        staged = target.with_name(f".{target.name}.rbee-bdd")
        self.container.put_archive(str(target.parent), tar_of({staged.name: data}, mode))
        rename = "import os, sys; os.replace(sys.argv[1], sys.argv[2])"
        result = self.container.exec_run(["python3", "-S", "-c", rename, str(staged), path])  # -S: no .pth
        assert result.exit_code == 0, f"replacing {path} in {self.name}: {result.output.decode(errors='replace')}"

    def read_file(self, path: str) -> bytes:
        """The file at *path* inside the container, read through the engine."""
        try:
            stream, _ = self.container.get_archive(path)
        except (NotFound, APIError) as exc:
            raise AssertionError(f"{path} in {self.name}: {exc}") from None
        with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as tar:
            member = tar.next()
            extracted = tar.extractfile(member) if member is not None else None
            return extracted.read() if extracted is not None else b""

    def log_text(self) -> str:
        try:
            return str(self.container.logs(stdout=True, stderr=True).decode(errors="replace"))
        except (NotFound, APIError):
            return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def list_dir(self, path: str) -> list[str]:
        """Names in the directory *path* inside the container, read through the engine (no program of the image)."""
        try:
            stream, _ = self.container.get_archive(path)
        except (NotFound, APIError) as exc:
            raise AssertionError(f"{path} in {self.name}: {exc}") from None
        with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as tar:
            members = [m.name.split("/") for m in tar.getmembers()]
        return sorted(parts[1] for parts in members if len(parts) == 2)

    def remove_file(self, path: str) -> None:
        """Remove the file at *path* inside the container (with the python3 fixture programs need)."""
        result = self.container.exec_run(["python3", "-S", "-c", "import os, sys; os.remove(sys.argv[1])", path])
        assert result.exit_code == 0, f"removing {path} in {self.name}: {result.output.decode(errors='replace')}"

    def exit_code(self) -> int | None:
        with contextlib.suppress(NotFound, APIError):
            self.container.reload()
            state = self.container.attrs["State"]
            return None if state["Running"] else int(state["ExitCode"])
        return None

    def _is_running(self) -> bool:
        with contextlib.suppress(NotFound, APIError):
            self.container.reload()
            return bool(self.container.status == "running")
        return False

    def processes(self) -> list[ProcessRow]:
        if not self._is_running():
            return []
        if is_podman(self.container.client):  # its top answers with the container's own pids
            return [ProcessRow(pid, args) for pid, args in processes_in_pid_namespace_of(self.netns_pid)]
        table = self.container.top(ps_args="-eo pid,args")
        return [ProcessRow(int(row[0]), row[1]) for row in table.get("Processes") or []]

    def stop(self, timeout: float) -> int | None:
        """SIGTERM to the daemon (through docker-init), SIGKILL after *timeout*; the exit code."""
        timeline.fault(f"stop (SIGTERM, SIGKILL after {timeout:g} s) to {self.name}")
        with contextlib.suppress(NotFound, APIError):
            self.container.stop(timeout=int(scaled(timeout)))
        with contextlib.suppress(NotFound, APIError):
            return int(self.container.wait(timeout=int(scaled(timeout)))["StatusCode"])
        return None

    def remove(self, timeout: float) -> None:
        """Stop, keep the log, remove the container."""
        self.stop(timeout)
        self._save_log()
        with contextlib.suppress(NotFound, APIError):
            self.container.remove(force=True)

    def _save_log(self) -> None:
        with contextlib.suppress(NotFound, APIError):
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            self.log_path.write_bytes(self.container.logs(stdout=True, stderr=True))

    def log_tail(self, lines: int = 20) -> str:
        try:
            return str(self.container.logs(tail=lines).decode(errors="replace"))
        except (NotFound, APIError):
            return "(container gone)"


@functools.cache
def engine_client() -> DockerClient:
    """The engine's client, made once per process (each client asks the engine its API version)."""
    return connect()


_run_networks: dict[str, Network] = {}
_run_networks_lock = threading.Lock()


def run_network(client: DockerClient, run: RunIdentity) -> Network:
    """The bridge network of *run* in this process, made at its first use, removed when the process ends.

    The run's scenarios use it one after another (a behave process runs one scenario at a time;
    container names are the scenario's own): a network per scenario cost about 90 ms to make and
    190 ms to remove, each time. It carries the run's labels, so that the reaper and the sweep
    remove it when the process is killed."""
    with _run_networks_lock:
        network = _run_networks.get(run.run_id)
        if network is None:
            labels = {RUN_LABEL: run.run_id, OWNER_LABEL: run.owner}
            network = client.networks.create(f"rbee-{run.run_id}-net", driver="bridge", labels=labels,
                                             check_duplicate=True)
            if not _run_networks:
                atexit.register(remove_run_networks)
            _run_networks[run.run_id] = network
        return network


def remove_run_networks() -> None:
    """Remove the networks this process made (best effort: a sweep removes what stays)."""
    with _run_networks_lock:
        for network in _run_networks.values():
            with contextlib.suppress(NotFound, APIError):
                network.remove()
        _run_networks.clear()


class DockerTarget:
    """Creates the scenario's containers, labelled with run and scenario, on the run's network."""

    queen_address_known_before_start = True  # hives reach it by its container's name

    def __init__(self, config: SuiteConfig, identity: ScenarioIdentity, log_dir: Path,
                 credentials: ScenarioCredentials | None = None, audit: bool = False,
                 transport: Transport | None = None) -> None:
        self.config = config
        self.transport = transport or Transport()
        self.identity = identity
        self.log_dir = log_dir
        self.credentials = credentials
        self.audit = audit
        self.audit_paths: dict[str, str] = {}  # a daemon's audit trail where it is not AUDIT_LOG
        self.client = engine_client()
        self.nodes: list[DockerNode] = []
        self.worker_programs: dict[str, str] = {}
        self.network = run_network(self.client, identity.run)
        # each node's HARNESS_DIR is a folder of this one, bound into its container
        self.host_dir = Path(tempfile.mkdtemp(prefix=f"rbee-bdd-{identity.scenario_id}-docker-"))

    def _run(self, node: str, command: list[str], port: int, extra_env: dict[str, str] | None = None,
             files: dict[str, bytes] | None = None, **extra: Any) -> DockerNode:
        """Create the node's container with the harness's files and *files* (path: data), start it."""
        name = self.identity.name(node)
        command = self.config.profile.rename(command)  # the build's own flag names
        if self.config.coverage:  # the daemons measure themselves into the host's reports
            self.config.coverage_data.mkdir(parents=True, exist_ok=True)
            extra_env = {**(extra_env or {}), "COVERAGE_PROCESS_START": COVERAGE_CONFIG,
                         "COVERAGE_FILE": "/coverage/.coverage"}
            extra["volumes"] = {**extra.get("volumes", {}),
                                str(self.config.coverage_data): {"bind": "/coverage", "mode": "rw"}}
        # HARNESS_DIR is a folder of the host, bound read-write: putting an archive into a container
        # not yet started mounts its filesystem anew (about 65 ms, and a fuse-overlayfs process,
        # each time on this engine); the engine is local anyway (the models are bound too)
        entries = [*harness_entries(), *entries_of(files or {}, 0o644)]
        if self.credentials is not None:
            files = {**self.credentials.files(), **self.credentials.node_files(node)}  # a node's own only
            entries += entries_of(files, self.credentials.file_mode, SECRETS_DIR, 0o700)
        if self.transport.tls:
            entries += entries_of(self.transport.files(node, self._hosts(node)), 0o600, SECRETS_DIR, 0o700)
        node_dir = self.host_dir / node
        lay_out(entries, node_dir, HARNESS_DIR)
        extra["volumes"] = {**extra.get("volumes", {}), str(node_dir): {"bind": HARNESS_DIR, "mode": "rw"}}
        try:
            container = self.client.containers.create(
                self.config.image, command, name=name, hostname=node, init=True,
                labels=self.identity.labels(), network=self.network.name,
                ports={f"{port}/tcp": ("127.0.0.1", None)},
                environment={**self.identity.env(), "PYTHONUNBUFFERED": "1", **(extra_env or {})},
                ulimits=container_ulimits(self.client) or None, **extra,
            )
            container.start()
        except APIError as exc:
            raise NodeStartError(f"cannot start container {name}: {exc.explanation}") from None
        docker_node = DockerNode(node, container, port, self.log_dir / f"{node}.log", self.transport.scheme,
                                 self.transport.untrusted(node))
        self.nodes.append(docker_node)
        if self.transport.tls:  # the harness reaches it by its address too (direct_url): check its name there
            name_for_tls(docker_node.direct_url, name)
        docker_node.wait_healthy()
        return docker_node

    def start_queen(self, extra_args: tuple[str, ...] = (), audit_disk_bytes: int = 0) -> DockerNode:
        small_disk: dict[str, Any] = {}
        if audit_disk_bytes:  # a tmpfs mount needs no privilege
            self.audit_paths["queen"] = f"{AUDIT_DISK_DIR}/audit.jsonl"
            small_disk = {"tmpfs": {AUDIT_DISK_DIR: f"size={audit_disk_bytes}"}}
        command = [*self.config.queen_cmd, "--host", "0.0.0.0", "--port", str(QUEEN_PORT),
                   "--hive-stale-after", str(self.config.hive_stale_after),
                   *self._security_flags(queen_flags(SECRETS_DIR), "queen"), *extra_args]
        return self._run("queen", command, QUEEN_PORT, **small_disk)

    def queen_url_for_hives(self) -> str:
        return f"{self.transport.scheme}://{self.identity.name('queen')}:{QUEEN_PORT}"

    def _hosts(self, node: str) -> list[str]:
        """Every address a node is reached by: its container's name and host name, loopback (the harness,
        through the published port; a hive, its own workers), and for queen the host's end of the network
        (where a relay of the harness's stands in for it)."""
        return [self.identity.name(node), node, "127.0.0.1", "localhost",
                *([self.harness_address()] if node == "queen" else [])]

    def _security_flags(self, credential_flags: list[str], node: str) -> list[str]:
        """Credentials, audit trail and transport (the daemons listen on 0.0.0.0 in their containers)."""
        flags = [*credential_flags, *per_hive_flags(SECRETS_DIR, node, self.credentials)] \
            if self.credentials is not None else []
        return flags + (["--audit-log", self.audit_path(node)] if self.audit else []) + \
            self.transport.flags(SECRETS_DIR, node, off_loopback=True)

    def audit_path(self, node: str) -> str:
        return self.audit_paths.get(node, AUDIT_LOG)

    def secret_path(self, name: str) -> str:
        return f"{SECRETS_DIR}/{name}"

    def write_credentials(self, files: dict[str, bytes]) -> None:
        mode = self.credentials.file_mode if self.credentials is not None else 0o600
        for node in self.nodes:
            node.container.put_archive("/", tar_of(files, mode, SECRETS_DIR, 0o700))

    def harness_address(self) -> str:
        """Where containers reach a server the harness runs: the host's end of the scenario network."""
        self.network.reload()
        return str(self.network.attrs["IPAM"]["Config"][0]["Gateway"])

    def start_hive(self, spec: HiveSpec) -> DockerNode:
        advertise = self.identity.name(spec.name)
        supervisor = f"{FIXTURE_BIN}/hive-supervisor"  # restarts a crashed hive process
        worker = " ".join(self.config.worker_cmd)
        if spec.worker_wrapper:  # each container has its own copy of the fixture programs
            self.worker_programs[spec.name] = f"{FIXTURE_BIN}/{spec.worker_wrapper}"
        nvidia_smi = FAKE_NVIDIA_SMI if self.config.fake_nvidia_smi else self.config.nvidia_smi
        credential_flags, credential_env = hive_credentials(SECRETS_DIR, self.credentials, spec.credentials_in_env)
        command = [supervisor, *self.config.hive_cmd, "--host", "0.0.0.0", "--port", str(HIVE_PORT),
                   "--advertise-host", advertise,
                   "--queen-url", spec.queen_url, "--models", "/models", "--hive-id", spec.name,
                   "--state-dir", STATE_DIR, "--download-dir", DOWNLOAD_DIR,
                   "--heartbeat-interval", str(spec.heartbeat_interval),
                   "--worker-cmd", f"{FIXTURE_BIN}/{spec.worker_wrapper}" if spec.worker_wrapper else worker,
                   "--nvidia-smi", nvidia_smi, *self._security_flags(credential_flags, spec.name),
                   *worker_env_flags(self.config.profile.claims),
                   *hub_flags(self.harness_address(), self.config.profile.claims),
                   *(["--config", self.config_path(spec.name)] if spec.config else []), *spec.extra_args]
        volumes = {str(self.config.models_dir): {"bind": "/models", "mode": "ro"}}
        if spec.cgroups:
            # the engine mounts the cgroup filesystem read-only in containers (and privileged
            # containers cannot start on every engine): the host's, read-write, lets the hive
            # make its workers' cgroups under its own container's cgroup
            volumes["/sys/fs/cgroup"] = {"bind": "/sys/fs/cgroup", "mode": "rw"}
            # and the host's cgroup namespace, so that /proc/self/cgroup names the container's cgroup
            # in that tree (cgroup v2 engines default to a private namespace, in which it reads "/")
            cgroup_options = {"cgroupns": "host"}
        else:
            cgroup_options = {}
        config = {self.config_path(spec.name): spec.config} if spec.config else {}
        if spec.download_disk_bytes:  # a tmpfs mount needs no privilege
            volumes_extra = {"tmpfs": {DOWNLOAD_DIR: f"size={spec.download_disk_bytes}"}}
        else:
            volumes_extra = {}
        return self._run(spec.name, command, HIVE_PORT, volumes=volumes, cap_add=["NET_ADMIN"], files=config,
                         **volumes_extra, **cgroup_options,
                         extra_env={"FAKE_NVIDIA_SMI_STATE": GPU_STATE, "RBEE_REAL_WORKER": worker, **credential_env})

    def worker_program(self, hive: str) -> str:
        return program_of(self.worker_programs, hive)

    def config_path(self, node: str) -> str:
        return f"{HARNESS_DIR}/{node}.toml"

    def download_dir(self, hive: str) -> str:
        return DOWNLOAD_DIR

    def hive_slice(self, hive: str) -> str:
        return "rbee.slice"  # the hive's default: each hive has a container, and its cgroup, of its own

    def _labelled(self) -> list[Container]:
        label = f"{SCENARIO_LABEL}={self.identity.scenario_id}"
        return list(self.client.containers.list(all=True, filters={"label": label}, ignore_removed=True))

    def teardown(self) -> None:
        """Stop the nodes in reverse order, then remove whatever else carries the scenario's label
        (a container whose start was interrupted, say). The run's network stays for its next scenario."""
        for node in reversed(self.nodes):
            node.remove(timeout=20)
        self.nodes.clear()
        for container in self._labelled():
            with contextlib.suppress(NotFound, APIError):
                container.remove(force=True)
        shutil.rmtree(self.host_dir, ignore_errors=True)

    def leftovers(self) -> list[str]:
        folder = [f"directory {self.host_dir}"] if self.host_dir.exists() else []
        return [f"container {c.name}" for c in self._labelled()] + folder
