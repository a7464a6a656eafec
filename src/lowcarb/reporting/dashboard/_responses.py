"""Turning a page (or a refusal) into a response: HTML for browsers, JSON for ``/api`` and
``?format=json``; security headers on every response; the bound on request bodies (kept by
:class:`~lowcarb.reporting.dashboard._limits.BodyLimit`).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from lowcarb._text import plain
from lowcarb.errors import LowcarbError
from lowcarb.reporting.dashboard._errors import DashboardError, from_lowcarb
from lowcarb.reporting.dashboard._html import render_message
from lowcarb.reporting.dashboard._static import CSP

__all__ = [
    "ERROR_RESPONSES",
    "MAX_BODY_BYTES",
    "ErrorBody",
    "SecurityHeaders",
    "error_response",
    "install_handlers",
    "wants_json",
]

log = logging.getLogger(__name__)

#: Largest request body a write accepts, bytes.
MAX_BODY_BYTES = 64 * 1024


class ErrorBody(BaseModel):
    """Every refusal: one line saying what is wrong and how to fix it."""

    detail: str
    status: int
    param: str | None = None


def _described(text: str) -> dict[str, Any]:
    return {"model": ErrorBody, "description": text}


#: The refusals every dashboard API operation may answer (its OpenAPI ``responses``).
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: _described("Bad input: an unparseable, inverted or oversized period, a bad name."),
    401: _described("No token, or a malformed, unknown, revoked or expired one."),
    403: _described("The token may not do this (another team, a missing scope)."),
    404: _described("No such team, project, model, zone or record (that this token can read)."),
    503: _described("The ledger cannot be read now."),
}


def wants_json(request: Request) -> bool:
    """JSON for ``/api/...`` and ``?format=json``; HTML for the rest."""
    return request.url.path.startswith("/api/") or request.query_params.get("format") == "json"


def error_response(request: Request, problem: DashboardError) -> Response:
    """The response for a refusal, in the shape the client asked for."""
    headers = dict(problem.headers)
    if wants_json(request):
        return JSONResponse(problem.body(), status_code=problem.status, headers=headers)
    who = getattr(request.state, "principal", None)
    links = [("Sign in with a token", "/login")] if problem.status == 401 else [("Overview", "/")]
    html = render_message(f"{problem.status}", problem.detail, who=who, links=links)
    return HTMLResponse(html, status_code=problem.status, headers=headers)


def _validation_message(exc: RequestValidationError) -> tuple[str, str | None]:
    errors = exc.errors()
    if not errors:
        return "the request does not validate; see /openapi.json", None
    first = errors[0]
    loc = [str(p) for p in first.get("loc", ()) if p not in ("query", "path", "body")]
    where = loc[-1] if loc else None
    where_text = f"{'.'.join(loc)}: " if loc else ""
    msg = plain(str(first.get("msg", "invalid")))[:200]
    more = f" (and {len(errors) - 1} more problem(s))" if len(errors) > 1 else ""
    return f"{where_text}{msg}{more}; see /openapi.json for the allowed values", where


def install_handlers(app: FastAPI) -> None:
    """Answer every failure with a status and one line (see ``_errors``), never a traceback."""

    @app.exception_handler(DashboardError)
    async def _dashboard(request: Request, exc: DashboardError) -> Response:
        return error_response(request, exc)

    @app.exception_handler(LowcarbError)
    async def _lowcarb(request: Request, exc: LowcarbError) -> Response:
        return error_response(request, from_lowcarb(exc))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        message, where = _validation_message(exc)
        return error_response(request, DashboardError(400, message, param=where))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        detail = str(exc.detail)
        if exc.status_code == 404:
            detail = f"no page at {plain(request.url.path)[:200]!r}; start from the overview (/)"
        elif exc.status_code == 405:
            detail = f"{request.method} is not allowed on {plain(request.url.path)[:200]!r}"
        return error_response(
            request, DashboardError(exc.status_code, detail, headers=exc.headers or {})
        )

    @app.exception_handler(Exception)
    async def _bug(request: Request, exc: Exception) -> Response:
        log.exception("internal error answering %s %s", request.method, request.url.path)
        return error_response(
            request, DashboardError(500, "internal error; the server log has the details")
        )


Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
    (b"content-security-policy", CSP.encode()),
]


class SecurityHeaders:
    """ASGI middleware: security headers on every response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *_HEADERS]
            await send(message)

        await self.app(scope, receive, with_headers)
