"""queen-rbee's HTTP app, assembled: its state, lifespan, metrics and route modules."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI

from rbee.common.auth import HIVE
from rbee.common.errors import install_error_handlers
from rbee.common.guard import Route
from rbee.common.metrics import install_metrics
from rbee.common.security import Security
from rbee.common.server import write_port_file
from rbee.queen import shutdown
from rbee.queen.routes import cluster, jobs
from rbee.queen.state import Durations, QueenConfig, QueenState

__all__ = ["ROUTES", "QueenConfig", "create_app"]

# what each call needs (unlisted GETs: read; anything else unlisted: admin) and its audit action
ROUTES = [
    Route("POST", "/v1/jobs", "submit", "job.submit"),
    Route("DELETE", r"/v1/jobs/[^/]+", "submit", "job.cancel"),
    Route("POST", "/v1/hive-heartbeat", HIVE),  # every few seconds per hive: failures only are audited
    Route("POST", "/v1/narration", HIVE),
]


def install_queen_metrics(app: FastAPI, state: QueenState) -> None:
    """/metrics: gauges of queen's state, counters of ended jobs and refusals, the job-duration histograms."""
    jobs, ui, registry = state.jobs, state.ui, state.registry
    metrics = install_metrics(app, {
        "rbee_queen_jobs_active": ("jobs not yet ended", lambda: len(jobs.active())),
        "rbee_queen_jobs_retained": ("ended and running jobs kept for GET /v1/jobs/{id}", jobs.retained),
        "rbee_queen_job_streams_open": ("clients reading a job stream", jobs.open_streams),
        "rbee_queen_ui_subscribers": ("clients reading /v1/heartbeats/stream", ui.count),
        "rbee_queen_hives": ("hives in the registry", lambda: registry.size()[0]),
        "rbee_queen_workers": ("workers in the registry", lambda: registry.size()[1]),
        "rbee_queen_reservations": ("workers reserved by running jobs", registry.reservations),
        "rbee_queen_jobs_waiting": ("jobs waiting for a worker", state.waiting.waiting),
    }, "rbee_queen")
    metrics.counts("rbee_queen_jobs_total", "jobs ended, by terminal code: DONE, CANCELLED or the error's code",
                   lambda: dict(state.ended), label="code")
    metrics.counts("rbee_auth_failures_total", "requests refused for their credentials, by reason",
                   lambda: dict(state.security.denials), label="reason")
    metrics.counts("rbee_queen_hive_id_conflicts_total", "heartbeats refused: their hive id is held by another "
                   "live hive instance", lambda: state.hive_id_conflicts)
    metrics.counts("rbee_queen_limit_refusals_total", "requests refused by a per-client limit, by code "
                   "(QUOTA_EXCEEDED, TOO_MANY_SUBSCRIBERS)", lambda: dict(state.limited), label="code")
    state.durations = Durations(
        metrics.histogram("rbee_queen_job_duration_seconds", "from a job's acceptance to its end"),
        metrics.histogram("rbee_queen_queue_wait_seconds",
                          "from a job's acceptance to its dispatch to a worker (cold starts included)"),
        metrics.histogram("rbee_queen_time_to_first_token_seconds",
                          "from a job's acceptance to its first token relayed"))


def create_app(config: QueenConfig, security: Security) -> FastAPI:
    """queen's app: ``app.state.queen`` holds its state, ``app.state.drain`` its SIGTERM."""
    state = QueenState(config, security)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        async with httpx.AsyncClient(timeout=httpx.Timeout(10.0), auth=security.cluster_auth(),
                                     verify=security.tls.verify(), trust_env=False) as client:
            state.start(client)
            expiry = asyncio.get_running_loop().create_task(state.expire_hives())
            write_port_file(config.port_file, config.port)
            yield
            expiry.cancel()
            state.cancel_all()

    async def drain() -> None:
        await shutdown.drain(state)

    app = FastAPI(title="queen-rbee", lifespan=lifespan)
    app.state.queen = state
    app.state.drain = drain
    app.state.registry = state.registry  # main's SIGHUP reload changes its bounds
    install_error_handlers(app)
    install_queen_metrics(app, state)
    app.include_router(cluster.router)
    app.include_router(jobs.router)
    return app
