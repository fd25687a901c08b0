"""Running an infer job: find or spawn a worker, dispatch, relay its stream."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
from httpx_sse import ServerSentEvent, aconnect_sse

from rbee.common.events import CANCELLED, DONE, error_marker
from rbee.common.narration import now_ms
from rbee.common.protocol import PROTOCOL
from rbee.common.scrub import scrub
from rbee.common.tls import unverified
from rbee.queen.jobs import Job
from rbee.queen.registry import Registry
from rbee.queen.waitqueue import WaitQueue

log = logging.getLogger("rbee.queen.scheduler")
ACTOR = "queen-rbee"
SPAWN_TIMEOUT_S = 120.0
DEADLINE_GRACE_S = 1.0  # how long past a job's deadline queen waits for the worker to say so
BUSY_WAIT_S = 2.0  # how long a worker still busy with a cancelled job is waited for before another is tried


class WorkerLost(Exception):
    """The worker's connection or stream broke before the job's result; *relayed* tokens reached the job."""

    def __init__(self, worker_id: str, relayed: int, reason: str) -> None:
        super().__init__(reason)
        self.worker_id = worker_id
        self.relayed = relayed
        self.reason = reason


class JobFailed(Exception):
    """Ends a job with ``[ERROR] code: message``."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = scrub(message)  # the job's state and stream are the client's: no paths or addresses


def _error_of(answer: httpx.Response) -> tuple[str, str]:
    try:
        body = answer.json()["error"]
        return str(body["code"]), str(body["message"])
    except (ValueError, KeyError, TypeError):
        return f"HTTP_{answer.status_code}", answer.text[:200]


class Scheduler:
    """Places jobs on workers; one instance per queen."""

    def __init__(self, registry: Registry, client: httpx.AsyncClient, queue: WaitQueue,
                 stall_s: Callable[[], float] = lambda: 0.0, queue_s: Callable[[], float] = lambda: 300.0) -> None:
        self.registry = registry
        self.client = client
        self.queue = queue
        self.stall_s = stall_s  # a running job's worker that sends nothing this long is stalled (0: never)
        self.queue_s = queue_s  # how long a job waits in its model's line for a worker (QUEUE_TIMEOUT)
        self._spawning: Counter[str] = Counter()  # workers asked for and not yet ready, per model
        self._removals: set[asyncio.Task[None]] = set()  # stalled workers being stopped, referenced until done

    async def run(self, job: Job) -> None:
        """Drive *job* to exactly one terminal marker, whatever happens."""
        req = job.request
        job.state = "running"
        await job.narrate(ACTOR, "job_create", f"infer on {req.model}, up to {req.max_tokens} tokens",
                          target=job.job_id)
        try:
            async with asyncio.timeout(self._time_left(job)):
                await self._place_and_run(job)
        except TimeoutError:
            await self.cancel_on_worker(job)
            await job.narrate(ACTOR, "job_timeout", "deadline passed before the job finished", target=job.job_id)
            await job.finish(error_marker("TIMEOUT", "deadline passed before the job finished"))
        except JobFailed as exc:
            log.info("job %s failed: %s: %s correlation_id=%s", job.job_id, exc.code, exc.message,
                     job.correlation_id)
            await job.narrate(ACTOR, "job_failed", f"{exc.code}: {exc.message}", target=job.job_id)
            await job.finish(error_marker(exc.code, exc.message))
        except asyncio.CancelledError:
            await job.finish(CANCELLED)
            raise

    async def _place_and_run(self, job: Job) -> None:
        """Run the job on a worker; once more on another if the first is lost before any token."""
        lost: frozenset[str] = frozenset()
        while True:
            try:
                worker = await self._place(job, lost)
            except WorkerLost as exc:  # the worker spawned for the job was killed while it started
                lost = await self._retry_once(job, exc, lost)
                continue
            try:
                await self._dispatch(job, worker)
                return
            except WorkerLost as exc:
                if (ended := await self._how_worker_ended(job, worker)) and ended.get("oom_killed"):
                    raise JobFailed("WORKER_OOM", f"worker {exc.worker_id} ran out of memory: "
                                    f"{ended.get('error', '')}") from None
                lost = await self._retry_once(job, exc, lost)
            finally:
                self.registry.release(worker["worker_id"])

    async def _retry_once(self, job: Job, exc: WorkerLost, lost: frozenset[str]) -> frozenset[str]:
        """A worker lost before the first token: the workers not to use again; WORKER_CRASHED after a token
        or for the second lost worker."""
        if exc.relayed or lost:
            raise JobFailed("WORKER_CRASHED", exc.reason) from None
        log.warning("job %s: %s before its first token; retrying on another worker correlation_id=%s",
                    job.job_id, exc.reason, job.correlation_id)
        await job.narrate(ACTOR, "job_retry", f"{exc.worker_id} was lost before the first token; "
                          "retrying once on another worker", target=job.job_id)
        return frozenset({exc.worker_id})

    async def _how_worker_ended(self, job: Job, worker: dict[str, Any]) -> dict[str, Any] | None:
        """The hive's record of a lost worker once it has exited (None: unknown within a second)."""
        hive_url = self.registry.hive_url(worker["hive_id"])
        if hive_url is None:
            return None
        for _ in range(20):
            with contextlib.suppress(httpx.HTTPError, ValueError):
                answer = await self.client.get(f"{hive_url}/v1/workers/{worker['worker_id']}", timeout=1.0,
                                               headers={"X-Correlation-ID": job.correlation_id})
                state = answer.json()
                if answer.status_code == 200 and state.get("state") in ("failed", "exited"):
                    return dict(state)
            await asyncio.sleep(0.05)
        return None

    @staticmethod
    def _time_left(job: Job) -> float | None:
        if not job.deadline_ms:
            return None
        return max(0.0, (job.deadline_ms - now_ms()) / 1000 + DEADLINE_GRACE_S)

    async def cancel_on_worker(self, job: Job) -> None:
        """Tell the job's worker to stop, if it has one; never raises."""
        if job.worker_url:
            with contextlib.suppress(httpx.HTTPError):
                await self.client.delete(f"{job.worker_url}/v1/jobs/{job.job_id}", timeout=2.0)

    async def _place(self, job: Job, exclude: frozenset[str]) -> dict[str, Any]:
        """An idle worker (not one of *exclude*), or a new one; else wait in the model's line (only
        its head watches the registry; the others wait for their turn)."""
        req = job.request
        position = self.queue.join(req.model, job.job_id)
        told = False
        bound = self.queue_s()
        deadline = time.monotonic() + bound
        try:
            while (left := deadline - time.monotonic()) > 0:
                if self.queue.at_head(req.model, job.job_id):
                    worker = await self._try_at_head(job, exclude)
                    if worker is not None:
                        return worker
                if not told:
                    told = True
                    await job.narrate(ACTOR, "job_queued", f"all {req.model} workers busy and hives full; "
                                      f"waiting, number {position} in line", target=job.job_id)
                if self.queue.at_head(req.model, job.job_id):
                    await self.registry.changed.wait(min(0.5, left))
                else:
                    await self.queue.turn(req.model, job.job_id, left)
            raise JobFailed("QUEUE_TIMEOUT", f"no {req.model} worker came free in {bound:g} s (queen's "
                            "--queue-timeout): the cluster is busy; try again later, or give it more workers")
        finally:
            self.queue.leave(req.model, job.job_id)
            self.registry.changed.fire()

    async def _try_at_head(self, job: Job, exclude: frozenset[str]) -> dict[str, Any] | None:
        """The head of its line: an idle worker, or one spawned for it; None to wait on."""
        req = job.request
        worker = self.registry.reserve_idle(req.model, req.hive_id, exclude)
        if worker is not None:
            await job.narrate(ACTOR, "worker_found", f"reusing idle worker {worker['worker_id']}",
                              target=worker["worker_id"])
            return worker
        spawned = await self._request_spawn(job)
        if spawned is not None:
            self.queue.leave(req.model, job.job_id)  # the next in line may go on while this one loads
            self.registry.changed.fire()
            return await self._wait_ready(job, *spawned)
        if not self._spawning[req.model] and not self.registry.workers(model=req.model, hive_id=req.hive_id):
            raise JobFailed("NO_WORKER_AVAILABLE", f"no {req.model} worker exists and none can be "
                            "spawned: every hive with the model is full with workers of other models")
        return None

    async def _request_spawn(self, job: Job) -> tuple[str, str] | None:
        """Ask a hive with the model and room for another worker to spawn one: (hive, worker id)."""
        req = job.request
        hives = self.registry.hives_with_model(req.model, req.hive_id)
        if not hives:
            if silent := self.registry.unavailable_with_model(req.model, req.hive_id):
                raise JobFailed("HIVE_UNAVAILABLE", f"the hives with model {req.model} are unavailable "
                                f"(silent past the staleness bound): {', '.join(silent)}")
            if draining := self.registry.with_model_in_state("draining", req.model, req.hive_id):
                raise JobFailed("HIVE_DRAINING", f"the hives with model {req.model} are shutting down: "
                                f"{', '.join(draining)}")
            if incompatible := self.registry.with_model_in_state("incompatible", req.model, req.hive_id):
                raise JobFailed("HIVE_INCOMPATIBLE", f"the hives with model {req.model} speak a protocol queen "
                                f"(protocol {PROTOCOL}) does not: {', '.join(incompatible)}")
            if not self.registry.has_hives():
                raise JobFailed("NO_HIVE", "no hive is registered with queen")
            raise JobFailed("MODEL_NOT_FOUND", f"no available hive has model {req.model!r}: provision it on a hive "
                            "first (the hive's provisioning API, given the model's URL and sha256)")
        random.shuffle(hives)
        refused_draining: list[str] = []
        for hive_id in hives:
            hive_url = self.registry.hive_url(hive_id)
            headers = {"X-Correlation-ID": job.correlation_id}
            try:
                answer = await self.client.post(f"{hive_url}/v1/workers", headers=headers,
                                                json={"model": req.model, "job_id": job.job_id})
            except httpx.HTTPError as exc:
                if why := unverified(exc):
                    raise JobFailed("HIVE_UNREACHABLE", f"hive {hive_id}'s certificate does not verify: {why} "
                                    "(queen checks it against its --tls-ca)") from None
                raise JobFailed("HIVE_UNREACHABLE", f"hive {hive_id} did not answer: {exc}") from None
            if answer.status_code == 201:
                worker_id = str(answer.json()["worker_id"])
                self.registry.reserve(worker_id)
                job.spawn_hive = hive_id  # its narration comes from that hive until a worker takes the job
                await job.narrate(ACTOR, "worker_spawn_request", f"no idle worker for {req.model}, "
                                  f"hive {hive_id} spawns {worker_id}", target=hive_id)
                return hive_id, worker_id
            code, message = _error_of(answer)
            if code == "HIVE_DRAINING":  # shutting down on its own SIGTERM: another hive may take it
                refused_draining.append(hive_id)
            elif code != "HIVE_AT_CAPACITY":
                raise JobFailed(code, message)
        if len(refused_draining) == len(hives):
            raise JobFailed("HIVE_DRAINING", f"every hive with model {req.model} is shutting down: "
                            f"{', '.join(sorted(refused_draining))}")
        return None

    async def _wait_ready(self, job: Job, hive_id: str, worker_id: str) -> dict[str, Any]:
        model = job.request.model
        self._spawning[model] += 1
        try:
            return await self._poll_ready(job, hive_id, worker_id)
        except BaseException:  # the worker is not the job's: its deadline passed, say, while it loaded
            self.registry.release(worker_id)  # so that it serves the next job once it is ready
            raise
        finally:
            self._spawning[model] -= 1
            if not self._spawning[model]:
                del self._spawning[model]

    async def _poll_ready(self, job: Job, hive_id: str, worker_id: str) -> dict[str, Any]:
        hive_url = self.registry.hive_url(hive_id)
        headers = {"X-Correlation-ID": job.correlation_id}
        deadline = time.monotonic() + SPAWN_TIMEOUT_S
        while time.monotonic() < deadline:
            try:
                state = (await self.client.get(f"{hive_url}/v1/workers/{worker_id}", headers=headers)).json()
            except (httpx.HTTPError, ValueError) as exc:
                self.registry.release(worker_id)
                raise JobFailed("HIVE_UNREACHABLE", f"hive {hive_id} stopped answering: {exc}") from None
            if state.get("state") == "ready":
                return {**state, "hive_id": hive_id}
            if state.get("state") in ("failed", "exited"):
                self.registry.release(worker_id)
                if state.get("error_code") == "WORKER_START_TIMEOUT":
                    raise JobFailed("WORKER_START_TIMEOUT", f"worker {worker_id} of hive {hive_id}: "
                                    f"{state.get('error', '')}")
                if state.get("oom_killed"):
                    raise JobFailed("WORKER_OOM", f"worker {worker_id} ran out of memory while loading "
                                    f"{job.request.model}: {state.get('error', '')}")
                if isinstance(code := state.get("exit_code"), int) and code < 0:  # a signal, not the model
                    raise WorkerLost(worker_id, 0, f"worker {worker_id} of hive {hive_id} was killed while it "
                                     f"started: {state.get('error', '')}")
                raise JobFailed("MODEL_LOAD_FAILED", state.get("error") or f"worker {worker_id} exited")
            await asyncio.sleep(0.05)
        self.registry.release(worker_id)
        raise JobFailed("WORKER_START_TIMEOUT", f"worker {worker_id} not ready in {SPAWN_TIMEOUT_S:.0f} s")

    async def _unless_stalled(self, job: Job,
                              events: AsyncIterator[ServerSentEvent]) -> AsyncIterator[ServerSentEvent]:
        """The worker's events; JobFailed ``WORKER_STALLED`` (and the worker stopped) when none comes within
        the stall bound while its process may well still live (a hang, a SIGSTOP)."""
        while True:
            bound = self.stall_s() or None
            try:
                async with asyncio.timeout(bound):
                    event = await anext(events)
            except StopAsyncIteration:
                return
            except TimeoutError:
                self._remove_worker(job)
                raise JobFailed("WORKER_STALLED", f"worker {job.worker_id} of hive {job.hive_id} sent nothing for "
                                f"{bound:g} s: it is stopped and removed") from None
            yield event

    def _remove_worker(self, job: Job) -> None:
        """Ask the stalled worker's hive to stop it (SIGTERM, SIGKILL after its grace), in the background."""
        hive_url = self.registry.hive_url(job.hive_id)
        if hive_url is None:
            return
        log.warning("job %s: worker %s stalled; asking hive %s to stop it correlation_id=%s", job.job_id,
                    job.worker_id, job.hive_id, job.correlation_id)

        async def remove() -> None:
            with contextlib.suppress(httpx.HTTPError):
                await self.client.delete(f"{hive_url}/v1/workers/{job.worker_id}", timeout=60.0,
                                         headers={"X-Correlation-ID": job.correlation_id})

        task = asyncio.get_running_loop().create_task(remove())
        self._removals.add(task)
        task.add_done_callback(self._removals.discard)

    async def _post_job(self, job: Job, url: str, body: dict[str, Any], headers: dict[str, str]) -> httpx.Response:
        """POST the job to the worker. One still finishing a cancelled job (it stops within a token, but queen
        freed it at once) answers 409 WORKER_BUSY: it is asked again for up to BUSY_WAIT_S."""
        deadline = time.monotonic() + BUSY_WAIT_S
        while True:
            try:
                answer = await self.client.post(f"{url}/v1/jobs", json=body, headers=headers)
            except httpx.HTTPError as exc:
                raise WorkerLost(job.worker_id, 0, f"worker {job.worker_id} did not take the job: {exc!r}") from None
            if answer.status_code != 409 or _error_of(answer)[0] != "WORKER_BUSY" or time.monotonic() > deadline:
                return answer
            await asyncio.sleep(0.02)

    async def _dispatch(self, job: Job, worker: dict[str, Any]) -> None:
        req = job.request
        job.worker_id = worker["worker_id"]
        job.worker_url = url = worker["url"]
        job.hive_id = worker["hive_id"]
        seed = req.seed if req.seed is not None else random.randrange(2**31)
        headers = {"X-Correlation-ID": job.correlation_id}
        if job.deadline_ms:
            headers["X-Request-Deadline"] = str(job.deadline_ms)
        await job.narrate(ACTOR, "dispatch", f"sending job to {job.worker_id}", target=job.worker_id)
        job.dispatched_at = job.dispatched_at or time.monotonic()
        body = {"job_id": job.job_id, "prompt": req.prompt, "max_tokens": req.max_tokens,
                "temperature": req.temperature, "seed": seed}
        if req.top_p is not None:
            body["top_p"] = req.top_p
        answer = await self._post_job(job, url, body, headers)
        if answer.status_code == 409 and _error_of(answer)[0] == "WORKER_BUSY":
            raise WorkerLost(job.worker_id, 0, f"worker {job.worker_id} stayed busy with its previous job")
        if answer.status_code != 201:
            raise JobFailed(*_error_of(answer))
        stream_url = url + answer.json()["sse_url"]
        relayed = 0
        try:
            async with aconnect_sse(self.client, "GET", stream_url, headers=headers,
                                    timeout=httpx.Timeout(10.0, read=None)) as source:
                async for sse in self._unless_stalled(job, source.aiter_sse()):
                    if sse.event in ("narration", "token"):
                        relayed += sse.event == "token"
                        if relayed == 1 and not job.first_token_at:
                            job.first_token_at = time.monotonic()
                        await job.events.append(sse.event, json.loads(sse.data))
                    elif sse.data == DONE:
                        await job.narrate(ACTOR, "job_complete", f"job finished on {job.worker_id}",
                                          target=job.job_id)
                        await job.finish(DONE)
                        return
                    elif sse.data == CANCELLED or sse.data.startswith("[ERROR]"):
                        await job.finish(sse.data)
                        return
        except httpx.HTTPError as exc:
            log.warning("stream from %s broke: %r", job.worker_id, exc)
        raise WorkerLost(job.worker_id, relayed, f"worker {job.worker_id} stream ended without a result")
