"""rbee-hive's model routes: the catalog, and provisioning a model from an allowed hub."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Depends, Header
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from rbee.common.errors import RbeeError
from rbee.common.events import DONE, EventLog
from rbee.common.streaming import EventStreamResponse
from rbee.common.validation import MODEL_NAME, STRICT
from rbee.hive.models import model_name
from rbee.hive.state import HiveState, hive_state

router = APIRouter()
State = Depends(hive_state)


class ProvisionRequest(BaseModel):
    model_config = STRICT

    name: str = Field(pattern=MODEL_NAME)
    url: str = Field(min_length=1, max_length=2000)
    sha256: str = Field(pattern=r"^[0-9a-fA-F]{64}$")


async def present_events(name: str) -> AsyncIterator[bytes]:
    """The provision stream of a model the hive has already: its ``done`` event, then ``[DONE]``."""
    log_of = EventLog()
    await log_of.append("done", {"name": name, "state": "present", "downloaded": False})
    await log_of.close(DONE)
    async for chunk in log_of.stream():
        yield chunk


@router.get("/v1/models")
async def models(state: HiveState = State) -> dict[str, Any]:
    catalog = state.config.catalog
    return {"models": catalog.names(), "catalog": str(catalog.db_path), "recoveries": catalog.recoveries}


@router.post("/v1/models/provision", response_model=None)
async def provision(req: ProvisionRequest, accept: str = Header(default=""),
                    state: HiveState = State) -> dict[str, Any] | StreamingResponse:
    """Make *name* available from *url*: one download however many ask at once. With
    ``Accept: text/event-stream`` the answer is the download's progress as it goes."""
    provisioner = state.provisioner
    if provisioner is None:
        raise RbeeError("PROVISIONING_DISABLED", f"hive {state.config.hive_id} has no --download-dir", 400)
    if not model_name(req.name):
        raise RbeeError("INVALID_MODEL_NAME", f"{req.name!r} is not a model name", 400)
    await state.config.hubs.check(req.url)  # before anything is fetched or written
    if "text/event-stream" in accept:
        started = provisioner.start(req.name, req.url, req.sha256)
        if started is None:
            return EventStreamResponse(present_events(req.name))
        return EventStreamResponse(started[1].events.stream())
    done, joined = await provisioner.provision(req.name, req.url, req.sha256)
    if done is None:
        return {"name": req.name, "state": "present", "downloaded": False}
    return {"name": req.name, "state": "present", "downloaded": not joined, "joined": joined,
            "size": done.size, "sha256": done.sha256, "requests": done.requests,
            "resumed_from": done.resumed_from}
