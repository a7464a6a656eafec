"""Live providers replayed through httpx.MockTransport: formats, retries, cache, fallbacks."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from lowcarb.errors import ProviderError
from lowcarb.grid import (
    DiskCache,
    ElectricityMapsSource,
    JsonFetcher,
    RetryPolicy,
    UKCarbonIntensitySource,
    WattTimeSource,
    profile_series,
)

NOW = datetime(2024, 3, 5, 10, 20, tzinfo=UTC)
H = timedelta(hours=1)
Handler = Callable[[httpx.Request], httpx.Response]


class Clock:
    def __init__(self) -> None:
        self.t = 1_000_000.0

    def __call__(self) -> float:
        return self.t


def _fetcher(
    handler: Handler,
    *,
    sleeps: list[float] | None = None,
    cache: DiskCache | None = None,
    provider: str = "electricitymaps",
) -> JsonFetcher:
    return JsonFetcher(
        provider,
        client=httpx.Client(transport=httpx.MockTransport(handler)),
        retry=RetryPolicy(attempts=3, backoff_s=0.5, max_backoff_s=4.0, timeout_s=2.0),
        sleep=(sleeps.append if sleeps is not None else lambda _s: None),
        cache=cache,
    )


EM_LATEST = {
    "zone": "DE",
    "carbonIntensity": 302,
    "datetime": "2024-03-05T10:00:00.000Z",
    "updatedAt": "2024-03-05T10:12:31.000Z",
    "createdAt": "2024-03-02T10:15:00.000Z",
    "emissionFactorType": "lifecycle",
    "isEstimated": False,
    "estimationMethod": None,
}


def _em_forecast() -> dict[str, object]:
    start = datetime(2024, 3, 5, 10, tzinfo=UTC)
    points = [
        {"carbonIntensity": 300 + i, "datetime": (start + i * H).isoformat().replace("+00:00", "Z")}
        for i in range(30)
    ]
    return {"zone": "DE", "forecast": points, "updatedAt": "2024-03-05T10:00:00.000Z"}


def test_em_latest_parses_and_sends_the_token() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=EM_LATEST)

    value = ElectricityMapsSource("tok", fetcher=_fetcher(handler)).latest("DE", now=NOW)
    assert value.intensity_g_per_kwh == 302.0
    assert value.time == datetime(2024, 3, 5, 10, tzinfo=UTC)
    assert value.kind == "measured"
    assert value.scope == "lifecycle"
    assert value.source == "electricitymaps:v3/latest"
    assert seen[0].headers["auth-token"] == "tok"
    assert seen[0].url.path == "/v3/carbon-intensity/latest"
    assert seen[0].url.params["zone"] == "DE"


def test_em_forecast_and_history() -> None:
    history = {
        "zone": "DE",
        "data": [
            dict(EM_LATEST, datetime=f"2024-03-05T0{h}:00:00.000Z", carbonIntensity=100 + h)
            for h in range(5)
        ],
    }

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/forecast"):
            assert request.url.params["horizonHours"] == "6"
            return httpx.Response(200, json=_em_forecast())
        assert request.url.path == "/v3/carbon-intensity/past-range"
        assert request.url.params["start"] == "2024-03-05T01:00:00Z"
        assert request.url.params["end"] == "2024-03-05T04:00:00Z"
        return httpx.Response(200, json=history)

    src = ElectricityMapsSource("tok", fetcher=_fetcher(handler))
    fc = src.forecast("DE", now=NOW, horizon_h=6)
    assert fc.start == datetime(2024, 3, 5, 11, tzinfo=UTC)  # first hour after 10:20
    assert list(fc.values_g_per_kwh) == [301.0, 302.0, 303.0, 304.0, 305.0, 306.0]
    assert fc.kind == "forecast"
    hist = src.history("DE", start=NOW.replace(hour=1, minute=0), end=NOW.replace(hour=4, minute=0))
    assert list(hist.values_g_per_kwh) == [101.0, 102.0, 103.0]
    assert hist.source == "electricitymaps:v3/past-range"


def test_401_is_never_retried_nor_masked() -> None:
    calls: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return httpx.Response(401, json={"message": "bad token"})

    with pytest.raises(ProviderError, match=r"refused \(HTTP 401\): check the API credentials"):
        ElectricityMapsSource("bad", fetcher=_fetcher(handler)).latest("DE", now=NOW)
    assert len(calls) == 1


def test_429_is_retried_honouring_retry_after() -> None:
    responses = [
        httpx.Response(429, headers={"Retry-After": "3"}),
        httpx.Response(200, json=EM_LATEST),
    ]
    sleeps: list[float] = []
    src = ElectricityMapsSource("t", fetcher=_fetcher(lambda r: responses.pop(0), sleeps=sleeps))
    assert src.latest("DE", now=NOW).intensity_g_per_kwh == 302.0
    assert sleeps == [3.0]


def test_500_exhausts_retries_with_backoff_then_labelled_fallback() -> None:
    sleeps: list[float] = []
    src = ElectricityMapsSource(
        "t", fetcher=_fetcher(lambda r: httpx.Response(500, text="oops"), sleeps=sleeps)
    )
    value = src.latest("DE", now=NOW)
    assert sleeps == [0.5, 1.0]
    expected = profile_series("DE", start=NOW, hours=1).values_g_per_kwh[0]
    assert value.intensity_g_per_kwh == expected
    assert value.source == "profile:electricitymaps-2022"
    assert value.kind == "estimated"
    assert "electricitymaps unavailable" in value.note
    assert "HTTP 500 after 3 attempt(s)" in value.note
    assert "offline fallback: embedded month x hour profile" in value.note
    fc = src.forecast("DE", now=NOW, horizon_h=3)
    assert fc.source == "forecast:profile(electricitymaps-2022)"
    assert any("offline fallback: embedded profile" in n for n in fc.notes)
    hist = src.history("DE", start=NOW - 3 * H, end=NOW)
    assert hist.source == "static:electricitymaps-2022-lca"
    assert any("offline fallback: static annual average" in n for n in hist.notes)


def test_without_fallback_errors_are_one_line() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    sleeps: list[float] = []
    src = ElectricityMapsSource("t", fetcher=_fetcher(handler, sleeps=sleeps), fallback=False)
    with pytest.raises(ProviderError) as info:
        src.latest("DE", now=NOW)
    assert str(info.value) == (
        "electricitymaps: GET /v3/carbon-intensity/latest failed: timed out after 2 s "
        "after 3 attempt(s)"
    )
    assert len(sleeps) == 2


def test_connection_errors_are_retried() -> None:
    state = {"n": 0}

    def handler(request: httpx.Request) -> httpx.Response:
        state["n"] += 1
        if state["n"] == 1:
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(200, json=EM_LATEST)

    src = ElectricityMapsSource("t", fetcher=_fetcher(handler), fallback=False)
    assert src.latest("DE", now=NOW).intensity_g_per_kwh == 302.0
    assert state["n"] == 2


@pytest.mark.parametrize(
    ("response", "match"),
    [
        (httpx.Response(200, text="<html>maintenance</html>"), "malformed body"),
        (httpx.Response(200, json=[1, 2]), "is not an object"),
        (httpx.Response(200, json=dict(EM_LATEST, carbonIntensity="high")), "carbonIntensity"),
        (httpx.Response(200, json=dict(EM_LATEST, carbonIntensity=-5)), "carbonIntensity"),
        (httpx.Response(200, json=dict(EM_LATEST, datetime="yesterday")), "not ISO 8601"),
        (httpx.Response(404, text="zone not found"), "HTTP 404"),
    ],
)
def test_garbage_responses(response: httpx.Response, match: str) -> None:
    src = ElectricityMapsSource("t", fetcher=_fetcher(lambda r: response), fallback=False)
    with pytest.raises(ProviderError, match=match) as info:
        src.latest("DE", now=NOW)
    assert "\n" not in str(info.value)
    # With the fallback on, the same garbage gives a labelled profile value instead.
    labelled = ElectricityMapsSource("t", fetcher=_fetcher(lambda r: response)).latest(
        "DE", now=NOW
    )
    assert "offline fallback" in labelled.note


def test_disk_cache_ttl_and_stale_fallback(tmp_path: Path) -> None:
    clock = Clock()
    cache = DiskCache(tmp_path / "cache", clock=clock)
    calls: list[int] = []
    healthy = {"ok": True}

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return httpx.Response(200, json=EM_LATEST) if healthy["ok"] else httpx.Response(503)

    src = ElectricityMapsSource("t", fetcher=_fetcher(handler, cache=cache), ttl_s=300)
    src.latest("DE", now=NOW)
    src.latest("DE", now=NOW)
    assert len(calls) == 1  # second answer from the cache
    clock.t += 301
    src.latest("DE", now=NOW)
    assert len(calls) == 2  # expired: fetched again
    healthy["ok"] = False
    clock.t += 3600
    stale = src.latest("DE", now=NOW)
    assert stale.intensity_g_per_kwh == 302.0
    assert "cached response from 60 min ago" in stale.note
    assert "HTTP 503" in stale.note


def test_corrupt_cache_entries_are_misses(tmp_path: Path) -> None:
    cache = DiskCache(tmp_path)
    cache.put("k", {"a": 1})
    assert cache.get("k", max_age_s=60) is not None
    for path in tmp_path.iterdir():
        path.write_text("{not json")
    assert cache.get("k", max_age_s=60) is None


def _wt_handler(log: list[httpx.Request], *, expire_once: bool = False) -> Handler:
    state = {"expired": expire_once}
    start = datetime(2024, 3, 5, 10, 0, tzinfo=UTC)

    def handler(request: httpx.Request) -> httpx.Response:
        log.append(request)
        if request.url.path == "/login":
            assert request.headers["authorization"].startswith("Basic ")
            return httpx.Response(200, json={"token": f"tok{len(log)}"})
        if state["expired"]:
            state["expired"] = False
            return httpx.Response(401)
        data = [
            {"point_time": (start + timedelta(minutes=5 * i)).isoformat(), "value": 1000.0 + i}
            for i in range(12 * 5)
        ]
        meta = {"region": "CAISO_NORTH", "signal_type": "co2_moer", "units": "lbs_co2_per_mwh"}
        return httpx.Response(200, json={"data": data, "meta": meta})

    return handler


def test_watttime_login_bearer_and_unit_conversion() -> None:
    log: list[httpx.Request] = []
    src = WattTimeSource("u", "p", fetcher=_fetcher(_wt_handler(log), provider="watttime"))
    fc = src.forecast("CAISO_NORTH", now=NOW, horizon_h=2)
    assert log[0].url.path == "/login"
    assert log[1].headers["authorization"] == "Bearer tok1"
    assert log[1].url.params["signal_type"] == "co2_moer"
    # 11:00-12:00 holds points 12..23: mean 1017.5 lbs/MWh -> x 0.45359237 g/kWh.
    assert fc.start == datetime(2024, 3, 5, 11, tzinfo=UTC)
    assert fc.values_g_per_kwh[0] == pytest.approx(1017.5 * 0.45359237)
    assert fc.signal == "marginal"
    assert fc.scope == "direct"
    latest = src.latest("CAISO_NORTH", now=NOW)
    assert latest.signal == "marginal"
    assert len([r for r in log if r.url.path == "/login"]) == 1  # token reused


def test_watttime_relogs_in_once_on_401() -> None:
    log: list[httpx.Request] = []
    src = WattTimeSource("u", "p", fetcher=_fetcher(_wt_handler(log, expire_once=True)))
    src.latest("CAISO_NORTH", now=NOW)
    assert [r.url.path for r in log] == ["/login", "/v3/forecast", "/login", "/v3/forecast"]


def test_watttime_rejects_unknown_units() -> None:
    body = {"data": [], "meta": {"units": "kg_per_kwh"}}

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/login":
            return httpx.Response(200, json={"token": "t"})
        return httpx.Response(200, json=body)

    src = WattTimeSource("u", "p", fetcher=_fetcher(handler), fallback=False)
    with pytest.raises(ProviderError, match="unsupported units 'kg_per_kwh'"):
        src.latest("CAISO_NORTH", now=NOW)


def _ukci_entries(n: int, *, actual: bool) -> list[dict[str, object]]:
    start = datetime(2024, 3, 5, 10, 0, tzinfo=UTC)
    out = []
    for i in range(n):
        t0 = start + timedelta(minutes=30 * i)
        out.append(
            {
                "from": t0.strftime("%Y-%m-%dT%H:%MZ"),
                "to": (t0 + timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%MZ"),
                "intensity": {
                    "forecast": 200 + i,
                    "actual": (190 + i) if actual else None,
                    "index": "moderate",
                },
            }
        )
    return out


def test_ukci_national_forecast_and_latest() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path)
        if request.url.path == "/intensity":
            return httpx.Response(200, json={"data": _ukci_entries(1, actual=True)})
        return httpx.Response(200, json={"data": _ukci_entries(96, actual=False)})

    src = UKCarbonIntensitySource(fetcher=_fetcher(handler, provider="ukci"))
    latest = src.latest("GB", now=NOW)
    assert latest.intensity_g_per_kwh == 190.0
    assert latest.kind == "measured"
    assert latest.scope == "direct"
    fc = src.forecast("gb", now=NOW, horizon_h=3)
    assert seen[-1] == "/intensity/2024-03-05T10:00Z/fw48h"
    assert fc.start == datetime(2024, 3, 5, 11, tzinfo=UTC)
    assert list(fc.values_g_per_kwh) == [202.5, 204.5, 206.5]  # half-hours averaged per hour


def test_ukci_regional_forecast() -> None:
    body = {
        "data": [{"regionid": 13, "shortname": "London", "data": _ukci_entries(8, actual=False)}]
    }

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/regional/intensity/2024-03-05T10:00Z/fw48h/regionid/13"
        return httpx.Response(200, json=body)

    fc = UKCarbonIntensitySource(fetcher=_fetcher(handler)).forecast("GB:13", now=NOW, horizon_h=2)
    assert fc.zone == "GB:13"
    assert list(fc.values_g_per_kwh) == [202.5, 204.5]


def test_ukci_bad_zone_and_long_horizon() -> None:
    src = UKCarbonIntensitySource(fetcher=_fetcher(lambda r: httpx.Response(500)), fallback=False)
    with pytest.raises(ProviderError, match="not 'GB:99'"):
        src.latest("GB:99", now=NOW)
    with pytest.raises(ProviderError, match="48 h ahead at most"):
        src.forecast("GB", now=NOW, horizon_h=72)


def test_cache_file_is_json_with_timestamp(tmp_path: Path) -> None:
    clock = Clock()
    DiskCache(tmp_path, clock=clock).put("key", {"v": 1})
    (entry,) = tmp_path.iterdir()
    data = json.loads(entry.read_text())
    assert data == {"key": "key", "stored_at": clock.t, "body": {"v": 1}}
