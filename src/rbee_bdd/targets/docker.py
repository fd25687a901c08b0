"""The Docker target: queen and each hive in their own container on a per-scenario network.

Workers are processes inside their hive's container. Containers publish their port on a
random 127.0.0.1 port of the host; inside the network they reach each other by name.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import tarfile
from pathlib import Path
from typing import Any

import docker
from docker.errors import APIError, DockerException, ImageNotFound, NotFound
from docker.models.containers import Container

from rbee_bdd import timeline
from rbee_bdd.config import SuiteConfig
from rbee_bdd.identity import SCENARIO_LABEL, ScenarioIdentity
from rbee_bdd.targets.base import HIVE_PORT, QUEEN_PORT, HiveSpec, NodeStartError, ProcessRow, wait_healthy
from rbee_bdd.waiting import eventually, scaled

START_TIMEOUT_S = 30.0


class DockerUnavailable(Exception):
    """No usable Docker engine, or the stack image is missing."""


def connect() -> docker.DockerClient:
    """A client for the local engine, or DockerUnavailable saying why."""
    try:
        client = docker.from_env(timeout=60)
        client.ping()
    except DockerException as exc:
        raise DockerUnavailable(f"no Docker engine answers ({exc}); use `make bdd-local` to run "
                                "the suite on local processes") from None
    return client


def require_image(client: docker.DockerClient, image: str) -> None:
    try:
        client.images.get(image)
    except ImageNotFound:
        raise DockerUnavailable(f"image {image!r} not found; build it with `make image`") from None


GPU_STATE = "/var/lib/rbee/nvidia-smi.json"
FAKE_NVIDIA_SMI = "/opt/rbee/fake-bin/nvidia-smi"
COVERAGE_CONFIG = "/opt/rbee/coverage-daemons.ini"  # in the image


class DockerNode:
    """One daemon in one container; stop() keeps the container so start() can bring it back."""

    def __init__(self, name: str, container: Container, port: int, log_path: Path) -> None:
        self.name = name
        self.container = container
        self.port = port
        self.log_path = log_path
        self.url = ""
        self._find_url()

    def _find_url(self) -> None:
        self.container.reload()
        bindings = self.container.ports.get(f"{self.port}/tcp") or []
        if not bindings:
            raise NodeStartError(f"{self.name}: container {self.container.name} published no port "
                                 f"(state {self.container.status}); its log ends with:\n{self.log_tail()}")
        self.url = f"http://127.0.0.1:{bindings[0]['HostPort']}"

    @property
    def address(self) -> str:
        """The container's address on the scenario's network (the host routes to it)."""
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
        return f"http://{self.address}:{self.port}"

    def wait_healthy(self) -> None:
        wait_healthy(self.url, self.name, self.is_running, self.log_tail, START_TIMEOUT_S)

    def start(self) -> None:
        self.container.start()
        self._find_url()
        self.wait_healthy()

    def kill(self, sig: int) -> int | None:
        timeline.fault(f"{signal.Signals(sig).name} to {self.name}")
        """Signal the container's init, which passes it on (SIGKILL ends the whole container)."""
        self.container.kill(signal=int(sig))
        if sig == signal.SIGKILL:
            return int(self.container.wait(timeout=int(scaled(10)))["StatusCode"])
        return None

    def crash_and_recover(self) -> None:
        timeline.fault(f"SIGKILL to the daemon process of {self.name}, which comes back")
        """SIGKILL the rbee-hive process alone; its supervisor in the container starts it again."""
        rows = [r for r in self.processes()
                if "bin/rbee-hive " in r.command and "hive-supervisor" not in r.command and not r.worker_id]
        assert len(rows) == 1, f"rbee-hive processes in {self.name}: {rows}"
        os.kill(rows[0].pid, signal.SIGKILL)
        eventually(lambda: all(r.pid != rows[0].pid for r in self.processes()), 10,
                   f"the killed rbee-hive of {self.name} to be gone")
        self.wait_healthy()

    def write_gpu_state(self, state: dict[str, object]) -> None:
        self.write_file(GPU_STATE, json.dumps(state).encode())

    def write_file(self, path: str, data: bytes) -> None:
        """Replace the file at *path* inside the container with *data*."""
        archive = io.BytesIO()
        with tarfile.open(fileobj=archive, mode="w") as tar:
            info = tarfile.TarInfo(Path(path).name)
            info.size = len(data)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))
        self.container.put_archive(str(Path(path).parent), archive.getvalue())

    def list_dir(self, path: str) -> list[str]:
        """Names in the directory *path* inside the container."""
        code, output = self.container.exec_run(["ls", "-1A", path])
        if code != 0:
            raise AssertionError(f"ls {path} in {self.name}: {output.decode(errors='replace').strip()}")
        return output.decode().split()

    def exit_code(self) -> int | None:
        with contextlib.suppress(NotFound, APIError):
            self.container.reload()
            state = self.container.attrs["State"]
            return None if state["Running"] else int(state["ExitCode"])
        return None

    def is_running(self) -> bool:
        with contextlib.suppress(NotFound, APIError):
            self.container.reload()
            return bool(self.container.status == "running")
        return False

    def processes(self) -> list[ProcessRow]:
        if not self.is_running():
            return []
        table = self.container.top(ps_args="-eo pid,args")
        return [ProcessRow(int(row[0]), row[1]) for row in table.get("Processes") or []]

    def stop(self, timeout: float) -> int | None:
        """SIGTERM to the daemon (through docker-init), SIGKILL after *timeout*; the exit code."""
        with contextlib.suppress(NotFound, APIError):
            self.container.stop(timeout=int(scaled(timeout)))
        with contextlib.suppress(NotFound, APIError):
            return int(self.container.wait(timeout=int(scaled(timeout)))["StatusCode"])
        return None

    def remove(self, timeout: float) -> None:
        """Stop, keep the log, remove the container."""
        self.stop(timeout)
        self.save_log()
        with contextlib.suppress(NotFound, APIError):
            self.container.remove(force=True)

    def save_log(self) -> None:
        with contextlib.suppress(NotFound, APIError):
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            self.log_path.write_bytes(self.container.logs(stdout=True, stderr=True))

    def log_tail(self, lines: int = 20) -> str:
        try:
            return self.container.logs(tail=lines).decode(errors="replace")
        except (NotFound, APIError):
            return "(container gone)"


class DockerTarget:
    """Creates the scenario's network and containers, all labelled with run and scenario."""

    def __init__(self, config: SuiteConfig, identity: ScenarioIdentity, log_dir: Path) -> None:
        self.config = config
        self.identity = identity
        self.log_dir = log_dir
        self.client = connect()
        require_image(self.client, config.image)
        self.nodes: list[DockerNode] = []
        self.network = self.client.networks.create(
            identity.name("net"), driver="bridge", labels=identity.labels(), check_duplicate=True
        )

    def _run(self, node: str, command: list[str], port: int, extra_env: dict[str, str] | None = None,
             **extra: Any) -> DockerNode:
        name = self.identity.name(node)
        if self.config.coverage:  # the daemons measure themselves into the host's reports
            self.config.coverage_data.mkdir(parents=True, exist_ok=True)
            extra_env = {**(extra_env or {}), "COVERAGE_PROCESS_START": COVERAGE_CONFIG,
                         "COVERAGE_FILE": "/coverage/.coverage"}
            extra["volumes"] = {**extra.get("volumes", {}),
                                str(self.config.coverage_data): {"bind": "/coverage", "mode": "rw"}}
        try:
            container = self.client.containers.run(
                self.config.image, command, name=name, hostname=node, detach=True, init=True,
                labels=self.identity.labels(), network=self.network.name,
                ports={f"{port}/tcp": ("127.0.0.1", None)},
                environment={**self.identity.env(), "PYTHONUNBUFFERED": "1", **(extra_env or {})}, **extra,
            )
        except APIError as exc:
            raise NodeStartError(f"cannot start container {name}: {exc.explanation}") from None
        docker_node = DockerNode(node, container, port, self.log_dir / f"{node}.log")
        self.nodes.append(docker_node)
        docker_node.wait_healthy()
        return docker_node

    def start_queen(self, extra_args: tuple[str, ...] = ()) -> DockerNode:
        command = ["queen-rbee", "--host", "0.0.0.0", "--port", str(QUEEN_PORT),
                   "--hive-stale-after", str(self.config.hive_stale_after), *extra_args]
        return self._run("queen", command, QUEEN_PORT)

    def queen_url_for_hives(self) -> str:
        return f"http://{self.identity.name('queen')}:{QUEEN_PORT}"

    def harness_address(self) -> str:
        """Where containers reach a server the harness runs: the host's end of the scenario network."""
        self.network.reload()
        return str(self.network.attrs["IPAM"]["Config"][0]["Gateway"])

    def start_hive(self, spec: HiveSpec) -> DockerNode:
        advertise = self.identity.name(spec.name)
        fake = self.config.nvidia_smi.endswith("fixtures/bin/nvidia-smi")
        supervisor = f"{Path(FAKE_NVIDIA_SMI).parent}/hive-supervisor"  # restarts a crashed rbee-hive
        command = [supervisor, "rbee-hive", "--host", "0.0.0.0", "--port", str(HIVE_PORT),
                   "--advertise-host", advertise,
                   "--queen-url", spec.queen_url, "--models", "/models", "--hive-id", spec.name,
                   "--download-dir", "/var/lib/rbee/downloads", "--heartbeat-interval", str(spec.heartbeat_interval),
                   "--nvidia-smi", FAKE_NVIDIA_SMI if fake else self.config.nvidia_smi, *spec.extra_args]
        if spec.worker_wrapper:
            command += ["--worker-cmd", f"{Path(FAKE_NVIDIA_SMI).parent}/{spec.worker_wrapper}"]
        volumes = {str(self.config.models_dir): {"bind": "/models", "mode": "ro"}}
        if spec.cgroups:
            # the engine mounts the cgroup filesystem read-only in containers (and privileged
            # containers cannot start on every engine): the host's, read-write, lets the hive
            # make its workers' cgroups under its own container's cgroup
            volumes["/sys/fs/cgroup"] = {"bind": "/sys/fs/cgroup", "mode": "rw"}
        return self._run(spec.name, command, HIVE_PORT, volumes=volumes, cap_add=["NET_ADMIN"],
                         extra_env={"FAKE_NVIDIA_SMI_STATE": GPU_STATE})

    def _labelled(self) -> tuple[list[Container], list[Any]]:
        label = f"{SCENARIO_LABEL}={self.identity.scenario_id}"
        return (self.client.containers.list(all=True, filters={"label": label}),
                self.client.networks.list(filters={"label": label}))

    def teardown(self) -> None:
        """Stop the nodes in reverse order, then remove whatever else carries the scenario's label
        (a container whose start was interrupted, say) and the network."""
        for node in reversed(self.nodes):
            node.remove(timeout=20)
        self.nodes.clear()
        containers, _ = self._labelled()
        for container in containers:
            with contextlib.suppress(NotFound, APIError):
                container.remove(force=True)
        with contextlib.suppress(NotFound, APIError):
            self.network.remove()

    def leftovers(self) -> list[str]:
        containers, networks = self._labelled()
        return [f"container {c.name}" for c in containers] + [f"network {n.name}" for n in networks]
