"""queen-rbee's SIGTERM: refuse new jobs, let running ones finish, then shut the hives down (workers first)."""

from __future__ import annotations

import asyncio
import logging

import httpx

from rbee.queen.state import QueenState

log = logging.getLogger("rbee.queen")


async def drain(state: QueenState) -> None:
    """Refuse new jobs, let running ones finish within the grace, cancel the rest, then (unless
    --no-cascade-shutdown) stop every hive's workers, then every hive."""
    config, jobs = state.config, state.jobs
    state.shutting_down.set()
    state.security.audit.record("shutdown", "started", principal="signal:SIGTERM", target="queen-rbee")
    log.warning("shutting down: no new jobs; waiting up to %.0f s for %d running job(s)",
                config.shutdown_grace_s, len(jobs.active()))
    deadline = asyncio.get_running_loop().time() + config.shutdown_grace_s
    while jobs.active() and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.05)
    for job in jobs.active():
        await state.cancel_job(job, "queen shut down before the job finished")
    if not config.cascade_shutdown:
        log.warning("shutting down alone (--no-cascade-shutdown): hives keep running")
        return
    hives = state.registry.hive_urls()
    client = state.scheduler.client
    # two phases, so that the order holds across hives: every worker of every hive ends first
    await ask_every_hive(client, hives, ("DELETE", "/v1/workers", "stop its workers"), config.hive_shutdown_timeout_s)
    await ask_every_hive(client, hives, ("POST", "/v1/shutdown", "shut down"), config.hive_shutdown_timeout_s)
    await asyncio.gather(*(wait_gone(client, hive_id, url) for hive_id, url in hives.items()))


async def ask_every_hive(client: httpx.AsyncClient, hives: dict[str, str], call: tuple[str, str, str],
                         timeout_s: float) -> None:
    """Send *call* (method, path, what it asks) to every hive at once and wait for every answer or failure."""
    method, path, what = call
    log.warning("asking %d hive(s) to %s: %s", len(hives), what, ", ".join(hives))
    answers = await asyncio.gather(*(client.request(method, url + path, timeout=timeout_s)
                                     for url in hives.values()), return_exceptions=True)
    for hive_id, answer in zip(hives, answers, strict=True):
        if isinstance(answer, BaseException):
            log.warning("hive %s did not confirm it would %s: %r", hive_id, what, answer)
        else:
            log.info("hive %s did %s: %s", hive_id, what, answer.text[:200])


async def wait_gone(client: httpx.AsyncClient, hive_id: str, url: str, timeout_s: float = 5.0) -> None:
    """Until nothing accepts the hive's connections (its process has ended), at most *timeout_s*: a refusal,
    or no answer to a connection at all (a container engine may remove the address with the container:
    seen on Podman, where queen waited the whole bound at every scenario's end)."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while asyncio.get_running_loop().time() < deadline:
        try:
            await client.get(f"{url}/health", timeout=1.0)
        except (httpx.ConnectError, httpx.ConnectTimeout):
            return
        except httpx.HTTPError:
            pass
        await asyncio.sleep(0.05)
    log.warning("hive %s still answers %.0f s after its shutdown", hive_id, timeout_s)
