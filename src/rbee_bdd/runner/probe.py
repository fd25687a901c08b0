"""One request sent as a client would, its answer and what it sent kept in the scenario's World."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from rbee_bdd.http import request, with_credentials
from rbee_bdd.security import authorization, secret_part
from rbee_bdd.world import StepContext, noted


def probe(context: StepContext, method: str, url: str, credential_words: str | None = None,
          **kwargs: Any) -> httpx.Response:
    """Send one request as a client would; keep the answer, the secret sent and any error body."""
    world = context.world
    headers = dict(kwargs.pop("headers", {}))
    if credential_words is not None:
        world.sent_authorization = authorization(credential_words, noted(context.stack.credentials, "credentials"))
    else:  # what the harness sends that daemon (queen: the admin token; hives, workers: the cluster's)
        world.sent_authorization = with_credentials(url, {}).get("Authorization", "")
    headers["Authorization"] = world.sent_authorization
    world.sent_cid = f"bdd-probe-{uuid.uuid4().hex[:12]}"
    headers["X-Correlation-ID"] = world.sent_cid
    world.answer = request(method, url, headers=headers, timeout=30.0, **kwargs)
    if world.answer.status_code >= 400:
        world.refused_secrets.append(secret_part(world.sent_authorization))
        world.error_bodies.append(world.answer.text)
    return world.answer
