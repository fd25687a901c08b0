"""Every request's first stop: correlation id, body bounds, media type, credentials, audit.

A pure ASGI middleware, so streams pass through untouched. A refused request never reaches the
daemon's handlers, so nothing it would change is changed.
"""

from __future__ import annotations

import asyncio
import collections
import json
import re
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

from rbee.common.audit import AuditLog
from rbee.common.auth import OPEN, Authenticator, Denial, Principal
from rbee.common.connections import COUNTS, DEFAULT_BODY_TIMEOUT_S
from rbee.common.errors import error_body
from rbee.common.throttle import AuthFailureThrottle

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

CORRELATION_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
READ_METHODS = frozenset({"GET", "HEAD"})
DEFAULT_MAX_BODY = 1024 * 1024


@dataclass(frozen=True)
class Route:
    """What a request to ``method path`` (path a regex) needs, and its audit action (None: not audited)."""

    method: str
    path: str
    need: str
    action: str | None = None

    def matches(self, method: str, path: str) -> bool:
        return method == self.method and re.fullmatch(self.path, path) is not None


HEALTH = Route("GET", "/health", OPEN)


def correlation_id_of(header: str) -> str:
    """Trust a well-formed client id; mint one otherwise."""
    return header if CORRELATION_ID.match(header) else f"corr-{uuid.uuid4().hex}"


class Guard:
    """Wraps a daemon's ASGI app with its route table (unlisted: GETs need read, the rest admin)."""

    def __init__(self, app: ASGIApp, routes: list[Route], auth: Authenticator, audit: AuditLog,
                 max_body: int = DEFAULT_MAX_BODY, denials: collections.Counter[str] | None = None,
                 body_timeout_s: float = DEFAULT_BODY_TIMEOUT_S, throttle: AuthFailureThrottle | None = None) -> None:
        self.app = app
        self.denials = denials if denials is not None else collections.Counter()  # refusals by reason
        self.routes = [HEALTH, *routes]
        self.auth = auth
        self.audit = audit
        self.max_body = max_body
        self.body_timeout_s = body_timeout_s
        self.throttle = throttle if throttle is not None else AuthFailureThrottle()

    def route(self, method: str, path: str) -> Route:
        for route in self.routes:
            if route.matches(method, path):
                return route
        return Route(method, path, "read" if method in READ_METHODS else "admin")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        cid = correlation_id_of(headers.get("x-correlation-id", ""))
        scope["headers"] = [(k, v) for k, v in scope["headers"] if k.lower() != b"x-correlation-id"]
        scope["headers"].append((b"x-correlation-id", cid.encode()))
        method, path = scope["method"], scope["path"]
        route = self.route(method, path)
        client = "{}:{}".format(*scope["client"]) if scope.get("client") else ""
        address = str(scope["client"][0]) if scope.get("client") else ""
        if route.need != OPEN and (wait := self.throttle.retry_after(address)):
            self.denials["throttled"] += 1
            await respond(send, 429, error_body("TOO_MANY_AUTH_FAILURES", f"too many requests from this address "
                                                f"were refused for their credentials: try again in {wait} s", cid),
                          [(b"retry-after", str(wait).encode())])
            return
        found = self.auth.check(headers.get("authorization", ""), route.need)
        if isinstance(found, Denial):
            self.denials[found.reason] += 1
            if found.status == 401:
                self.throttle.failed(address)
            self.audit.record("auth", f"denied:{found.reason}", client=client, target=f"{method} {path}",
                              correlation_id=cid, status=found.status)
            challenge = 'Bearer realm="rbee"' if found.reason == "missing" else \
                f'Bearer realm="rbee", error="{"insufficient_scope" if found.status == 403 else "invalid_token"}"'
            code = "FORBIDDEN" if found.status == 403 else "UNAUTHENTICATED"
            await respond(send, found.status, error_body(code, found.message, cid, reason=found.reason),
                          [(b"www-authenticate", challenge.encode())])
            return
        scope.setdefault("state", {})["principal"] = found
        if method in BODY_METHODS:
            refusal = media_refusal(headers, self.max_body)
            if refusal is not None:
                status, code, message = refusal
                await respond(send, status, error_body(code, message, cid))
                return
            try:
                body = await asyncio.wait_for(read_body(receive, self.max_body), self.body_timeout_s)
            except TimeoutError:
                COUNTS.body_timeouts += 1
                await respond(send, 408, error_body("REQUEST_TIMEOUT", f"the body did not arrive within "
                                                    f"{self.body_timeout_s:g} s", cid), [(b"connection", b"close")])
                return
            if body is None:
                await respond(send, 413, error_body("BODY_TOO_LARGE", f"the body is over {self.max_body} bytes", cid))
                return
            receive = replay(body, receive)
        if route.action is None:
            await self.app(scope, receive, send)
            return
        await self._audited(scope, receive, send, route.action, found, client, cid)

    async def _audited(self, scope: Scope, receive: Receive, send: Send, action: str, principal: Principal,
                       client: str, cid: str) -> None:
        """Pass the request on, and record it with its status and the id it acted on before the answer's
        last bytes go out: whoever got the answer finds the record there."""
        seen: dict[str, Any] = {"status": 0, "body": b"", "recorded": False}

        def record() -> None:
            seen["recorded"] = True
            status = seen["status"]
            self.audit.record(action, "ok" if 200 <= status < 300 else f"refused:{status}" if status else "aborted",
                              principal=principal.name, client=client, correlation_id=cid,
                              target=target_of(scope["path"], seen["body"]), status=status)

        async def watch(message: Message) -> None:
            if message["type"] == "http.response.start":
                seen["status"] = message["status"]
            elif message["type"] == "http.response.body":
                if len(seen["body"]) < 65536:
                    seen["body"] += message.get("body", b"")
                if not message.get("more_body", False) and not seen["recorded"]:
                    record()
            await send(message)

        try:
            await self.app(scope, receive, watch)
        finally:
            if not seen["recorded"]:
                record()


def target_of(path: str, body: bytes) -> str:
    """What a request acted on: the id its answer names, else its path."""
    try:
        answer = json.loads(body) if body else {}
    except ValueError:
        answer = {}
    if isinstance(answer, dict):
        for key in ("job_id", "worker_id", "name", "hive_id"):
            if isinstance(answer.get(key), str):
                return f"{key}={answer[key]}"
    return path


def media_refusal(headers: dict[str, str], max_body: int) -> tuple[int, str, str] | None:
    """415 for a body that is not JSON; 413 when its declared length is over the bound."""
    length = headers.get("content-length", "")
    if length.isdigit() and int(length) > max_body:
        return 413, "BODY_TOO_LARGE", f"the body is over {max_body} bytes"
    has_body = (length.isdigit() and int(length) > 0) or "transfer-encoding" in headers
    media = headers.get("content-type", "").split(";")[0].strip().lower()
    if has_body and media != "application/json":
        return 415, "UNSUPPORTED_MEDIA_TYPE", "the body must be JSON (Content-Type: application/json)"
    return None


async def read_body(receive: Receive, limit: int) -> bytes | None:
    """The whole request body, or None once it grows past *limit* (a chunked one has no declared length)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def replay(body: bytes, receive: Receive) -> Receive:
    """A receive that gives *body* once, then whatever the server's gives (the disconnect)."""
    sent = False

    async def replaying() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replaying


async def respond(send: Send, status: int, body: dict[str, Any],
                  extra_headers: list[tuple[bytes, bytes]] | None = None) -> None:
    payload = json.dumps(body).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode()),
               *(extra_headers or [])]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})
