"""The request body bound: no route reads more than ``max_bytes`` of a body, however it is sent.

A client may declare its size (``Content-Length``) or not (``Transfer-Encoding: chunked``), and
may declare less than it sends; so the bound is kept on the bytes actually received, as the
route reads them. :class:`BodyLimit` wraps the ASGI ``receive`` of every request: a declared
length past the bound, or a running count that passes it, raises :class:`BodyTooLargeError` in
the route that is reading, before the rest is read. That error is an ``HTTPException`` (413),
so each route answers it in its own shape: the dashboard's one-line JSON (or HTML page), the
Carbon Aware API's ``ValidationProblemDetails``. Should one escape the app before a response
has started, the middleware answers it with ``respond``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from fastapi import HTTPException
from starlette.requests import Request
from starlette.responses import Response

__all__ = ["BodyLimit", "BodyTooLargeError"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class BodyTooLargeError(HTTPException):
    """A request body past the bound: 413.

    A :class:`fastapi.HTTPException`, so FastAPI's own body parsing lets it through unchanged
    (it turns other exceptions raised while reading into a 400).

    Args:
        max_bytes: The bound, bytes.
    """

    def __init__(self, max_bytes: int) -> None:
        super().__init__(413, f"the request body is over {max_bytes:,} bytes; send less")
        self.max_bytes = max_bytes


def _declared_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers") or []:
        if name == b"content-length":
            return int(value) if value.isdigit() else None
    return None


class BodyLimit:
    """ASGI middleware: at most ``max_bytes`` of any request body is read (see the module
    docstring).

    Args:
        app: The wrapped ASGI app.
        max_bytes: The bound, bytes (> 0).
        respond: Builds the 413 response when a :class:`BodyTooLargeError` escapes the app
            before it started answering.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_bytes: int,
        respond: Callable[[Request, BodyTooLargeError], Response],
    ) -> None:
        if max_bytes <= 0:
            raise ValueError(f"max_bytes must be > 0, got {max_bytes!r}")
        self.app = app
        self.max_bytes = max_bytes
        self.respond = respond

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _declared_length(scope)
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            if declared is not None and declared > self.max_bytes:
                raise BodyTooLargeError(self.max_bytes)  # read none of it
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLargeError(self.max_bytes)
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, watched_send)
        except BodyTooLargeError as exc:
            if started:
                raise
            response = self.respond(Request(scope), exc)
            await response(scope, receive, send)
