"""The SDK-compatible API over a tiny trace of exactly known values: every endpoint, exact numbers,
the SDK's semantics (overlap, ties, 204, 400 bodies) and lowcarb's (provenance, bounds, planner).

The tiny trace (conftest) holds DE = 300 + 10 x hour-of-day, US-MIDA-PJM (eastus) = 500 - 10 x
hour-of-day and US-NW-BPAT (aws us-west-2) = 300, hourly from 2022-03-01T00:00Z for four days; the
API's clock is 2022-03-04T12:30Z; forecasts are seasonal-naive (yesterday's same hour), so a
forecast of hour h is exactly the trace's value at h's hour of day.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest
from carbonaware_helpers import TINY_NOW, tiny_de, tiny_pjm

from lowcarb.reporting.carbonaware import (
    CarbonAwareLimits,
    EmissionsData,
    EmissionsForecastDTO,
    ValidationProblemDetails,
)
from lowcarb.scheduling import JobSpec, ZoneForecast, plan_job

if TYPE_CHECKING:
    from starlette.testclient import TestClient

MakeClient = Callable[..., "TestClient"]
BY_LOCATION = "/emissions/bylocation"
BY_LOCATIONS = "/emissions/bylocations"
BEST = "/emissions/bylocations/best"
CURRENT = "/emissions/forecasts/current"
BATCH = "/emissions/forecasts/batch"
AVERAGE = "/emissions/average-carbon-intensity"
AVERAGE_BATCH = "/emissions/average-carbon-intensity/batch"


def _t(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _problem(response: Any, status: int = 400) -> dict[str, Any]:
    """The body of an SDK error: the ValidationProblemDetails shape, one-line messages."""
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    ValidationProblemDetails.model_validate(body)
    assert set(body) == {"type", "title", "status", "detail", "errors"}
    assert body["status"] == status and body["type"].startswith("https://tools.ietf.org/")
    assert "\n" not in body["detail"] and "Traceback" not in response.text
    return body


# --- observed values -----------------------------------------------------------------------


def test_by_location_returns_the_hours_overlapping_the_range(tiny_client: TestClient) -> None:
    query = {"location": "DE", "time": "2022-3-1T4:05:06Z", "toTime": "2022-3-1T7:05:06Z"}
    response = tiny_client.get(BY_LOCATION, params=query)
    assert response.status_code == 200
    points = [EmissionsData.model_validate(p) for p in response.json()]
    assert [p.time for p in points] == [f"2022-03-01T{h:02d}:00:00+00:00" for h in (4, 5, 6, 7)]
    assert [p.rating for p in points] == [tiny_de(h) for h in (4, 5, 6, 7)]
    assert {p.location for p in points} == {"DE"} and {p.duration for p in points} == {"01:00:00"}
    assert response.headers["X-Lowcarb-Source"] == "trace:tiny.csv[DE]"
    assert response.headers["X-Lowcarb-Data-Kind"] == "measured"
    assert response.headers["X-Lowcarb-Signal"] == "average/lifecycle"
    assert response.headers["X-Lowcarb-Unit"] == "gCO2e/kWh"
    assert response.headers["X-Lowcarb-Zones"] == "DE=DE"


@pytest.mark.parametrize(
    ("location", "zone", "value"),
    [
        ("eastus", "US-MIDA-PJM", tiny_pjm(6)),  # the SDK's default: Azure region names
        ("azure:eastus", "US-MIDA-PJM", tiny_pjm(6)),
        ("aws:us-east-1", "US-MIDA-PJM", tiny_pjm(6)),
        ("us-west-2", "US-NW-BPAT", 300.0),  # a bare AWS region
        ("de", "DE", tiny_de(6)),  # a zone id, any case
    ],
)
def test_locations_as_clients_send_them(
    tiny_client: TestClient, location: str, zone: str, value: float
) -> None:
    query = {"location": location, "time": "2022-03-02T06:00:00+00:00"}
    response = tiny_client.get(BY_LOCATION, params=query)
    assert response.status_code == 200, response.text
    assert response.json() == [
        {
            "location": location,
            "time": "2022-03-02T06:00:00+00:00",
            "rating": value,
            "duration": "01:00:00",
        }
    ]
    assert response.headers["X-Lowcarb-Zones"] == f"{location}={zone}"


def test_without_times_the_hour_holding_now_answers(tiny_client: TestClient) -> None:
    points = tiny_client.get(BY_LOCATION, params={"location": "DE"}).json()
    assert [(p["time"], p["rating"]) for p in points] == [("2022-03-04T12:00:00+00:00", 420.0)]


def test_an_offset_is_honoured_and_a_plus_sent_unencoded_too(tiny_client: TestClient) -> None:
    # 08:00+02:00 is 06:00 UTC; an unencoded '+' in a query string arrives as a space.
    for raw in ("2022-03-02T08:00:00+02:00", "2022-03-02T08:00:00 02:00"):
        url = f"{BY_LOCATION}?location=DE&time={raw.replace('+', '%2B').replace(' ', '+')}"
        assert tiny_client.get(url).json()[0]["time"] == "2022-03-02T06:00:00+00:00"


def test_a_time_without_offset_is_read_as_utc_and_said_so(tiny_client: TestClient) -> None:
    response = tiny_client.get(BY_LOCATION, params={"location": "DE", "time": "2022-03-02T06:10"})
    assert response.json()[0]["time"] == "2022-03-02T06:00:00+00:00"
    assert response.headers["X-Lowcarb-Note"] == "time has no UTC offset and was read as UTC"


def test_only_hours_started_by_now_are_observed(tiny_client: TestClient) -> None:
    query = {"location": "DE", "time": "2022-03-04T11:00Z", "toTime": "2022-03-04T23:00Z"}
    points = tiny_client.get(BY_LOCATION, params=query).json()
    assert [p["time"][11:16] for p in points] == ["11:00", "12:00"]


@pytest.mark.parametrize(
    ("start", "end"),
    [("2022-03-05T00:00Z", "2022-03-06T00:00Z"), ("2022-02-01T00:00Z", "2022-02-02T00:00Z")],
)
def test_no_data_is_204(tiny_client: TestClient, start: str, end: str) -> None:
    for path in (BY_LOCATION, BY_LOCATIONS, BEST):
        response = tiny_client.get(path, params={"location": "DE", "time": start, "toTime": end})
        assert response.status_code == 204
        assert response.content == b""
        assert response.headers["X-Lowcarb-Zones"] == "DE=DE"


def test_by_locations_keeps_request_order_without_repeats(tiny_client: TestClient) -> None:
    query = [("location", "DE"), ("location", "eastus"), ("location", "DE"), ("location", "")]
    query += [("time", "2022-03-02T06:00Z")]
    points = tiny_client.get(BY_LOCATIONS, params=query).json()
    assert [(p["location"], p["rating"]) for p in points] == [
        ("DE", tiny_de(6)),
        ("eastus", tiny_pjm(6)),
    ]


def test_best_lists_every_tie_as_the_sdk_does(tiny_client: TestClient) -> None:
    query = [("location", "DE"), ("location", "us-west-2")]
    query += [("time", "2022-03-02T00:00Z"), ("toTime", "2022-03-02T05:00Z")]
    best = tiny_client.get(BEST, params=query).json()
    assert {p["rating"] for p in best} == {300.0}
    assert [(p["location"], p["time"][11:13]) for p in best] == [("DE", "00")] + [
        ("us-west-2", f"{h:02d}") for h in range(6)
    ]


def test_best_picks_the_lowest_over_locations(tiny_client: TestClient) -> None:
    query = [("location", "DE"), ("location", "eastus")]
    query += [("time", "2022-03-01T00:00Z"), ("toTime", "2022-03-01T23:59Z")]
    best = tiny_client.get(BEST, params=query).json()
    assert best == [
        {
            "location": "eastus",
            "time": "2022-03-01T23:00:00+00:00",
            "rating": 270.0,
            "duration": "01:00:00",
        }
    ]


# --- bad input: the SDK's 400 shape, keyed by parameter, never a 500 -----------------------


@pytest.mark.parametrize(
    ("query", "key", "words"),
    [
        ({"location": "DE", "toTime": "2022-03-02T00:00Z"}, "time", "time must be defined"),
        (
            {"location": "DE", "time": "2022-03-02T05:00Z", "toTime": "2022-03-02T01:00Z"},
            "time",
            "must be before toTime",
        ),
        (
            {"location": "DE", "time": "2022-03-02T05:00Z", "toTime": "2022-03-02T05:00Z"},
            "time",
            "must be before toTime",
        ),
        ({"location": "DE", "time": "yesterday"}, "time", "'yesterday' is not a date and time"),
        ({"location": "DE", "time": "2022-02-30T00:00Z"}, "time", "not a valid date"),
        (
            {"location": "DE", "time": "2022-01-01T00:00Z", "toTime": "2023-06-01T00:00Z"},
            "toTime",
            "at most 366 days",
        ),
        ({"location": "nowhere"}, "location", "did you mean 'northeurope'"),
        ({"location": "FR"}, "location", "tiny.csv has no zone 'FR'"),
        ({"location": "x" * 500}, "location", "not a location name"),
        ({"location": "east\x00us"}, "location", "not a location name"),
    ],
)
def test_bad_query_is_a_400_naming_the_parameter_and_the_fix(
    tiny_client: TestClient, query: dict[str, str], key: str, words: str
) -> None:
    body = _problem(tiny_client.get(BY_LOCATIONS, params=query))
    assert list(body["errors"]) == [key]
    assert words in body["detail"] and body["errors"][key] == [body["detail"]]


def test_bounds_on_locations_and_values(make_tiny_client: MakeClient) -> None:
    client = make_tiny_client(limits=CarbonAwareLimits(max_locations=2, max_points=50))
    three = [("location", z) for z in ("DE", "eastus", "us-west-2")]
    assert "at most 2" in _problem(client.get(BY_LOCATIONS, params=three))["detail"]
    day = [("location", "DE"), ("location", "eastus")]
    day += [("time", "2022-03-01T00:00Z"), ("toTime", "2022-03-02T01:00Z")]  # 2 x 26 values
    assert "at most 50" in _problem(client.get(BY_LOCATIONS, params=day))["errors"]["toTime"][0]


# --- average carbon intensity --------------------------------------------------------------


def test_average_is_weighted_by_time(tiny_client: TestClient) -> None:
    query = {"location": "DE", "startTime": "2022-03-01T15:30:00Z", "endTime": "2022-3-1T18:30Z"}
    response = tiny_client.get(AVERAGE, params=query)
    assert response.status_code == 200
    # Half of 15:00 (450), all of 16:00 and 17:00 (460, 470), half of 18:00 (480), over 3 h.
    assert response.json() == {
        "location": "DE",
        "startTime": "2022-03-01T15:30:00+00:00",
        "endTime": "2022-03-01T18:30:00+00:00",
        "carbonIntensity": pytest.approx((225 + 460 + 470 + 240) / 3),
    }
    assert response.headers["X-Lowcarb-Source"] == "trace:tiny.csv[DE]"


@pytest.mark.parametrize(
    ("start", "end", "key"),
    [
        ("2022-02-28T23:00Z", "2022-03-01T02:00Z", "startTime"),  # before the trace
        ("2022-03-04T10:00Z", "2022-03-04T14:00Z", "endTime"),  # past now (12:30)
    ],
)
def test_average_of_a_period_the_data_does_not_cover_is_400(
    tiny_client: TestClient, start: str, end: str, key: str
) -> None:
    query = {"location": "DE", "startTime": start, "endTime": end}
    body = _problem(tiny_client.get(AVERAGE, params=query))
    assert body["detail"].startswith("Period out of range") and list(body["errors"]) == [key]


def test_average_batch_answers_each_item_and_keys_errors_by_item(tiny_client: TestClient) -> None:
    items = [
        {"location": "DE", "startTime": "2022-03-01T00:00:00Z", "endTime": "2022-03-01T02:00:00Z"},
        {"location": "eastus", "startTime": "2022-03-01T00:00:00Z", "endTime": "2022-03-01T01:00Z"},
    ]
    values = tiny_client.post(AVERAGE_BATCH, json=items).json()
    assert [v["carbonIntensity"] for v in values] == [305.0, 500.0]
    bad = [items[0], {**items[1], "endTime": "2022-3-1T01:00:00Z"}]
    body = _problem(tiny_client.post(AVERAGE_BATCH, json=bad))
    assert list(body["errors"]) == ["$[1].endTime"]
    assert tiny_client.post(AVERAGE_BATCH, json=[]).json() == []


# --- forecasts and the planner's window ----------------------------------------------------


def _forecast(client: TestClient, **query: Any) -> EmissionsForecastDTO:
    response = client.get(CURRENT, params={"location": "DE", **query})
    assert response.status_code == 200, response.text
    [one] = response.json()
    return EmissionsForecastDTO.model_validate(one)


def test_current_forecast_points_and_optimal_point(tiny_client: TestClient) -> None:
    fc = _forecast(tiny_client)
    assert fc.generatedAt == "2022-03-04T12:00:00+00:00"
    assert fc.requestedAt == "2022-03-04T12:30:00+00:00"
    assert (fc.dataStartAt, fc.dataEndAt) == (
        "2022-03-04T12:00:00+00:00",
        "2022-03-05T12:00:00+00:00",
    )
    assert fc.windowSize == 0 and fc.forecastData is not None
    hours = [(12 + i) % 24 for i in range(24)]
    assert [p.value for p in fc.forecastData] == [tiny_de(h) for h in hours]
    assert {(p.location, p.duration) for p in fc.forecastData} == {("DE", 60)}
    assert fc.optimalDataPoints is not None
    assert [(p.timestamp, p.value) for p in fc.optimalDataPoints] == [
        ("2022-03-05T00:00:00+00:00", 300.0)
    ]
    response = tiny_client.get(CURRENT, params={"location": "DE"})
    assert response.headers["X-Lowcarb-Source"] == "forecast:seasonal-naive"
    assert response.headers["X-Lowcarb-Data-Kind"] == "forecast"


def test_window_means_and_the_optimal_window_come_from_the_planner(
    tiny_client: TestClient,
) -> None:
    raw = _forecast(tiny_client)
    fc = _forecast(tiny_client, windowSize="120")
    assert fc.windowSize == 120 and fc.forecastData is not None and raw.forecastData is not None
    # One mean per start from 12:00 to 10:00 the next day (the last that ends by 12:00).
    values = [p.value for p in raw.forecastData]
    assert [p.value for p in fc.forecastData] == pytest.approx(
        [(a + b) / 2 for a, b in itertools.pairwise(values)]
    )
    assert {p.duration for p in fc.forecastData} == {120}
    # The planner, run here on the same forecast, picks the same window.
    zone_forecast = ZoneForecast(
        zone="DE",
        start=_t(raw.dataStartAt),
        step_s=3600,
        values_g_per_kwh=np.array(values),
        model="test",
        issued_at=_t(raw.generatedAt),
    )
    plan = plan_job(
        JobSpec(duration_h=2, deadline=_t(raw.dataEndAt)), zone_forecast, now=_t(raw.dataStartAt)
    )
    assert fc.optimalDataPoints is not None
    [best] = fc.optimalDataPoints
    assert _t(best.timestamp) == plan.start == datetime(2022, 3, 5, tzinfo=UTC)
    assert best.value == pytest.approx(plan.expected_intensity_g_per_kwh) == 305.0
    assert best.value == min(p.value for p in fc.forecastData)


def test_a_start_inside_an_hour_is_a_candidate_then_every_hour(tiny_client: TestClient) -> None:
    fc = _forecast(
        tiny_client, dataStartAt="2022-03-04T13:30Z", dataEndAt="2022-03-04T17:00Z", windowSize=60
    )
    assert fc.forecastData is not None and fc.optimalDataPoints is not None
    assert [(p.timestamp[11:16], p.value) for p in fc.forecastData] == [
        ("13:30", 430.0),
        ("14:00", 440.0),
        ("15:00", 450.0),
        ("16:00", 460.0),
    ]
    assert [p.timestamp[11:16] for p in fc.optimalDataPoints] == ["13:30"]


def test_a_window_longer_than_the_range_leaves_both_lists_empty(tiny_client: TestClient) -> None:
    fc = _forecast(
        tiny_client, dataStartAt="2022-03-04T13:00Z", dataEndAt="2022-03-04T14:00Z", windowSize=90
    )
    assert fc.forecastData == [] and fc.optimalDataPoints == []


def test_data_end_past_a_day_extends_the_forecast_up_to_a_week(tiny_client: TestClient) -> None:
    fc = _forecast(tiny_client, dataEndAt="2022-03-06T12:00Z")
    assert fc.forecastData is not None and len(fc.forecastData) == 48
    body = _problem(
        tiny_client.get(CURRENT, params={"location": "DE", "dataEndAt": "2022-03-20T00:00Z"})
    )
    assert list(body["errors"]) == ["dataEndAt"]


@pytest.mark.parametrize("window", ["-5", "abc", "1.5", str(2**31)])
def test_a_bad_window_size_is_400(tiny_client: TestClient, window: str) -> None:
    body = _problem(tiny_client.get(CURRENT, params={"location": "DE", "windowSize": window}))
    assert list(body["errors"]) == ["windowSize"]


def test_a_trace_that_ended_long_before_now_cannot_forecast(make_tiny_client: MakeClient) -> None:
    client = make_tiny_client(now=TINY_NOW + timedelta(days=30))
    body = _problem(client.get(CURRENT, params={"location": "DE"}))
    assert "give recent data" in body["detail"] and list(body["errors"]) == ["location"]


def test_batch_forecasts_use_only_data_before_requested_at(tiny_client: TestClient) -> None:
    item = {"location": "eastus", "requestedAt": "2022-03-02T06:10:00Z", "windowSize": 60}
    [fc] = tiny_client.post(BATCH, json=[item]).json()
    assert fc["generatedAt"] == "2022-03-02T06:00:00+00:00"
    assert fc["optimalDataPoints"][0]["timestamp"] == "2022-03-02T23:00:00+00:00"
    # Ten hours into the trace, a seasonal-naive forecast lacks a day of history: the data
    # after requestedAt exists but is not used.
    early = {"location": "DE", "requestedAt": "2022-03-01T10:00:00Z"}
    body = _problem(tiny_client.post(BATCH, json=[item, early]))
    assert list(body["errors"]) == ["$[1].location"] and "needs at least 24 h" in body["detail"]


@pytest.mark.parametrize(
    ("item", "key"),
    [
        ({"location": "DE", "requestedAt": "2022-03-05T00:00:00Z"}, "$[0].requestedAt"),  # future
        ({"location": 5, "requestedAt": "2022-03-02T00:00:00Z"}, "$[0].location"),
        ({"location": "DE", "requestedAt": 20220302}, "$[0].requestedAt"),
        (
            {"location": "DE", "requestedAt": "2022-03-02T00:00:00Z", "windowSize": True},
            "$[0].windowSize",
        ),
        (
            {"location": "DE", "requestedAt": "2022-03-02T00:00:00Z", "windowSize": 1.5},
            "$[0].windowSize",
        ),
        (
            {
                "location": "DE",
                "requestedAt": "2022-03-02T00:00:00Z",
                "dataStartAt": "2022-03-02T05:00:00Z",
                "dataEndAt": "2022-03-02T01:00:00Z",
            },
            "$[0].dataStartAt",
        ),
    ],
)
def test_bad_batch_items_are_400_keyed_by_item(
    tiny_client: TestClient, item: dict[str, Any], key: str
) -> None:
    assert list(_problem(tiny_client.post(BATCH, json=[item]))["errors"]) == [key]


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b"", "A non-empty request body is required"),
        (b"{", "not valid JSON"),
        (b'{"location": "DE"}', "JSON dict; send a JSON array"),
        (b"[1]", "item 0 is not a JSON object"),
        (b'[{"location": "DE", "requestedAt": NaN}]', "not valid JSON"),
        (b"[" * 100_000 + b"]" * 100_000, "not valid JSON"),
    ],
)
def test_malformed_bodies_are_400(tiny_client: TestClient, body: bytes, words: str) -> None:
    for path in (BATCH, AVERAGE_BATCH):
        response = tiny_client.post(
            path, content=body, headers={"content-type": "application/json"}
        )
        assert words in _problem(response)["detail"]


def test_batch_size_and_body_size_are_bounded(make_tiny_client: MakeClient) -> None:
    client = make_tiny_client(limits=CarbonAwareLimits(max_batch_items=2, max_body_bytes=300))
    item = {"location": "DE", "requestedAt": "2022-03-02T00:00:00Z"}
    assert "at most 2" in _problem(client.post(BATCH, json=[item] * 3))["detail"]
    assert "at most 300" in _problem(client.post(BATCH, json=[item] * 9), 413)["detail"]
