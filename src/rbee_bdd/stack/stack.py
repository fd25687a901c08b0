"""One scenario's rbee stack: queen and hives on the chosen target, and ways to reach them."""

from __future__ import annotations

import contextlib
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from rbee_bdd.clients.api import HiveClient, QueenClient, SubmittedJob, WorkerClient
from rbee_bdd.clients.credentials import ScenarioCredentials
from rbee_bdd.clients.http import authorize, forget_credentials, request, trust
from rbee_bdd.core.cleanup import CleanupStack
from rbee_bdd.core.identity import ScenarioIdentity
from rbee_bdd.core.waiting import eventually
from rbee_bdd.host.relay import Relay
from rbee_bdd.stack.config import SuiteConfig
from rbee_bdd.stack.facets.faults import StackFaults
from rbee_bdd.stack.facets.keeper import StackKeeper
from rbee_bdd.stack.facets.processes import StackProcesses
from rbee_bdd.stack.facets.provisioning import StackProvisioning
from rbee_bdd.stack.facets.security import StackSecurity
from rbee_bdd.stack.facets.telemetry import StackTelemetry
from rbee_bdd.stack.targets.base import HiveSpec, Node, Target
from rbee_bdd.stack.transport import Transport


def make_target(config: SuiteConfig, identity: ScenarioIdentity, log_dir: Path,
                credentials: ScenarioCredentials | None, audit: bool, transport: Transport) -> Target:
    if config.target == "docker":
        from rbee_bdd.stack.targets.docker import DockerTarget

        return DockerTarget(config, identity, log_dir, credentials, audit, transport)
    from rbee_bdd.stack.targets.local import LocalTarget

    return LocalTarget(config, identity, log_dir, credentials, audit, transport)


class Stack:
    """Queen plus N hives; torn down by the scenario's cleanup, whatever happens.

    The stack keeps the lifecycle, the node map and the clients of its daemons; the rest is in its
    facets: ``faults``, ``processes``, ``telemetry``, ``security``, ``provisioning``, ``keeper``.
    """

    def __init__(self, config: SuiteConfig, identity: ScenarioIdentity, log_dir: Path,
                 cleanup: CleanupStack, credentials: bool = True, credential_mode: int = 0o600,
                 hs256_key_bytes: int = 0, tls: bool = False, faulty_certs: dict[str, str] | None = None,
                 allow_plaintext: bool = True, per_hive_credentials: bool = False) -> None:
        self.config = config
        self.target: Target | None = None
        self.queen_node: Node | None = None
        self.hive_nodes: dict[str, Node] = {}
        self.phases: dict[str, float] = {}
        self.relay: Relay | None = None
        # made fresh for each scenario when the build claims authentication; never written anywhere else
        self.credentials = ScenarioCredentials.generate(credential_mode, hs256_key_bytes, per_hive_credentials) \
            if credentials and "auth" in config.profile.claims else None
        cleanup.push("tear down the stack", self.teardown)
        cleanup.push("forget the scenario's credentials", forget_credentials)
        self.transport = Transport(tls, "tls" in config.profile.claims, allow_plaintext, dict(faulty_certs or {}))
        self.ca_file: Path | None = None  # the scenario's CA certificate on the host (public), for rbee-keeper
        if tls:
            trust(self.transport.ca_pem)  # the harness verifies the daemons against the scenario's CA
            log_dir.mkdir(parents=True, exist_ok=True)
            self.ca_file = log_dir / "scenario-ca.pem"
            self.ca_file.write_bytes(self.transport.ca_pem)
        self.target = make_target(config, identity, log_dir, self.credentials, "audit" in config.profile.claims,
                                  self.transport)
        self.faults = StackFaults(self)
        self.processes = StackProcesses(self)
        self.telemetry = StackTelemetry(self)
        self.security = StackSecurity(self)
        self.provisioning = StackProvisioning(self)
        self.keeper = StackKeeper(self)

    def start(self, hives: int, heartbeat_interval: float | None = None, cgroups: bool = True,
              queen_args: tuple[str, ...] = (), worker_wrapper: str = "",
              hive_args: tuple[str, ...] = (), hive_config: str = "", download_disk_bytes: int = 0,
              hive_credentials_in_env: bool = False, queen_audit_disk_bytes: int = 0, relay: bool = False) -> None:
        """Start queen and the hives, and wait until queen has heard from each.

        Where hives know queen's address before it runs (docker: its container's name), all
        start at once; otherwise queen first, then the hives together. ``phases`` says how long
        each part took (seconds since the start). With *relay* the hives reach queen through a relay of the
        harness's (``self.relay``), which keeps what crosses it.
        """
        assert self.target is not None
        target = self.target
        started = time.monotonic()
        interval = heartbeat_interval or self.config.heartbeat_interval

        def start_hive(index: int) -> tuple[str, Node]:
            name = f"hive-{index}"
            spec = HiveSpec(name, queen_url, interval, cgroups, worker_wrapper, hive_args,
                            hive_config.encode(), download_disk_bytes, hive_credentials_in_env)
            return name, target.start_hive(spec)

        with ThreadPoolExecutor(max_workers=1 + hives) as pool:
            queen = pool.submit(target.start_queen, queen_args, queen_audit_disk_bytes)
            if relay or not target.queen_address_known_before_start:
                queen.result()  # the hives need its address
            queen_url = self._relayed(queen.result()) if relay else target.queen_url_for_hives()
            started_hives = [pool.submit(start_hive, index) for index in range(1, hives + 1)]
            self.queen_node = queen.result()
            self.phases["queen healthy"] = time.monotonic() - started
            self.hive_nodes.update(hive.result() for hive in started_hives)
        self.phases["hives healthy"] = time.monotonic() - started
        for name in self.hive_nodes:
            self.hive(name)  # the harness's calls to it carry the cluster credential
        if self.transport.untrusted("queen"):
            return  # nobody can ask queen anything: its certificate is refused on purpose
        self.wait_hives_listed(set(self.hive_nodes))
        self.phases["hives listed"] = time.monotonic() - started

    def _relayed(self, queen: Node) -> str:
        """A relay of the harness's in front of queen (closed with the stack): queen's URL for the hives."""
        assert self.target is not None
        upstream = urlsplit(queen.direct_url)
        self.relay = Relay(self.target.harness_address(), (str(upstream.hostname), int(upstream.port or 0)))
        return f"{self.transport.scheme}://{self.relay.host}:{self.relay.port}"

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

    def rewrite_config(self, node: str, text: str) -> None:
        """Replace the node's --config file with *text* and send it SIGHUP."""
        assert self.target is not None
        self.node(node).write_file(self.target.config_path(node), text.encode())
        self.node(node).kill(signal.SIGHUP)

    def daemon_nodes(self) -> list[tuple[str, Node]]:
        """(name, node) of queen and every hive."""
        return [("queen", self.node("queen")), *self.hive_nodes.items()]

    def teardown(self) -> None:
        if self.target is not None:
            self._stop_workers_first()
            self.target.teardown()
        if self.relay is not None:
            self.relay.close()

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

    def worker(self, hive: str, worker_id: str) -> WorkerClient:
        """The worker's own API, reached directly (not through queen)."""
        port = self.hive(hive).worker(worker_id)["port"]
        url = f"{self.transport.scheme}://{self.hive_nodes[hive].address}:{port}"
        authorize(url, self.cluster_token)
        return WorkerClient(url)
