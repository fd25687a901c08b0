"""queen-rbee's job routes: submit, read, stream and cancel a job."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from fastapi import APIRouter, Depends, Header, Request, Response
from fastapi.responses import StreamingResponse

from rbee.common.auth import CLUSTER
from rbee.common.errors import RbeeError
from rbee.common.streaming import SSE_RESPONSES, EventStreamResponse, GuardedStreamingResponse
from rbee.queen.jobs import InferOperation
from rbee.queen.state import QueenState, caller, queen_state

log = logging.getLogger("rbee.queen")
router = APIRouter()
DEADLINE_PATTERN = r"^[0-9]{1,15}$"  # X-Request-Deadline: epoch ms as plain digits (no sign, '_' or spaces)
State = Depends(queen_state)


def refuse_unplaceable(state: QueenState, op: InferOperation, request: Request) -> None:
    """503 while shutting down or when only silent hives have the model; 429 past the caller's quota."""
    config, registry = state.config, state.registry
    if state.shutting_down.is_set():
        raise RbeeError("SHUTTING_DOWN", "queen is shutting down and takes no new jobs", 503)
    if not registry.hives_with_model(op.model, op.hive_id) and \
            (silent := registry.unavailable_with_model(op.model, op.hive_id)):
        raise RbeeError("HIVE_UNAVAILABLE", f"the hives with model {op.model} are unavailable (silent for "
                        f"over {config.stale_after_s:g} s): {', '.join(silent)}", 503)
    principal = caller(request)
    if config.max_jobs_per_principal and principal.scope not in ("admin", CLUSTER) and \
            state.jobs.unfinished_of(principal.name) >= config.max_jobs_per_principal:
        state.limited["QUOTA_EXCEEDED"] += 1
        raise RbeeError("QUOTA_EXCEEDED", f"{principal.name} has {config.max_jobs_per_principal} unfinished "
                        "jobs, the most one client may have: wait for one to end", 429, {"Retry-After": "1"})


@router.post("/v1/jobs", status_code=201)
async def submit(op: InferOperation, request: Request, response: Response,
                 x_correlation_id: str = Header(default=""),
                 x_request_deadline: str = Header(default="", pattern=DEADLINE_PATTERN,
                                                  description="the caller's own deadline, epoch ms "
                                                              "(plain digits)"),
                 state: QueenState = State) -> dict[str, str]:
    refuse_unplaceable(state, op, request)
    job = state.jobs.create(op, x_correlation_id, state.config.default_job_timeout_s, int(x_request_deadline or 0),
                            owner=caller(request).name)
    response.headers["X-Correlation-ID"] = job.correlation_id
    log.info("job %s accepted model=%s correlation_id=%s", job.job_id, op.model, job.correlation_id)
    job.task = asyncio.get_running_loop().create_task(state.scheduler.run(job))
    return {"job_id": job.job_id, "sse_url": f"/v1/jobs/{job.job_id}/stream"}


@router.get("/v1/jobs/{job_id}")
async def job_state(job_id: str, request: Request, state: QueenState = State) -> dict[str, Any]:
    return state.find(job_id, request).to_dict()


@router.get("/v1/jobs/{job_id}/stream", response_class=EventStreamResponse, responses=SSE_RESPONSES)
async def job_stream(job_id: str, request: Request, state: QueenState = State) -> StreamingResponse:
    """The job's events; a job whose owner's last reader disconnects or stalls before its end is
    cancelled (others, admin included, only watch)."""
    job = state.find(job_id, request)
    client = f"{request.client.host}:{request.client.port}" if request.client else ""
    reader = f"{client} of {job_id}" if client else job_id
    events = job.events.follow(lambda: state.cancel_abandoned(job, client)) \
        if caller(request).name == job.owner else job.events.stream()
    return GuardedStreamingResponse(events, state.config.stall_timeout_s, reader,
                                    headers={"X-Correlation-ID": job.correlation_id})


@router.delete("/v1/jobs/{job_id}")
async def cancel(job_id: str, request: Request, state: QueenState = State) -> dict[str, Any]:
    job = state.find(job_id, request)
    await state.cancel_job(job, "DELETE /v1/jobs")
    return job.to_dict()
