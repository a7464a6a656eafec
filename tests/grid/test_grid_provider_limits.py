"""Live providers keep to their documented limits: history in pieces, forecast horizons, and
never a request without an explicit zone (the API would guess it from the caller's IP)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from lowcarb.errors import InvalidValueError, ProviderError
from lowcarb.grid import (
    ElectricityMapsSource,
    JsonFetcher,
    RetryPolicy,
    UKCarbonIntensitySource,
    WattTimeSource,
)
from lowcarb.grid._live import LiveIntensitySource

START = datetime(2024, 1, 1, tzinfo=UTC)
NOW = datetime(2024, 3, 5, 10, 20, tzinfo=UTC)
Handler = Callable[[httpx.Request], httpx.Response]


def _fetcher(handler: Handler, provider: str) -> JsonFetcher:
    return JsonFetcher(
        provider,
        client=httpx.Client(transport=httpx.MockTransport(handler)),
        retry=RetryPolicy(attempts=1),
        sleep=lambda _s: None,
    )


def _hours(start: datetime, end: datetime, step: timedelta) -> list[datetime]:
    out, t = [], start
    while t < end:
        out.append(t)
        t += step
    return out


def _iso(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def test_electricitymaps_history_goes_out_in_10_day_past_range_requests() -> None:
    asked: list[tuple[datetime, datetime]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/v3/carbon-intensity/past-range"
        assert request.url.params["zone"] == "DE"
        frm, to = _iso(request.url.params["start"]), _iso(request.url.params["end"])
        assert to - frm <= timedelta(days=10), "a request over the documented 10-day limit"
        asked.append((frm, to))
        data = [
            {"datetime": t.isoformat(), "carbonIntensity": 300 + t.day, "isEstimated": False}
            for t in _hours(frm, to, timedelta(hours=1))
        ]
        return httpx.Response(200, json={"zone": "DE", "data": data})

    src = ElectricityMapsSource("tok", fetcher=_fetcher(handler, "electricitymaps"), fallback=False)
    series = src.history("DE", start=START, end=START + timedelta(days=25))
    assert [a for a, _ in asked] == [START + timedelta(days=d) for d in (0, 10, 20)]
    assert asked[-1][1] == START + timedelta(days=25)
    assert len(series) == 25 * 24
    assert series.kind == "measured"
    assert series.values_g_per_kwh[0] == 301.0 and series.values_g_per_kwh[-1] == 325.0
    assert any("fetched in 3 requests" in n for n in series.notes)


def test_estimated_past_range_points_label_the_series_estimated() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        frm, to = _iso(request.url.params["start"]), _iso(request.url.params["end"])
        data = [
            {"datetime": t.isoformat(), "carbonIntensity": 300, "isEstimated": t.hour == 3}
            for t in _hours(frm, to, timedelta(hours=1))
        ]
        return httpx.Response(200, json={"zone": "DE", "data": data})

    src = ElectricityMapsSource("tok", fetcher=_fetcher(handler, "electricitymaps"), fallback=False)
    assert src.history("DE", start=START, end=START + timedelta(hours=6)).kind == "estimated"


def _wt_handler(asked: list[tuple[datetime, datetime]], horizons: list[str]) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/login":
            return httpx.Response(200, json={"token": "t"})
        meta = {"region": "CAISO_NORTH", "signal_type": "co2_moer", "units": "lbs_co2_per_mwh"}
        if request.url.path == "/v3/forecast":
            horizons.append(request.url.params["horizon_hours"])
            points = _hours(NOW, NOW + timedelta(hours=73), timedelta(minutes=5))
        else:
            assert request.url.path == "/v3/historical"
            frm, to = _iso(request.url.params["start"]), _iso(request.url.params["end"])
            assert to - frm <= timedelta(days=30), "a request over lowcarb's 30-day pieces"
            asked.append((frm, to))
            points = _hours(frm, to, timedelta(minutes=5))
        data = [{"point_time": t.isoformat(), "value": 1000.0} for t in points]
        return httpx.Response(200, json={"data": data, "meta": meta})

    return handler


def test_watttime_history_goes_out_in_30_day_requests() -> None:
    asked: list[tuple[datetime, datetime]] = []
    src = WattTimeSource(
        "u", "p", fetcher=_fetcher(_wt_handler(asked, []), "watttime"), fallback=False
    )
    series = src.history("CAISO_NORTH", start=START, end=START + timedelta(days=65))
    assert [a for a, _ in asked] == [START + timedelta(days=d) for d in (0, 30, 60)]
    assert len(series) == 65 * 24
    assert series.signal == "marginal"


@pytest.mark.parametrize(("horizon_h", "asked"), [(1, "2"), (24, "25"), (72, "72")])
def test_watttime_asks_only_for_documented_horizons(horizon_h: int, asked: str) -> None:
    horizons: list[str] = []
    src = WattTimeSource(
        "u", "p", fetcher=_fetcher(_wt_handler([], horizons), "watttime"), fallback=False
    )
    src.forecast("CAISO_NORTH", now=NOW, horizon_h=horizon_h)
    assert horizons == [asked]


def test_watttime_refuses_a_horizon_past_72_hours_without_asking() -> None:
    horizons: list[str] = []
    src = WattTimeSource(
        "u", "p", fetcher=_fetcher(_wt_handler([], horizons), "watttime"), fallback=False
    )
    with pytest.raises(ProviderError, match="72 h ahead at most, asked for 96 h"):
        src.forecast("CAISO_NORTH", now=NOW, horizon_h=96)
    assert horizons == []


@pytest.mark.parametrize(("horizon_h", "asked"), [(3, "6"), (6, "6"), (7, "24"), (30, "48")])
def test_electricitymaps_asks_only_for_documented_horizons(horizon_h: int, asked: str) -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.params["horizonHours"])
        points = _hours(NOW, NOW + timedelta(hours=int(asked) + 1), timedelta(hours=1))
        forecast = [{"datetime": t.isoformat(), "carbonIntensity": 250} for t in points]
        return httpx.Response(200, json={"zone": "DE", "forecast": forecast})

    src = ElectricityMapsSource("tok", fetcher=_fetcher(handler, "electricitymaps"), fallback=False)
    fc = src.forecast("DE", now=NOW, horizon_h=horizon_h)
    assert seen == [asked]
    assert len(fc) == horizon_h


def test_a_horizon_no_provider_offers_falls_back_with_a_label() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise AssertionError("no request may be made for an undocumented horizon")

    src = ElectricityMapsSource("tok", fetcher=_fetcher(handler, "electricitymaps"))
    fc = src.forecast("DE", now=NOW, horizon_h=100)
    assert len(fc) == 100
    assert any("72 h ahead at most" in n and "offline fallback" in n for n in fc.notes)


def _never(request: httpx.Request) -> httpx.Response:
    raise AssertionError(f"a request was made without a zone: {request.url}")


@pytest.mark.parametrize(
    "make",
    [
        lambda: ElectricityMapsSource("tok", fetcher=_fetcher(_never, "electricitymaps")),
        lambda: WattTimeSource("u", "p", fetcher=_fetcher(_never, "watttime")),
        lambda: UKCarbonIntensitySource(fetcher=_fetcher(_never, "ukci")),
    ],
)
@pytest.mark.parametrize("zone", ["", "   "])
def test_no_request_is_made_without_an_explicit_zone(
    make: Callable[[], LiveIntensitySource], zone: str
) -> None:
    src = make()
    with pytest.raises(InvalidValueError, match="explicit zone"):
        src.latest(zone, now=NOW)
    with pytest.raises(InvalidValueError, match="explicit zone"):
        src.forecast(zone, now=NOW, horizon_h=6)
    with pytest.raises(InvalidValueError, match="explicit zone"):
        src.history(zone, start=START, end=START + timedelta(hours=2))
