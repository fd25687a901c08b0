"""The records the daemons answer with, as docs/contract.md writes them: typed, so that mypy checks
every field a step or the harness reads (a misspelt field is a type error, not a KeyError in a run).

They are plain dicts at run time: a build that sends more fields is not refused here; the
scenarios judge the values.
"""

from __future__ import annotations

from typing import Any, NotRequired, TypedDict


class ErrorBody(TypedDict):
    code: str
    message: str
    correlation_id: NotRequired[str]
    field: NotRequired[str]
    reason: NotRequired[str]


class JobRecord(TypedDict):
    """Queen's ``GET /v1/jobs/{id}``."""

    job_id: str
    state: str  # queued | running | completed | failed | cancelled
    error: ErrorBody | None
    worker_id: str | None
    correlation_id: str
    model: str


class ProcessFigures(TypedDict):
    """What a hive measures of a worker's process (ProcessStats), as queen's worker rows repeat it."""

    pid: int
    cpu_pct: float
    rss_mb: float
    io_r_mb_s: float
    io_w_mb_s: float
    uptime_s: float
    gpu_util_pct: float
    vram_mb: float
    total_vram_mb: float


class QueenWorker(ProcessFigures):
    """A row of queen's ``GET /v1/workers``."""

    worker_id: str
    hive_id: str
    model: str
    url: str
    state: str
    idle: bool
    error: str | None


class HiveRow(TypedDict):
    """A row of queen's ``GET /v1/hives``."""

    hive_id: str
    url: str
    models: list[str]
    available: bool
    state: str  # serving | draining | unavailable | incompatible
    version: str
    protocol: str
    queen_protocol: str
    last_seen_s_ago: float
    workers: list[dict[str, Any]]
    capabilities: dict[str, Any]


class Health(TypedDict):
    """Any daemon's ``GET /health`` (``hive_id`` from a hive, ``state`` from queen and hives)."""

    status: str
    state: NotRequired[str]
    hive_id: NotRequired[str]


class WorkerReady(TypedDict):
    """A worker's ``GET /v1/ready``."""

    worker_id: str
    model: str
    state: str  # loading | ready | busy
    progress: float
    idle_s: float


class HiveWorker(TypedDict):
    """A hive's record of a worker (``POST /v1/workers``, ``GET /v1/workers[/{id}]``)."""

    worker_id: str
    model: str
    pid: int
    port: int | None
    url: str | None
    state: str  # starting | ready | unhealthy | stopping | failed | exited
    error: str | None
    error_code: str | None
    exit_code: int | None
    oom_killed: bool
    uptime_s: float


class ProcessStats(ProcessFigures):
    """One process of a hive's telemetry (and of its heartbeats)."""

    group: str
    instance: str
    model: str


class Telemetry(TypedDict):
    """A hive's ``GET /v1/telemetry``."""

    processes: list[ProcessStats]
    gpu_status: str
    skipped: list[Any]


class Capabilities(TypedDict):
    """A hive's ``GET /v1/capabilities``."""

    platform: str
    cgroups: dict[str, Any]
    gpu: dict[str, Any]


class Models(TypedDict):
    """A hive's ``GET /v1/models``."""

    models: list[str]
    catalog: str
    recoveries: int


class StoppedWorkers(TypedDict):
    """A hive's answer to ``DELETE /v1/workers`` and ``POST /v1/shutdown``."""

    hive_id: str
    stopped: list[HiveWorker]
