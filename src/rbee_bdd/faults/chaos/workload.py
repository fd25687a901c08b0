"""The chaos run's clients: each submits jobs of known parameters, one after another, and records
in the history everything it asked and received.

A job's parameters come from a small set (so each has a fault-free reference completion): a
prompt, a seed and a token count. Most jobs are read to their end; some are cancelled (DELETE)
after their first token, some disconnected then (their end is read from ``GET /v1/jobs/{id}``);
some carry a deadline.

Queen may be restarted under the clients: they ask the stack for queen's client at each use
(its address may change), and a job queen no longer knows after a restart ends ``[LOST]``.
"""

from __future__ import annotations

import contextlib
import itertools
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from rbee_bdd.clients.api import QueenClient, infer_body
from rbee_bdd.clients.http import request
from rbee_bdd.clients.sse import JobStream
from rbee_bdd.faults.chaos.history import History

MODEL = "tinyllama"
PROMPTS = ("Hello bee", "The hive hums at dawn", "Once upon a time")
SEEDS = (1, 2, 3, 4, 5)
MAX_TOKENS = (8, 64, 400)  # up to 400 of the 512-token context: long enough for faults to hit jobs running
TEMPERATURE = 0.7
READ_S = 300.0  # how long a client waits for one job's end, at most
LOST = "[LOST]"  # the end of a job queen no longer knows (it was restarted while the job ran)


@dataclass(frozen=True)
class Params:
    prompt: str
    seed: int
    max_tokens: int


def every_params() -> list[Params]:
    """All the parameter sets the clients choose from (each gets a reference completion)."""
    return [Params(p, s, n) for p, s, n in itertools.product(PROMPTS, SEEDS, MAX_TOKENS)]


def end_from_status(job: dict[str, object]) -> str | None:
    """The terminal marker a job's state stands for, or None while it runs."""
    state = job.get("state")
    if state == "completed":
        return "[DONE]"
    if state == "cancelled":
        return "[CANCELLED]"
    if state == "failed":
        error = job.get("error") or {}
        return f"[ERROR] {error.get('code', '') if isinstance(error, dict) else ''}"
    return None


class Workload:
    """*clients* threads submitting jobs until stop() is called."""

    def __init__(self, queen: Callable[[], QueenClient], history: History, clients: int, seed: int) -> None:
        self.queen = queen
        self.history = history
        self.clients = clients
        self.seed = seed
        self.stopping = threading.Event()
        self._ops = itertools.count(1)
        self._lock = threading.Lock()
        self.threads: list[threading.Thread] = []

    def start(self) -> Workload:
        for client in range(self.clients):
            thread = threading.Thread(target=self._client, args=(client,), name=f"chaos client {client}", daemon=True)
            thread.start()
            self.threads.append(thread)
        return self

    def stop(self, timeout_s: float) -> list[str]:
        """No new job; wait for the jobs running to end. The clients still busy after *timeout_s*."""
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout_s / max(1, len(self.threads)))
        return [t.name for t in self.threads if t.is_alive()]

    def _op(self) -> int:
        with self._lock:
            return next(self._ops)

    def _client(self, client: int) -> None:
        rng = random.Random(self.seed * 1000 + client)
        params = every_params()
        try:
            while not self.stopping.is_set():
                chosen = rng.choice(params)
                roll = rng.random()
                plan = "cancel" if roll < 0.1 else "disconnect" if roll < 0.2 else "read"
                timeout_s = 20 if rng.random() < 0.2 else None
                self._job(client, chosen, plan, timeout_s)
        except Exception as exc:  # the stack went away under the client (a teardown after Ctrl+C): say so, once
            self.history.add("client_ended", client=client, detail=f"{type(exc).__name__}: {str(exc)[:200]}")

    def _job(self, client: int, params: Params, plan: str, timeout_s: int | None) -> None:
        op = self._op()
        self.history.add("invoke", op=op, client=client, model=MODEL, prompt=params.prompt, seed=params.seed,
                         max_tokens=params.max_tokens, timeout_s=timeout_s, plan=plan)
        body = infer_body(MODEL, params.prompt, params.max_tokens, TEMPERATURE, params.seed, timeout_s=timeout_s)
        queen = self.queen()
        try:
            answer = queen.post_job(body)
        except Exception as exc:  # queen unreachable: a refusal of its own kind
            self.history.add("refused", op=op, status=0, code=type(exc).__name__)
            self.stopping.wait(0.5)
            return
        if answer.status_code != 201:
            try:
                code = str(answer.json()["error"]["code"])
            except (ValueError, KeyError, TypeError):
                code = answer.text[:80]
            self.history.add("refused", op=op, status=answer.status_code, code=code)
            self.stopping.wait(0.5)
            return
        created = answer.json()
        self.history.add("accepted", op=op, job_id=created["job_id"])
        stream = JobStream(queen.url + created["sse_url"]).start()
        if plan != "read":
            self._interrupt(stream, queen.url, created["job_id"], plan)
        stream.wait_ended(READ_S)
        self._record(op, created["job_id"], stream)

    def _interrupt(self, stream: JobStream, queen_url: str, job_id: str, plan: str) -> None:
        """After the first token (or the end, if it comes first): DELETE the job, or drop the stream."""
        waited = threading.Event()
        for _ in range(int(READ_S * 10)):
            if stream.tokens() or stream.ended or waited.wait(0.1):
                break
        if stream.ended:
            return
        if plan == "cancel":
            with contextlib.suppress(httpx.HTTPError):  # queen away: the job's end is read all the same
                request("DELETE", f"{queen_url}/v1/jobs/{job_id}", timeout=10.0)
        else:
            stream.close()

    def _record(self, op: int, job_id: str, stream: JobStream) -> None:
        for event in list(stream.events):
            if event.name == "token":
                token = event.json()
                self.history.add("token", at=event.at, op=op, i=token.get("i"), text=token.get("t", ""))
            elif event.name == "narration":
                said = event.json()
                self.history.add("narration", at=event.at, op=op, actor=said.get("actor"), action=said.get("action"))
        if stream.terminal is not None:
            self.history.add("end", at=stream.events[-1].at, op=op, marker=stream.terminal, via="stream")
            return
        self.history.add("stream_closed", op=op, detail=stream.failure or "")
        pace = threading.Event()  # never set: its wait() paces the polling
        for _ in range(int(READ_S * 10)):
            marker = self._end_from_queen(job_id)
            if marker is not None:
                self.history.add("end", op=op, marker=marker, via="status")
                return
            pace.wait(0.1)

    def _end_from_queen(self, job_id: str) -> str | None:
        """The job's marker by its state at queen; LOST when queen does not know it; None: ask again."""
        try:
            answer = request("GET", f"{self.queen().url}/v1/jobs/{job_id}", timeout=5.0)
        except httpx.HTTPError:  # queen away (paused, restarting): ask again
            return None
        if answer.status_code == 404:
            return LOST
        return end_from_status(answer.json()) if answer.status_code == 200 else None
