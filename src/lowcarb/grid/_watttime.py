"""WattTime API v3: marginal operating emissions rate (MOER), converted to gCO2/kWh.

Documented flow: ``GET /login`` with HTTP basic auth -> ``{"token": "..."}`` (valid 30 minutes),
then ``Authorization: Bearer <token>`` on ``GET /v3/forecast`` and ``GET /v3/historical``
(``region``, ``signal_type=co2_moer``), each answering ``{"data": [{"point_time", "value"}, ...],
"meta": {"region", "signal_type", "units": "lbs_co2_per_mwh", ...}}`` at 5-minute resolution.
Zones here are WattTime region codes (``CAISO_NORTH``), not Electricity Maps ids.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from lowcarb.errors import ProviderError
from lowcarb.grid._http import JsonFetcher, ProviderAuthError
from lowcarb.grid._live import (
    LiveIntensitySource,
    chunked,
    merge_series,
    number,
    parse_time,
    points_to_series,
)
from lowcarb.grid._series import IntensitySeries
from lowcarb.grid._types import Intensity

__all__ = ["LBS_PER_MWH_TO_G_PER_KWH", "WattTimeSource"]

#: Longest range one /historical request asks for (the API allows 32 days).
MAX_HISTORY_SPAN = timedelta(days=30)

#: ``horizon_hours`` of /v3/forecast is documented as 0..72 (docs.watttime.org, "Forecast").
MAX_FORECAST_H = 72

#: 1 lb = 453.59237 g (exact, international avoirdupois pound); 1 MWh = 1000 kWh.
LBS_PER_MWH_TO_G_PER_KWH = 453.59237 / 1000.0
USER_ENV = "WATTTIME_USERNAME"
PASSWORD_ENV = "WATTTIME_PASSWORD"  # noqa: S105 (a variable name, not a secret)
DEFAULT_BASE_URL = "https://api.watttime.org"
_TOKEN_LIFETIME_S = 25 * 60  # WattTime tokens last 30 min; renew early


class WattTimeSource(LiveIntensitySource):
    """WattTime v3 MOER (marginal signal, direct combustion emissions), g/kWh.

    Args:
        username: WattTime account name.
        password: WattTime password.
        fetcher: Retries, timeouts, cache.
        base_url: API root.
        fallback: Labelled offline fallback (only possible for region codes that are also
            Electricity Maps zones, which is rare: usually the error is raised).
        clock: Monotonic seconds, for token expiry (injected for tests).
    """

    name = "watttime"

    def __init__(
        self,
        username: str,
        password: str,
        *,
        fetcher: JsonFetcher | None = None,
        base_url: str = DEFAULT_BASE_URL,
        fallback: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not username or not password:
            raise ProviderError(
                f"watttime needs a username and password ({USER_ENV}, {PASSWORD_ENV})"
            )
        super().__init__(fetcher or JsonFetcher("watttime"), fallback=fallback)
        self._credentials = (username, password)
        self.base_url = base_url.rstrip("/")
        self._clock = clock
        self._token: tuple[str, float] | None = None

    def _login(self) -> str:
        if self._token is not None and self._clock() < self._token[1]:
            return self._token[0]
        got = self.fetcher.get(f"{self.base_url}/login", auth=self._credentials)
        token = got.body.get("token") if isinstance(got.body, Mapping) else None
        if not isinstance(token, str) or not token:
            raise ProviderError("malformed response: watttime /login returned no token")
        self._token = (token, self._clock() + _TOKEN_LIFETIME_S)
        return token

    def _get(self, endpoint: str, params: dict[str, str], ttl_s: float) -> tuple[Any, str]:
        for attempt in (0, 1):
            headers = {"Authorization": f"Bearer {self._login()}"}
            try:
                got = self.fetcher.get(
                    f"{self.base_url}/v3/{endpoint}", params=params, headers=headers, ttl_s=ttl_s
                )
            except ProviderAuthError:
                if attempt:
                    raise
                self._token = None  # expired early: log in again once
                continue
            if not isinstance(got.body, Mapping):
                raise ProviderError(f"malformed response: watttime {endpoint} is not an object")
            return got.body, self.stale_note(got)
        raise AssertionError("unreachable")  # pragma: no cover

    def _series(
        self, body: Mapping[str, Any], region: str, kind: str, stale: str
    ) -> IntensitySeries:
        meta = body.get("meta")
        units = meta.get("units") if isinstance(meta, Mapping) else None
        if units != "lbs_co2_per_mwh":
            raise ProviderError(f"watttime: unsupported units {units!r} (expected lbs_co2_per_mwh)")
        data = body.get("data")
        if not isinstance(data, list):
            raise ProviderError("malformed response: watttime 'data' is not a list")
        points = []
        for i, point in enumerate(data):
            if not isinstance(point, Mapping):
                raise ProviderError(f"malformed response: watttime data[{i}]")
            lbs = number(point.get("value"), f"data[{i}].value")
            points.append(
                (
                    parse_time(point.get("point_time"), f"data[{i}].point_time"),
                    lbs * LBS_PER_MWH_TO_G_PER_KWH,
                )
            )
        series = points_to_series(
            points,
            zone=region,
            source=f"watttime:v3/{kind}(co2_moer)",
            signal="marginal",
            scope="direct",
            kind="forecast" if kind == "forecast" else "estimated",
        )
        notes = ("MOER converted from lbs/MWh to g/kWh (x 0.45359237)", stale)
        return series.replace(notes=tuple(n for n in (*series.notes, *notes) if n))

    def _latest(self, zone: str, *, now: datetime) -> Intensity:
        params = {"region": zone, "signal_type": "co2_moer", "horizon_hours": "0"}
        body, stale = self._get("forecast", params, ttl_s=300.0)
        series = self._series(body, zone, "forecast", stale)
        first = next(iter(series))
        # horizon 0: the current 5-minute MOER, WattTime's real-time estimate.
        return Intensity(
            zone=zone,
            intensity_g_per_kwh=first.intensity_g_per_kwh,
            source="watttime:v3/forecast(co2_moer, horizon 0)",
            signal="marginal",
            scope="direct",
            kind="estimated",
            time=first.time,
            note=first.note,
        )

    def _history(self, zone: str, *, start: datetime, end: datetime) -> IntensitySeries:
        parts = []
        # WattTime v3 /historical answers at most 32 days per request (docs.watttime.org,
        # "Historical"); 30-day pieces stay inside it.
        for frm, to in chunked(start, end, MAX_HISTORY_SPAN):
            params = {
                "region": zone,
                "signal_type": "co2_moer",
                "start": frm.isoformat(),
                "end": to.isoformat(),
            }
            body, stale = self._get("historical", params, ttl_s=3600.0)
            parts.append(self._series(body, zone, "historical", stale))
        return merge_series(parts).between(start, end)

    def _forecast(self, zone: str, *, now: datetime, horizon_h: int) -> IntensitySeries:
        if horizon_h > MAX_FORECAST_H:
            raise ProviderError(
                f"watttime forecasts {MAX_FORECAST_H} h ahead at most, asked for {horizon_h} h"
            )
        # One hour more than asked covers the partial hour before the first whole one.
        asked = min(horizon_h + 1, MAX_FORECAST_H)
        params = {"region": zone, "signal_type": "co2_moer", "horizon_hours": str(asked)}
        body, stale = self._get("forecast", params, ttl_s=300.0)
        return self._window(self._series(body, zone, "forecast", stale), now, horizon_h)
