"""One request sent as a client would, its answer and what it sent kept in the scenario's World."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from rbee_bdd.clients.http import request, with_credentials
from rbee_bdd.clients.security import authorization, secret_part
from rbee_bdd.runner.world import StepContext, noted


def probe(context: StepContext, method: str, url: str, credential_words: str | None = None,
          **kwargs: Any) -> httpx.Response:
    """Send one request as a client would; keep the answer, the secret sent and any error body."""
    world = context.world
    headers = dict(kwargs.pop("headers", {}))
    if credential_words is not None:
        credentials = noted(context.stack.credentials, "credentials")
        world.probe.sent_authorization = authorization(credential_words, credentials)
    else:  # what the harness sends that daemon (queen: the admin token; hives, workers: the cluster's)
        world.probe.sent_authorization = with_credentials(url, {}).get("Authorization", "")
    headers["Authorization"] = world.probe.sent_authorization
    world.probe.sent_cid = f"bdd-probe-{uuid.uuid4().hex[:12]}"
    headers["X-Correlation-ID"] = world.probe.sent_cid
    world.probe.answer = request(method, url, headers=headers, timeout=30.0, **kwargs)
    if world.probe.answer.status_code >= 400:
        world.probe.refused_secrets.append(secret_part(world.probe.sent_authorization))
        world.probe.error_bodies.append(world.probe.answer.text)
    return world.probe.answer
