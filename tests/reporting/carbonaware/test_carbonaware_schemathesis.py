"""Schemathesis against the app's own OpenAPI document: no 5xx, and every response conforms.

Property-based requests (positive and negative, a deterministic seed, a modest number of examples
per operation) go to the app over the embedded profile (valid for any date) and over the tiny
trace (where most times have no data). Checks: no server error; status codes, content types,
headers and bodies as the document declares them. Schema-valid requests that the API refuses
(an unknown location is a valid string) are expected, so "positive data acceptance" is not
checked; the SDK's own lenient query times make "negative data rejection" inapplicable too.
"""

from __future__ import annotations

import numpy as np
import schemathesis
from carbonaware_helpers import (
    REAL_NOW,
    TINY_HOURS,
    TINY_NOW,
    TINY_START,
    tiny_bpat,
    tiny_de,
    tiny_pjm,
)
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from lowcarb.grid import IntensitySeries, TraceIntensitySource, make_forecaster
from lowcarb.reporting.carbonaware import create_carbon_aware_app
from lowcarb.scheduling import ZoneSources

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]

profile_app = create_carbon_aware_app(clock=lambda: REAL_NOW)
profile_schema = schemathesis.openapi.from_asgi("/openapi.json", profile_app)


@profile_schema.parametrize()
@settings(
    max_examples=30,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_profile_app_conforms_to_its_openapi(case: schemathesis.Case) -> None:
    case.call_and_validate(checks=CHECKS)


def _tiny_source() -> ZoneSources:
    """The tiny trace's values, in memory (no file written at import)."""
    by_zone = {}
    for zone, value in (("DE", tiny_de), ("US-MIDA-PJM", tiny_pjm), ("US-NW-BPAT", tiny_bpat)):
        series = IntensitySeries(
            zone=zone,
            start=TINY_START,
            values_g_per_kwh=np.array([value(h) for h in range(TINY_HOURS)]),
            source=f"trace:tiny[{zone}]",
        )
        by_zone[zone] = TraceIntensitySource(series, forecaster=make_forecaster("seasonal-naive"))
    return ZoneSources(by_zone)


tiny_app = create_carbon_aware_app(_tiny_source(), clock=lambda: TINY_NOW)
tiny_schema = schemathesis.openapi.from_asgi("/openapi.json", tiny_app)


@tiny_schema.parametrize()
@settings(
    max_examples=15,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_tiny_trace_app_conforms_to_its_openapi(case: schemathesis.Case) -> None:
    case.call_and_validate(checks=CHECKS)
