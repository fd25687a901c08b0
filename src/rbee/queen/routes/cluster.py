"""queen-rbee's cluster routes: health, hive heartbeats and their UI stream, narration, the registry's views."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from rbee.common.auth import Principal
from rbee.common.errors import RbeeError
from rbee.common.narration import Narration
from rbee.common.protocol import PROTOCOL, compatible
from rbee.common.streaming import SSE_RESPONSES, EventStreamResponse
from rbee.queen.registry import HiveHeartbeat, HiveIdConflict
from rbee.queen.state import QueenState, caller, queen_state

log = logging.getLogger("rbee.queen")
router = APIRouter()
State = Depends(queen_state)


class NarrationBatch(BaseModel):
    events: list[dict[str, Any]]


@router.get("/health")
async def health(state: QueenState = State) -> dict[str, str]:
    """Alive; ``state`` is ``draining`` from the moment a SIGTERM (or shutdown) was taken in."""
    return {"status": "ok", "state": "draining" if state.shutting_down.is_set() else "serving"}


@router.post("/v1/hive-heartbeat")
async def heartbeat(beat: HiveHeartbeat, request: Request, state: QueenState = State) -> dict[str, str]:
    """Record the hive's state; one speaking another major protocol version is listed as
    ``incompatible`` (never scheduled on) and told so with 409 ``PROTOCOL_INCOMPATIBLE``; one claiming
    the id of another live hive instance is refused with 409 ``HIVE_ID_CONFLICT``, nothing changed;
    one sent with another hive's own credential is refused with 403 ``HIVE_CREDENTIAL_MISMATCH``."""
    own_hive(caller(request), beat.hive_id)
    known = state.registry.hive_protocol(beat.hive_id)
    try:
        state.registry.record(beat)
    except HiveIdConflict as exc:
        state.hive_id_conflicts += 1
        log.warning("heartbeat refused: %s", exc)
        raise RbeeError("HIVE_ID_CONFLICT", str(exc), 409) from None
    state.ui.publish("heartbeat", beat.model_dump(exclude={"capabilities", "models"}))
    if not compatible(beat.protocol):
        message = (f"hive {beat.hive_id} (version {beat.version}) speaks protocol {beat.protocol}, queen "
                   f"speaks {PROTOCOL}: it is listed as incompatible and gets no work")
        if known != beat.protocol:
            log.warning("%s", message)
        raise RbeeError("PROTOCOL_INCOMPATIBLE", message, 409)
    return {"status": "ok"}


@router.get("/v1/heartbeats/stream", response_class=EventStreamResponse, responses=SSE_RESPONSES)
async def heartbeat_stream(request: Request, state: QueenState = State) -> StreamingResponse:
    """The UI's live view: one ``hive`` event per known hive, then every heartbeat as it arrives."""
    most = state.config.max_ui_subscribers
    if most and state.ui.count() >= most:
        state.limited["TOO_MANY_SUBSCRIBERS"] += 1
        raise RbeeError("TOO_MANY_SUBSCRIBERS", f"the UI stream has its {most} readers", 503, {"Retry-After": "5"})
    client = request.client
    name = f"{client.host}:{client.port}" if client else "unknown"
    snapshot = [("hive", hive) for hive in state.registry.hives()]
    return EventStreamResponse(state.ui.stream(name, snapshot))


@router.get("/v1/heartbeats/subscribers")
async def heartbeat_subscribers(state: QueenState = State) -> dict[str, int]:
    return {"subscribers": state.ui.count()}


def own_hive(principal: Principal, hive_id: str) -> None:
    """A hive's own credential speaks for that hive only (the cluster credential, where allowed, for any)."""
    if principal.hive_id and principal.hive_id != hive_id:
        log.warning("refused a heartbeat for hive %s sent with the credential of hive %s", hive_id,
                    principal.hive_id)
        raise RbeeError("HIVE_CREDENTIAL_MISMATCH", f"the credential of hive {principal.hive_id} may post only "
                        f"for hive {principal.hive_id}, not for {hive_id}", 403)


@router.post("/v1/narration")
async def narration(batch: NarrationBatch, request: Request, state: QueenState = State) -> dict[str, int]:
    """Relay a hive's narration into its jobs' streams: with a hive's own credential, only into the jobs
    placed on that hive."""
    hive_id = caller(request).hive_id
    relayed = 0
    for raw in batch.events:
        job = state.jobs.get(str(raw.get("job_id", "")))
        placed_there = not hive_id or (job is not None and hive_id in (job.hive_id, job.spawn_hive))
        if job is not None and job.events.terminal is None and placed_there:
            await job.events.append("narration", Narration.from_dict(raw).to_dict())
            relayed += 1
    return {"relayed": relayed}


@router.get("/v1/hives")
async def hives(state: QueenState = State) -> dict[str, list[dict[str, Any]]]:
    return {"hives": state.registry.hives()}


@router.get("/v1/workers")
async def workers(model: str | None = None, idle: bool | None = None, hive: str | None = None,
                  state: QueenState = State) -> dict[str, list[dict[str, Any]]]:
    return {"workers": state.registry.workers(model=model, idle=idle, hive_id=hive)}
