"""queen-rbee's state: its settings, the registry, the jobs, the UI stream and what acts on them."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import httpx
from fastapi import Request
from prometheus_client import Histogram

from rbee.common.auth import CLUSTER, Principal
from rbee.common.errors import RbeeError
from rbee.common.events import CANCELLED, error_marker
from rbee.common.security import Security
from rbee.queen.broadcast import Broadcaster
from rbee.queen.jobs import Job, JobStore, terminal_code
from rbee.queen.registry import Registry
from rbee.queen.scheduler import Scheduler
from rbee.queen.waitqueue import WaitQueue

log = logging.getLogger("rbee.queen")


@dataclass
class QueenConfig:
    stale_after_s: float
    port_file: Path | None
    port: int
    remove_after_s: float = 0.0  # 0: twice the staleness bound
    ui_buffer: int = 64
    stall_timeout_s: float = 30.0  # a job stream reader no write reaches for this long is disconnected
    shutdown_grace_s: float = 20.0  # on SIGTERM, how long running jobs may take to finish
    hive_shutdown_timeout_s: float = 30.0  # how long each hive may take to stop its workers and go
    cascade_shutdown: bool = True  # False: queen stops alone, its hives keep running (a restart)
    default_job_timeout_s: float = 600.0  # the deadline of a job without timeout_s (0: none)
    max_jobs_per_principal: int = 32  # unfinished jobs of one client principal (admin, cluster excepted; 0: any)
    max_ui_subscribers: int = 100  # readers of the UI stream at once (0: any)
    worker_stall_timeout_s: float = 60.0  # a running job's worker that sends nothing this long is stalled (0: never)
    queue_timeout_s: float = 300.0  # how long a job waits in line for a worker before QUEUE_TIMEOUT


def caller(request: Request) -> Principal:
    """Who sent *request*, as the guard found (anonymous admin where no credential is configured)."""
    principal = request.scope.get("state", {}).get("principal")
    return principal if isinstance(principal, Principal) else Principal("anonymous", "admin")


def may_see(principal: Principal, job: Job) -> bool:
    """A job's owner, admin and the cluster may see, read and cancel it."""
    return principal.scope in ("admin", CLUSTER) or principal.name == job.owner


class Durations:
    """The job-duration histograms (made with the app's metrics) and what feeds them."""

    def __init__(self, job: Histogram, queue: Histogram, first_token: Histogram) -> None:
        self.job, self.queue, self.first_token = job, queue, first_token

    def observe(self, job: Job) -> None:
        now = time.monotonic()
        self.job.observe(now - job.accepted_at)
        if job.dispatched_at:
            self.queue.observe(job.dispatched_at - job.accepted_at)
        if job.first_token_at:
            self.first_token.observe(job.first_token_at - job.accepted_at)


class QueenState:
    """Everything queen knows and the actions that span it; route handlers take it by dependency."""

    def __init__(self, config: QueenConfig, security: Security) -> None:
        self.config = config
        self.security = security
        self.registry = Registry(config.stale_after_s, config.remove_after_s or 2 * config.stale_after_s)
        self.ended: Counter[str] = Counter()  # jobs by terminal code
        self.limited: Counter[str] = Counter()  # requests refused by a per-client limit, by code
        self.hive_id_conflicts = 0  # heartbeats refused with HIVE_ID_CONFLICT
        self.durations: Durations | None = None  # set when the app's metrics exist
        self.jobs = JobStore(self._job_ended)
        self.waiting = WaitQueue()
        self.ui = Broadcaster(buffer=config.ui_buffer)
        self._scheduler: Scheduler | None = None  # made once the HTTP client exists
        self.shutting_down = asyncio.Event()
        self._background: set[asyncio.Task[None]] = set()  # referenced until done, as asyncio requires

    @property
    def scheduler(self) -> Scheduler:
        if self._scheduler is None:
            raise RuntimeError("queen's scheduler starts with the app's lifespan")
        return self._scheduler

    def start(self, client: httpx.AsyncClient) -> None:
        """The app listens: jobs may be scheduled through *client*."""
        self._scheduler = Scheduler(self.registry, client, self.waiting,
                                    stall_s=lambda: self.config.worker_stall_timeout_s,
                                    queue_s=lambda: self.config.queue_timeout_s)

    def _job_ended(self, job: Job, marker: str) -> None:
        self.ended[terminal_code(marker)] += 1
        if self.durations is not None:
            self.durations.observe(job)

    def find(self, job_id: str, request: Request) -> Job:
        """The job, if the caller may see it: its owner, admin or the cluster. Anyone else is told it does
        not exist, as for an unknown id (no oracle of other principals' jobs)."""
        job = self.jobs.get(job_id)
        if job is None or not may_see(caller(request), job):
            raise RbeeError("JOB_NOT_FOUND", f"no job {job_id}", 404)
        return job

    async def expire_hives(self) -> None:
        """Mark silent hives unavailable, then remove them, telling the UI stream; runs until cancelled."""
        while True:
            await asyncio.sleep(min(self.config.stale_after_s / 4, 1.0))
            stale, removed = self.registry.expire()
            for hive_id in stale:
                log.warning("hive %s silent for over %.1f s: unavailable", hive_id, self.config.stale_after_s)
                self.ui.publish("hive_unavailable", {"hive_id": hive_id})
                for job in self.jobs.active():
                    if job.hive_id == hive_id:
                        await self.fail_job(job, "HIVE_UNAVAILABLE", f"hive {hive_id} of worker {job.worker_id} "
                                            f"went silent for over {self.config.stale_after_s:g} s")
            for hive_id in removed:
                log.warning("hive %s removed with its workers", hive_id)
                self.ui.publish("hive_removed", {"hive_id": hive_id})

    async def fail_job(self, job: Job, code: str, message: str) -> None:
        """End a running job with ``[ERROR] code: message`` and stop its task (its worker is out of reach)."""
        log.warning("job %s failed: %s: %s correlation_id=%s", job.job_id, code, message, job.correlation_id)
        await job.narrate("queen-rbee", "job_failed", f"{code}: {message}", target=job.job_id)
        await job.finish(error_marker(code, message))
        if job.task is not None:
            job.task.cancel()

    async def cancel_job(self, job: Job, why: str) -> None:
        """Stop the job everywhere: on its worker, in queen, and on its stream with [CANCELLED]."""
        if job.events.terminal is not None:
            return
        log.info("job %s cancelled (%s) correlation_id=%s", job.job_id, why, job.correlation_id)
        await self.scheduler.cancel_on_worker(job)
        if job.task is not None:
            job.task.cancel()
        await job.narrate("queen-rbee", "job_cancelled", f"cancelled: {why}", target=job.job_id)
        await job.finish(CANCELLED)

    def cancel_abandoned(self, job: Job, client: str) -> None:
        """The owner's last reader went away before the end: cancel the job (audited) in the background."""
        self.security.audit.record("job.cancel", "ok", principal=job.owner, client=client,
                                   target=f"job_id={job.job_id}", correlation_id=job.correlation_id,
                                   reason="reader-disconnected")
        task = asyncio.get_running_loop().create_task(
            self.cancel_job(job, "its last reader disconnected or stalled"))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def cancel_all(self) -> None:
        """The app stops: every job's task ends."""
        for job in self.jobs.active():
            if job.task is not None:
                job.task.cancel()


def queen_state(request: Request) -> QueenState:
    """The dependency route handlers take queen's state by."""
    return cast(QueenState, request.app.state.queen)
