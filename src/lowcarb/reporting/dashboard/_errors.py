"""What the dashboard answers when it cannot answer: a status and one line, never a traceback.

Bad input is the client's: 400 (unparseable, inverted or oversized periods, malformed names or
parameters), 401 (no token, a malformed, unknown, revoked or expired one), 403 (a token that
may not do this: another team's records, a write without the ``write`` scope, an admin page),
404 (an unknown team, project, zone or record, and other teams' records: their existence is not
revealed), 405, 413. A ledger that cannot be read is 503. Bodies are JSON
``{"detail": "...", "status": N, "param": "since"}`` for ``/api/...`` and ``?format=json``, an
HTML page otherwise. Anything else is a bug: 500, logged, with no internals in the body.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lowcarb.errors import (
    ConfigError,
    DataError,
    ForecastError,
    LedgerError,
    LowcarbError,
    MissingDependencyError,
    ProviderError,
    UnknownNameError,
    UsageError,
)

__all__ = ["DashboardError", "status_for"]


class DashboardError(LowcarbError):
    """An answer other than 200, with its one-line reason (raised inside the server only;
    its handler is found before the one for other lowcarb errors).

    Args:
        status: HTTP status code.
        detail: What is wrong and how to fix it, one line.
        param: The query parameter (or path part) it is about, if any.
        headers: Extra response headers (``WWW-Authenticate`` on 401).
    """

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        param: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = " ".join(detail.split())
        self.param = param
        self.headers = dict(headers or {})

    def body(self) -> dict[str, Any]:
        """The JSON body."""
        out: dict[str, Any] = {"detail": self.detail, "status": self.status}
        if self.param is not None:
            out["param"] = self.param
        return out


def status_for(exc: LowcarbError) -> int:
    """The HTTP status of a lowcarb error raised while answering."""
    if isinstance(exc, UnknownNameError):
        return 404
    if isinstance(exc, UsageError | DataError):
        return 400
    if isinstance(exc, ForecastError):
        return 404  # no data for that zone and time
    if isinstance(exc, ProviderError):
        return 502
    if isinstance(exc, LedgerError):
        return 503
    if isinstance(exc, ConfigError | MissingDependencyError):
        return 500
    return 500


def from_lowcarb(exc: LowcarbError, *, param: str | None = None) -> DashboardError:
    """A :class:`DashboardError` for a lowcarb error (its message is already one line)."""
    status = status_for(exc)
    detail = str(exc)
    if isinstance(exc, LedgerError) and status == 503:
        detail = f"the ledger cannot be read now: {detail}"
    return DashboardError(status, detail, param=param)
