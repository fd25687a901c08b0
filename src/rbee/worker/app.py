"""llm-worker-rbee's HTTP API: readiness, one job at a time, tokens over SSE."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import os
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from fastapi import FastAPI, Header
from fastapi.responses import StreamingResponse
from prometheus_client import Histogram
from pydantic import BaseModel, Field

from rbee.common.errors import RbeeError, install_error_handlers
from rbee.common.events import CANCELLED, DONE, EventLog, error_marker
from rbee.common.guard import Route
from rbee.common.metrics import RATE_BUCKETS, install_metrics
from rbee.common.narration import Narration, now_ms
from rbee.common.server import write_port_file
from rbee.common.streaming import SSE_RESPONSES, EventStreamResponse
from rbee.common.validation import IDENTIFIER, STRICT
from rbee.worker.engine import Engine, ModelLoadError, Sampling

ACTOR = "llm-worker-rbee"
KEPT_JOBS = 64
log = logging.getLogger("rbee.worker")

# what each call needs (unlisted GETs: read; anything else unlisted: admin) and its audit action
ROUTES = [
    Route("POST", "/v1/jobs", "admin", "job.run"),
    Route("DELETE", r"/v1/jobs/[^/]+", "admin", "job.cancel"),
]


class InferRequest(BaseModel):
    model_config = STRICT

    job_id: str = Field(default="", pattern=f"{IDENTIFIER}|^$")
    prompt: str = Field(min_length=1, max_length=16_000)
    max_tokens: int = Field(default=32, ge=1, le=4096)
    temperature: float = Field(default=0.7, ge=0.0, le=2.0)
    top_p: float = Field(default=0.95, gt=0.0, le=1.0)
    seed: int = Field(default=0, ge=0, le=2**31 - 1)


@dataclass
class WorkerJob:
    job_id: str
    correlation_id: str
    deadline_ms: int = 0  # epoch ms (X-Request-Deadline); 0 = none
    events: EventLog = field(default_factory=EventLog)
    cancelled: threading.Event = field(default_factory=threading.Event)
    task: asyncio.Task[None] | None = field(default=None, repr=False)  # referenced while it runs

    def past_deadline(self) -> bool:
        return bool(self.deadline_ms) and now_ms() >= self.deadline_ms


@dataclass
class WorkerState:
    worker_id: str
    model_name: str
    state: str = "loading"
    jobs: OrderedDict[str, WorkerJob] = field(default_factory=OrderedDict)
    idle_since: float = 0.0  # time.monotonic() when it became ready, or its last job ended
    stopping: bool = False  # SIGTERM taken in: a running job ends with WORKER_STOPPED
    load_seconds: Histogram | None = field(default=None, repr=False)  # each load of the model
    tokens_per_second: Histogram | None = field(default=None, repr=False)  # each job's generation rate

    def idle_s(self) -> float:
        """Seconds without a job since it was ready (0 while loading or busy)."""
        return round(time.monotonic() - self.idle_since, 3) if self.state == "ready" else 0.0


def announce(action: str, human: str) -> None:
    """Print a narration line on stdout, where the hive captures it."""
    job_id = os.environ.get("JOB_ID", "")
    print(Narration(ACTOR, action, human, job_id=job_id).line(), flush=True)


def _load_or_exit(engine: Engine, state: WorkerState) -> None:
    announce("model_load", f"loading {engine.model_path.name}")
    started = time.monotonic()
    try:
        engine.load()
    except ModelLoadError as exc:
        announce("model_load_failed", str(exc))
        sys.stderr.write(f"{ACTOR}: error: {exc}\n")
        sys.stderr.flush()
        os._exit(1)
    state.idle_since = time.monotonic()
    if state.load_seconds is not None:
        state.load_seconds.observe(state.idle_since - started)
    state.state = "ready"
    announce("ready", f"model {state.model_name} loaded, ready for jobs")


async def _run_job(engine: Engine, state: WorkerState, job: WorkerJob, req: InferRequest) -> None:
    async def narrate(action: str, human: str) -> None:
        event = Narration(ACTOR, action, human, target=state.worker_id, job_id=job.job_id,
                          correlation_id=job.correlation_id)
        await job.events.append("narration", event.to_dict())

    sampling = Sampling(req.prompt, req.max_tokens, req.temperature, req.seed, req.top_p)
    if larger := engine.context_for(sampling):
        await narrate("context_grow", f"growing the context from {engine.n_ctx} to {larger} tokens")
        try:
            await asyncio.to_thread(engine.grow_context, larger)
        except ModelLoadError as exc:  # the old context is gone too: this worker cannot serve any more
            await job.events.close(error_marker("INFERENCE_FAILED", str(exc)))
            announce("model_load_failed", str(exc))
            asyncio.get_running_loop().call_later(0.5, os._exit, 1)  # after the end reached its readers
            return
    await narrate("infer_start", f"generating up to {req.max_tokens} tokens")
    tokens = engine.generate(sampling, job.cancelled)
    generating_since = time.monotonic()
    count = 0
    timed_out = job.past_deadline()
    marker = CANCELLED  # unless the loop below ends otherwise
    try:
        while not timed_out and (text := await asyncio.to_thread(next, tokens, None)) is not None:
            await job.events.append("token", {"t": text, "i": count})
            count += 1
            timed_out = job.past_deadline()
    except Exception as exc:  # the engine failed mid-generation
        log.error("job %s failed: %s correlation_id=%s", job.job_id, exc, job.correlation_id)
        marker = error_marker("INFERENCE_FAILED", str(exc))
    else:
        if timed_out:
            await narrate("infer_timeout", f"deadline passed after {count} tokens, stopped")
            marker = error_marker("TIMEOUT", f"deadline passed after {count} tokens")
        elif job.cancelled.is_set() and state.stopping:
            await narrate("infer_stopped", f"worker stopped after {count} tokens")
            marker = error_marker("WORKER_STOPPED", f"the worker was stopped after {count} tokens, "
                                  "before the job finished")
        elif job.cancelled.is_set():
            await narrate("infer_cancelled", f"cancelled after {count} tokens")
        else:
            ended = {"stop": "the model ended the sequence", "context": "the model's context is full"}.get(
                engine.finish, "max_tokens reached")
            await narrate("infer_complete", f"generated {count} tokens: {ended}")
            marker = DONE
        log.info("job %s ended after %d tokens correlation_id=%s", job.job_id, count, job.correlation_id)
        if count and state.tokens_per_second is not None:
            state.tokens_per_second.observe(count / max(time.monotonic() - generating_since, 1e-6))
    finally:
        await asyncio.to_thread(tokens.close)  # stops llama.cpp and frees the engine for the next job
        state.idle_since = time.monotonic()
        state.state = "ready"
        # the end goes out only now: whoever sees it may send this worker its next job at once
        await job.events.close(marker)


def create_app(engine: Engine, worker_id: str, port_file: Path | None, port: int,
               security_denials: collections.Counter[str] | None = None) -> FastAPI:
    """Build the worker app; the model loads in the background once it listens."""
    state = WorkerState(worker_id=worker_id, model_name=engine.model_path.stem)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        announce("startup", f"worker {worker_id} listening on port {port}")
        write_port_file(port_file, port)
        threading.Thread(target=_load_or_exit, args=(engine, state), daemon=True).start()
        yield
        for job in state.jobs.values():
            job.cancelled.set()

    async def drain() -> None:
        """SIGTERM: stop the running job, its readers told why (``WORKER_STOPPED``), then stop serving."""
        state.stopping = True
        running = [j for j in state.jobs.values() if j.events.terminal is None]
        for job in running:
            job.cancelled.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.gather(*(j.task for j in running if j.task is not None)), 5.0)

    app = FastAPI(title="llm-worker-rbee", lifespan=lifespan)
    app.state.drain = drain
    install_error_handlers(app)
    metrics = install_metrics(app, {
        "rbee_worker_jobs_active": ("jobs being generated", lambda: sum(
            1 for j in state.jobs.values() if j.events.terminal is None)),
        "rbee_worker_jobs_retained": ("ended jobs kept for late readers", lambda: len(state.jobs)),
        "rbee_worker_job_streams_open": ("readers of job streams", lambda: sum(
            j.events.readers for j in state.jobs.values())),
        "rbee_worker_busy": ("1 while generating", lambda: 1 if state.state == "busy" else 0),
    }, "rbee_worker")
    state.load_seconds = metrics.histogram("rbee_worker_load_seconds", "time to load the model")
    state.tokens_per_second = metrics.histogram("rbee_worker_tokens_per_second", "each job's generation rate",
                                                buckets=RATE_BUCKETS)
    metrics.counts("rbee_auth_failures_total", "requests refused for their credentials, by reason",
                   lambda: dict(security_denials or {}), label="reason")

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/v1/ready")
    async def ready() -> dict[str, object]:
        return {"worker_id": worker_id, "model": state.model_name, "state": state.state,
                "progress": 0.0 if state.state == "loading" else 1.0, "idle_s": state.idle_s()}

    @app.post("/v1/jobs", status_code=201)
    async def submit(req: InferRequest, x_correlation_id: str = Header(default=""),
                     x_request_deadline: int = Header(default=0, ge=0)) -> dict[str, str]:
        if state.state != "ready":
            code = "WORKER_BUSY" if state.state == "busy" else "WORKER_NOT_READY"
            # 409: the request conflicts with the worker's state (one job at a time); the worker is fine
            raise RbeeError(code, f"worker {worker_id} is {state.state}", 409)
        job_id = req.job_id or f"wjob-{len(state.jobs)}-{os.getpid()}"
        if job_id in state.jobs:
            raise RbeeError("DUPLICATE_JOB", f"job {job_id} already exists", 409)
        job = WorkerJob(job_id, x_correlation_id, x_request_deadline)
        state.jobs[job_id] = job
        while len(state.jobs) > KEPT_JOBS:
            state.jobs.popitem(last=False)
        state.state = "busy"
        log.info("job %s accepted correlation_id=%s", job_id, x_correlation_id)
        job.task = asyncio.get_running_loop().create_task(_run_job(engine, state, job, req))
        return {"job_id": job_id, "sse_url": f"/v1/jobs/{job_id}/stream"}

    def find(job_id: str) -> WorkerJob:
        if job_id not in state.jobs:
            raise RbeeError("JOB_NOT_FOUND", f"no job {job_id} on this worker", 404)
        return state.jobs[job_id]

    @app.get("/v1/jobs/{job_id}/stream", response_class=EventStreamResponse, responses=SSE_RESPONSES)
    async def stream(job_id: str) -> StreamingResponse:
        """The job's events; if its last reader goes away before the end, generation stops."""
        job = find(job_id)
        return EventStreamResponse(job.events.follow(job.cancelled.set))

    @app.delete("/v1/jobs/{job_id}")
    async def cancel(job_id: str) -> dict[str, str]:
        job = find(job_id)
        job.cancelled.set()
        return {"job_id": job_id, "state": "cancelling" if job.events.terminal is None else "ended"}

    return app
