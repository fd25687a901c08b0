"""One scenario's rbee stack: queen and hives on the chosen target, and ways to reach them."""

from __future__ import annotations

import contextlib
import functools
import json
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import psutil

from rbee_bdd.balloon import GIVE_UP_S, start_balloon
from rbee_bdd.cgroupfs import cgroup_limits, worker_cgroups
from rbee_bdd.cleanup import CleanupStack
from rbee_bdd.clients import HiveClient, QueenClient, SubmittedJob, WorkerClient
from rbee_bdd.config import SuiteConfig
from rbee_bdd.credentials import ScenarioCredentials, new_token
from rbee_bdd.faults import pause_process, process_state, signal_process
from rbee_bdd.http import authorize, forget_credentials, request
from rbee_bdd.identity import ScenarioIdentity
from rbee_bdd.keeper import KeeperProcess, KeeperResult, run_keeper
from rbee_bdd.model_hub import ModelHub
from rbee_bdd.network import Mode, Partition, block_local_port, partition
from rbee_bdd.sse import HeartbeatStream
from rbee_bdd.targets.base import HiveSpec, Node, ProcessRow, Target
from rbee_bdd.waiting import eventually


def make_target(config: SuiteConfig, identity: ScenarioIdentity, log_dir: Path,
                credentials: ScenarioCredentials | None, audit: bool) -> Target:
    if config.target == "docker":
        from rbee_bdd.targets.docker import DockerTarget

        return DockerTarget(config, identity, log_dir, credentials, audit)
    from rbee_bdd.targets.local import LocalTarget

    return LocalTarget(config, identity, log_dir, credentials, audit)


class Stack:
    """Queen plus N hives; torn down by the scenario's cleanup, whatever happens."""

    def __init__(self, config: SuiteConfig, identity: ScenarioIdentity, log_dir: Path,
                 cleanup: CleanupStack, credentials: bool = True, credential_mode: int = 0o600,
                 hs256_key_bytes: int = 0) -> None:
        self.config = config
        self.target: Target | None = None
        self.queen_node: Node | None = None
        self.hive_nodes: dict[str, Node] = {}
        self.phases: dict[str, float] = {}
        # made fresh for each scenario when the build claims authentication; never written anywhere else
        self.credentials = ScenarioCredentials.generate(credential_mode, hs256_key_bytes) \
            if credentials and "auth" in config.profile.claims else None
        cleanup.push("tear down the stack", self.teardown)
        cleanup.push("forget the scenario's credentials", forget_credentials)
        self.target = make_target(config, identity, log_dir, self.credentials, "audit" in config.profile.claims)

    def start(self, hives: int, heartbeat_interval: float | None = None, cgroups: bool = True,
              queen_args: tuple[str, ...] = (), worker_wrapper: str = "",
              hive_args: tuple[str, ...] = (), hive_config: str = "", download_disk_bytes: int = 0,
              hive_credentials_in_env: bool = False) -> None:
        """Start queen and the hives, and wait until queen has heard from each.

        Where hives know queen's address before it runs (docker: its container's name), all
        start at once; otherwise queen first, then the hives together. ``phases`` says how long
        each part took (seconds since the start).
        """
        assert self.target is not None
        target = self.target
        started = time.monotonic()
        interval = heartbeat_interval or self.config.heartbeat_interval

        def start_hive(index: int) -> tuple[str, Node]:
            name = f"hive-{index}"
            spec = HiveSpec(name, target.queen_url_for_hives(), interval, cgroups, worker_wrapper, hive_args,
                            hive_config.encode(), download_disk_bytes, hive_credentials_in_env)
            return name, target.start_hive(spec)

        with ThreadPoolExecutor(max_workers=1 + hives) as pool:
            queen = pool.submit(target.start_queen, queen_args)
            if not target.queen_address_known_before_start:
                queen.result()  # the hives need its address
            started_hives = [pool.submit(start_hive, index) for index in range(1, hives + 1)]
            self.queen_node = queen.result()
            self.phases["queen healthy"] = time.monotonic() - started
            self.hive_nodes.update(hive.result() for hive in started_hives)
        self.phases["hives healthy"] = time.monotonic() - started
        for name in self.hive_nodes:
            self.hive(name)  # the harness's calls to it carry the cluster credential
        self.wait_hives_listed(set(self.hive_nodes))
        self.phases["hives listed"] = time.monotonic() - started

    @property
    def start_seconds(self) -> float | None:
        """Seconds from the start until queen listed every hive (None before that)."""
        listed = self.phases.get("hives listed")
        return None if listed is None else round(listed, 3)

    def wait_hives_listed(self, expected: set[str], timeout: float = 10) -> None:
        eventually(lambda: expected <= {h["hive_id"] for h in self.queen().hives() if h["available"]},
                   timeout, f"queen to list hives {sorted(expected)} as available")

    def node(self, name: str) -> Node:
        """``queen`` or a hive's name."""
        if name == "queen":
            assert self.queen_node is not None, "the stack has not been started"
            return self.queen_node
        return self.hive_nodes[name]

    def worker_process(self, hive: str, worker_id: str) -> ProcessRow:
        rows = [row for row in self.worker_processes(hive) if row.worker_id == worker_id]
        assert rows, f"no process of {worker_id} in {hive}'s process table: {self.worker_processes(hive)}"
        return rows[0]

    def kill_worker(self, hive: str, worker_id: str, sig: signal.Signals = signal.SIGKILL) -> int:
        """Send *sig* to the worker's real process (host pid, for either target); returns the pid."""
        pid = self.worker_process(hive, worker_id).pid
        signal_process(pid, sig, f"{worker_id} of {hive}")
        return pid

    def terminate(self, name: str) -> None:
        """SIGTERM to a daemon, returning once it shows it took it in (``/health`` says draining, or it ended)."""
        node = self.node(name)
        node.kill(signal.SIGTERM)
        client = self.queen() if name == "queen" else self.hive(name)

        def draining() -> bool:
            if node.exit_code() is not None:
                return True
            try:
                return client.health().get("state") == "draining"
            except httpx.HTTPError as exc:  # it may be ending: the next look at its exit code tells
                raise AssertionError(f"{name}'s /health: {exc!r}") from None

        eventually(draining, 5, f"{name} to take the SIGTERM in (/health state draining)")

    def pause_worker(self, hive: str, worker_id: str, cleanup: CleanupStack) -> int:
        """SIGSTOP the worker's process (resumed by *cleanup*); returns its host pid."""
        pid = self.worker_process(hive, worker_id).pid
        pause_process(pid, worker_id, cleanup)
        return pid

    def squeeze_worker(self, hive: str, worker_id: str, cleanup: CleanupStack) -> int:
        """Fill the worker's memory cgroup from outside until the kernel OOM-kills it; returns its pid.

        AssertionError if the worker is still there after the balloon gave up.
        """
        pid = self.worker_process(hive, worker_id).pid
        balloon = start_balloon(pid, cleanup)
        code = balloon.wait(timeout=GIVE_UP_S + 10)
        # exit 0: the worker went; killed (-9): the hive cleared the dead worker's cgroup first
        assert code != 1, f"the memory balloon in {worker_id}'s cgroup gave up; {worker_id} lives on"
        return pid

    def pause_daemon(self, name: str, cleanup: CleanupStack) -> int:
        """SIGSTOP a daemon's own process (its workers run on; resumed by *cleanup*); returns its host pid."""
        pid = self.node(name).daemon_pid()
        pause_process(pid, f"the daemon process of {name}", cleanup)
        return pid

    def resume_worker(self, hive: str, worker_id: str) -> None:
        """SIGCONT a paused worker."""
        signal_process(self.worker_process(hive, worker_id).pid, signal.SIGCONT, worker_id)

    def _netns_pid(self, hive: str) -> int:
        netns_pid = getattr(self.hive_nodes[hive], "netns_pid", None)
        assert netns_pid is not None, f"{hive} has no network namespace of its own on this target"
        return int(netns_pid)

    def partition_from_queen(self, hive: str, mode: Mode, cleanup: CleanupStack) -> Partition:
        """Cut the hive's network namespace (its workers' too) off from queen until healed."""
        return partition(self._netns_pid(hive), self.node("queen").address, mode, cleanup)

    def partition_from_worker(self, hive: str, worker_id: str, cleanup: CleanupStack) -> Partition:
        """Cut the hive off from one of its workers (queen still reaches the worker) until healed."""
        port = self.hive(hive).worker(worker_id)["port"]
        assert port is not None, f"{worker_id} of {hive} has no port yet (still starting)"
        return block_local_port(self._netns_pid(hive), port, cleanup)

    def start_model_hub(self, cleanup: CleanupStack, bytes_per_second: float = 0.0) -> ModelHub:
        """A model hub the nodes can reach, stopped by *cleanup*."""
        assert self.target is not None
        return ModelHub(self.target.harness_address(), bytes_per_second).start(cleanup)

    def watch_heartbeats(self, cleanup: CleanupStack) -> HeartbeatStream:
        """Subscribe to queen's UI stream; the subscription ends with the scenario."""
        stream = HeartbeatStream(self.queen().url + "/v1/heartbeats/stream")
        cleanup.push("close the heartbeat stream", stream.close)
        return stream.start()

    @property
    def cluster_token(self) -> str:
        return self.credentials.cluster_token if self.credentials is not None else ""

    def client_token(self, scope: str = "admin") -> str:
        return self.credentials.token(scope) if self.credentials is not None else ""

    def queen(self) -> QueenClient:
        """Queen's API as an admin client (with the scenario's admin token, when the stack has credentials)."""
        assert self.queen_node is not None, "the stack has not been started"
        authorize(self.queen_node.url, self.client_token())
        authorize(self.queen_node.direct_url, self.client_token())
        return QueenClient(self.queen_node.url, self.cluster_token)

    def node_url(self, name: str) -> str:
        """The URL of queen or a hive, its calls carrying the credential the harness uses with it."""
        return self.queen().url if name == "queen" else self.hive(name).url

    def queen_url_for_hives(self) -> str:
        """Queen's URL as the hives reach it (on the scenario's network)."""
        assert self.target is not None
        return self.target.queen_url_for_hives()

    def queen_direct_url(self) -> str:
        """Queen's URL with nothing between (docker: the container's address, not the published port)."""
        assert self.queen_node is not None, "the stack has not been started"
        return self.queen_node.direct_url

    def run_job(self, model: str, max_tokens: int = 8) -> SubmittedJob:
        """Submit a job to queen and wait for it to complete ([DONE]); AssertionError otherwise."""
        return self.queen().submit_infer(model, max_tokens=max_tokens).wait_ended_with("[DONE]", 60)

    def hive_of(self, worker_id: str) -> str:
        """The hive that keeps a record of *worker_id* (live or ended)."""
        for name in self.hive_nodes:
            with contextlib.suppress(httpx.HTTPError):
                if request("GET", f"{self.hive(name).url}/v1/workers/{worker_id}", timeout=5.0).status_code == 200:
                    return name
        raise AssertionError(f"no hive has a record of {worker_id}")

    def job_worker(self, job: SubmittedJob) -> str:
        """The id of the worker queen ran *job* on (as queen's job record says)."""
        return str(self.queen().job(job.job_id)["worker_id"])

    def job_worker_hive(self, job: SubmittedJob) -> tuple[str, str]:
        """(hive, worker id) of the worker queen ran *job* on."""
        worker_id = self.job_worker(job)
        hives = [w["hive_id"] for w in self.queen().workers() if w["worker_id"] == worker_id]
        assert hives, f"queen lists no worker {worker_id} (the worker of {job.job_id})"
        return str(hives[0]), worker_id

    def hive(self, name: str = "hive-1") -> HiveClient:
        """A hive's API with the cluster credential (as queen calls it)."""
        node = self.hive_nodes[name]
        authorize(node.url, self.cluster_token)
        authorize(node.direct_url, self.cluster_token)
        return HiveClient(node.url)

    def worker_processes(self, hive: str = "hive-1") -> list[ProcessRow]:
        """The hive node's worker processes, from its real process table."""
        return [row for row in self.hive_nodes[hive].processes() if row.worker_id]

    def worker_cgroups(self, hive: str = "hive-1") -> list[str]:
        """The worker cgroups under the hive's slice, read by the host from the kernel (instance names)."""
        assert self.target is not None
        daemons = [row for row in self.hive_nodes[hive].processes() if not row.worker_id]
        assert daemons, f"{hive} runs no process"
        return [path.name for path in worker_cgroups(daemons[0].pid, self.target.hive_slice(hive))]

    def provisioning_traces(self, hive: str, name: str) -> dict[str, list[str]]:
        """Where provisioning model *name* could leave a file: the hive's catalog, its download
        directory, and anything named after the name's last part in the node's /tmp (not all of /tmp:
        on the local target it is the host's, which other scenarios write to at the same time)."""
        assert self.target is not None
        node, stem = self.hive_nodes[hive], name.replace("\\", "/").rsplit("/", 1)[-1]
        try:
            downloads = node.list_dir(self.target.download_dir(hive))
        except (FileNotFoundError, AssertionError):  # not made yet (each target says so its own way)
            downloads = ["(no such directory)"]
        in_tmp = [entry for entry in node.list_dir("/tmp") if stem and entry.startswith(stem)]
        return {"catalog": self.hive(hive).models()["models"], "download dir": downloads, f"/tmp/{stem}*": in_tmp}

    def downloaded_files(self, hive: str) -> list[str]:
        """The names in the hive's download directory, read on its own filesystem."""
        assert self.target is not None
        return self.hive_nodes[hive].list_dir(self.target.download_dir(hive))

    def rewrite_config(self, node: str, text: str) -> None:
        """Replace the node's --config file with *text* and send it SIGHUP."""
        assert self.target is not None
        self.node(node).write_file(self.target.config_path(node), text.encode())
        self.node(node).kill(signal.SIGHUP)

    def worker_leftovers(self, hive: str, worker_id: str) -> dict[str, list[str]]:
        """What is left of a worker that ended: its processes, cgroups, and listings at hive and queen."""
        return {
            "processes": [str(r.pid) for r in self.worker_processes(hive) if r.worker_id == worker_id],
            "cgroups": [name for name in self.worker_cgroups(hive) if name == worker_id],
            "listed by the hive": [w["worker_id"] for w in self.hive(hive).workers() if w["worker_id"] == worker_id],
            "listed by queen": [w["worker_id"] for w in self.queen().workers() if w["worker_id"] == worker_id],
        }

    def zombies(self, hive: str = "hive-1") -> list[ProcessRow]:
        """The processes of the hive's node in state Z (ended, not reaped by their parent), by /proc."""
        return [row for row in self.hive_nodes[hive].processes() if process_state(row.pid) == "Z"]

    def break_worker_program(self, hive: str, how: str) -> str:
        """Make *hive*'s own worker program unrunnable: ``not executable`` or ``removed``; returns its path."""
        assert self.target is not None
        node, path = self.hive_nodes[hive], self.target.worker_program(hive)
        if how == "removed":
            node.remove_file(path)
        else:
            assert how == "not executable", f"a worker program can be 'removed' or 'not executable', not {how!r}"
            node.write_file(path, node.read_file(path), mode=0o644)
        return path

    def keeper(self, args: list[str], timeout: float = 60.0) -> KeeperResult:
        return run_keeper(self.config.keeper_cmd, self.queen().url, args, timeout, self.keeper_env(),
                          self.config.profile.rename)

    def replace_client_token(self, scope: str, new: str = "") -> tuple[str, str]:
        """Put a new token (*new*, else a random one) in place of the client token of *scope* in queen's
        token file, send queen SIGHUP, and wait until queen takes the new one: (old token, new token)."""
        assert self.credentials is not None and self.target is not None, "the stack runs without credentials"
        old, new = self.credentials.replace_token(scope, new)
        self.target.write_credentials(self.credentials.files())
        self.node("queen").kill(signal.SIGHUP)
        url = f"{self.node('queen').url}/v1/hives"
        eventually(lambda: request("GET", url, headers={"Authorization": f"Bearer {new}"}).status_code == 200, 5,
                   "queen to take the new token after SIGHUP")
        return old, new

    def replace_cluster_token(self) -> tuple[str, str]:
        """A new cluster credential in every daemon's file, SIGHUP to queen and each hive, and wait until
        each takes it: (old token, new token)."""
        assert self.credentials is not None and self.target is not None, "the stack runs without credentials"
        old, new = self.credentials.cluster_token, new_token()
        self.credentials.cluster_token = new
        self.target.write_credentials(self.credentials.files())
        for _, node in self.daemon_nodes():
            node.kill(signal.SIGHUP)
        for name, node in self.daemon_nodes():
            eventually(functools.partial(self._takes, f"{node.url}/metrics", new), 5,
                       f"{name} to take the new cluster token after SIGHUP")
        return old, new

    @staticmethod
    def _takes(url: str, token: str) -> bool:
        return request("GET", url, headers={"Authorization": f"Bearer {token}"}).status_code == 200

    def audit_records(self, node: str) -> list[dict[str, Any]]:
        """The node's audit trail, one dict per line, read from the node's own filesystem."""
        return [json.loads(line) for line in self.audit_bytes(node).decode().splitlines() if line.strip()]

    def audit_bytes(self, node: str) -> bytes:
        assert self.target is not None
        return self.node(node).read_file(self.target.audit_path(node))

    def audit_anchor_bytes(self, node: str) -> bytes:
        assert self.target is not None
        return self.node(node).read_file(self.target.audit_path(node) + ".anchor")

    def rewrite_audit(self, node: str, data: bytes) -> None:
        """Replace the node's audit trail with *data*, as an intruder on its machine would."""
        assert self.target is not None
        self.node(node).write_file(self.target.audit_path(node), data, mode=0o600)

    def places_secrets_could_leak(self, audit: bool) -> dict[str, str]:
        """Every daemon's log, command lines, the workers' environments and (with *audit*) audit trails."""
        places: dict[str, str] = {}
        for name, node in self.daemon_nodes():
            places[f"{name}'s log"] = node.log_text()
            for row in node.processes():
                places[f"the command line of pid {row.pid} of {name}"] = row.command
                if row.worker_id:
                    with contextlib.suppress(OSError):
                        places[f"the environment of {row.worker_id}"] = "\n".join(
                            f"{k}={v}" for k, v in self.process_environ(row.pid).items())
            if audit:
                places[f"{name}'s audit trail"] = self.audit_bytes(name).decode(errors="replace")
        return places

    def daemon_nodes(self) -> list[tuple[str, Node]]:
        """(name, node) of queen and every hive."""
        return [("queen", self.node("queen")), *self.hive_nodes.items()]

    def keeper_env(self) -> dict[str, str]:
        """rbee-keeper's environment: a user's submit token (in the environment, never on its command line)."""
        token = {"RBEE_TOKEN": self.client_token("submit")} if self.credentials is not None else {}
        return {**self.config.coverage_env(), **token}

    def teardown(self) -> None:
        if self.target is not None:
            self._stop_workers_first()
            self.target.teardown()

    def _stop_workers_first(self) -> None:
        """Teardown is not a drain: a busy worker would hold its hive's SIGTERM for the whole grace.

        Best effort (the contract's ``DELETE /v1/workers``, with the cluster credential); a hive that
        does not answer is stopped the usual way.
        """
        token = self.cluster_token
        headers = {"Authorization": f"Bearer {token}"} if token else {"Authorization": ""}
        for node in self.hive_nodes.values():
            if node.exit_code() is None:
                with contextlib.suppress(httpx.HTTPError):
                    request("DELETE", f"{node.url}/v1/workers", timeout=3.0, headers=headers)

    def leftovers(self) -> list[str]:
        return self.target.leftovers() if self.target is not None else []

    def daemon_memory(self) -> dict[str, int]:
        """Resident memory (bytes) of queen, each hive and each worker process, by name.

        Not counted: the container's init, and the nvidia-smi a hive runs every couple of seconds
        (7–9 MiB each while it lives): caught running in one reading and not the other, it looked
        like 16+ MiB of growth of the hive."""
        memory: dict[str, int] = {}
        for name, node in self.daemon_nodes():
            for row in node.processes():
                if "docker-init" in row.command or "nvidia-smi" in row.command:
                    continue
                key = row.worker_id or name
                with contextlib.suppress(psutil.Error):
                    memory[key] = memory.get(key, 0) + psutil.Process(row.pid).memory_info().rss
        return memory

    @staticmethod
    def kernel_view(pid: int) -> dict[str, float]:
        """What the kernel says of a process (host pid): resident MiB and seconds since it started."""
        process = psutil.Process(pid)
        with process.oneshot():
            return {"rss_mb": process.memory_info().rss / 2**20, "uptime_s": time.time() - process.create_time()}

    def worker_telemetry(self, hive: str, worker_id: str) -> dict[str, Any]:
        """The worker's ProcessStats in a collection the hive makes now (``GET /v1/telemetry``)."""
        rows = [p for p in self.hive(hive).telemetry()["processes"] if p.get("instance") == worker_id]
        assert len(rows) == 1, f"{hive}'s telemetry should hold {worker_id} once: {rows}"
        return dict(rows[0])

    @staticmethod
    def process_environ(pid: int) -> dict[str, str]:
        """A process's environment as the kernel holds it (host pid; root reads any)."""
        raw = Path(f"/proc/{pid}/environ").read_bytes()
        pairs = (item.decode(errors="replace").partition("=") for item in raw.split(b"\0") if item)
        return {key: value for key, _, value in pairs}

    def worker(self, hive: str, worker_id: str) -> WorkerClient:
        """The worker's own API, reached directly (not through queen)."""
        port = self.hive(hive).worker(worker_id)["port"]
        url = f"http://{self.hive_nodes[hive].address}:{port}"
        authorize(url, self.cluster_token)
        return WorkerClient(url)

    def start_keeper(self, args: list[str], cleanup: CleanupStack) -> KeeperProcess:
        keeper = KeeperProcess(self.config.keeper_cmd, self.queen().url, args, self.keeper_env(),
                               self.config.profile.rename)
        cleanup.push("stop rbee-keeper", keeper.stop)
        return keeper

    def worker_cgroup_limits(self, hive: str, worker_id: str) -> dict[str, int | None]:
        """The CPU and memory limits of the worker's cgroup, read by the host from the kernel."""
        eventually(lambda: any(r.worker_id == worker_id for r in self.worker_processes(hive)), 10,
                   f"{worker_id} in {hive}'s process table")
        return cgroup_limits(self.worker_process(hive, worker_id).pid)
