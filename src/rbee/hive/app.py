"""rbee-hive's HTTP API: spawn, list and stop workers; models; capabilities."""

from __future__ import annotations

import shutil
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Header
from pydantic import BaseModel, Field

from rbee.common.errors import RbeeError, install_error_handlers
from rbee.common.server import write_port_file
from rbee.hive.models import ModelCatalog
from rbee.hive.queen_link import QueenLink
from rbee.hive.workers import SpawnSettings, WorkerManager


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


class SpawnRequest(BaseModel):
    model: str = Field(min_length=1, max_length=200)
    job_id: str = Field(default="", max_length=128)


def capabilities() -> dict[str, Any]:
    """What this hive can do on this machine."""
    return {
        "platform": sys.platform,
        "cgroups": {"enabled": False, "reason": "this version runs workers without cgroup limits"},
        "gpu": {"enabled": False, "reason": "no GPU telemetry in this version"},
    }


def create_app(config: HiveConfig) -> FastAPI:
    """Build the hive app; heartbeats start once it listens and stop with it."""
    workers: WorkerManager

    def heartbeat() -> dict[str, Any]:
        return {
            "hive_id": config.hive_id, "url": config.url, "models": config.catalog.names(),
            "capabilities": capabilities(), "workers": [w.to_dict() for w in workers.live.values()],
        }

    link = QueenLink(config.queen_url, config.heartbeat_interval_s, heartbeat)
    workers = WorkerManager(config.spawn, link.narrate, link.push_heartbeat)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        write_port_file(config.port_file, config.port)
        link.start()
        yield
        await workers.stop_all()
        await link.close()
        shutil.rmtree(config.spawn.run_dir, ignore_errors=True)

    app = FastAPI(title="rbee-hive", lifespan=lifespan)
    install_error_handlers(app)

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok", "hive_id": config.hive_id}

    @app.get("/v1/capabilities")
    async def caps() -> dict[str, Any]:
        return capabilities()

    @app.get("/v1/models")
    async def models() -> dict[str, list[str]]:
        return {"models": config.catalog.names()}

    @app.post("/v1/workers", status_code=201)
    async def spawn(req: SpawnRequest, x_correlation_id: str = Header(default="")) -> dict[str, Any]:
        path = config.catalog.path(req.model)
        if path is None:
            raise RbeeError("MODEL_NOT_FOUND", f"hive {config.hive_id} has no model {req.model!r}", 404)
        try:
            worker = await workers.spawn(req.model, path, req.job_id, x_correlation_id)
        except OSError as exc:
            raise RbeeError("WORKER_SPAWN_FAILED", f"cannot start worker: {exc.strerror}", 500) from None
        return worker.to_dict()

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
