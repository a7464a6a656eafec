"""The Carbon Aware SDK's own WebAPI integration tests, ported.

Source: Green-Software-Foundation/carbon-aware-sdk, commit e6de58da895e5936b43ee66dbce925345bd88d02,
``src/CarbonAware.WebApi/test/integrationTests/CarbonAwareControllerTests.cs`` (every test below
names the C# test it ports) and ``WebApiEndpointTests.cs`` (the unknown path). The SDK runs them
against its JSON test data and mocked WattTime / Electricity Maps sources; here they run against
the API's default source (the embedded profile table) and against real traces from
``../shared/data/grid``. ``/health`` is answered by :func:`health_router`, which the standalone
app and the dashboard mount; the SDK's ``/metrics`` (Prometheus, when configured) is not served.

Where the SDK test only checks a status code, these also check what the body must then hold.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from starlette.testclient import TestClient

ById = dict[str, str]
#: The C# cases' times as DateTimeOffset.Parse reads them and ``$"{t:O}"`` sends them.
DOTNET_O = {
    "2022-1-1T04:05:06Z": "2022-01-01T04:05:06.0000000+00:00",
    "2022-1-2T04:05:06Z": "2022-01-02T04:05:06.0000000+00:00",
    "2021-12-25T00:00:00+06:00": "2021-12-25T00:00:00.0000000+06:00",
    "2021-12-26T00:00:00+06:00": "2021-12-26T00:00:00.0000000+06:00",
}


def _dotnet_o(text: str) -> str:
    return DOTNET_O[text]


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@pytest.fixture(params=["profile", "traces"])
def sdk(request: pytest.FixtureRequest) -> tuple[str, TestClient]:
    """The app over the embedded profile, and over real traces (skipped if they are absent)."""
    name = "profile_client" if request.param == "profile" else "real_client"
    return request.param, request.getfixturevalue(name)


# ByLocationURI_ReturnsOK, ByLocationsURI_ReturnsOK, BestLocations_ReturnsOK
# ("//ISO8601: YYYY-MM-DD" cases: unpadded dates and an offset, sent as DateTimeOffset "O").
RANGES = [
    ("2022-1-1T04:05:06Z", "2022-1-2T04:05:06Z", "eastus"),
    ("2021-12-25T00:00:00+06:00", "2021-12-26T00:00:00+06:00", "westus"),
]


@pytest.mark.parametrize(("start", "end", "location"), RANGES)
@pytest.mark.parametrize("path", ["/emissions/bylocation", "/emissions/bylocations"])
def test_by_location_returns_ok(
    sdk: tuple[str, TestClient], path: str, start: str, end: str, location: str
) -> None:
    """ByLocationURI_ReturnsOK and ByLocationsURI_ReturnsOK."""
    _, client = sdk
    query = {"location": location, "time": _dotnet_o(start), "toTime": _dotnet_o(end)}
    response = client.get(path, params=query)
    assert response.status_code == 200, response.text
    points = response.json()
    # Hours overlapping [start, end]: 04:00 of day one through 04:00 of day two.
    assert len(points) == 25
    assert {p["location"] for p in points} == {location}
    assert all(p["duration"] == "01:00:00" and p["rating"] > 0 for p in points)
    assert _instant(points[0]["time"]) <= _instant(_dotnet_o(start))
    assert _instant(points[-1]["time"]) <= _instant(_dotnet_o(end))


@pytest.mark.parametrize(("start", "end", "location"), RANGES)
def test_best_locations_returns_ok(
    sdk: tuple[str, TestClient], start: str, end: str, location: str
) -> None:
    """BestLocations_ReturnsOK: the lowest of the same 25 values."""
    _, client = sdk
    query = {"location": location, "time": _dotnet_o(start), "toTime": _dotnet_o(end)}
    every = client.get("/emissions/bylocations", params=query).json()
    response = client.get("/emissions/bylocations/best", params=query)
    assert response.status_code == 200, response.text
    best = response.json()
    assert best and all(p["rating"] == min(q["rating"] for q in every) for p in best)


@pytest.mark.parametrize(
    "path", ["/emissions/bylocation", "/emissions/bylocations", "/emissions/bylocations/best"]
)
@pytest.mark.parametrize("query", [{"location": ""}, {"non-location-param": ""}])
def test_empty_location_query_string_returns_bad_request(
    sdk: tuple[str, TestClient], path: str, query: ById
) -> None:
    """ByLocation_, ByLocations_ and BestLocations_EmptyLocationQueryString_ReturnsBadRequest
    ("empty location query string", "location param not present")."""
    _, client = sdk
    response = client.get(path, params=query)
    assert response.status_code == 400
    assert "location" in response.json()["errors"]


def test_emissions_forecasts_current_returns_ok(sdk: tuple[str, TestClient]) -> None:
    """EmissionsForecastsCurrent_SupportedDataSources_ReturnsOk."""
    _, client = sdk
    response = client.get("/emissions/forecasts/current", params={"location": "westus"})
    assert response.status_code == 200, response.text
    forecasts = response.json()
    assert len(forecasts) == 1
    for forecast in forecasts:
        assert forecast["requestedAt"] is not None
        assert forecast["generatedAt"] is not None
        assert forecast["optimalDataPoints"]
        assert forecast["forecastData"]


def test_emissions_forecasts_current_start_and_end_outside_window(
    sdk: tuple[str, TestClient],
) -> None:
    """EmissionsForecastsCurrent_StartAndEndOutsideWindow_ReturnsBadRequest."""
    _, client = sdk
    query = {
        "location": "westus",
        "dataStartAt": "1999-01-01T00:00:00Z",
        "dataEndAt": "1999-01-02T00:00:00Z",
    }
    response = client.get("/emissions/forecasts/current", params=query)
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"dataStartAt", "dataEndAt"}


@pytest.mark.parametrize("query", [{"location": ""}, {"non-location-param": ""}])
def test_emissions_forecasts_current_invalid_location(
    sdk: tuple[str, TestClient], query: ById
) -> None:
    """EmissionsForecastsCurrent_InvalidLocationQueryString_ReturnsBadRequest."""
    _, client = sdk
    assert client.get("/emissions/forecasts/current", params=query).status_code == 400


@pytest.mark.parametrize(
    ("location", "requested_at"),
    [
        (None, None),  # missing params: location, requestedAt
        ("eastus", None),  # missing param: requestedAt
        (None, "2021-09-01T08:30:00Z"),  # missing param: location
        ("eastus", "2021-9-1T08:30:00Z"),  # wrong date format
    ],
)
def test_emissions_forecasts_batch_missing_required_params(
    sdk: tuple[str, TestClient], location: str | None, requested_at: str | None
) -> None:
    """EmissionsForecastsBatch_MissingRequiredParams_ReturnsBadRequest."""
    _, client = sdk
    body = [{"location": location, "requestedAt": requested_at}]
    response = client.post("/emissions/forecasts/batch", json=body)
    assert response.status_code == 400
    assert response.json()["status"] == 400


@pytest.mark.parametrize(
    ("requested_at", "start", "end", "location", "n"),
    [
        # "expects OK for single element"
        ("2021-09-01T08:30:00Z", "2021-09-01T09:00:00Z", "2021-09-01T12:00:00Z", "eastus", 1),
        # "expects OK for multiple elements"
        ("2021-09-01T08:30:00Z", "2021-09-01T08:30:00Z", "2021-09-02T08:30:00Z", "westus", 3),
    ],
)
def test_emissions_forecasts_batch_returns_ok(
    sdk: tuple[str, TestClient], requested_at: str, start: str, end: str, location: str, n: int
) -> None:
    """EmissionsForecastsBatch_SupportedDataSources_ReturnsOk."""
    name, client = sdk
    if name == "traces" and location == "eastus":
        pytest.skip("../shared/data/grid has no 2021 data for eastus (US-MIDA-PJM)")
    body = [
        {"requestedAt": requested_at, "dataStartAt": start, "dataEndAt": end, "location": location}
    ] * n
    response = client.post("/emissions/forecasts/batch", json=body)
    assert response.status_code == 200, response.text
    forecasts = response.json()
    assert len(forecasts) == n
    for forecast in forecasts:
        assert _instant(forecast["requestedAt"]) == _instant(requested_at)
        assert _instant(forecast["dataStartAt"]) == _instant(start)
        assert _instant(forecast["dataEndAt"]) == _instant(end)
        assert forecast["generatedAt"] is not None
        assert forecast["optimalDataPoints"]
        assert forecast["forecastData"]


@pytest.mark.parametrize(
    ("start", "end", "location"),
    [
        ("2022-1-1T04:05:06Z", "2022-1-2T04:05:06Z", "eastus"),  # "for full datetime"
        ("2021-12-25T00:00:00+06:00", "2021-12-26T00:00:00+06:00", "westus"),
    ],
)
def test_emissions_marginal_carbon_intensity_returns_ok(
    sdk: tuple[str, TestClient], start: str, end: str, location: str
) -> None:
    """EmissionsMarginalCarbonIntensity_ReturnsOk (times sent as written, unpadded)."""
    _, client = sdk
    query = {"location": location, "startTime": start, "endTime": end}
    response = client.get("/emissions/average-carbon-intensity", params=query)
    assert response.status_code == 200, response.text
    value = response.json()
    assert value["carbonIntensity"] > 0
    assert _instant(value["startTime"]) == _instant(_dotnet_o(start))
    assert _instant(value["endTime"]) == _instant(_dotnet_o(end))


@pytest.mark.parametrize("query", [{"location": ""}, {"non-location-param": ""}])
def test_emissions_marginal_carbon_intensity_empty_location(
    sdk: tuple[str, TestClient], query: ById
) -> None:
    """EmissionsMarginalCarbonIntensity_EmptyLocationQueryString_ReturnsBadRequest."""
    _, client = sdk
    assert client.get("/emissions/average-carbon-intensity", params=query).status_code == 400


@pytest.mark.parametrize(
    ("location", "start", "end"),
    [
        (None, None, None),  # missing params: location, startTime, endTime
        ("eastus", None, None),  # missing params: startTime, endTime
        ("eastus", "2022-03-01T15:30:00Z", None),  # missing params: endTime
        ("eastus", None, "2022-03-01T18:00:00Z"),  # missing params: startTime
        ("westus", "2022-3-1T15:30:00Z", "2022-3-1T18:00:00Z"),  # wrong date format
    ],
)
def test_emissions_marginal_carbon_intensity_batch_missing_required_params(
    sdk: tuple[str, TestClient], location: str | None, start: str | None, end: str | None
) -> None:
    """EmissionsMarginalCarbonIntensityBatch_MissingRequiredParams_ReturnsBadRequest."""
    _, client = sdk
    body: list[dict[str, Any]] = [{"location": location, "startTime": start, "endTime": end}]
    response = client.post("/emissions/average-carbon-intensity/batch", json=body)
    assert response.status_code == 400
    assert response.json()["errors"]


@pytest.mark.parametrize(
    ("start", "end", "location", "n"),
    [
        ("2022-01-01T04:05:06Z", "2022-01-02T04:05:06Z", "eastus", 1),  # single element batch
        ("2021-12-25T00:00:00+06:00", "2021-12-26T00:00:00+06:00", "westus", 3),  # multiple
    ],
)
def test_emissions_marginal_carbon_intensity_batch_returns_ok(
    sdk: tuple[str, TestClient], start: str, end: str, location: str, n: int
) -> None:
    """EmissionsMarginalCarbonIntensityBatch_SupportedDataSources_ReturnsOk."""
    _, client = sdk
    body = [{"location": location, "startTime": start, "endTime": end}] * n
    response = client.post("/emissions/average-carbon-intensity/batch", json=body)
    assert response.status_code == 200, response.text
    values = response.json()
    assert len(values) == n
    for value in values:
        assert value["carbonIntensity"] != 0
        assert value["location"] == location
        assert _instant(value["startTime"]) == _instant(start)
        assert _instant(value["endTime"]) == _instant(end)


def test_health_check_returns_ok(sdk: tuple[str, TestClient]) -> None:
    """CarbonAwareControllerTests.HealthCheck_ReturnsOK (and the body ASP.NET's health check
    writes)."""
    _, client = sdk
    result = client.get("/health")
    assert result.status_code == 200
    assert result.text == "Healthy" and result.headers["content-type"].startswith("text/plain")
    assert "/health" not in client.get("/openapi.json").json()["paths"]  # as in the SDK's


def test_fake_endpoint_returns_not_found(sdk: tuple[str, TestClient]) -> None:
    """WebApiEndpointTests.FakeEndPoint_ReturnsNotFound."""
    _, client = sdk
    assert client.get("/fake-endpoint").status_code == 404
