"""The Carbon Aware SDK's WebAPI paths as a FastAPI router: :func:`carbon_aware_router`.

Paths, query names, JSON fields, operation ids and status codes are the SDK's
(``CarbonAwareController`` in Green-Software-Foundation/carbon-aware-sdk), so its generated
clients work unchanged. Parameters are read by this package, not by FastAPI, and failures are
answered by the router's own route class: the SDK's 400 ``ValidationProblemDetails`` shape holds
in any app the router is mounted in, and FastAPI never answers these paths with its 422. The
parameters are declared in the OpenAPI document by hand (``openapi_extra``) for that reason.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from lowcarb.errors import ConfigError
from lowcarb.grid import IntensitySource
from lowcarb.reporting.carbonaware._bodies import average_items, forecast_items, read_json_array
from lowcarb.reporting.carbonaware._emissions import average_intensity, best_of, observed
from lowcarb.reporting.carbonaware._errors import SdkProblemError, SdkRoute
from lowcarb.reporting.carbonaware._forecasts import forecast
from lowcarb.reporting.carbonaware._models import (
    CarbonIntensityBatchParametersDTO,
    CarbonIntensityDTO,
    EmissionsData,
    EmissionsForecastBatchParametersDTO,
    EmissionsForecastDTO,
    ValidationProblemDetails,
)
from lowcarb.reporting.carbonaware._params import (
    CarbonAwareLimits,
    ForecastQuery,
    average_query,
    emissions_query,
    forecast_query,
)
from lowcarb.reporting.carbonaware._provenance import Provenance

__all__ = ["carbon_aware_router"]

Clock = Callable[[], datetime]


def _utc_now() -> datetime:
    return datetime.now(UTC)


# --- the OpenAPI declarations --------------------------------------------------------------

_TIME = {"type": "string", "format": "date-time"}
_SOURCE_HEADERS = {
    "X-Lowcarb-Source": {
        "description": "The data behind the numbers (trace file, embedded profile, forecast).",
        "schema": {"type": "string"},
    },
    "X-Lowcarb-Data-Kind": {
        "description": "measured, estimated or forecast.",
        "schema": {"type": "string"},
    },
    "X-Lowcarb-Signal": {
        "description": "average or marginal, and lifecycle or direct scope.",
        "schema": {"type": "string"},
    },
}


def _param(
    name: str, description: str, schema: dict[str, Any], example: Any, *, required: bool = False
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": name,
        "in": "query",
        "required": required,
        "description": description,
        "schema": schema,
        "example": example,
    }
    if schema.get("type") == "array":
        out.update(style="form", explode=True)
    return out


_LOCATION = (
    "A location: an Azure region (eastus), a zone id (DE) or a cloud region (aws:us-east-1)."
)
_LOCATIONS = _param(
    "location",
    _LOCATION + " Repeat it for several.",
    {"type": "array", "items": {"type": "string"}},
    ["eastus"],
    required=True,
)
_ONE_LOCATION = _param("location", _LOCATION, {"type": "string"}, "eastus", required=True)
_RANGE = [
    _param("time", "Start of the range (default: now).", _TIME, "2022-03-01T15:30:00Z"),
    _param("toTime", "End of the range (needs time).", _TIME, "2022-03-01T18:30:00Z"),
]
_FORECAST_PARAMS = [
    _LOCATIONS,
    _param("dataStartAt", "Start of the forecast data used.", _TIME, "2022-03-01T15:30:00Z"),
    _param("dataEndAt", "End of the forecast data used.", _TIME, "2022-03-01T18:30:00Z"),
    _param(
        "windowSize",
        "The workload's duration, minutes (default: one data point).",
        {"type": "integer", "format": "int32", "minimum": 0, "maximum": 2**31 - 1},
        30,
    ),
]
_AVERAGE_PARAMS = [
    _ONE_LOCATION,
    _param("startTime", "Start of the period.", _TIME, "2022-03-01T15:30:00Z", required=True),
    _param("endTime", "End of the period.", _TIME, "2022-03-01T18:30:00Z", required=True),
]


def _body(item: type[BaseModel], limits: CarbonAwareLimits) -> dict[str, Any]:
    schema = {
        "type": "array",
        "maxItems": limits.max_batch_items,
        "items": item.model_json_schema(),
    }
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


def _responses(
    ok: Any, *, no_content: bool = False, body: bool = False
) -> dict[int | str, dict[str, Any]]:
    problem = {"model": ValidationProblemDetails}
    out: dict[int | str, dict[str, Any]] = {
        200: {"model": ok, "description": "Success", "headers": _SOURCE_HEADERS},
        400: {**problem, "description": "Bad input: the body says which parameter and the fix."},
        500: {**problem, "description": "Internal server error (a bug, logged)."},
        502: {**problem, "description": "The live intensity provider failed."},
    }
    if no_content:
        out[204] = {"description": "No data for these locations and times."}
    if body:
        out[413] = {**problem, "description": "The body is over the size limit."}
    return out


# --- responses -----------------------------------------------------------------------------


def _json(payload: Any, prov: Provenance) -> JSONResponse:
    return JSONResponse(payload, headers=prov.headers())


def _list_or_no_content(items: Sequence[BaseModel], prov: Provenance) -> Response:
    if not items:
        return Response(status_code=204, headers=prov.headers())
    return _json([i.model_dump() for i in items], prov)


def carbon_aware_router(
    source: IntensitySource,
    *,
    clock: Clock = _utc_now,
    limits: CarbonAwareLimits | None = None,
) -> APIRouter:
    """The SDK-compatible ``/emissions/...`` endpoints over ``source``.

    Mount it with ``app.include_router(carbon_aware_router(source))``: it needs no app-level
    exception handler (it answers its own errors in the SDK's shape).

    Args:
        source: Where intensities come from: observed values (``history``) and forecasts
            (``forecast``); e.g. :func:`carbon_aware_source`'s trace or embedded profile, or a
            live provider from :func:`lowcarb.grid.open_provider`.
        clock: Returns the current time, timezone-aware. "Now" for requests without times, the
            issue time of current forecasts, and the newest data the emissions endpoints show.
        limits: Bounds on requests (default :class:`CarbonAwareLimits`).

    Returns:
        An :class:`fastapi.APIRouter` with the seven SDK endpoints under ``/emissions``.
    """
    lim = limits or CarbonAwareLimits()
    router = APIRouter(prefix="/emissions", tags=["CarbonAware"], route_class=SdkRoute)

    def now() -> datetime:
        when = clock()
        if when.tzinfo is None or when.utcoffset() is None:
            raise ConfigError(f"the API's clock returned the naive time {when.isoformat()!r}")
        return when.astimezone(UTC)

    async def emissions(request: Request, *, many: bool, best: bool) -> Response:
        prov = Provenance()
        query = emissions_query(request.query_params, many=many, limits=lim, prov=prov)
        points = await run_in_threadpool(
            lambda: observed(
                source, query.locations, start=query.start, end=query.end, now=now(), prov=prov
            )
        )
        return _list_or_no_content(best_of(points) if best else points, prov)

    emissions_ok = _responses(list[EmissionsData], no_content=True)

    @router.get(
        "/bylocations/best",
        operation_id="GetBestEmissionsDataForLocationsByTime",
        summary="The lowest observed intensity of several locations over a time range.",
        responses=emissions_ok,
        openapi_extra={"parameters": [_LOCATIONS, *_RANGE]},
    )
    async def get_best(request: Request) -> Response:
        return await emissions(request, many=True, best=True)

    @router.get(
        "/bylocations",
        operation_id="GetEmissionsDataForLocationsByTime",
        summary="Observed intensity of several locations over a time range, gCO2e/kWh.",
        responses=emissions_ok,
        openapi_extra={"parameters": [_LOCATIONS, *_RANGE]},
    )
    async def get_by_locations(request: Request) -> Response:
        return await emissions(request, many=True, best=False)

    @router.get(
        "/bylocation",
        operation_id="GetEmissionsDataForLocationByTime",
        summary="Observed intensity of one location over a time range, gCO2e/kWh.",
        responses=emissions_ok,
        openapi_extra={"parameters": [_ONE_LOCATION, *_RANGE]},
    )
    async def get_by_location(request: Request) -> Response:
        return await emissions(request, many=False, best=False)

    @router.get(
        "/forecasts/current",
        operation_id="GetCurrentForecastData",
        summary="The current forecast of each location and its lowest-carbon window.",
        responses=_responses(list[EmissionsForecastDTO]),
        openapi_extra={"parameters": _FORECAST_PARAMS},
    )
    async def get_current_forecast(request: Request) -> Response:
        prov = Provenance()
        queries = forecast_query(request.query_params, limits=lim, prov=prov)
        t = now()
        results = await run_in_threadpool(
            lambda: [
                forecast(source, q, now=t, horizon_h=lim.forecast_horizon_h, prov=prov)
                for q in queries
            ]
        )
        return _json([r.model_dump() for r in results], prov)

    @router.post(
        "/forecasts/batch",
        operation_id="BatchForecastDataAsync",
        summary="Forecasts as they were at past times (requestedAt), each with its best window.",
        responses=_responses(list[EmissionsForecastDTO], body=True),
        openapi_extra=_body(EmissionsForecastBatchParametersDTO, lim),
    )
    async def post_forecast_batch(request: Request) -> Response:
        prov = Provenance()
        items = await read_json_array(request, key="requestedForecasts", limits=lim)
        queries = forecast_items(items, limits=lim, prov=prov)
        t = now()
        results = await run_in_threadpool(
            lambda: [
                _past_forecast(source, q, i, now=t, horizon_h=lim.forecast_horizon_h, prov=prov)
                for i, q in enumerate(queries)
            ]
        )
        return _json([r.model_dump() for r in results], prov)

    @router.get(
        "/average-carbon-intensity",
        operation_id="GetAverageCarbonIntensity",
        summary="The time-weighted mean observed intensity of a location over a period.",
        responses=_responses(CarbonIntensityDTO),
        openapi_extra={"parameters": _AVERAGE_PARAMS},
    )
    async def get_average(request: Request) -> Response:
        prov = Provenance()
        query = average_query(request.query_params, limits=lim, prov=prov)
        result = await run_in_threadpool(
            lambda: average_intensity(source, query, now=now(), prov=prov)
        )
        return _json(result.model_dump(), prov)

    @router.post(
        "/average-carbon-intensity/batch",
        operation_id="GetAverageCarbonIntensityBatch",
        summary="The mean observed intensity of each (location, period) item.",
        responses=_responses(list[CarbonIntensityDTO], body=True),
        openapi_extra=_body(CarbonIntensityBatchParametersDTO, lim),
    )
    async def post_average_batch(request: Request) -> Response:
        prov = Provenance()
        items = await read_json_array(request, key="requestedCarbonIntensities", limits=lim)
        queries = average_items(items, limits=lim, prov=prov)
        t = now()
        results = await run_in_threadpool(
            lambda: [
                average_intensity(source, q, now=t, prov=prov, key_prefix=f"$[{i}].")
                for i, q in enumerate(queries)
            ]
        )
        return _json([r.model_dump() for r in results], prov)

    return router


def _past_forecast(
    source: IntensitySource,
    query: ForecastQuery,
    index: int,
    *,
    now: datetime,
    horizon_h: int,
    prov: Provenance,
) -> EmissionsForecastDTO:
    if query.requested_at is not None and query.requested_at > now:
        raise SdkProblemError.bad(
            f"$[{index}].requestedAt",
            f"$[{index}].requestedAt {query.requested_at.isoformat()} is after now "
            f"({now.isoformat()}); a batch asks for past forecasts: use "
            "/emissions/forecasts/current for the current one",
        )
    return forecast(
        source, query, now=now, horizon_h=horizon_h, prov=prov, key_prefix=f"$[{index}]."
    )
