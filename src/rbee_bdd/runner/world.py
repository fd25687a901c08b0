"""What one scenario's steps share: a typed World, made fresh for each scenario.

The hooks own the run's plumbing (``context.stack``, ``context.cleanup``, ``context.suite_config``);
everything steps hand to later steps lives in ``context.world``, one field each, with its type.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

import httpx
from behave.model import Table

from rbee_bdd.clients.api import SubmittedJob, WorkerClient
from rbee_bdd.clients.half_requests import HeldConnection
from rbee_bdd.clients.keeper import KeeperProcess, KeeperResult
from rbee_bdd.clients.load import HeartbeatFlood
from rbee_bdd.clients.slow_consumers import PacedReader
from rbee_bdd.clients.sse import HeartbeatStream, JobStream
from rbee_bdd.core.cleanup import CleanupStack
from rbee_bdd.core.identity import ScenarioIdentity
from rbee_bdd.faults.chaos.checker import Violation
from rbee_bdd.host.network import Partition
from rbee_bdd.stack.config import SuiteConfig
from rbee_bdd.stack.exits import ExitWatch
from rbee_bdd.stack.model_hub import ModelHub
from rbee_bdd.stack.stack import Stack
from rbee_bdd.stack.targets.base import NodeStartError

T = TypeVar("T")


@dataclass
class Jobs:
    """The jobs the scenario submitted through queen, in order, and the last batch sent at once."""

    submitted: list[SubmittedJob] = field(default_factory=list)
    batch: list[SubmittedJob] = field(default_factory=list)

    def add(self, job: SubmittedJob) -> SubmittedJob:
        self.submitted.append(job)
        return job

    def add_batch(self, jobs: list[SubmittedJob]) -> list[SubmittedJob]:
        """Jobs sent together: they are the batch, and also submitted jobs in their order."""
        self.batch = list(jobs)
        self.submitted.extend(jobs)
        return self.batch

    @property
    def last(self) -> SubmittedJob:
        assert self.submitted, "no job was submitted in this scenario"
        return self.submitted[-1]

    def last_two(self) -> tuple[SubmittedJob, SubmittedJob]:
        assert len(self.submitted) >= 2, f"two jobs needed, {len(self.submitted)} submitted"
        return self.submitted[-2], self.submitted[-1]


@dataclass
class SlowRead:
    """A job read slowly by a paced client, and what it asked for."""

    job_id: str
    model: str
    tokens: int
    seed: int
    reader: PacedReader


@dataclass
class Workers:
    """Workers and processes earlier steps noted."""

    spawned: list[str] = field(default_factory=list)  # ids of workers spawned in a burst
    stopped: list[str] = field(default_factory=list)  # those of them stopped again
    churn_hive: str = ""  # the hive of the burst
    spawned_one: tuple[str, str] | None = None  # (hive, worker id) of one worker spawned directly
    paused: tuple[str, str] | None = None  # (hive, worker id) of the worker under SIGSTOP
    paused_at: float = 0.0  # time.monotonic() when the kernel showed it stopped
    cut_off: str = ""  # the worker a partition cut off from its hive
    killed: str = ""  # a worker a step SIGKILLed
    noted: WorkerClient | None = None  # a worker's own API, reached directly
    before_restart: set[str] = field(default_factory=set)  # worker ids queen listed before a restart
    ui_pid: int = 0  # a worker's pid as the UI stream showed it
    pids_at_sigterm: dict[str, int] = field(default_factory=dict)  # worker id → host pid when a hive got SIGTERM


@dataclass
class Faults:
    """Faults in force, and what watched the stack while they were."""

    partition: Partition | None = None
    exit_watch: ExitWatch | None = None
    sigterm_at: float = 0.0
    stopped_at: dict[str, float] = field(default_factory=dict)  # node → time.monotonic() when its stop began
    flood: HeartbeatFlood | None = None
    chaos_violations: list[Violation] = field(default_factory=list)  # what the chaos checker found


@dataclass
class Observed:
    """Readings and readers: the UI stream, memory and metrics before and after, slow or stalled readers."""

    ui: HeartbeatStream | None = None  # queen's UI stream, read by the harness
    stalled_subscriber: socket.socket | None = None  # a UI subscriber that never reads
    memory_before: dict[str, int] = field(default_factory=dict)
    memory_after: dict[str, int] = field(default_factory=dict)
    metrics_before: dict[str, dict[str, float]] = field(default_factory=dict)  # daemon → samples
    slow: SlowRead | None = None
    stalled_job: str = ""
    stalled_reader: socket.socket | None = None  # a job stream reader that stopped reading
    tokens_seen: int = 0  # tokens the last job's own stream had when a step looked


@dataclass
class KeeperRuns:
    """rbee-keeper as the scenario ran it."""

    result: KeeperResult | None = None
    process: KeeperProcess | None = None
    queen_url: str = ""  # where the keeper is sent when no stack runs


@dataclass
class Provisioning:
    """A model hub and what provisioning from it answered."""

    catalogs: dict[str, str] = field(default_factory=dict)  # the model catalog's path, by hive
    hub: ModelHub | None = None
    hub_path: str = ""
    cut_at: int = 0  # where the hub cuts a download (bytes)
    answers: list[httpx.Response] = field(default_factory=list)
    resumed_from: list[int] = field(default_factory=list)  # where the hive said it resumed the download
    stream: JobStream | None = None  # a provisioning followed as it goes
    reached_bytes: int = 0  # how far it had got when last looked at
    traces_before: dict[str, list[str]] = field(default_factory=dict)  # where a refused one could leave files
    traced_name: str = ""  # the model name those traces are of


@dataclass
class Probes:
    """Requests sent as a client or an attacker would, and what they got."""

    answer: httpx.Response | None = None
    sent_cid: str | None = None
    sent_authorization: str = ""  # the Authorization value of the last probe ("" for none)
    refused_secrets: list[str] = field(default_factory=list)  # secrets of refused probes, to look for later
    error_bodies: list[str] = field(default_factory=list)  # every error body the probes got
    replaced_token: tuple[str, str] | None = None  # (old, new) of a credential a step rotated
    made_up_methods: list[str] = field(default_factory=list)  # HTTP method names a client made up
    held: list[HeldConnection] | None = None  # connections a client holds open, as an attacker would
    held_refused: int = 0  # how many of them the daemon refused at once
    mixed_answers: list[tuple[str, tuple[int, str]]] = field(default_factory=list)  # (credential, (status, reason))
    audit_copy: Path | None = None  # a copy of an audit trail, to tamper with


@dataclass
class Startup:
    """A stack that would not start."""

    error: NodeStartError | None = None
    took: float = 0.0


@dataclass
class World:
    """What the steps of one scenario share (``context.world``): a record per domain."""

    jobs: Jobs = field(default_factory=Jobs)
    workers: Workers = field(default_factory=Workers)
    faults: Faults = field(default_factory=Faults)
    observed: Observed = field(default_factory=Observed)
    keeper: KeeperRuns = field(default_factory=KeeperRuns)
    provisioning: Provisioning = field(default_factory=Provisioning)
    probe: Probes = field(default_factory=Probes)
    startup: Startup = field(default_factory=Startup)


def start_stack(context: StepContext, hives: int, credentials: bool = True, credential_mode: int = 0o600,
                hs256_key_bytes: int = 0, tls: bool | None = None, faulty_certs: dict[str, str] | None = None,
                allow_plaintext: bool = True, per_hive_credentials: bool = False, **options: Any) -> Stack:
    """Create and start the scenario's stack (its teardown is registered first) as ``context.stack``.

    With *credentials* False the stack runs without any, even where the build claims ``auth``;
    *credential_mode* is the mode its credential files are written with; *hs256_key_bytes* the length
    of its HS256 JWT key (0: the usual); with *tls* every hop is HTTPS (*faulty_certs*: node -> the fault of
    its certificate); None: as the run's ``-D transport`` says.
    """
    config = context.suite_config
    stack = Stack(config, context.identity, context.log_dir, context.cleanup, credentials, credential_mode,
                  hs256_key_bytes, config.tls if tls is None else tls, faulty_certs, allow_plaintext,
                  per_hive_credentials)
    context.stack = stack
    stack.start(hives, **options)
    return stack


def noted(value: T | None, what: str) -> T:
    """A World slot an earlier step filled; an AssertionError naming it when no step did."""
    assert value is not None, f"the scenario's {what} is not there: no earlier step noted it (steps out of order?)"
    return value


class StepContext(Protocol):
    """What a step reads from behave's context: typed, so that mypy checks the steps' use of the harness."""

    world: World
    stack: Stack
    cleanup: CleanupStack
    suite_config: SuiteConfig
    identity: ScenarioIdentity
    log_dir: Path
    table: Table  # None for a step without one: a step that needs a table reads it
