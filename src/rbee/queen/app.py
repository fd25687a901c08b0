"""queen-rbee's HTTP API: jobs and their streams, heartbeats, the registry."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI, Header, Request, Response
from fastapi.responses import StreamingResponse
from prometheus_client import Histogram
from pydantic import BaseModel

from rbee.common.auth import CLUSTER, Principal
from rbee.common.errors import RbeeError, install_error_handlers
from rbee.common.events import CANCELLED, error_marker
from rbee.common.guard import Route
from rbee.common.metrics import install_metrics
from rbee.common.narration import Narration
from rbee.common.protocol import PROTOCOL, compatible
from rbee.common.security import Security
from rbee.common.server import write_port_file
from rbee.common.streaming import SSE_RESPONSES, EventStreamResponse, GuardedStreamingResponse
from rbee.queen.broadcast import Broadcaster
from rbee.queen.jobs import InferOperation, Job, JobStore, terminal_code
from rbee.queen.registry import HiveHeartbeat, Registry
from rbee.queen.scheduler import Scheduler
from rbee.queen.waitqueue import WaitQueue

log = logging.getLogger("rbee.queen")
DEADLINE_PATTERN = r"^[0-9]{1,15}$"  # X-Request-Deadline: epoch ms as plain digits (no sign, '_' or spaces)

# what each call needs (unlisted GETs: read; anything else unlisted: admin) and its audit action
ROUTES = [
    Route("POST", "/v1/jobs", "submit", "job.submit"),
    Route("DELETE", r"/v1/jobs/[^/]+", "submit", "job.cancel"),
    Route("POST", "/v1/hive-heartbeat", CLUSTER),  # every few seconds per hive: failures only are audited
    Route("POST", "/v1/narration", CLUSTER),
]


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


class NarrationBatch(BaseModel):
    events: list[dict[str, Any]]


def caller(request: Request) -> Principal:
    """Who sent *request*, as the guard found (anonymous admin where no credential is configured)."""
    principal = request.scope.get("state", {}).get("principal")
    return principal if isinstance(principal, Principal) else Principal("anonymous", "admin")


def may_see(principal: Principal, job: Job) -> bool:
    """A job's owner, admin and the cluster may see, read and cancel it."""
    return principal.scope in ("admin", CLUSTER) or principal.name == job.owner


def create_app(config: QueenConfig, security: Security) -> FastAPI:
    registry = Registry(config.stale_after_s, config.remove_after_s or 2 * config.stale_after_s)
    ended: Counter[str] = Counter()  # jobs by terminal code
    durations: dict[str, Histogram] = {}  # made with the app's metrics, below

    def job_ended(job: Job, marker: str) -> None:
        ended[terminal_code(marker)] += 1
        now = time.monotonic()
        durations["job"].observe(now - job.accepted_at)
        if job.dispatched_at:
            durations["queue"].observe(job.dispatched_at - job.accepted_at)
        if job.first_token_at:
            durations["first_token"].observe(job.first_token_at - job.accepted_at)

    jobs = JobStore(job_ended)
    waiting = WaitQueue()
    ui = Broadcaster(buffer=config.ui_buffer)
    started: dict[str, Scheduler] = {}  # the scheduler, made once the HTTP client exists
    shutting_down = asyncio.Event()
    background: set[asyncio.Task[None]] = set()  # referenced until done, as asyncio requires

    async def expire_hives() -> None:
        """Mark silent hives unavailable, then remove them, telling the UI stream."""
        while True:
            await asyncio.sleep(min(config.stale_after_s / 4, 1.0))
            stale, removed = registry.expire()
            for hive_id in stale:
                log.warning("hive %s silent for over %.1f s: unavailable", hive_id, config.stale_after_s)
                ui.publish("hive_unavailable", {"hive_id": hive_id})
                for job in jobs.active():
                    if job.hive_id == hive_id:
                        await fail_job(job, "HIVE_UNAVAILABLE", f"hive {hive_id} of worker {job.worker_id} "
                                       f"went silent for over {config.stale_after_s:g} s")
            for hive_id in removed:
                log.warning("hive %s removed with its workers", hive_id)
                ui.publish("hive_removed", {"hive_id": hive_id})

    async def fail_job(job: Job, code: str, message: str) -> None:
        """End a running job with ``[ERROR] code: message`` and stop its task (its worker is out of reach)."""
        log.warning("job %s failed: %s: %s correlation_id=%s", job.job_id, code, message, job.correlation_id)
        await job.narrate("queen-rbee", "job_failed", f"{code}: {message}", target=job.job_id)
        await job.finish(error_marker(code, message))
        if job.task is not None:
            job.task.cancel()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        async with httpx.AsyncClient(timeout=httpx.Timeout(10.0), auth=security.cluster_auth(),
                                     trust_env=False) as client:
            started["scheduler"] = Scheduler(registry, client, waiting)
            expiry = asyncio.get_running_loop().create_task(expire_hives())
            write_port_file(config.port_file, config.port)
            yield
            expiry.cancel()
            for job in jobs.active():
                if job.task is not None:
                    job.task.cancel()

    async def drain() -> None:
        """SIGTERM: refuse new jobs, let running ones finish, then shut every hive down (workers first).

        With --no-cascade-shutdown the hives are left running.
        """
        shutting_down.set()
        security.audit.record("shutdown", "started", principal="signal:SIGTERM", target="queen-rbee")
        running = jobs.active()
        log.warning("shutting down: no new jobs; waiting up to %.0f s for %d running job(s)",
                    config.shutdown_grace_s, len(running))
        deadline = asyncio.get_running_loop().time() + config.shutdown_grace_s
        while jobs.active() and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.05)
        for job in jobs.active():
            await cancel_job(job, "queen shut down before the job finished")
        if not config.cascade_shutdown:
            log.warning("shutting down alone (--no-cascade-shutdown): hives keep running")
            return
        hives = registry.hive_urls()
        # two phases, so that the order holds across hives: every worker of every hive ends first
        await ask_every_hive(hives, "DELETE", "/v1/workers", "stop its workers")
        await ask_every_hive(hives, "POST", "/v1/shutdown", "shut down")
        await asyncio.gather(*(wait_gone(hive_id, url) for hive_id, url in hives.items()))

    async def ask_every_hive(hives: dict[str, str], method: str, path: str, what: str) -> None:
        """Send ``method path`` to every hive at once and wait for every answer (or failure), logging each."""
        log.warning("asking %d hive(s) to %s: %s", len(hives), what, ", ".join(hives))
        client = started["scheduler"].client
        answers = await asyncio.gather(*(client.request(method, url + path, timeout=config.hive_shutdown_timeout_s)
                                         for url in hives.values()), return_exceptions=True)
        for hive_id, answer in zip(hives, answers, strict=True):
            if isinstance(answer, BaseException):
                log.warning("hive %s did not confirm it would %s: %r", hive_id, what, answer)
            else:
                log.info("hive %s did %s: %s", hive_id, what, answer.text[:200])

    async def wait_gone(hive_id: str, url: str, timeout_s: float = 5.0) -> None:
        """Until the hive refuses connections (its process has ended), at most *timeout_s*."""
        client = started["scheduler"].client
        deadline = asyncio.get_running_loop().time() + timeout_s
        while asyncio.get_running_loop().time() < deadline:
            try:
                await client.get(f"{url}/health", timeout=1.0)
            except httpx.ConnectError:
                return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.05)
        log.warning("hive %s still answers %.0f s after its shutdown", hive_id, timeout_s)

    app = FastAPI(title="queen-rbee", lifespan=lifespan)
    app.state.drain = drain
    app.state.registry = registry  # main's SIGHUP reload changes its bounds
    install_error_handlers(app)
    metrics = install_metrics(app, {
        "rbee_queen_jobs_active": ("jobs not yet ended", lambda: len(jobs.active())),
        "rbee_queen_jobs_retained": ("ended and running jobs kept for GET /v1/jobs/{id}", jobs.retained),
        "rbee_queen_job_streams_open": ("clients reading a job stream", jobs.open_streams),
        "rbee_queen_ui_subscribers": ("clients reading /v1/heartbeats/stream", ui.count),
        "rbee_queen_hives": ("hives in the registry", lambda: registry.size()[0]),
        "rbee_queen_workers": ("workers in the registry", lambda: registry.size()[1]),
        "rbee_queen_reservations": ("workers reserved by running jobs", registry.reservations),
        "rbee_queen_jobs_waiting": ("jobs waiting for a worker", waiting.waiting),
    }, "rbee_queen")
    metrics.counts("rbee_queen_jobs_total", "jobs ended, by terminal code: DONE, CANCELLED or the error's code",
                   lambda: dict(ended), label="code")
    metrics.counts("rbee_auth_failures_total", "requests refused for their credentials, by reason",
                   lambda: dict(security.denials), label="reason")
    limited: Counter[str] = Counter()  # requests refused by a per-client limit, by code
    metrics.counts("rbee_queen_limit_refusals_total", "requests refused by a per-client limit, by code "
                   "(QUOTA_EXCEEDED, TOO_MANY_SUBSCRIBERS)", lambda: dict(limited), label="code")
    durations["job"] = metrics.histogram("rbee_queen_job_duration_seconds", "from a job's acceptance to its end")
    durations["queue"] = metrics.histogram("rbee_queen_queue_wait_seconds",
                                           "from a job's acceptance to its dispatch to a worker (cold starts included)")
    durations["first_token"] = metrics.histogram("rbee_queen_time_to_first_token_seconds",
                                                 "from a job's acceptance to its first token relayed")

    def find(job_id: str, request: Request) -> Job:
        """The job, if the caller may see it: its owner, admin or the cluster. Anyone else is told it does
        not exist, as for an unknown id (no oracle of other principals' jobs)."""
        job = jobs.get(job_id)
        if job is None or not may_see(caller(request), job):
            raise RbeeError("JOB_NOT_FOUND", f"no job {job_id}", 404)
        return job

    @app.get("/health")
    async def health() -> dict[str, str]:
        """Alive; ``state`` is ``draining`` from the moment a SIGTERM (or shutdown) was taken in."""
        return {"status": "ok", "state": "draining" if shutting_down.is_set() else "serving"}

    @app.post("/v1/jobs", status_code=201)
    async def submit(op: InferOperation, request: Request, response: Response,
                     x_correlation_id: str = Header(default=""),
                     x_request_deadline: str = Header(default="", pattern=DEADLINE_PATTERN,
                                                      description="the caller's own deadline, epoch ms "
                                                                  "(plain digits)")
                     ) -> dict[str, str]:
        if shutting_down.is_set():
            raise RbeeError("SHUTTING_DOWN", "queen is shutting down and takes no new jobs", 503)
        if not registry.hives_with_model(op.model, op.hive_id) and \
                (silent := registry.unavailable_with_model(op.model, op.hive_id)):
            raise RbeeError("HIVE_UNAVAILABLE", f"the hives with model {op.model} are unavailable (silent for "
                            f"over {config.stale_after_s:g} s): {', '.join(silent)}", 503)
        principal = caller(request)
        if config.max_jobs_per_principal and principal.scope not in ("admin", CLUSTER) and \
                jobs.unfinished_of(principal.name) >= config.max_jobs_per_principal:
            limited["QUOTA_EXCEEDED"] += 1
            raise RbeeError("QUOTA_EXCEEDED", f"{principal.name} has {config.max_jobs_per_principal} unfinished "
                            "jobs, the most one client may have: wait for one to end", 429, {"Retry-After": "1"})
        job = jobs.create(op, x_correlation_id, config.default_job_timeout_s, int(x_request_deadline or 0),
                          owner=principal.name)
        response.headers["X-Correlation-ID"] = job.correlation_id
        log.info("job %s accepted model=%s correlation_id=%s", job.job_id, op.model, job.correlation_id)
        job.task = asyncio.get_running_loop().create_task(started["scheduler"].run(job))
        return {"job_id": job.job_id, "sse_url": f"/v1/jobs/{job.job_id}/stream"}

    @app.get("/v1/jobs/{job_id}")
    async def job_state(job_id: str, request: Request) -> dict[str, Any]:
        return find(job_id, request).to_dict()

    async def cancel_job(job: Job, why: str) -> None:
        """Stop the job everywhere: on its worker, in queen, and on its stream with [CANCELLED]."""
        if job.events.terminal is not None:
            return
        log.info("job %s cancelled (%s) correlation_id=%s", job.job_id, why, job.correlation_id)
        await started["scheduler"].cancel_on_worker(job)
        if job.task is not None:
            job.task.cancel()
        await job.narrate("queen-rbee", "job_cancelled", f"cancelled: {why}", target=job.job_id)
        await job.finish(CANCELLED)

    def cancel_abandoned(job: Job, client: str) -> None:
        security.audit.record("job.cancel", "ok", principal=job.owner, client=client, target=f"job_id={job.job_id}",
                              correlation_id=job.correlation_id, reason="reader-disconnected")
        task = asyncio.get_running_loop().create_task(cancel_job(job, "its last reader disconnected or stalled"))
        background.add(task)
        task.add_done_callback(background.discard)

    @app.get("/v1/jobs/{job_id}/stream", response_class=EventStreamResponse, responses=SSE_RESPONSES)
    async def job_stream(job_id: str, request: Request) -> StreamingResponse:
        """The job's events; a job whose owner's last reader disconnects or stalls before its end is
        cancelled (others, admin included, only watch)."""
        job = find(job_id, request)
        client = f"{request.client.host}:{request.client.port}" if request.client else ""
        reader = f"{client} of {job_id}" if client else job_id
        events = job.events.follow(lambda: cancel_abandoned(job, client)) \
            if caller(request).name == job.owner else job.events.stream()
        return GuardedStreamingResponse(events, config.stall_timeout_s, reader,
                                        headers={"X-Correlation-ID": job.correlation_id})

    @app.delete("/v1/jobs/{job_id}")
    async def cancel(job_id: str, request: Request) -> dict[str, Any]:
        job = find(job_id, request)
        await cancel_job(job, "DELETE /v1/jobs")
        return job.to_dict()

    @app.post("/v1/hive-heartbeat")
    async def heartbeat(beat: HiveHeartbeat) -> dict[str, str]:
        """Record the hive's state; one speaking another major protocol version is listed as
        ``incompatible`` (never scheduled on) and told so with 409 ``PROTOCOL_INCOMPATIBLE``."""
        known = registry.hive_protocol(beat.hive_id)
        registry.record(beat)
        ui.publish("heartbeat", beat.model_dump(exclude={"capabilities", "models"}))
        if not compatible(beat.protocol):
            message = (f"hive {beat.hive_id} (version {beat.version}) speaks protocol {beat.protocol}, queen "
                       f"speaks {PROTOCOL}: it is listed as incompatible and gets no work")
            if known != beat.protocol:
                log.warning("%s", message)
            raise RbeeError("PROTOCOL_INCOMPATIBLE", message, 409)
        return {"status": "ok"}

    @app.get("/v1/heartbeats/stream", response_class=EventStreamResponse, responses=SSE_RESPONSES)
    async def heartbeat_stream(request: Request) -> StreamingResponse:
        """The UI's live view: one ``hive`` event per known hive, then every heartbeat as it arrives."""
        if config.max_ui_subscribers and ui.count() >= config.max_ui_subscribers:
            limited["TOO_MANY_SUBSCRIBERS"] += 1
            raise RbeeError("TOO_MANY_SUBSCRIBERS", f"the UI stream has its {config.max_ui_subscribers} readers",
                            503, {"Retry-After": "5"})
        client = request.client
        name = f"{client.host}:{client.port}" if client else "unknown"
        snapshot = [("hive", hive) for hive in registry.hives()]
        return EventStreamResponse(ui.stream(name, snapshot))

    @app.get("/v1/heartbeats/subscribers")
    async def heartbeat_subscribers() -> dict[str, int]:
        return {"subscribers": ui.count()}

    @app.post("/v1/narration")
    async def narration(batch: NarrationBatch) -> dict[str, int]:
        relayed = 0
        for raw in batch.events:
            job = jobs.get(str(raw.get("job_id", "")))
            if job is not None and job.events.terminal is None:
                await job.events.append("narration", Narration.from_dict(raw).to_dict())
                relayed += 1
        return {"relayed": relayed}

    @app.get("/v1/hives")
    async def hives() -> dict[str, list[dict[str, Any]]]:
        return {"hives": registry.hives()}

    @app.get("/v1/workers")
    async def workers(model: str | None = None, idle: bool | None = None,
                      hive: str | None = None) -> dict[str, list[dict[str, Any]]]:
        return {"workers": registry.workers(model=model, idle=idle, hive_id=hive)}

    return app
