"""llm-worker-rbee's state: its model engine, its jobs and what it is doing; loading the model."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import cast

from fastapi import Request
from prometheus_client import Histogram

from rbee.common.events import EventLog
from rbee.common.narration import Narration, now_ms
from rbee.worker.engine import Engine, ModelLoadError

ACTOR = "llm-worker-rbee"
KEPT_JOBS = 64
log = logging.getLogger("rbee.worker")


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
    engine: Engine = field(repr=False)
    state: str = "loading"
    jobs: OrderedDict[str, WorkerJob] = field(default_factory=OrderedDict)
    idle_since: float = 0.0  # time.monotonic() when it became ready, or its last job ended
    stopping: bool = False  # SIGTERM taken in: a running job ends with WORKER_STOPPED
    load_progress: float = 0.0  # the share of the weights read while loading (0.0 to 0.99)
    load_seconds: Histogram | None = field(default=None, repr=False)  # each load of the model
    tokens_per_second: Histogram | None = field(default=None, repr=False)  # each job's generation rate

    async def drain(self) -> None:
        """SIGTERM: stop the running job, its readers told why (``WORKER_STOPPED``), then stop serving."""
        self.stopping = True
        running = [j for j in self.jobs.values() if j.events.terminal is None]
        for job in running:
            job.cancelled.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.gather(*(j.task for j in running if j.task is not None)), 5.0)

    def idle_s(self) -> float:
        """Seconds without a job since it was ready (0 while loading or busy)."""
        return round(time.monotonic() - self.idle_since, 3) if self.state == "ready" else 0.0


def announce(action: str, human: str) -> None:
    """Print a narration line on stdout, where the hive captures it."""
    job_id = os.environ.get("JOB_ID", "")
    print(Narration(ACTOR, action, human, job_id=job_id).line(), flush=True)


def load_or_exit(engine: Engine, state: WorkerState) -> None:
    announce("model_load", f"loading {engine.model_path.name}")
    started = time.monotonic()

    def progress(percent: int, done: int, size: int) -> None:
        state.load_progress = min(percent, 99) / 100  # 1.0 once llama.cpp has the weights too
        announce("model_load_progress", f"{percent}% of the weights read ({done / 2**20:.1f} of "
                 f"{size / 2**20:.1f} MiB)")

    try:
        engine.read_weights(progress)
        engine.load()
    except (ModelLoadError, OSError) as exc:
        announce("model_load_failed", str(exc) if isinstance(exc, ModelLoadError) else
                 f"cannot read {engine.model_path.name}: {exc.strerror}")
        sys.stderr.write(f"{ACTOR}: error: {exc}\n")
        sys.stderr.flush()
        os._exit(1)
    state.idle_since = time.monotonic()
    if state.load_seconds is not None:
        state.load_seconds.observe(state.idle_since - started)
    state.state = "ready"
    announce("ready", f"model {state.model_name} loaded, ready for jobs")




def worker_state(request: Request) -> WorkerState:
    """The dependency route handlers take the worker's state by."""
    return cast(WorkerState, request.app.state.worker)
