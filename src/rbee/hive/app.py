"""rbee-hive's HTTP API: spawn, list and stop workers; models; capabilities."""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Header
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from rbee.common.errors import RbeeError, install_error_handlers
from rbee.common.events import DONE, EventLog
from rbee.common.guard import Route
from rbee.common.metrics import install_metrics
from rbee.common.security import Security
from rbee.common.server import write_port_file
from rbee.common.streaming import EventStreamResponse
from rbee.common.validation import IDENTIFIER, MODEL_NAME, STRICT
from rbee.hive.cgroups import CgroupError, Limits, parse_cpu_limit, parse_memory_limit
from rbee.hive.hubs import HubPolicy
from rbee.hive.models import ModelCatalog, model_name
from rbee.hive.monitor import ProcessMonitor
from rbee.hive.placement import check_memory, choose_gpu
from rbee.hive.provision import Provisioner
from rbee.hive.queen_link import QueenLink
from rbee.hive.telemetry import Telemetry, heartbeat_body
from rbee.hive.worker_env import WorkerCredential
from rbee.hive.workers import SpawnSettings, WorkerManager, WorkerProgramMissing


@dataclass
class HiveConfig:
    hive_id: str
    url: str
    queen_url: str
    heartbeat_interval_s: float
    catalog: ModelCatalog
    spawn: SpawnSettings
    port_file: Path | None
    port: int
    monitor: ProcessMonitor
    default_limits: Limits
    gpu_interval_s: float = 2.0
    download_dir: Path | None = None  # where provisioned models go (None: they cannot be)
    device: str = "cpu"  # or "gpu": workers placed on a GPU after a memory preflight
    shutdown_grace_s: float = 30.0  # on SIGTERM, how long busy workers may take to finish their jobs
    download_stall_timeout_s: float = 30.0  # a download that gets no byte this long is DOWNLOAD_STALLED
    worker_credential: WorkerCredential | None = None  # the file workers read the cluster credential from
    hubs: HubPolicy = field(default_factory=lambda: HubPolicy([]))  # where models may be downloaded from


log = logging.getLogger("rbee.hive")

# what each call needs (unlisted GETs: read; anything else unlisted: admin) and its audit action
ROUTES = [
    Route("POST", "/v1/workers", "admin", "worker.spawn"),
    Route("DELETE", "/v1/workers", "admin", "worker.stop_all"),
    Route("DELETE", r"/v1/workers/[^/]+", "admin", "worker.kill"),
    Route("POST", "/v1/models/provision", "admin", "model.provision"),
    Route("POST", "/v1/shutdown", "admin", "hive.shutdown"),
]


def save_coverage() -> None:
    """Save coverage.py's data if this process is measured (make bdd-report), before an os._exit."""
    try:
        import coverage
    except ImportError:
        return
    current = coverage.Coverage.current()
    if current is not None:
        current.stop()
        current.save()


class ProvisionRequest(BaseModel):
    model_config = STRICT

    name: str = Field(pattern=MODEL_NAME)
    url: str = Field(min_length=1, max_length=2000)
    sha256: str = Field(pattern=r"^[0-9a-fA-F]{64}$")


class SpawnRequest(BaseModel):
    model_config = STRICT

    model: str = Field(pattern=MODEL_NAME)
    job_id: str = Field(default="", pattern=f"{IDENTIFIER}|^$")
    cpu_limit: str | None = Field(default=None, max_length=64, description="cpu.max form: 'QUOTA PERIOD' or 'max'")
    memory_limit: str | None = Field(default=None, max_length=64, description="bytes, or 256M / 1G")


async def present_events(name: str) -> AsyncIterator[bytes]:
    """The provision stream of a model the hive has already: its ``done`` event, then ``[DONE]``."""
    log_of = EventLog()
    await log_of.append("done", {"name": name, "state": "present", "downloaded": False})
    await log_of.close(DONE)
    async for chunk in log_of.stream():
        yield chunk


def limits_of(req: SpawnRequest, default: Limits) -> Limits:
    """The request's limits over the hive's defaults; 400 INVALID_LIMIT before anything starts."""
    try:
        quota, period = (default.cpu_quota_us, default.cpu_period_us) if req.cpu_limit is None \
            else parse_cpu_limit(req.cpu_limit)
        memory = default.memory_bytes if req.memory_limit is None else parse_memory_limit(req.memory_limit)
    except ValueError as exc:
        raise RbeeError("INVALID_LIMIT", str(exc), 400) from None
    return Limits(cpu_quota_us=quota, cpu_period_us=period, memory_bytes=memory)


def create_app(config: HiveConfig, security: Security) -> FastAPI:
    """Build the hive app; heartbeats start once it listens and stop with it."""
    workers: WorkerManager
    draining = asyncio.Event()
    telemetry = Telemetry(config.monitor, config.gpu_interval_s)

    def heartbeat() -> dict[str, Any]:
        return heartbeat_body(config.hive_id, config.url, config.catalog.names(), telemetry.capabilities(),
                              list(workers.live.values()), telemetry.collect(),
                              "draining" if draining.is_set() else "serving")

    link = QueenLink(config.queen_url, config.heartbeat_interval_s, heartbeat, auth=security.cluster_auth())
    workers = WorkerManager(config.spawn, config.monitor, link.narrate, link.push_heartbeat,
                            auth=security.cluster_auth(), credential=config.worker_credential)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        adopted = frozenset(await workers.adopt())
        for leftover in await asyncio.to_thread(config.monitor.clear_leftovers, adopted):
            log.warning("cleared worker %s left by a previous hive", leftover)
        write_port_file(config.port_file, config.port)
        telemetry.start()
        link.start()
        # queen hears of this hive (and that it serves) before it answers: after a restart, queen must not
        # go on with what the previous process said (draining, say) once the hive looks healthy
        await link.push_heartbeat_and_wait(2.0)
        workers.start_health_checks()
        yield
        await wind_down()

    wound_down = asyncio.Event()
    async def drain() -> None:
        """SIGTERM: refuse new workers, let the workers' running jobs finish (at most the grace);
        the server then stops, and with it the workers (lifespan's wind_down)."""
        draining.set()
        await link.push_heartbeat_and_wait(2.0)  # queen schedules nothing more here
        deadline = asyncio.get_running_loop().time() + config.shutdown_grace_s
        busy = await workers.busy()
        log.warning("SIGTERM: draining: no new workers; waiting up to %g s for %d busy worker(s)",
                    config.shutdown_grace_s, len(busy))
        while busy and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.2)
            busy = await workers.busy()
        if busy:
            log.warning("drain grace over with %d worker(s) still busy: stopping them", len(busy))
        log.warning("drained: stopping %d worker(s), then exiting", len(workers.live))

    async def wind_down() -> None:
        """Stop the workers and heartbeats, remove the hive's cgroup slice and run directory; once."""
        if wound_down.is_set():
            return
        wound_down.set()
        await workers.close()
        await link.close()
        await telemetry.close()
        if config.monitor.tree is not None:
            config.monitor.tree.remove_slice()
        shutil.rmtree(config.spawn.run_dir, ignore_errors=True)

    def exit_now() -> None:
        log.warning("workers stopped, resources released: exiting")
        logging.shutdown()
        save_coverage()  # os._exit skips atexit, where coverage.py would save
        os._exit(0)

    app = FastAPI(title="rbee-hive", lifespan=lifespan)
    app.state.drain = drain
    app.state.workers = workers  # SIGHUP hands a rotated cluster credential on to them
    install_error_handlers(app)
    metrics = install_metrics(app, {
        "rbee_hive_workers_live": ("worker processes running", lambda: len(workers.live)),
        "rbee_hive_workers_ended_retained": ("ended workers kept for GET /v1/workers/{id}",
                                             lambda: len(workers.ended)),
        "rbee_hive_background_tasks": ("tasks watching workers", lambda: len(workers._tasks)),
    }, "rbee_hive")
    for event, help_text in [("spawn", "worker processes started"),
                             ("start_timeout", "workers stopped for not being ready within --worker-start-timeout"),
                             ("oom_kill", "workers the kernel's OOM killer ended (by their cgroup's counter)"),
                             ("unhealthy_removal", "workers killed after --worker-health-failures failed checks")]:
        metrics.counts(f"rbee_hive_worker_{event}s_total", help_text, lambda e=event: workers.happened[e])
    metrics.counts("rbee_hive_at_capacity_refusals_total", "spawns refused with HIVE_AT_CAPACITY: --max-workers "
                   "reached", lambda: workers.happened["at_capacity"])
    metrics.counts("rbee_auth_failures_total", "requests refused for their credentials, by reason",
                   lambda: dict(security.denials), label="reason")

    @app.get("/health")
    async def health() -> dict[str, str]:
        """Alive; ``state`` is ``draining`` from the moment a SIGTERM was taken in."""
        return {"status": "ok", "hive_id": config.hive_id, "state": "draining" if draining.is_set() else "serving"}

    @app.get("/v1/capabilities")
    async def caps() -> dict[str, Any]:
        return telemetry.capabilities()

    @app.get("/v1/telemetry")
    async def processes() -> dict[str, Any]:
        collection = await asyncio.to_thread(telemetry.collect)
        return {"processes": [s.to_dict() for s in collection.stats],
                "gpu_status": collection.gpu_status, "skipped": collection.skipped}

    @app.get("/v1/models")
    async def models() -> dict[str, Any]:
        catalog = config.catalog
        return {"models": catalog.names(), "catalog": str(catalog.db_path), "recoveries": catalog.recoveries}

    # queen knows of a downloaded model before anyone who asked for it hears it is there
    provisioner = Provisioner(config.catalog, config.download_dir, config.download_stall_timeout_s,
                              link.push_heartbeat_and_wait) if config.download_dir else None

    @app.post("/v1/models/provision", response_model=None)
    async def provision(req: ProvisionRequest, accept: str = Header(default="")) -> dict[str, Any] | StreamingResponse:
        """Make *name* available from *url*: one download however many ask at once. With
        ``Accept: text/event-stream`` the answer is the download's progress as it goes."""
        if provisioner is None:
            raise RbeeError("PROVISIONING_DISABLED", f"hive {config.hive_id} has no --download-dir", 400)
        if not model_name(req.name):
            raise RbeeError("INVALID_MODEL_NAME", f"{req.name!r} is not a model name", 400)
        await config.hubs.check(req.url)  # before anything is fetched or written
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

    @app.post("/v1/workers", status_code=201)
    async def spawn(req: SpawnRequest, x_correlation_id: str = Header(default="")) -> dict[str, Any]:
        limits = limits_of(req, config.default_limits)
        if draining.is_set():
            raise RbeeError("HIVE_DRAINING", f"hive {config.hive_id} is shutting down and starts no new worker", 503)
        capacity = config.spawn.max_workers
        if capacity and len(workers.live) >= capacity:
            workers.happened["at_capacity"] += 1
            raise RbeeError("HIVE_AT_CAPACITY", f"hive {config.hive_id} runs {capacity} workers, its maximum", 503)
        path = config.catalog.path(req.model)
        if path is None:
            raise RbeeError("MODEL_NOT_FOUND", f"hive {config.hive_id} has no model {req.model!r}", 404)
        check_memory(req.model, path, limits.memory_bytes)
        env: dict[str, str] = {}
        if config.device == "gpu":  # a fresh reading: the preflight must see the memory free now
            gpu = choose_gpu(req.model, path, await asyncio.to_thread(config.monitor.read_gpus))
            env["CUDA_VISIBLE_DEVICES"] = str(gpu)
        try:
            worker = await workers.spawn(req.model, path, req.job_id, x_correlation_id, limits, env)
        except WorkerProgramMissing as exc:
            log.error("cannot spawn a %s worker: %s", req.model, exc)
            raise RbeeError("WORKER_BINARY_NOT_FOUND", str(exc), 500) from None
        except CgroupError as exc:
            raise RbeeError("WORKER_SPAWN_FAILED", f"cannot set up the worker's cgroup: {exc}", 500) from None
        except OSError as exc:
            raise RbeeError("WORKER_SPAWN_FAILED", f"cannot start worker: {exc.strerror}", 500) from None
        return worker.to_dict()

    @app.post("/v1/shutdown")
    async def shutdown() -> dict[str, Any]:
        """Stop every worker (SIGTERM, SIGKILL after the grace period), release everything, answer, exit.

        The process ends right after the answer goes out, so whoever asked sees the hive gone
        (connections refused) soon after the answer, and only after every worker.
        """
        log.warning("shutdown asked: stopping %d worker(s), then exiting", len(workers.live))
        stopped = await workers.stop_all()
        await wind_down()
        asyncio.get_running_loop().call_later(0.1, exit_now)
        return {"hive_id": config.hive_id, "stopped": [w.to_dict() for w in stopped]}

    @app.delete("/v1/workers")
    async def stop_every_worker() -> dict[str, Any]:
        """Stop every worker (as DELETE of each); the hive goes on. Queen's cascade does this first."""
        log.warning("stopping all %d worker(s)", len(workers.live))
        stopped = await workers.stop_all()
        return {"hive_id": config.hive_id, "stopped": [w.to_dict() for w in stopped]}

    @app.get("/v1/workers")
    async def list_workers() -> dict[str, list[dict[str, Any]]]:
        return {"workers": [w.to_dict() for w in workers.live.values()]}

    @app.get("/v1/workers/{worker_id}")
    async def get_worker(worker_id: str) -> dict[str, Any]:
        worker = workers.get(worker_id)
        if worker is None:
            raise RbeeError("WORKER_NOT_FOUND", f"no worker {worker_id} on hive {config.hive_id}", 404)
        return worker.to_dict()

    @app.delete("/v1/workers/{worker_id}")
    async def stop_worker(worker_id: str) -> dict[str, Any]:
        worker = await workers.stop(worker_id)
        if worker is None:
            raise RbeeError("WORKER_NOT_FOUND", f"no worker {worker_id} on hive {config.hive_id}", 404)
        return worker.to_dict()

    return app
