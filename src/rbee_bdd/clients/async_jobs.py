"""Many jobs at once from one thread: asyncio and one shared ``httpx.AsyncClient``.

A thread per stream (``JobStream``) is fine for a scenario's few jobs; a thousand concurrent
clients need one event loop. Each job is submitted to queen and its stream read to the end,
with the arrival times of the answer, the first token and the terminal marker.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import httpx
from httpx_sse import SSEError, aconnect_sse

from rbee_bdd.clients.http import AsyncNamedTLSTransport, tls, with_credentials
from rbee_bdd.clients.sse import TERMINAL_PREFIXES


@dataclass
class JobOutcome:
    """One job as its client saw it (times from ``time.monotonic()``)."""

    started: float
    accepted: float | None = None  # queen's answer to the POST came
    first_token: float | None = None
    ended: float | None = None
    terminal: str = ""  # the marker's data ("[DONE]", "[ERROR] CODE: …"); "" when none came
    tokens: int = 0
    error: str = ""  # why the client could not read the job to a marker

    @property
    def done(self) -> bool:
        return self.terminal.startswith("[DONE]") and not self.error

    def accepted_s(self) -> float | None:
        return None if self.accepted is None else self.accepted - self.started

    def first_token_s(self) -> float | None:
        return None if self.first_token is None else self.first_token - self.started

    def latency_s(self) -> float | None:
        return None if self.ended is None else self.ended - self.started


def async_client(connections: int, read_timeout: float = 600.0) -> httpx.AsyncClient:
    """One client for every job of a load: a pool as large as the number of jobs at once."""
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    return httpx.AsyncClient(transport=AsyncNamedTLSTransport(verify=tls(), limits=limits), trust_env=False,
                             timeout=httpx.Timeout(30.0, read=read_timeout, pool=read_timeout))


async def run_job(session: httpx.AsyncClient, queen_url: str, body: dict[str, Any]) -> JobOutcome:
    """Submit *body* to queen and read its stream to the terminal marker."""
    outcome = JobOutcome(started=time.monotonic())
    jobs_url = f"{queen_url}/v1/jobs"
    try:
        answer = await session.post(jobs_url, json=body, headers=with_credentials(jobs_url, None))
        if answer.status_code != 201:
            outcome.error = f"POST /v1/jobs: HTTP {answer.status_code}: {answer.text[:200]}"
            return outcome
        outcome.accepted = time.monotonic()
        stream_url = queen_url + answer.json()["sse_url"]
        async with aconnect_sse(session, "GET", stream_url, headers=with_credentials(stream_url, None)) as source:
            if source.response.status_code != 200:
                outcome.error = f"GET stream: HTTP {source.response.status_code}"
                return outcome
            async for event in source.aiter_sse():
                if event.event == "token":
                    outcome.tokens += 1
                    if outcome.first_token is None:
                        outcome.first_token = time.monotonic()
                elif event.data.startswith(TERMINAL_PREFIXES):
                    outcome.terminal, outcome.ended = event.data, time.monotonic()
                    return outcome
        outcome.error = "the stream closed before its terminal marker"
    except (httpx.HTTPError, SSEError, ValueError, KeyError) as exc:
        outcome.error = f"{type(exc).__name__}: {exc}"
    return outcome
