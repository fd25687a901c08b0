"""rbee-hive's worker routes: spawn, list, read and stop workers; shut the hive down."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from fastapi import APIRouter, Depends, Header
from pydantic import BaseModel, Field

from rbee.common.errors import RbeeError
from rbee.common.validation import IDENTIFIER, MODEL_NAME, STRICT
from rbee.hive.cgroups import CgroupError, Limits, parse_cpu_limit, parse_memory_limit
from rbee.hive.placement import check_memory, choose_gpu
from rbee.hive.state import HiveState, exit_now, hive_state
from rbee.hive.workers import WorkerProgramMissing

log = logging.getLogger("rbee.hive")
router = APIRouter()
State = Depends(hive_state)


class SpawnRequest(BaseModel):
    model_config = STRICT

    model: str = Field(pattern=MODEL_NAME)
    job_id: str = Field(default="", pattern=f"{IDENTIFIER}|^$")
    cpu_limit: str | None = Field(default=None, max_length=64, description="cpu.max form: 'QUOTA PERIOD' or 'max'")
    memory_limit: str | None = Field(default=None, max_length=64, description="bytes, or 256M / 1G")


def limits_of(req: SpawnRequest, default: Limits) -> Limits:
    """The request's limits over the hive's defaults; 400 INVALID_LIMIT before anything starts."""
    try:
        quota, period = (default.cpu_quota_us, default.cpu_period_us) if req.cpu_limit is None \
            else parse_cpu_limit(req.cpu_limit)
        memory = default.memory_bytes if req.memory_limit is None else parse_memory_limit(req.memory_limit)
    except ValueError as exc:
        raise RbeeError("INVALID_LIMIT", str(exc), 400) from None
    return Limits(cpu_quota_us=quota, cpu_period_us=period, memory_bytes=memory)


def refuse_spawn(state: HiveState) -> None:
    """503 while draining or at --max-workers."""
    config = state.config
    if state.draining.is_set():
        raise RbeeError("HIVE_DRAINING", f"hive {config.hive_id} is shutting down and starts no new worker", 503)
    capacity = config.spawn.max_workers
    if capacity and len(state.workers.live) >= capacity:
        state.workers.happened["at_capacity"] += 1
        raise RbeeError("HIVE_AT_CAPACITY", f"hive {config.hive_id} runs {capacity} workers, its maximum", 503)


@router.post("/v1/workers", status_code=201)
async def spawn(req: SpawnRequest, x_correlation_id: str = Header(default=""),
                state: HiveState = State) -> dict[str, Any]:
    config = state.config
    limits = limits_of(req, config.default_limits)
    refuse_spawn(state)
    path = config.catalog.path(req.model)
    if path is None:
        raise RbeeError("MODEL_NOT_FOUND", f"hive {config.hive_id} has no model {req.model!r}", 404)
    check_memory(req.model, path, limits.memory_bytes)
    env: dict[str, str] = {}
    if config.device == "gpu":  # a fresh reading: the preflight must see the memory free now
        gpu = choose_gpu(req.model, path, await asyncio.to_thread(config.monitor.read_gpus))
        env["CUDA_VISIBLE_DEVICES"] = str(gpu)
    try:
        worker = await state.workers.spawn(req.model, path, req.job_id, x_correlation_id, limits, env)
    except WorkerProgramMissing as exc:
        log.error("cannot spawn a %s worker: %s", req.model, exc)
        raise RbeeError("WORKER_BINARY_NOT_FOUND", str(exc), 500) from None
    except CgroupError as exc:
        raise RbeeError("WORKER_SPAWN_FAILED", f"cannot set up the worker's cgroup: {exc}", 500) from None
    except OSError as exc:
        raise RbeeError("WORKER_SPAWN_FAILED", f"cannot start worker: {exc.strerror}", 500) from None
    return worker.to_dict()


@router.post("/v1/shutdown")
async def shutdown(state: HiveState = State) -> dict[str, Any]:
    """Stop every worker (SIGTERM, SIGKILL after the grace period), release everything, answer, exit.

    The process ends right after the answer goes out, so whoever asked sees the hive gone
    (connections refused) soon after the answer, and only after every worker.
    """
    log.warning("shutdown asked: stopping %d worker(s), then exiting", len(state.workers.live))
    stopped = await state.workers.stop_all()
    await state.wind_down()
    asyncio.get_running_loop().call_later(0.1, exit_now)
    return {"hive_id": state.config.hive_id, "stopped": [w.to_dict() for w in stopped]}


@router.delete("/v1/workers")
async def stop_every_worker(state: HiveState = State) -> dict[str, Any]:
    """Stop every worker (as DELETE of each); the hive goes on. Queen's cascade does this first."""
    log.warning("stopping all %d worker(s)", len(state.workers.live))
    stopped = await state.workers.stop_all()
    return {"hive_id": state.config.hive_id, "stopped": [w.to_dict() for w in stopped]}


@router.get("/v1/workers")
async def list_workers(state: HiveState = State) -> dict[str, list[dict[str, Any]]]:
    return {"workers": [w.to_dict() for w in state.workers.live.values()]}


@router.get("/v1/workers/{worker_id}")
async def get_worker(worker_id: str, state: HiveState = State) -> dict[str, Any]:
    worker = state.workers.get(worker_id)
    if worker is None:
        raise RbeeError("WORKER_NOT_FOUND", f"no worker {worker_id} on hive {state.config.hive_id}", 404)
    return worker.to_dict()


@router.delete("/v1/workers/{worker_id}")
async def stop_worker(worker_id: str, state: HiveState = State) -> dict[str, Any]:
    worker = await state.workers.stop(worker_id)
    if worker is None:
        raise RbeeError("WORKER_NOT_FOUND", f"no worker {worker_id} on hive {state.config.hive_id}", 404)
    return worker.to_dict()
