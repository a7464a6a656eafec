"""Errors in the SDK's shape: ``ValidationProblemDetails`` bodies, its status codes, no tracebacks.

The SDK answers bad input with 400 and an ASP.NET ``ValidationProblemDetails`` body::

    {"type": "https://tools.ietf.org/html/rfc9110#section-15.5.1",
     "title": "One or more validation errors occurred.", "status": 400,
     "detail": "...", "errors": {"location": ["..."]}}

Here every message is also lowcarb's one line naming the problem and the fix, keyed by the
parameter (query name or JSON field) it is about. Errors are caught by the router's own route
class (:class:`SdkRoute`), not by app-wide exception handlers, so the router keeps this shape in
any FastAPI app it is mounted in, whatever that app does with its own errors.

Status codes: 400 for bad input (unknown location, unparseable, inverted or oversized time
ranges, a malformed body, a period the data does not cover), 401 and 403 when the app the router
is mounted in refuses the caller (its dependency raises an ``HTTPException``), 413 for a body
over the size limit, 502 when a live provider fails, 500 for a bug (logged; the body names no
internals). Statuses other than 400 carry their own RFC 9110 ``type`` and ``title``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from fastapi import HTTPException, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute

from lowcarb.errors import ConfigError, LowcarbError, ProviderError

__all__ = ["BAD_REQUEST_TYPE", "SdkProblemError", "SdkRoute", "about", "problem_response"]

log = logging.getLogger(__name__)

#: The ``type`` ASP.NET gives validation problems (RFC 9110, 400 Bad Request).
BAD_REQUEST_TYPE = "https://tools.ietf.org/html/rfc9110#section-15.5.1"
_VALIDATION_TITLE = "One or more validation errors occurred."
#: ``type`` and ``title`` of each other status, as ASP.NET Core's ``ProblemDetailsDefaults``
#: writes them: the RFC 9110 section of the status and its reason phrase. (413 is not in that
#: table; its RFC 9110 section 15.5.14 name is "Content Too Large".)
_KNOWN: dict[int, tuple[str, str]] = {
    401: ("https://tools.ietf.org/html/rfc9110#section-15.5.2", "Unauthorized"),
    403: ("https://tools.ietf.org/html/rfc9110#section-15.5.4", "Forbidden"),
    404: ("https://tools.ietf.org/html/rfc9110#section-15.5.5", "Not Found"),
    405: ("https://tools.ietf.org/html/rfc9110#section-15.5.6", "Method Not Allowed"),
    413: ("https://tools.ietf.org/html/rfc9110#section-15.5.14", "Content Too Large"),
    500: ("https://tools.ietf.org/html/rfc9110#section-15.6.1", "InternalServerError"),
    502: ("https://tools.ietf.org/html/rfc9110#section-15.6.3", "Bad Gateway"),
}


class SdkProblemError(LowcarbError):
    """A problem to answer in the SDK's shape (an answer, raised inside the server only).

    Args:
        status: HTTP status code.
        detail: One line: what is wrong and how to fix it.
        errors: Messages per parameter (query name or JSON field); defaults to none.
        title: Short summary; defaults to ASP.NET's for the status.
        headers: Extra response headers (``WWW-Authenticate`` on 401).
    """

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        errors: Mapping[str, Sequence[str]] | None = None,
        title: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.errors = {k: list(v) for k, v in (errors or {}).items()}
        self.title = title or _KNOWN.get(status, ("", _VALIDATION_TITLE))[1]
        self.headers = dict(headers or {})

    @classmethod
    def bad(cls, key: str, message: str) -> SdkProblemError:
        """A 400 about one parameter."""
        return cls(400, message, errors={key: [message]})

    def body(self) -> dict[str, Any]:
        """The ``ValidationProblemDetails`` JSON object."""
        return {
            "type": _KNOWN.get(self.status, (BAD_REQUEST_TYPE, ""))[0],
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "errors": self.errors,
        }


def problem_response(problem: SdkProblemError) -> JSONResponse:
    """The response for ``problem`` (``application/problem+json`` is not used: the SDK's
    clients expect ``application/json``)."""
    return JSONResponse(problem.body(), status_code=problem.status, headers=problem.headers)


def _from_lowcarb(exc: LowcarbError, key: str | None) -> SdkProblemError:
    message = " ".join(str(exc).split())  # one line, always
    if isinstance(exc, ProviderError):
        return SdkProblemError(502, f"the live intensity provider failed: {message}")
    if isinstance(exc, ConfigError):
        return SdkProblemError(500, f"the server's data source is misconfigured: {message}")
    errors = {key: [message]} if key else None
    return SdkProblemError(400, message, errors=errors)


@contextmanager
def about(key: str) -> Iterator[None]:
    """Turn a lowcarb error raised in the block into a :class:`SdkProblemError` about ``key``."""
    try:
        yield
    except SdkProblemError:
        raise  # already an answer
    except LowcarbError as exc:
        raise _from_lowcarb(exc, key) from None


def _problem_for(exc: Exception, request: Request) -> SdkProblemError:
    if isinstance(exc, SdkProblemError):
        return exc
    if isinstance(exc, LowcarbError):
        return _from_lowcarb(exc, None)
    if isinstance(exc, HTTPException) and exc.status_code < 500:
        return SdkProblemError(exc.status_code, str(exc.detail), headers=exc.headers)
    if isinstance(exc, RequestValidationError):  # not raised by these routes; kept in shape
        return SdkProblemError(400, "the request does not validate; see the API's OpenAPI document")
    log.exception("internal error answering %s %s", request.method, request.url.path)
    return SdkProblemError(500, "internal error; the server log has the details")


class SdkRoute(APIRoute):
    """A route whose every failure is answered in the SDK's shape (never a traceback)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            try:
                return await handler(request)
            except Exception as exc:  # every failure becomes a problem body; bugs are logged
                return problem_response(_problem_for(exc, request))

        return guarded
