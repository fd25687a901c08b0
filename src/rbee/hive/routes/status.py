"""rbee-hive's status routes: health, capabilities, per-process telemetry."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Depends

from rbee.hive.state import HiveState, hive_state

router = APIRouter()
State = Depends(hive_state)


@router.get("/health")
async def health(state: HiveState = State) -> dict[str, str]:
    """Alive; ``state`` is ``draining`` from the moment a SIGTERM was taken in."""
    return {"status": "ok", "hive_id": state.config.hive_id,
            "state": "draining" if state.draining.is_set() else "serving"}


@router.get("/v1/capabilities")
async def caps(state: HiveState = State) -> dict[str, Any]:
    return state.telemetry.capabilities()


@router.get("/v1/telemetry")
async def processes(state: HiveState = State) -> dict[str, Any]:
    collection = await asyncio.to_thread(state.telemetry.collect)
    return {"processes": [s.to_dict() for s in collection.stats],
            "gpu_status": collection.gpu_status, "skipped": collection.skipped}
