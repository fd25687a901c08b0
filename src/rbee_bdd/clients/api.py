"""HTTP clients for the daemons' contract: queen's job and registry API, hive's worker API."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, cast

import httpx
from hamcrest import assert_that, equal_to

from rbee_bdd.clients.http import request
from rbee_bdd.clients.records import (
    Capabilities,
    Health,
    HiveRow,
    HiveWorker,
    JobRecord,
    Models,
    QueenWorker,
    Telemetry,
    WorkerReady,
)
from rbee_bdd.clients.sse import JobStream
from rbee_bdd.core.waiting import scaled


class ContractError(AssertionError):
    """A daemon answered something the contract does not allow."""


@dataclass(frozen=True)
class SubmittedJob:
    job_id: str
    stream: JobStream
    submitted_at: float
    correlation_id: str
    request: dict[str, Any]

    def wait_ended_with(self, marker: str = "[DONE]", seconds: float = 60) -> SubmittedJob:
        """Wait up to *seconds* (scaled) for the stream's end; assert it ended with *marker*."""
        self.stream.wait_ended(scaled(seconds))
        summary = self.stream.summary()
        assert_that(self.stream.terminal, equal_to(marker), f"terminal marker of {self.job_id}: {summary}")
        return self

    def spawned_workers(self) -> list[str]:
        """The workers hives spawned for this job, named by their ``worker_spawn`` narration on its stream."""
        return [e["target"] for e in self.stream.narration()
                if e["actor"] == "rbee-hive" and e["action"] == "worker_spawn"]


def _json(answer: httpx.Response, expect: int) -> dict[str, Any]:
    if answer.status_code != expect:
        raise ContractError(f"{answer.request.method} {answer.request.url} answered "
                            f"{answer.status_code} (expected {expect}): {answer.text[:300]}")
    return dict(answer.json())


def infer_body(model: str, prompt: str = "Hello bee", max_tokens: int = 16, temperature: float = 0.7,
               seed: int | None = None, hive_id: str | None = None, timeout_s: float | None = None) -> dict[str, Any]:
    """The body of ``POST /v1/jobs`` for an infer job (optional fields only when given)."""
    body: dict[str, Any] = {"operation": "infer", "model": model, "prompt": prompt, "max_tokens": max_tokens,
                            "temperature": temperature}
    optional = {"seed": seed, "hive_id": hive_id, "timeout_s": timeout_s}
    return body | {key: value for key, value in optional.items() if value is not None}


class QueenClient:
    def __init__(self, url: str, cluster_token: str = "") -> None:
        self.url = url
        self.cluster_token = cluster_token  # for calls only hives make (heartbeats); empty: no auth

    def post_job(self, body: dict[str, Any], headers: dict[str, str] | None = None) -> httpx.Response:
        """``POST /v1/jobs`` with *body*; queen's answer as it is (refusals included)."""
        return request("POST", f"{self.url}/v1/jobs", json=body, headers=headers or {}, timeout=10.0)

    def submit_infer(self, model: str, prompt: str = "Hello bee", max_tokens: int = 16,
                     seed: int | None = None, temperature: float = 0.7,
                     headers: dict[str, str] | None = None, hive_id: str | None = None,
                     timeout_s: float | None = None) -> SubmittedJob:
        """POST an infer job and start reading its stream at once."""
        body = infer_body(model, prompt, max_tokens, temperature, seed, hive_id, timeout_s)
        started = time.monotonic()
        answer = self.post_job(body, headers)
        created = _json(answer, 201)
        auth = {k: v for k, v in (headers or {}).items() if k.lower() == "authorization"}
        stream = JobStream(self.url + created["sse_url"], headers=auth).start()  # read as its submitter
        return SubmittedJob(created["job_id"], stream, started,
                            answer.headers.get("X-Correlation-ID", ""), body)

    def post_infer(self, model: str, hive_id: str | None = None) -> httpx.Response:
        """POST an infer job and return queen's answer as it is (for refusals)."""
        return self.post_job(infer_body(model, max_tokens=8, hive_id=hive_id))

    def create_infer(self, model: str, max_tokens: int, seed: int) -> tuple[str, str]:
        """POST an infer job without reading it: (job id, stream path)."""
        created = _json(self.post_job(infer_body(model, max_tokens=max_tokens, seed=seed)), 201)
        return str(created["job_id"]), str(created["sse_url"])

    def cancel(self, job_id: str) -> dict[str, Any]:
        return _json(request("DELETE", f"{self.url}/v1/jobs/{job_id}", timeout=10.0), 200)

    def job(self, job_id: str) -> JobRecord:
        return cast(JobRecord, _json(request("GET", f"{self.url}/v1/jobs/{job_id}", timeout=5.0), 200))

    def workers(self, **filters: str) -> list[QueenWorker]:
        answer = request("GET", f"{self.url}/v1/workers", params=filters, timeout=5.0)
        return cast(list[QueenWorker], list(_json(answer, 200)["workers"]))

    def health(self) -> Health:
        """``GET /health``; ``state`` says ``serving`` or ``draining``."""
        return cast(Health, _json(request("GET", f"{self.url}/health", timeout=2.0), 200))

    def hives(self) -> list[HiveRow]:
        return cast(list[HiveRow], list(_json(request("GET", f"{self.url}/v1/hives", timeout=5.0), 200)["hives"]))

    def post_heartbeat(self, body: dict[str, Any], authorization: str | None = None) -> httpx.Response:
        """Post a heartbeat as a hive would (with the cluster credential), or with *authorization* as given."""
        if authorization is None:
            authorization = f"Bearer {self.cluster_token}" if self.cluster_token else ""
        return request("POST", f"{self.url}/v1/hive-heartbeat", json=body, timeout=5.0,
                       headers={"Authorization": authorization})

    def ui_subscribers(self) -> int:
        return int(_json(request("GET", f"{self.url}/v1/heartbeats/subscribers", timeout=5.0), 200)["subscribers"])


class WorkerClient:
    def __init__(self, url: str) -> None:
        self.url = url

    def ready(self) -> WorkerReady:
        return cast(WorkerReady, _json(request("GET", f"{self.url}/v1/ready", timeout=5.0), 200))


class HiveClient:
    def __init__(self, url: str) -> None:
        self.url = url

    def workers(self) -> list[HiveWorker]:
        answer = request("GET", f"{self.url}/v1/workers", timeout=5.0)
        return cast(list[HiveWorker], list(_json(answer, 200)["workers"]))

    def health(self) -> Health:
        """``GET /health``; ``state`` says ``serving`` or ``draining``."""
        return cast(Health, _json(request("GET", f"{self.url}/health", timeout=2.0), 200))

    def capabilities(self) -> Capabilities:
        return cast(Capabilities, _json(request("GET", f"{self.url}/v1/capabilities", timeout=5.0), 200))

    def telemetry(self) -> Telemetry:
        """``GET /v1/telemetry``: a collection made now."""
        return cast(Telemetry, _json(request("GET", f"{self.url}/v1/telemetry", timeout=10.0), 200))

    def models(self) -> Models:
        return cast(Models, _json(request("GET", f"{self.url}/v1/models", timeout=5.0), 200))

    def worker(self, worker_id: str) -> HiveWorker:
        return cast(HiveWorker, _json(request("GET", f"{self.url}/v1/workers/{worker_id}", timeout=5.0), 200))

    def stop_worker(self, worker_id: str) -> HiveWorker:
        return cast(HiveWorker, _json(request("DELETE", f"{self.url}/v1/workers/{worker_id}", timeout=30.0), 200))

    def provision(self, name: str, url: str, sha256: str) -> httpx.Response:
        """Ask the hive to provision model *name* from *url*; its answer as it is (a download may take long)."""
        body = {"name": name, "url": url, "sha256": sha256}
        return request("POST", f"{self.url}/v1/models/provision", json=body, timeout=120.0)

    def follow_provision(self, name: str, url: str, sha256: str) -> JobStream:
        """Ask the hive to provision model *name*, reading its progress stream (``progress`` events,
        then ``done`` and ``[DONE]``, or ``[ERROR] CODE: message``) as it comes."""
        return JobStream(f"{self.url}/v1/models/provision", {"Accept": "text/event-stream"}, "POST",
                         {"name": name, "url": url, "sha256": sha256}).start()

    def spawn(self, model: str, **limits: str) -> httpx.Response:
        return request("POST", f"{self.url}/v1/workers", json={"model": model, **limits}, timeout=10.0)
