"""The default data source, chosen as the dashboard chooses it, and a standalone app.

:func:`carbon_aware_source`: a trace file when one is configured (Electricity Maps data-portal,
wide or two-column CSV), forecast by a model of lowcarb's registry; else the embedded
month x hour-of-day profile table (offline, labelled ``estimated``). Never a silent fallback: the
source of every number is in the response's ``X-Lowcarb-Source`` header.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from fastapi import FastAPI

from lowcarb.errors import UsageError
from lowcarb.grid import (
    IntensitySource,
    Scope,
    TraceIntensitySource,
    load_trace_table,
    lookup_zone,
    make_forecaster,
)
from lowcarb.reporting.carbonaware._params import CarbonAwareLimits
from lowcarb.reporting.carbonaware._router import Clock, carbon_aware_router
from lowcarb.scheduling import ProfileSource, ZoneSources

__all__ = ["carbon_aware_source", "create_carbon_aware_app"]


def _utc_now() -> datetime:
    return datetime.now(UTC)


def carbon_aware_source(
    trace: str | Path | None = None,
    *,
    model: str = "profile-blend",
    zone: str | None = None,
    scope: Scope = "lifecycle",
    tz: str | None = None,
) -> IntensitySource:
    """The API's data: a trace file when given, else the embedded profile table.

    Args:
        trace: A trace CSV (any of the three formats), or None for the embedded profile.
        model: The forecast model for a trace (a name of :func:`lowcarb.grid.forecaster_names`).
        zone: The zone a two-column (``time,value``) trace holds; other traces name their zones.
        scope: For Electricity Maps files, which column to read.
        tz: Time zone of naive timestamps in the trace (see :func:`lowcarb.grid.load_trace`).

    Raises:
        TraceFormatError: The trace cannot be read.
        InvalidValueError: Unknown model.
        UsageError: A two-column trace without ``zone``, or ``zone`` with another format.
        UnknownZoneError: Unknown ``zone``.
    """
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


def create_carbon_aware_app(
    source: IntensitySource | None = None,
    *,
    clock: Clock = _utc_now,
    limits: CarbonAwareLimits | None = None,
) -> FastAPI:
    """A FastAPI app serving only the SDK-compatible API (``/emissions/...``, ``/openapi.json``).

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
    return app
