"""The data source choice, the OpenAPI document, mounting in another app, and failures."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from carbonaware_helpers import REAL_NOW, TINY_NOW, client_for, write_tiny_trace
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

import lowcarb.reporting.carbonaware as carbonaware
from lowcarb.errors import ProviderError, UnknownZoneError, UsageError
from lowcarb.grid import Intensity, IntensitySeries, IntensitySource, profile_values
from lowcarb.reporting.carbonaware import (
    carbon_aware_router,
    carbon_aware_source,
    create_carbon_aware_app,
    resolve_location,
)

SDK_OPERATIONS = {
    ("get", "/emissions/bylocations/best"): "GetBestEmissionsDataForLocationsByTime",
    ("get", "/emissions/bylocations"): "GetEmissionsDataForLocationsByTime",
    ("get", "/emissions/bylocation"): "GetEmissionsDataForLocationByTime",
    ("get", "/emissions/forecasts/current"): "GetCurrentForecastData",
    ("post", "/emissions/forecasts/batch"): "BatchForecastDataAsync",
    ("get", "/emissions/average-carbon-intensity"): "GetAverageCarbonIntensity",
    ("post", "/emissions/average-carbon-intensity/batch"): "GetAverageCarbonIntensityBatch",
}


def test_the_public_names_are_exactly_all() -> None:
    public = {n for n in vars(carbonaware) if not n.startswith("_")} - {"annotations"}
    modules = {n for n in public if type(getattr(carbonaware, n)).__name__ == "module"}
    assert public - modules == set(carbonaware.__all__)


# --- the data source -----------------------------------------------------------------------


def test_without_a_trace_the_embedded_profile_answers_and_says_so(
    profile_client: Any,
) -> None:
    response = profile_client.get("/emissions/bylocation", params={"location": "eastus"})
    assert response.status_code == 200
    [point] = response.json()
    _, _, (expected,) = profile_values("US-MIDA-PJM", start=REAL_NOW, hours=1)
    assert point["rating"] == expected and point["time"] == "2022-06-01T12:00:00+00:00"
    assert response.headers["X-Lowcarb-Source"] == "profile:electricitymaps-2022"
    assert response.headers["X-Lowcarb-Data-Kind"] == "estimated"


def test_real_traces_answer_with_their_values(real_client: Any, grid_data_dir: Path) -> None:
    query = {"location": "DE", "time": "2022-03-01T10:00Z", "toTime": "2022-03-01T11:00Z"}
    response = real_client.get("/emissions/bylocation", params=query)
    header, *rows = (
        (grid_data_dir / "em2022_123zones/em2022_lca_hourly_123zones.csv")
        .read_text("utf-8")
        .splitlines()[: 24 * 60 + 20]
    )
    column = header.split(",").index("DE")
    expected = {r.split(",")[0][:13]: float(r.split(",")[column]) for r in rows}
    got = {p["time"][:13].replace("T", " "): p["rating"] for p in response.json()}
    assert got == {k: expected[k] for k in ("2022-03-01 10", "2022-03-01 11")}
    assert response.headers["X-Lowcarb-Source"] == "trace:em2022_lca_hourly_123zones.csv[DE]"
    forecast = real_client.get("/emissions/forecasts/current", params={"location": "westus"})
    assert forecast.headers["X-Lowcarb-Source"] == "forecast:profile-blend(14d)"


def test_a_two_column_trace_must_say_its_zone(tmp_path: Path) -> None:
    path = tmp_path / "de.csv"
    lines = ["time,value"] + [f"2022-03-01T{h:02d}:00:00Z,{100 + h}" for h in range(24)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(UsageError, match="say which zone"):
        carbon_aware_source(path)
    app = create_carbon_aware_app(carbon_aware_source(path, zone="DE"), clock=lambda: TINY_NOW)
    client = client_for(app)
    query = {"time": "2022-03-01T05:00Z"}
    assert (
        client.get("/emissions/bylocation", params={"location": "DE", **query}).json()[0]["rating"]
        == 105.0
    )
    refused = client.get("/emissions/bylocation", params={"location": "eastus", **query})
    assert refused.status_code == 400 and "no source for zone" in refused.json()["detail"]


def test_zone_goes_only_with_a_two_column_trace(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="only for a two-column"):
        carbon_aware_source(write_tiny_trace(tmp_path / "t.csv"), zone="DE")
    with pytest.raises(UsageError, match="give the trace too"):
        carbon_aware_source(zone="DE")


def test_locations_resolve_to_zones() -> None:
    assert resolve_location(" westeurope ").zone_id == "NL"
    assert resolve_location("gcp:europe-west4").via == "gcp:europe-west4"
    assert resolve_location("US-CAL-CISO").via is None
    with pytest.raises(UnknownZoneError, match="did you mean"):
        resolve_location("eastuss")


# --- the OpenAPI document ------------------------------------------------------------------


def test_openapi_has_the_sdk_operations_names_and_error_shape() -> None:
    doc = create_carbon_aware_app().openapi()
    found = {
        (method, path): op["operationId"]
        for path, ops in doc["paths"].items()
        for method, op in ops.items()
    }
    assert found == SDK_OPERATIONS
    schemas = doc["components"]["schemas"]
    assert set(schemas["EmissionsData"]["properties"]) == {"location", "time", "rating", "duration"}
    assert set(schemas["EmissionsDataDTO"]["properties"]) == {
        "location",
        "timestamp",
        "duration",
        "value",
    }
    assert set(schemas["EmissionsForecastDTO"]["properties"]) == {
        "generatedAt",
        "requestedAt",
        "location",
        "dataStartAt",
        "dataEndAt",
        "windowSize",
        "optimalDataPoints",
        "forecastData",
    }
    assert set(schemas["CarbonIntensityDTO"]["properties"]) == {
        "location",
        "startTime",
        "endTime",
        "carbonIntensity",
    }
    for (method, path), _ in SDK_OPERATIONS.items():
        responses = doc["paths"][path][method]["responses"]
        assert "422" not in responses  # the SDK answers bad input with 400, never 422
        ref = responses["400"]["content"]["application/json"]["schema"]["$ref"]
        assert ref == "#/components/schemas/ValidationProblemDetails"
    by_location = doc["paths"]["/emissions/bylocation"]["get"]
    assert [p["name"] for p in by_location["parameters"]] == ["location", "time", "toTime"]
    assert "204" in by_location["responses"]


# --- mounted in another app; failures ------------------------------------------------------


def test_mounted_router_keeps_the_sdk_shape_whatever_the_app_does() -> None:
    app = FastAPI()

    @app.exception_handler(RequestValidationError)
    async def _other(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": "the host app's own shape"}, status_code=422)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    app.include_router(carbon_aware_router(carbon_aware_source(), clock=lambda: REAL_NOW))
    client = client_for(app)
    assert client.get("/healthz").json() == {"status": "ok"}
    response = client.get("/emissions/bylocation", params={"location": "DE", "time": "x"})
    assert response.status_code == 400 and response.json()["errors"]["time"]
    ok = client.get("/emissions/bylocation", params={"location": "DE"})
    assert ok.status_code == 200 and ok.headers["X-Lowcarb-Source"].startswith("profile:")


@pytest.mark.parametrize(
    ("status", "rfc_section", "title", "headers"),
    [
        (401, "15.5.2", "Unauthorized", {"WWW-Authenticate": 'Bearer realm="x"'}),
        (403, "15.5.4", "Forbidden", None),
    ],
)
def test_a_mounting_apps_refusal_keeps_the_sdk_shape_with_its_own_rfc_type(
    status: int, rfc_section: str, title: str, headers: dict[str, str] | None
) -> None:
    def refuse() -> None:
        raise HTTPException(status, "this caller may not ask; use a token that may", headers)

    app = FastAPI()
    app.include_router(
        carbon_aware_router(carbon_aware_source(), clock=lambda: REAL_NOW),
        dependencies=[Depends(refuse)],
    )
    response = client_for(app).get("/emissions/bylocation", params={"location": "DE"})
    assert response.status_code == status
    assert response.json() == {
        "type": f"https://tools.ietf.org/html/rfc9110#section-{rfc_section}",
        "title": title,
        "status": status,
        "detail": "this caller may not ask; use a token that may",
        "errors": {},
    }
    for name, value in (headers or {}).items():
        assert response.headers[name] == value


class _Failing(IntensitySource):
    """A source that fails as a live provider or a bug would (a test double of the data)."""

    name = "failing"

    def __init__(self, exc: Exception) -> None:
        self.exc = exc

    def latest(self, zone: str, *, now: datetime) -> Intensity:
        raise self.exc

    def history(self, zone: str, *, start: datetime, end: datetime) -> IntensitySeries:
        raise self.exc

    def forecast(self, zone: str, *, now: datetime, horizon_h: int = 24) -> IntensitySeries:
        raise self.exc


@pytest.mark.parametrize(
    ("exc", "status", "words"),
    [
        (ProviderError("WattTime answered 503"), 502, "WattTime answered 503"),
        (RuntimeError("secret internals /etc/passwd"), 500, "internal error"),
    ],
)
def test_failures_are_answered_in_the_sdk_shape_without_internals(
    exc: Exception, status: int, words: str, caplog: pytest.LogCaptureFixture
) -> None:
    client = client_for(create_carbon_aware_app(_Failing(exc), clock=lambda: REAL_NOW))
    for response in (
        client.get("/emissions/bylocation", params={"location": "DE"}),
        client.get("/emissions/forecasts/current", params={"location": "DE"}),
        client.post(
            "/emissions/average-carbon-intensity/batch",
            json=[{"location": "DE", "startTime": "2022-05-01", "endTime": "2022-05-02"}],
        ),
    ):
        assert response.status_code == status
        body = response.json()
        assert body["status"] == status and words in body["detail"]
        assert "secret" not in response.text and "Traceback" not in response.text
    if status == 500:
        assert "internal error answering GET /emissions/bylocation" in caplog.text


def test_a_naive_clock_is_a_server_error_not_bad_input() -> None:
    client = client_for(create_carbon_aware_app(clock=lambda: datetime(2022, 6, 1)))
    response = client.get("/emissions/bylocation", params={"location": "DE"})
    assert response.status_code == 500 and "clock" in response.json()["detail"]
    assert datetime.now(UTC).tzinfo is UTC
