"""HTTP from the harness without per-request set-up cost.

A new httpx client loads the CA bundle into a fresh TLS context (~50 ms of CPU); one shared
context makes a client cost ~0.3 ms, so timings the suite takes measure the stack, not us.

Requests carry the bearer token registered for their origin (the scenario's queen, hives and
workers, see ``authorize``), unless the caller gives an ``Authorization`` header itself; an
empty one sends none.
"""

from __future__ import annotations

import functools
import socket
import ssl
from typing import Any
from urllib.parse import urlsplit

import httpx

_bearer: dict[str, str] = {}  # origin ("host:port") -> token
_tls_names: dict[str, str] = {}  # host -> the name its certificates carry, for an address they do not name


def origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.hostname}:{parts.port}"


def authorize(url: str, token: str) -> None:
    """Send ``Authorization: Bearer token`` with every request to *url*'s origin from now on."""
    if token:
        _bearer[origin(url)] = token


def name_for_tls(url: str, name: str) -> None:
    """Check the certificates served at *url*'s host against *name* (a container reached by its address
    on the run's network, which no certificate names: its address is known only once it runs; the
    workers of a hive's container serve under the hive's names)."""
    _tls_names[urlsplit(url).hostname or ""] = name


def tls_name(url: str) -> str:
    """The name to check *url*'s certificate against: the one registered for its host, else its host."""
    host = urlsplit(url).hostname or ""
    return _tls_names.get(host) or host


def forget_credentials() -> None:
    """The scenario ended: its tokens are sent nowhere any more, and its CA trusted no more."""
    _bearer.clear()
    _scenario_tls.clear()
    _tls_names.clear()


class NamedTLSTransport(httpx.HTTPTransport):
    """httpx's transport, checking each origin's certificate against the name registered for it."""

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        name_tls(request)
        return super().handle_request(request)


class AsyncNamedTLSTransport(httpx.AsyncHTTPTransport):
    """The same for httpx's asynchronous client."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        name_tls(request)
        return await super().handle_async_request(request)


def name_tls(request: httpx.Request) -> None:
    """Give an https request to a registered origin the name its certificate carries (SNI and the check)."""
    name = _tls_names.get(request.url.host)
    if name and request.url.scheme == "https":
        request.extensions = {**request.extensions, "sni_hostname": name}


def with_credentials(url: str, headers: dict[str, str] | None) -> dict[str, str]:
    """*headers* plus the origin's bearer token, unless they say otherwise (an empty value: none)."""
    given = dict(headers or {})
    named = [key for key in given if key.lower() == "authorization"]
    if named:
        return {k: v for k, v in given.items() if k not in named or v}
    token = _bearer.get(origin(url))
    return {**given, "Authorization": f"Bearer {token}"} if token else given


@functools.cache
def _system_tls() -> ssl.SSLContext:
    return ssl.create_default_context()


_scenario_tls: list[ssl.SSLContext] = []  # the scenario's CA, while its stack runs over TLS


def trust(ca_pem: bytes) -> None:
    """Verify HTTPS peers against the scenario's CA (alone) until ``forget_credentials``."""
    _scenario_tls[:] = [ssl.create_default_context(cadata=ca_pem.decode())]


def tls() -> ssl.SSLContext:
    """What the harness's HTTPS requests verify with: the scenario's CA, else the system's."""
    return _scenario_tls[0] if _scenario_tls else _system_tls()


def open_socket(url: str, receive_buffer: int = 0, timeout: float = 10.0) -> socket.socket:
    """A raw connection to *url*'s origin (TLS-wrapped and verified for ``https``), for clients that write
    HTTP by hand; *receive_buffer* sets SO_RCVBUF before connecting (0: the system's)."""
    parts = urlsplit(url)
    host = parts.hostname or "127.0.0.1"
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        if receive_buffer:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        sock.settimeout(timeout)
        sock.connect((host, parts.port or (443 if parts.scheme == "https" else 80)))
        if parts.scheme == "https":
            sock = tls().wrap_socket(sock, server_hostname=tls_name(url))
        sock.settimeout(None)
    except BaseException:
        sock.close()
        raise
    return sock


def client(timeout: httpx.Timeout | float = 10.0) -> httpx.Client:
    return httpx.Client(transport=NamedTLSTransport(verify=tls()), timeout=timeout, trust_env=False)


def request(method: str, url: str, timeout: float = 10.0, headers: dict[str, str] | None = None,
            **kwargs: Any) -> httpx.Response:
    with client(timeout) as session:
        return session.request(method, url, headers=with_credentials(url, headers), **kwargs)
