"""rbee-hive's state: its settings, workers, telemetry, queen link, provisioner, and its shutdown."""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from fastapi import Request

from rbee.common.security import Security
from rbee.common.server import write_port_file
from rbee.hive.cgroups import Limits
from rbee.hive.hubs import HubPolicy
from rbee.hive.models import ModelCatalog
from rbee.hive.monitor import ProcessMonitor
from rbee.hive.provision import Provisioner
from rbee.hive.queen_link import QueenLink
from rbee.hive.telemetry import Telemetry, heartbeat_body
from rbee.hive.worker_env import WorkerCredential
from rbee.hive.workers import SpawnSettings, WorkerManager

log = logging.getLogger("rbee.hive")


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
    instance_id: str = ""  # tells this hive from another claiming its id (hive/instance.py)


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


class HiveState:
    """Everything the hive runs and knows; route handlers take it by dependency."""

    def __init__(self, config: HiveConfig, security: Security) -> None:
        self.config = config
        self.security = security
        self.draining = asyncio.Event()
        self._wound_down = False
        self.telemetry = Telemetry(config.monitor, config.gpu_interval_s)
        self.link = QueenLink(config.queen_url, config.heartbeat_interval_s, self.heartbeat,
                              auth=security.cluster_auth(to_queen=True), verify=security.tls.verify())
        self.workers = WorkerManager(config.spawn, config.monitor, self.link.narrate, self.link.push_heartbeat,
                                     auth=security.cluster_auth(), credential=config.worker_credential,
                                     flush=self.link.push_heartbeat_and_wait)
        # queen knows of a downloaded model before anyone who asked for it hears it is there
        self.provisioner = Provisioner(config.catalog, config.download_dir, config.download_stall_timeout_s,
                                       self.link.push_heartbeat_and_wait) if config.download_dir else None

    def heartbeat(self) -> dict[str, Any]:
        """What the next heartbeat to queen says."""
        config = self.config
        return heartbeat_body(config.hive_id, config.url, config.catalog.names(), self.telemetry.capabilities(),
                              list(self.workers.live.values()), self.telemetry.collect(),
                              "draining" if self.draining.is_set() else "serving", config.instance_id)

    async def start(self) -> None:
        """The app listens: adopt the workers a crashed hive left, clear the rest, start reporting."""
        config = self.config
        adopted = frozenset(await self.workers.adopt())
        for leftover in await asyncio.to_thread(config.monitor.clear_leftovers, adopted):
            log.warning("cleared worker %s left by a previous hive", leftover)
        write_port_file(config.port_file, config.port)
        self.telemetry.start()
        self.link.start()
        # queen hears of this hive (and that it serves) before it answers: after a restart, queen must not
        # go on with what the previous process said (draining, say) once the hive looks healthy
        await self.link.push_heartbeat_and_wait(2.0)
        self.workers.start_health_checks()

    async def drain(self) -> None:
        """SIGTERM: refuse new workers, let the workers' running jobs finish (at most the grace);
        the server then stops, and with it the workers (the lifespan's wind_down)."""
        self.draining.set()
        await self.link.push_heartbeat_and_wait(2.0)  # queen schedules nothing more here
        grace = self.config.shutdown_grace_s
        deadline = asyncio.get_running_loop().time() + grace
        busy = await self.workers.busy()
        log.warning("SIGTERM: draining: no new workers; waiting up to %g s for %d busy worker(s)", grace, len(busy))
        while busy and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.2)
            busy = await self.workers.busy()
        if busy:
            log.warning("drain grace over with %d worker(s) still busy: stopping them", len(busy))
        log.warning("drained: stopping %d worker(s), then exiting", len(self.workers.live))

    async def wind_down(self) -> None:
        """Stop the workers and heartbeats, remove the hive's cgroup slice and run directory; once."""
        if self._wound_down:
            return
        self._wound_down = True
        await self.workers.close()
        await self.link.close()
        await self.telemetry.close()
        if self.config.monitor.tree is not None:
            self.config.monitor.tree.remove_slice()
        shutil.rmtree(self.config.spawn.run_dir, ignore_errors=True)


def exit_now() -> None:
    """End the process at once (after POST /v1/shutdown has answered and everything is released)."""
    log.warning("workers stopped, resources released: exiting")
    logging.shutdown()
    save_coverage()  # os._exit skips atexit, where coverage.py would save
    os._exit(0)


def hive_state(request: Request) -> HiveState:
    """The dependency route handlers take the hive's state by."""
    return cast(HiveState, request.app.state.hive)
