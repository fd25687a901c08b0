"""llm-worker-rbee's HTTP app, assembled: its state, lifespan, metrics and routes."""

from __future__ import annotations

import collections
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI

from rbee.common.errors import install_error_handlers
from rbee.common.guard import Route
from rbee.common.metrics import RATE_BUCKETS, install_metrics
from rbee.common.server import write_port_file
from rbee.worker import routes
from rbee.worker.engine import Engine
from rbee.worker.state import WorkerState, announce, load_or_exit

__all__ = ["ROUTES", "create_app"]

# what each call needs (unlisted GETs: read; anything else unlisted: admin) and its audit action
ROUTES = [
    Route("POST", "/v1/jobs", "admin", "job.run"),
    Route("DELETE", r"/v1/jobs/[^/]+", "admin", "job.cancel"),
]


def install_worker_metrics(app: FastAPI, state: WorkerState, denials: collections.Counter[str]) -> None:
    """/metrics: the worker's jobs, readers and load; its generation rate; refused credentials."""
    jobs = state.jobs
    metrics = install_metrics(app, {
        "rbee_worker_jobs_active": ("jobs being generated", lambda: sum(
            1 for j in jobs.values() if j.events.terminal is None)),
        "rbee_worker_jobs_retained": ("ended jobs kept for late readers", lambda: len(jobs)),
        "rbee_worker_job_streams_open": ("readers of job streams", lambda: sum(
            j.events.readers for j in jobs.values())),
        "rbee_worker_busy": ("1 while generating", lambda: 1 if state.state == "busy" else 0),
    }, "rbee_worker")
    state.load_seconds = metrics.histogram("rbee_worker_load_seconds", "time to load the model")
    state.tokens_per_second = metrics.histogram("rbee_worker_tokens_per_second", "each job's generation rate",
                                                buckets=RATE_BUCKETS)
    metrics.counts("rbee_auth_failures_total", "requests refused for their credentials, by reason",
                   lambda: dict(denials), label="reason")


def create_app(engine: Engine, worker_id: str, port_file: Path | None, port: int,
               security_denials: collections.Counter[str] | None = None) -> FastAPI:
    """The worker's app; the model loads in the background once it listens."""
    state = WorkerState(worker_id=worker_id, model_name=engine.model_path.stem, engine=engine)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        announce("startup", f"worker {worker_id} listening on port {port}")
        write_port_file(port_file, port)
        threading.Thread(target=load_or_exit, args=(engine, state), daemon=True).start()
        yield
        for job in state.jobs.values():
            job.cancelled.set()

    app = FastAPI(title="llm-worker-rbee", lifespan=lifespan)
    app.state.worker = state
    app.state.drain = state.drain
    install_error_handlers(app)
    install_worker_metrics(app, state, security_denials if security_denials is not None else collections.Counter())
    app.include_router(routes.router)
    return app
