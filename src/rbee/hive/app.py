"""rbee-hive's HTTP app, assembled: its state, lifespan, metrics and route modules."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from rbee.common.errors import install_error_handlers
from rbee.common.guard import Route
from rbee.common.metrics import install_metrics
from rbee.common.security import Security
from rbee.hive.routes import models, status, workers
from rbee.hive.state import HiveConfig, HiveState

__all__ = ["ROUTES", "HiveConfig", "create_app"]

# what each call needs (unlisted GETs: read; anything else unlisted: admin) and its audit action
ROUTES = [
    Route("POST", "/v1/workers", "admin", "worker.spawn"),
    Route("DELETE", "/v1/workers", "admin", "worker.stop_all"),
    Route("DELETE", r"/v1/workers/[^/]+", "admin", "worker.kill"),
    Route("POST", "/v1/models/provision", "admin", "model.provision"),
    Route("POST", "/v1/shutdown", "admin", "hive.shutdown"),
]

WORKER_EVENTS = [("spawn", "worker processes started"),
                 ("start_timeout", "workers stopped for not being ready within --worker-start-timeout"),
                 ("oom_kill", "workers the kernel's OOM killer ended (by their cgroup's counter)"),
                 ("unhealthy_removal", "workers killed after --worker-health-failures failed checks")]


def install_hive_metrics(app: FastAPI, state: HiveState) -> None:
    """/metrics: gauges of the hive's workers, counters of what happened to them and of refusals."""
    manager = state.workers
    metrics = install_metrics(app, {
        "rbee_hive_workers_live": ("worker processes running", lambda: len(manager.live)),
        "rbee_hive_workers_ended_retained": ("ended workers kept for GET /v1/workers/{id}",
                                             lambda: len(manager.ended)),
        "rbee_hive_background_tasks": ("tasks watching workers", manager.background_tasks),
    }, "rbee_hive")
    for event, help_text in WORKER_EVENTS:
        metrics.counts(f"rbee_hive_worker_{event}s_total", help_text, lambda e=event: manager.happened[e])
    metrics.counts("rbee_hive_at_capacity_refusals_total", "spawns refused with HIVE_AT_CAPACITY: --max-workers "
                   "reached", lambda: manager.happened["at_capacity"])
    metrics.counts("rbee_auth_failures_total", "requests refused for their credentials, by reason",
                   lambda: dict(state.security.denials), label="reason")


def create_app(config: HiveConfig, security: Security) -> FastAPI:
    """The hive's app: heartbeats start once it listens and stop with it; ``app.state.hive`` holds its state."""
    state = HiveState(config, security)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await state.start()
        yield
        await state.wind_down()

    app = FastAPI(title="rbee-hive", lifespan=lifespan)
    app.state.hive = state
    app.state.drain = state.drain
    app.state.workers = state.workers  # SIGHUP hands a rotated cluster credential on to them
    install_error_handlers(app)
    install_hive_metrics(app, state)
    app.include_router(status.router)
    app.include_router(models.router)
    app.include_router(workers.router)
    return app
