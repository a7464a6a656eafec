"""lowcarb.reporting.carbonaware: a Carbon Aware SDK-compatible HTTP API over lowcarb's data.

Existing clients of the Green Software Foundation's Carbon Aware SDK WebAPI work unchanged: the
same paths, query names, JSON fields, operation ids, status codes (204 when there is no data, 400
with ASP.NET's ``ValidationProblemDetails`` body for bad input) and location names (Azure regions
such as ``eastus``; lowcarb's zone ids and cloud regions too). The numbers come from lowcarb: a
live provider, a
trace file or the embedded profile table (:func:`carbon_aware_source`), forecasts from its
forecasting stack, and the optimal window from its planner. Values are gCO2e/kWh, as in the SDK;
``X-Lowcarb-*`` headers say which data, which kind (measured, estimated, forecast) and which
signal (average, not the marginal one the SDK gives with WattTime).

* :func:`carbon_aware_router`: the seven ``/emissions/...`` endpoints, to mount in an app.
* :func:`create_carbon_aware_app`: a standalone FastAPI app with just that router.
* :func:`carbon_aware_source`: the data source (a live provider or a trace, else the embedded
  profile).
* :func:`health_router`: ``GET /health``, the SDK WebAPI's health check.
* :class:`CarbonAwareLimits`: bounds on requests; the DTO models document the JSON shapes.
* :class:`SdkProblemError` and :func:`problem_response`: an answer in the SDK's error shape, for
  an app that refuses a request on these paths before the router sees it (a body too large).

Needs the ``report`` extra (FastAPI): ``pip install 'lowcarb[report]'``.
"""

from __future__ import annotations

from lowcarb.errors import MissingDependencyError as _MissingDependencyError

try:
    import fastapi  # noqa: F401  (the one optional dependency, checked once)
except ImportError:  # pragma: no cover - the report extra is part of dev installs
    raise _MissingDependencyError("fastapi", "report") from None

from lowcarb.reporting.carbonaware._app import (
    carbon_aware_source,
    create_carbon_aware_app,
    health_router,
)
from lowcarb.reporting.carbonaware._errors import SdkProblemError, problem_response
from lowcarb.reporting.carbonaware._locations import SdkLocation, resolve_location
from lowcarb.reporting.carbonaware._models import (
    CarbonIntensityBatchParametersDTO,
    CarbonIntensityDTO,
    EmissionsData,
    EmissionsDataDTO,
    EmissionsForecastBatchParametersDTO,
    EmissionsForecastDTO,
    ValidationProblemDetails,
)
from lowcarb.reporting.carbonaware._params import CarbonAwareLimits
from lowcarb.reporting.carbonaware._provenance import UNIT
from lowcarb.reporting.carbonaware._router import carbon_aware_router
from lowcarb.reporting.carbonaware._times import SdkTime, parse_body_time, parse_query_time

__all__ = [
    "UNIT",
    "CarbonAwareLimits",
    "CarbonIntensityBatchParametersDTO",
    "CarbonIntensityDTO",
    "EmissionsData",
    "EmissionsDataDTO",
    "EmissionsForecastBatchParametersDTO",
    "EmissionsForecastDTO",
    "SdkLocation",
    "SdkProblemError",
    "SdkTime",
    "ValidationProblemDetails",
    "carbon_aware_router",
    "carbon_aware_source",
    "create_carbon_aware_app",
    "health_router",
    "parse_body_time",
    "parse_query_time",
    "problem_response",
    "resolve_location",
]
