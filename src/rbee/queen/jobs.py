"""Queen's jobs: what was asked, where it stands, and its event log."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, Field

from rbee.common.events import CANCELLED, DONE, EventLog
from rbee.common.narration import Narration, now_ms
from rbee.common.validation import IDENTIFIER, MODEL_NAME, STRICT

KEPT_JOBS = 1000


class InferOperation(BaseModel):
    model_config = STRICT

    operation: Literal["infer"]
    model: str = Field(pattern=MODEL_NAME)
    prompt: str = Field(min_length=1, max_length=16_000)
    max_tokens: int = Field(default=32, ge=1, le=4096)
    temperature: float = Field(default=0.7, ge=0.0, le=2.0)
    top_p: float | None = Field(default=None, gt=0.0, le=1.0, description="nucleus sampling (worker's default)")
    seed: int | None = Field(default=None, ge=0, le=2**31 - 1)
    hive_id: str | None = Field(default=None, pattern=IDENTIFIER)
    timeout_s: float | None = Field(default=None, gt=0, le=3600, description="the job's deadline, from now")


@dataclass
class Job:
    job_id: str
    correlation_id: str
    request: InferOperation
    state: str = "queued"  # queued → running → completed | failed | cancelled
    error: dict[str, str] | None = None
    worker_id: str = ""
    worker_url: str = ""
    hive_id: str = ""
    spawn_hive: str = ""  # the hive asked to spawn a worker for the job (its narration is the job's too)
    deadline_ms: int = 0  # epoch ms; 0 = none
    events: EventLog = field(default_factory=EventLog)
    task: asyncio.Task[None] | None = field(default=None, repr=False)
    accepted_at: float = field(default_factory=time.monotonic)
    dispatched_at: float = 0.0  # when it was sent to a worker (0: never)
    first_token_at: float = 0.0  # when its first token was relayed (0: none)
    on_end: Callable[[Job, str], None] | None = field(default=None, repr=False)  # with its terminal marker
    owner: str = ""  # the principal that submitted it: only it (and admin) may see or cancel it

    async def narrate(self, actor: str, action: str, human: str, target: str = "") -> None:
        event = Narration(actor, action, human, target=target, job_id=self.job_id,
                          correlation_id=self.correlation_id)
        await self.events.append("narration", event.to_dict())

    async def finish(self, marker: str) -> None:
        """Close the stream with *marker* and set the final state from it."""
        if not await self.events.close(marker):
            return
        if self.on_end is not None:
            self.on_end(self, marker)
        if marker == DONE:
            self.state = "completed"
        elif marker == CANCELLED:
            self.state = "cancelled"
        else:
            self.state = "failed"
            code, _, message = marker.removeprefix("[ERROR] ").partition(": ")
            self.error = {"code": code, "message": message}

    def to_dict(self) -> dict[str, Any]:
        return {"job_id": self.job_id, "state": self.state, "error": self.error,
                "worker_id": self.worker_id, "correlation_id": self.correlation_id,
                "model": self.request.model}


class JobStore:
    """The jobs queen knows, newest last; the oldest finished ones are forgotten."""

    def __init__(self, on_end: Callable[[Job, str], None] | None = None) -> None:
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._on_end = on_end  # told of every job's end, with its terminal marker

    def create(self, request: InferOperation, correlation_id: str, default_timeout_s: float = 0.0,
               upstream_deadline_ms: int = 0, owner: str = "") -> Job:
        """A new job. Its deadline is the soonest of ``timeout_s`` (else *default_timeout_s*, 0: none)
        from now and the caller's own deadline (epoch ms, 0: none): a hop may shorten it, never extend it."""
        job = Job(f"job-{uuid.uuid4().hex[:16]}", correlation_id, request, on_end=self._on_end, owner=owner)
        timeout_s = request.timeout_s if request.timeout_s is not None else default_timeout_s
        bounds = [now_ms() + int(timeout_s * 1000)] if timeout_s else []
        job.deadline_ms = min([*bounds, *([upstream_deadline_ms] if upstream_deadline_ms else [])], default=0)
        self._jobs[job.job_id] = job
        excess = len(self._jobs) - KEPT_JOBS
        if excess > 0:
            for old_id in [j for j, old in self._jobs.items() if old.events.terminal][:excess]:
                del self._jobs[old_id]
        return job

    def get(self, job_id: str) -> Job | None:
        return self._jobs.get(job_id)

    def unfinished_of(self, owner: str) -> int:
        """How many of *owner*'s jobs have not ended."""
        return sum(1 for j in self._jobs.values() if j.owner == owner and j.events.terminal is None)

    def active(self) -> list[Job]:
        return [j for j in self._jobs.values() if j.events.terminal is None]

    def retained(self) -> int:
        return len(self._jobs)

    def open_streams(self) -> int:
        return sum(j.events.readers for j in self._jobs.values())


def terminal_code(marker: str) -> str:
    """``DONE``, ``CANCELLED``, or the error code of an ``[ERROR] CODE: message`` marker."""
    if marker == DONE:
        return "DONE"
    if marker == CANCELLED:
        return "CANCELLED"
    return marker.removeprefix("[ERROR] ").partition(":")[0].strip() or "ERROR"
