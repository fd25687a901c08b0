"""llm-worker-rbee's generation of one job: tokens onto the job's events until the end, a cancel or the deadline."""

from __future__ import annotations

import asyncio
import logging
import os
import time

from pydantic import BaseModel, Field

from rbee.common.events import CANCELLED, DONE, error_marker
from rbee.common.narration import Narration
from rbee.common.validation import IDENTIFIER, STRICT
from rbee.worker.engine import ModelLoadError, Sampling
from rbee.worker.state import ACTOR, WorkerJob, WorkerState, announce

log = logging.getLogger("rbee.worker")


class InferRequest(BaseModel):
    model_config = STRICT

    job_id: str = Field(default="", pattern=f"{IDENTIFIER}|^$")
    prompt: str = Field(min_length=1, max_length=16_000)
    max_tokens: int = Field(default=32, ge=1, le=4096)
    temperature: float = Field(default=0.7, ge=0.0, le=2.0)
    top_p: float = Field(default=0.95, gt=0.0, le=1.0)
    seed: int = Field(default=0, ge=0, le=2**31 - 1)


async def run_job(state: WorkerState, job: WorkerJob, req: InferRequest) -> None:
    """Generate *req* for *job*; its events end with [DONE], [CANCELLED] or the error."""
    engine = state.engine
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
