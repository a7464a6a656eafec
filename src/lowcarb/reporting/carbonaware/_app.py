"""The data source, chosen as the dashboard chooses it, the SDK's health check, and an app.

:func:`carbon_aware_source`: a live provider when one is named (Electricity Maps, whose zones are
the API's; or the UK Carbon Intensity API, for GB); else a trace file when one is configured
(Electricity Maps data-portal, wide or two-column CSV), forecast by a model of lowcarb's registry;
else the embedded month x hour-of-day profile table (offline, labelled ``estimated``). Never a
silent fallback: the source of every number is in the response's ``X-Lowcarb-Source`` header (a
live provider that fails falls back to the profile, labelled so there).

:func:`health_router`: ``GET /health``, the SDK WebAPI's ASP.NET health check (200,
``text/plain`` ``Healthy``), which its deployments probe.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import PlainTextResponse

from lowcarb.errors import UsageError
from lowcarb.grid import (
    IntensitySource,
    Scope,
    TraceIntensitySource,
    load_trace_table,
    lookup_zone,
    make_forecaster,
    open_provider,
)
from lowcarb.reporting.carbonaware._params import CarbonAwareLimits
from lowcarb.reporting.carbonaware._router import Clock, carbon_aware_router
from lowcarb.scheduling import ProfileSource, ZoneSources

__all__ = ["carbon_aware_source", "create_carbon_aware_app", "health_router"]


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _live(provider: str, environ: Mapping[str, str]) -> IntensitySource:
    if provider == "watttime":
        raise UsageError(
            "WattTime names its grid regions by its own codes (CAISO_NORTH), and the API's "
            "locations (Azure regions, zone ids, cloud regions) are Electricity Maps zones: use "
            "--provider electricitymaps (or ukci, for GB)"
        )
    source = open_provider(provider, environ)
    if provider == "ukci":  # it knows Great Britain only: other zones are a 400, not a fallback
        return ZoneSources({"GB": source})
    return source


def carbon_aware_source(
    trace: str | Path | None = None,
    *,
    model: str = "profile-blend",
    zone: str | None = None,
    scope: Scope = "lifecycle",
    tz: str | None = None,
    provider: str | None = None,
    environ: Mapping[str, str] = os.environ,
) -> IntensitySource:
    """The API's data: a live provider or a trace file when given, else the embedded profile.

    Args:
        trace: A trace CSV (any of the three formats), or None for the embedded profile.
        model: The forecast model for a trace (a name of :func:`lowcarb.grid.forecaster_names`).
        zone: The zone a two-column (``time,value``) trace holds; other traces name their zones.
        scope: For Electricity Maps files, which column to read.
        tz: Time zone of naive timestamps in the trace (see :func:`lowcarb.grid.load_trace`).
        provider: A live provider instead of a trace: ``electricitymaps`` (every zone) or
            ``ukci`` (GB only); see :func:`lowcarb.grid.open_provider`.
        environ: Where the provider's credentials are read (``ELECTRICITYMAPS_API_TOKEN``).

    Raises:
        TraceFormatError: The trace cannot be read.
        InvalidValueError: Unknown model.
        UsageError: A two-column trace without ``zone``, or ``zone`` with another format; a
            trace and a provider both; an unknown provider, ``watttime`` (its region codes are
            not the API's locations), or missing credentials.
        UnknownZoneError: Unknown ``zone``.
    """
    if provider is not None:
        if trace is not None:
            raise UsageError("give either a trace or a provider (--trace or --provider), not both")
        if zone is not None:
            raise UsageError("zone names the zone of a two-column trace; leave it out")
        return _live(provider, environ)
    if trace is None:
        if zone is not None:
            raise UsageError("zone names the zone of a two-column trace; give the trace too")
        return ProfileSource()
    forecaster = make_forecaster(model)
    table = load_trace_table(trace, scope=scope, tz=tz)
    single = TraceIntensitySource(table, forecaster=forecaster)
    if table.format != "two-column":
        if zone is not None:
            raise UsageError(
                f"{table.path.name} names its zones ({', '.join(table.zones[:5])}); "
                "zone is only for a two-column time,value trace: leave it out"
            )
        return single
    if zone is None:
        raise UsageError(
            f"{table.path.name} is a two-column trace of one unnamed zone; say which zone it "
            "holds (e.g. zone='DE')"
        )
    return ZoneSources({lookup_zone(zone).zone_id: single})


def health_router() -> APIRouter:
    """``GET /health``: 200 ``Healthy`` (``text/plain``), as the SDK WebAPI's health check
    answers; left out of the OpenAPI document, as the SDK's is."""
    router = APIRouter()

    @router.get("/health", include_in_schema=False, response_class=PlainTextResponse)
    def health() -> PlainTextResponse:
        return PlainTextResponse("Healthy")

    return router


def create_carbon_aware_app(
    source: IntensitySource | None = None,
    *,
    clock: Clock = _utc_now,
    limits: CarbonAwareLimits | None = None,
) -> FastAPI:
    """A FastAPI app serving only the SDK-compatible API (``/emissions/...``, ``/health``,
    ``/openapi.json``).

    Args:
        source: The data (default: :func:`carbon_aware_source` with no trace: the embedded
            profile table).
        clock: Returns the current time, timezone-aware.
        limits: Bounds on requests.
    """
    app = FastAPI(
        title="lowcarb: Carbon Aware SDK-compatible API",
        description=(
            "The Carbon Aware SDK WebAPI's emissions endpoints, answered from lowcarb's grid data "
            "and planner. Values are gCO2e/kWh; X-Lowcarb-* headers say where they come from."
        ),
        version="1.0",
    )
    app.include_router(
        carbon_aware_router(source or carbon_aware_source(), clock=clock, limits=limits)
    )
    app.include_router(health_router())
    return app
