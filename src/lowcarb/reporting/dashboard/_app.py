"""The dashboard app: pages, their JSON twins, the Carbon Aware API, tokens, static files.

Every page is ``GET /<page>`` (HTML; ``?format=json`` for its JSON) and ``GET /api/<page>``
(JSON, in the OpenAPI document). Pages: ``/`` (overview), ``/teams`` and ``/teams/{team}``,
``/models``, ``/runs`` (the records behind any figure), ``/records/{id}``, ``/jobs``,
``/decisions``, ``/grid``, ``/tokens`` (admin). Writes: ``POST /api/records/{id}/notes``
(``write`` scope) and ``POST /api/tokens/{id}/revoke`` (admin; also a form on ``/tokens``).
``/emissions/...`` is the Carbon Aware SDK-compatible API over the same grid data, and
``/health`` its health check.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import Response

from lowcarb.errors import UsageError
from lowcarb.grid import IntensitySource
from lowcarb.jobs import JobStore
from lowcarb.ledger import TokenStore, open_engine, open_ledger
from lowcarb.reporting.carbonaware import (
    SdkProblemError,
    carbon_aware_router,
    carbon_aware_source,
    health_router,
    problem_response,
)
from lowcarb.reporting.dashboard._auth import Access
from lowcarb.reporting.dashboard._errors import DashboardError
from lowcarb.reporting.dashboard._limits import BodyLimit, BodyTooLargeError
from lowcarb.reporting.dashboard._responses import (
    MAX_BODY_BYTES,
    SecurityHeaders,
    error_response,
    install_handlers,
)
from lowcarb.reporting.dashboard._rollup import DailyRollup
from lowcarb.reporting.dashboard._routes import add_routes
from lowcarb.reporting.dashboard._service import Dashboard

__all__ = ["create_dashboard_app"]

Clock = Callable[[], datetime]
#: Where the Carbon Aware SDK-compatible router is mounted (its errors have the SDK's shape).
SDK_PREFIX = "/emissions"


def _too_large(request: Request, exc: BodyTooLargeError) -> Response:
    """A 413 that escaped a route, in the shape of the path's API."""
    path = request.url.path
    if path == SDK_PREFIX or path.startswith(SDK_PREFIX + "/"):
        return problem_response(SdkProblemError(413, str(exc.detail)))
    return error_response(request, DashboardError(413, str(exc.detail)))


def _utc_now() -> datetime:
    return datetime.now(UTC)


def create_dashboard_app(
    ledger_url: str | None = None,
    *,
    trace: str | Path | None = None,
    clock: Clock = _utc_now,
    environ: Mapping[str, str] = os.environ,
    host: str = "127.0.0.1",
    source: IntensitySource | None = None,
) -> FastAPI:
    """The dashboard over the ledger at ``ledger_url`` (see the module docstring).

    Args:
        ledger_url: Ledger URL; default ``$LOWCARB_LEDGER``, the config file, or the default.
            The ledger must exist; its schema is upgraded to the head (tokens, rollup) first.
        trace: A grid trace for the grid view and the Carbon Aware API (default: the embedded
            month x hour profile, labelled estimated).
        clock: Returns now, timezone-aware (default periods, token expiry, "now" of the grid).
        environ: Environment (``LOWCARB_LEDGER``).
        host: The address the app will be bound to: anonymous access needs a loopback one and
            a ledger without tokens.
        source: An intensity source to use instead of ``trace`` (tests; a live provider, from
            :func:`lowcarb.reporting.carbonaware.carbon_aware_source` with ``provider=``).

    Raises:
        LedgerError: No ledger at the URL, or it cannot be opened.
        UsageError: Both ``trace`` and ``source`` given.
        TraceFormatError: The trace cannot be read.
    """
    if trace is not None and source is not None:
        raise UsageError("give the dashboard a trace or a source, not both")
    grid = source if source is not None else carbon_aware_source(trace)
    open_engine(ledger_url, environ=environ, create=False).dispose()  # it must exist
    ledger = open_ledger(ledger_url, environ=environ, create=True)  # ... at the head schema
    try:
        tokens = TokenStore(ledger.engine, clock=clock)
        d = Dashboard(
            ledger=ledger,
            rollup=DailyRollup(ledger.engine),
            tokens=tokens,
            jobs=JobStore(ledger.engine, clock=clock),
            source=grid,
            access=Access(tokens, host=host),
            clock=clock,
        )
    except BaseException:
        ledger.close()
        raise

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            d.close()

    app = FastAPI(
        title="lowcarb dashboard",
        description=(
            "Who emitted what, from the lowcarb ledger: figures per period, team, project, "
            "model; the records behind them; jobs, decisions and the grid. Send "
            "`Authorization: Bearer lcb_...` (`lowcarb tokens create`). The Carbon Aware "
            "SDK-compatible API is under /emissions."
        ),
        version="1.0",
        lifespan=lifespan,
    )
    app.state.dashboard = d
    app.add_middleware(BodyLimit, max_bytes=MAX_BODY_BYTES, respond=_too_large)
    app.add_middleware(SecurityHeaders)  # added last: outermost, so on every response
    install_handlers(app)
    add_routes(app, d)

    def emissions_access(request: Request) -> None:
        try:
            d.access.principal(request)
        except DashboardError as exc:  # in the SDK's problem shape (with the status's RFC 9110
            # type and title), through the router's route class
            raise HTTPException(exc.status, exc.detail, headers=exc.headers) from None

    app.include_router(
        carbon_aware_router(grid, clock=clock), dependencies=[Depends(emissions_access)]
    )
    app.include_router(health_router())  # the SDK's /health, open like /healthz
    return app
