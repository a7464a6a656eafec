"""The SDK API over a live provider: Electricity Maps replayed by an ``httpx.MockTransport``
stand-in (as ``tests/grid/test_grid_providers.py`` replays it), and the provider choices."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from carbonaware_helpers import client_for

from lowcarb.errors import UsageError
from lowcarb.grid import ElectricityMapsSource, JsonFetcher, RetryPolicy
from lowcarb.reporting.carbonaware import carbon_aware_source, create_carbon_aware_app

NOW = datetime(2024, 3, 5, 10, 20, tzinfo=UTC)
H = timedelta(hours=1)


def _stamp(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.000Z")


class ElectricityMapsStandIn:
    """Answers the v3 ``past-range`` (100 + UTC hour) and ``forecast`` (300, 301, ... from the
    hour of ``now``) endpoints, and counts what it was asked."""

    def __init__(self, now: datetime) -> None:
        self.now = now
        self.paths: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        assert request.headers["auth-token"] == "tok"
        path = request.url.path
        self.paths.append(path)
        zone = request.url.params["zone"]
        if path == "/v3/carbon-intensity/past-range":
            start = datetime.fromisoformat(request.url.params["start"])
            end = datetime.fromisoformat(request.url.params["end"])
            hours = int((end - start) / H) + 1
            data = [
                {
                    "datetime": _stamp(start + i * H),
                    "carbonIntensity": 100 + (start + i * H).hour,
                    "isEstimated": False,
                    "emissionFactorType": "lifecycle",
                }
                for i in range(hours)
            ]
            return httpx.Response(200, json={"zone": zone, "data": data})
        if path == "/v3/carbon-intensity/forecast":
            first = self.now.replace(minute=0, second=0, microsecond=0)
            points = [
                {"datetime": _stamp(first + i * H), "carbonIntensity": 300 + i}
                for i in range(int(request.url.params["horizonHours"]) + 1)
            ]
            return httpx.Response(200, json={"zone": zone, "forecast": points})
        return httpx.Response(404, json={"message": f"no {path}"})


def em_source(standin: ElectricityMapsStandIn) -> ElectricityMapsSource:
    fetcher = JsonFetcher(
        "electricitymaps",
        client=httpx.Client(transport=httpx.MockTransport(standin)),
        retry=RetryPolicy(attempts=1),
        sleep=lambda _s: None,
    )
    return ElectricityMapsSource("tok", fetcher=fetcher, fallback=False)


@pytest.fixture
def live() -> tuple[Any, ElectricityMapsStandIn]:
    standin = ElectricityMapsStandIn(NOW)
    app = create_carbon_aware_app(em_source(standin), clock=lambda: NOW)
    return client_for(app), standin


def test_observed_values_come_from_the_provider(live: tuple[Any, ElectricityMapsStandIn]) -> None:
    client, standin = live
    r = client.get(
        "/emissions/bylocation",
        params={
            "location": "westeurope",
            "time": "2024-03-05T01:00Z",
            "toTime": "2024-03-05T04:00Z",
        },
    )
    assert r.status_code == 200, r.text
    assert [(p["time"][:13], p["rating"]) for p in r.json()] == [
        ("2024-03-05T01", 101.0),
        ("2024-03-05T02", 102.0),
        ("2024-03-05T03", 103.0),
        ("2024-03-05T04", 104.0),  # the hours overlapping the range, as the SDK answers
    ]
    assert r.headers["X-Lowcarb-Source"] == "electricitymaps:v3/past-range"
    assert r.headers["X-Lowcarb-Zones"] == "westeurope=NL"
    assert standin.paths == ["/v3/carbon-intensity/past-range"]


def test_the_current_forecast_comes_from_the_provider(
    live: tuple[Any, ElectricityMapsStandIn],
) -> None:
    client, standin = live
    r = client.get("/emissions/forecasts/current", params={"location": "DE", "windowSize": 60})
    assert r.status_code == 200, r.text
    (forecast,) = r.json()
    values = [p["value"] for p in forecast["forecastData"]]
    assert values[:3] == [300.0, 301.0, 302.0]  # from the hour of the request (10:20)
    assert forecast["optimalDataPoints"][0]["value"] == min(values)
    assert "/v3/carbon-intensity/forecast" in standin.paths


def test_a_provider_failure_is_a_502_in_the_sdk_shape() -> None:
    def down(request: httpx.Request) -> httpx.Response:
        return httpx.Response(500, json={"message": "down"})

    standin = ElectricityMapsStandIn(NOW)
    source = em_source(standin)
    source.fetcher.client = httpx.Client(transport=httpx.MockTransport(down))
    client = client_for(create_carbon_aware_app(source, clock=lambda: NOW))
    r = client.get("/emissions/bylocation", params={"location": "DE", "time": "2024-03-05T01:00Z"})
    assert r.status_code == 502 and r.json()["title"] == "Bad Gateway"


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"provider": "watttime"}, "WattTime names its grid regions by its own codes"),
        ({"provider": "electricitymaps"}, "needs ELECTRICITYMAPS_API_TOKEN"),
        ({"provider": "nope"}, "unknown provider 'nope'"),
        ({"provider": "ukci", "trace": "x.csv"}, "not both"),
        ({"provider": "ukci", "zone": "GB"}, "leave it out"),
    ],
)
def test_provider_choices_refused_with_the_fix(kwargs: dict[str, Any], words: str) -> None:
    with pytest.raises(UsageError, match=words):
        carbon_aware_source(environ={}, **kwargs)


def test_ukci_answers_great_britain_and_refuses_other_zones_without_a_request() -> None:
    source = carbon_aware_source(provider="ukci", environ={"XDG_CACHE_HOME": "/nonexistent"})
    client = client_for(create_carbon_aware_app(source, clock=lambda: NOW))
    r = client.get("/emissions/bylocation", params={"location": "DE", "time": "2024-03-05T01:00Z"})
    assert r.status_code == 400
    assert "no source for zone 'DE'" in r.json()["errors"]["location"][0]
