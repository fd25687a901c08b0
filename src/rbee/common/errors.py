"""Structured errors: every failure answers ``{"error": {"code", "message", "correlation_id"}}``.

An error body never carries a traceback, a filesystem path or an internal address: messages are
scrubbed of both before they go out (the daemon's log keeps the full story).
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from rbee.common.scrub import scrub

log = logging.getLogger("rbee.errors")


class RbeeError(Exception):
    """An error with a stable machine-readable code and an HTTP status."""

    def __init__(self, code: str, message: str, status: int = 400, headers: dict[str, str] | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status
        self.headers = headers or {}  # e.g. Retry-After with a 429 or 503


def error_body(code: str, message: str, correlation_id: str = "", **extra: str) -> dict[str, dict[str, str]]:
    scrubbed = {key: scrub(value) for key, value in extra.items()}
    return {"error": {"code": code, "message": scrub(message), "correlation_id": correlation_id, **scrubbed}}


def _cid(request: Request) -> str:
    return request.headers.get("x-correlation-id", "")


FIELD_LIMIT = 64  # a field's name as echoed back: a client's unknown key may be of any length


def _field_name(loc: list[object]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    name = ".".join(parts) or "body"
    return scrub(name if len(name) <= FIELD_LIMIT else name[:FIELD_LIMIT] + "…")


# FastAPI's 400 for a body that its JSON parser gave up on with anything but a JSONDecodeError
BODY_PARSE_FAILED = "There was an error parsing the body"


def install_error_handlers(app: FastAPI) -> None:
    """Make *app* answer every error with the structured JSON body, never a traceback."""

    @app.exception_handler(RbeeError)
    async def _rbee(request: Request, exc: RbeeError) -> JSONResponse:
        return JSONResponse(error_body(exc.code, exc.message, _cid(request)), status_code=exc.status,
                            headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors: list[Any] = list(exc.errors())
        first = errors[0] if errors else {"loc": (), "msg": "invalid request"}
        if first.get("type") == "json_invalid":
            return JSONResponse(error_body("MALFORMED_JSON", "the body is not valid JSON", _cid(request)),
                                status_code=400)
        field = _field_name(list(first.get("loc", ())))
        message = f"{field}: {first.get('msg', 'invalid')}"
        return JSONResponse(error_body("INVALID_REQUEST", message, _cid(request), field=field), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400 and exc.detail == BODY_PARSE_FAILED:  # invalid UTF-8, too deep, huge numbers
            return JSONResponse(error_body("MALFORMED_JSON", "the body is not valid JSON", _cid(request)),
                                status_code=400)
        code = "NOT_FOUND" if exc.status_code == 404 else f"HTTP_{exc.status_code}"
        return JSONResponse(error_body(code, str(exc.detail), _cid(request)), status_code=exc.status_code,
                            headers=exc.headers)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.error("internal error: %s: %s correlation_id=%s", type(exc).__name__, exc, _cid(request))
        return JSONResponse(error_body("INTERNAL", "internal error; the daemon's log has the details",
                                       _cid(request)), status_code=500)
