"""Two pure-ASGI wrappers around the app: the body-size limit and per-request observation."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from typing import Any

from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

__all__ = ["Asgi", "error_response", "is_predict_path", "limit_body", "observe", "require_json"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Asgi = Callable[[Scope, Receive, Send], Awaitable[None]]

#: Key in the request's ``state`` where the route leaves the stage label for :func:`observe`.
STAGE_KEY = "lowcarb_stage"


def error_response(status: int, loc: Sequence[str | int], msg: str, kind: str) -> JSONResponse:
    """An error in FastAPI's validation shape: ``{"detail": [{"loc", "msg", "type"}]}``."""
    return JSONResponse({"detail": [{"loc": list(loc), "msg": msg, "type": kind}]}, status)


def limit_body(app: Asgi, max_bytes: int) -> Asgi:
    """413 for a body over ``max_bytes``: by its Content-Length, and counted while reading."""

    async def limited(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        length = dict(scope.get("headers", ())).get(b"content-length")
        if length is not None:
            if not length.isdigit():
                await _send(send, 400, ["header", "content-length"], "not a number", "header")
                return
            if int(length) > max_bytes:
                await _send(send, 413, ["body"], _too_large(max_bytes), "body_too_large")
                return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > max_bytes:
                    raise HTTPException(413, _too_large(max_bytes))
            return message

        await app(scope, counted, send)

    return limited


def is_predict_path(path: str) -> bool:
    """``/predict`` or ``/models/{name}/predict``."""
    return path == "/predict" or (path.startswith("/models/") and path.endswith("/predict"))


def require_json(app: Asgi) -> Asgi:
    """415 for a prediction body sent as anything but JSON (``curl -d`` sends a form type)."""

    async def checked(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and is_predict_path(scope.get("path", "")):
            kind = dict(scope.get("headers", ())).get(b"content-type", b"")
            media = kind.split(b";", 1)[0].strip().lower()
            if media != b"application/json" and not media.endswith(b"+json"):
                shown = media.decode("latin-1")[:100] or "none"
                msg = (
                    f"the body must be JSON, sent with Content-Type: application/json (got "
                    f"{shown}); with curl, add -H 'content-type: application/json' or use --json"
                )
                await _send(send, 415, ["header", "content-type"], msg, "unsupported_media_type")
                return
        await app(scope, receive, send)

    return checked


def _too_large(max_bytes: int) -> str:
    return f"the body is larger than the limit of {max_bytes} bytes; send fewer rows per request"


async def _send(send: Send, status: int, loc: list[str], msg: str, kind: str) -> None:
    response = error_response(status, loc, msg, kind)
    await send({"type": "http.response.start", "status": status, "headers": response.raw_headers})
    await send({"type": "http.response.body", "body": response.body})


def observe(app: Asgi, done: Callable[[str | None, int, float], None]) -> Asgi:
    """Call ``done(stage, status code, seconds)`` after every prediction request, whoever answered.

    ``stage`` is what the route left in the request state under :data:`STAGE_KEY` (None when the
    request never reached the route: a body refused by size, or one that did not validate).
    """

    async def observed(scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if not is_predict_path(path):
            await app(scope, receive, send)
            return
        start = time.perf_counter()
        code = 500

        async def record(message: Message) -> None:
            nonlocal code
            if message["type"] == "http.response.start":
                code = int(message["status"])
            await send(message)

        try:
            await app(scope, receive, record)
        finally:
            stage = scope.get("state", {}).get(STAGE_KEY)
            done(stage, code, time.perf_counter() - start)

    return observed
