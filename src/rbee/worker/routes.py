"""llm-worker-rbee's routes: health, readiness, and one job at a time with its token stream."""

from __future__ import annotations

import asyncio
import logging
import os

from fastapi import APIRouter, Depends, Header
from fastapi.responses import StreamingResponse

from rbee.common.errors import RbeeError
from rbee.common.streaming import SSE_RESPONSES, EventStreamResponse
from rbee.worker.generation import InferRequest, run_job
from rbee.worker.state import KEPT_JOBS, WorkerJob, WorkerState, worker_state

log = logging.getLogger("rbee.worker")
router = APIRouter()
State = Depends(worker_state)


def find(state: WorkerState, job_id: str) -> WorkerJob:
    if job_id not in state.jobs:
        raise RbeeError("JOB_NOT_FOUND", f"no job {job_id} on this worker", 404)
    return state.jobs[job_id]


@router.get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/v1/ready")
async def ready(state: WorkerState = State) -> dict[str, object]:
    return {"worker_id": state.worker_id, "model": state.model_name, "state": state.state,
            "progress": state.load_progress if state.state == "loading" else 1.0, "idle_s": state.idle_s()}


@router.post("/v1/jobs", status_code=201)
async def submit(req: InferRequest, x_correlation_id: str = Header(default=""),
                 x_request_deadline: int = Header(default=0, ge=0), state: WorkerState = State) -> dict[str, str]:
    if state.state != "ready":
        code = "WORKER_BUSY" if state.state == "busy" else "WORKER_NOT_READY"
        # 409: the request conflicts with the worker's state (one job at a time); the worker is fine
        raise RbeeError(code, f"worker {state.worker_id} is {state.state}", 409)
    job_id = req.job_id or f"wjob-{len(state.jobs)}-{os.getpid()}"
    if job_id in state.jobs:
        raise RbeeError("DUPLICATE_JOB", f"job {job_id} already exists", 409)
    job = WorkerJob(job_id, x_correlation_id, x_request_deadline)
    state.jobs[job_id] = job
    while len(state.jobs) > KEPT_JOBS:
        state.jobs.popitem(last=False)
    state.state = "busy"
    log.info("job %s accepted correlation_id=%s", job_id, x_correlation_id)
    job.task = asyncio.get_running_loop().create_task(run_job(state, job, req))
    return {"job_id": job_id, "sse_url": f"/v1/jobs/{job_id}/stream"}


@router.get("/v1/jobs/{job_id}/stream", response_class=EventStreamResponse, responses=SSE_RESPONSES)
async def stream(job_id: str, state: WorkerState = State) -> StreamingResponse:
    """The job's events; if its last reader goes away before the end, generation stops."""
    job = find(state, job_id)
    return EventStreamResponse(job.events.follow(job.cancelled.set))


@router.delete("/v1/jobs/{job_id}")
async def cancel(job_id: str, state: WorkerState = State) -> dict[str, str]:
    job = find(state, job_id)
    job.cancelled.set()
    return {"job_id": job_id, "state": "cancelling" if job.events.terminal is None else "ended"}
