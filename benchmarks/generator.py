"""The load generator of ``make bench-load``: jobs driven from several processes at once.

One Python event loop spends about a millisecond of CPU on each request it sends and each SSE
event it parses, so a thousand clients on one loop measure the loop as much as queen. The jobs
are split across ``processes`` client processes (spawned, each with its own loop and its own
httpx client), which all start their share at the same instant. Each process reports its
outcomes, the CPU it used and the longest its loop was late on a 10 ms tick: a process busy for
most of the load, or a loop late by more than a tick budget, means the generator, not the stack,
set the pace (``Generated.saturated``).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import time
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

from rbee_bdd.clients.api import infer_body
from rbee_bdd.clients.async_jobs import JobOutcome, async_client, run_job
from rbee_bdd.clients.http import authorize

T = TypeVar("T")
TICK_S = 0.01
BUSY_SHARE = 0.9  # a process using this share of a core over the load was saturated
LATE_TICK_MS = 250.0  # or its loop ran this late at least once


@dataclass(frozen=True)
class Share:
    """What one client process is asked to run."""

    queen_url: str
    token: str  # queen's bearer token ("" when it has none)
    model: str
    tokens: int
    seeds: tuple[int, ...]
    start_at: float  # time.monotonic() (system-wide) at which every process begins


@dataclass
class ProcessReport:
    """One client process's outcomes, its CPU seconds over the load and its loop's worst lateness."""

    outcomes: list[JobOutcome]
    cpu_s: float
    seconds: float
    late_ms: float

    @property
    def busy(self) -> float:
        return self.cpu_s / self.seconds if self.seconds else 0.0


@dataclass
class Generated:
    """Every outcome of a load, its wall time (first start to last end) and each process's report."""

    outcomes: list[JobOutcome]
    seconds: float
    processes: list[ProcessReport]
    start_at: float  # time.monotonic() at which the clients began

    @property
    def cpu_s(self) -> float:
        return sum(p.cpu_s for p in self.processes)

    @property
    def saturated(self) -> bool:
        return any(p.busy >= BUSY_SHARE or p.late_ms >= LATE_TICK_MS for p in self.processes)


async def _lateness(stop: asyncio.Event) -> float:
    """The longest a TICK_S sleep overslept, in ms, until *stop*."""
    worst = 0.0
    while not stop.is_set():
        before = time.monotonic()
        await asyncio.sleep(TICK_S)
        worst = max(worst, (time.monotonic() - before - TICK_S) * 1000)
    return worst


async def _client_job(queen_url: str, body: dict[str, Any]) -> JobOutcome:
    """One client: its own connection, kept for the POST and the stream. (One shared pool of hundreds of
    connections costs httpcore a scan of them all per request: most of a process's CPU in a burst.)"""
    async with async_client(1) as session:
        return await run_job(session, queen_url, body)


async def _drive(share: Share) -> tuple[list[JobOutcome], float]:
    await asyncio.sleep(max(0.0, share.start_at - time.monotonic()))
    stop = asyncio.Event()
    ticker = asyncio.create_task(_lateness(stop))
    bodies = [infer_body(share.model, max_tokens=share.tokens, seed=seed) for seed in share.seeds]
    outcomes = await asyncio.gather(*(_client_job(share.queen_url, body) for body in bodies))
    stop.set()
    return list(outcomes), await ticker


def _event_loop_run(work: Coroutine[Any, Any, T]) -> T:
    """*work* on uvloop where it is installed (the daemons use it too): about a third less CPU per request."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(work)
    return uvloop.run(work)


def _run_share(share: Share) -> ProcessReport:
    """A client process's work (module level: the spawn start method pickles it by name)."""
    if share.token:
        authorize(share.queen_url, share.token)
    cpu = time.process_time()
    started = time.monotonic()
    outcomes, late_ms = _event_loop_run(_drive(share))
    seconds = time.monotonic() - max(started, share.start_at)
    return ProcessReport(outcomes, time.process_time() - cpu, seconds, late_ms)


class Generator:
    """A pool of client processes, started once and reused for every load (their start is not measured)."""

    def __init__(self, processes: int) -> None:
        self.processes = processes
        self._pool = multiprocessing.get_context("spawn").Pool(processes)

    def __enter__(self) -> Generator:
        return self

    def __exit__(self, *_: Any) -> None:
        self._pool.terminate()
        self._pool.join()

    def load(self, queen_url: str, token: str, model: str, clients: int, tokens: int,
             first_seed: int) -> Generated:
        """*clients* jobs split evenly across the processes, all begun at the same instant."""
        start_at = time.monotonic() + 0.5  # every process has had its share and waits for this instant
        seeds = list(range(first_seed, first_seed + clients))
        shares = [Share(queen_url, token, model, tokens, tuple(seeds[i::self.processes]), start_at)
                  for i in range(self.processes) if seeds[i::self.processes]]
        reports = self._pool.map(_run_share, shares)
        outcomes = [o for r in reports for o in r.outcomes]
        ends = [o.ended or o.accepted or o.started for o in outcomes]
        return Generated(outcomes, max(ends) - start_at, reports, start_at)
