"""HTTP from the harness without per-request set-up cost.

A new httpx client loads the CA bundle into a fresh TLS context (~50 ms of CPU); one shared
context makes a client cost ~0.3 ms, so timings the suite takes measure the stack, not us.
"""

from __future__ import annotations

import functools
import ssl
from typing import Any

import httpx


@functools.cache
def tls() -> ssl.SSLContext:
    return ssl.create_default_context()


def client(timeout: httpx.Timeout | float = 10.0) -> httpx.Client:
    return httpx.Client(verify=tls(), timeout=timeout, trust_env=False)


def request(method: str, url: str, timeout: float = 10.0, **kwargs: Any) -> httpx.Response:
    with client(timeout) as session:
        return session.request(method, url, **kwargs)
