"""Electricity Maps API v3: latest, history (last 24 h) and forecast of carbon intensity.

Documented endpoints (``auth-token`` header), each answering JSON:

* ``GET /v3/carbon-intensity/latest?zone=DE`` -> ``{"zone", "carbonIntensity", "datetime",
  "updatedAt", "emissionFactorType", "isEstimated", ...}``
* ``GET /v3/carbon-intensity/past-range?zone=DE&start=...&end=...`` -> ``{"zone", "data":
  [<as latest>, ...]}`` (hourly; at most 10 days per request)
* ``GET /v3/carbon-intensity/forecast?zone=DE&horizonHours=24`` -> ``{"zone", "forecast":
  [{"carbonIntensity", "datetime"}, ...], "updatedAt"}``

The zone is always sent: without one the API would locate the caller by IP address.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from lowcarb.errors import ProviderError
from lowcarb.grid._http import JsonFetcher
from lowcarb.grid._live import (
    LiveIntensitySource,
    chunked,
    merge_series,
    number,
    parse_time,
    points_to_series,
)
from lowcarb.grid._series import IntensitySeries
from lowcarb.grid._types import Intensity, Scope

__all__ = ["ElectricityMapsSource"]

#: Environment variable holding the API token.
TOKEN_ENV = "ELECTRICITYMAPS_API_TOKEN"  # noqa: S105 (a variable name, not a secret)
DEFAULT_BASE_URL = "https://api.electricitymap.org/v3"
#: Longest range one ``past-range`` request may ask for at hourly granularity: 10 days, per the
#: Electricity Maps API v3 reference (portal.electricitymaps.com/docs/api, "Past range":
#: "limited to 10 days for hourly granularity"). Longer ranges go out in pieces and are merged.
MAX_PAST_RANGE = timedelta(days=10)
#: The ``horizonHours`` values the v3 forecast endpoint documents (same reference, "Forecast").
#: A request asks for the smallest one covering the horizon and keeps only the hours wanted.
FORECAST_HORIZONS_H = (6, 24, 48, 72)


class ElectricityMapsSource(LiveIntensitySource):
    """Electricity Maps API v3 (average signal; lifecycle unless the response says direct).

    Args:
        token: API token (sent as ``auth-token``).
        fetcher: Retries, timeouts, cache; default a plain :class:`JsonFetcher`.
        base_url: API root.
        fallback: Use cached values or the embedded profile when the API fails (labelled).
        ttl_s: Cache lifetime of latest/history (forecasts: 3x).
    """

    name = "electricitymaps"

    def __init__(
        self,
        token: str,
        *,
        fetcher: JsonFetcher | None = None,
        base_url: str = DEFAULT_BASE_URL,
        fallback: bool = True,
        ttl_s: float = 300.0,
    ) -> None:
        if not token.strip():
            raise ProviderError(f"electricitymaps needs an API token (set {TOKEN_ENV})")
        super().__init__(fetcher or JsonFetcher("electricitymaps"), fallback=fallback)
        self._token = token.strip()
        self.base_url = base_url.rstrip("/")
        self.ttl_s = ttl_s

    def _get(self, endpoint: str, zone: str, ttl_s: float, **params: str) -> tuple[Any, str]:
        got = self.fetcher.get(
            f"{self.base_url}/carbon-intensity/{endpoint}",
            params={"zone": zone, **params},
            headers={"auth-token": self._token},
            ttl_s=ttl_s,
        )
        if not isinstance(got.body, Mapping):
            raise ProviderError(f"malformed response: electricitymaps {endpoint} is not an object")
        return got.body, self.stale_note(got)

    @staticmethod
    def _scope(entry: Mapping[str, Any]) -> Scope:
        return "direct" if entry.get("emissionFactorType") == "direct" else "lifecycle"

    def _latest(self, zone: str, *, now: datetime) -> Intensity:
        body, stale = self._get("latest", zone, self.ttl_s)
        return Intensity(
            zone=str(body.get("zone", zone)),
            intensity_g_per_kwh=number(body.get("carbonIntensity"), "carbonIntensity"),
            source="electricitymaps:v3/latest",
            signal="average",
            scope=self._scope(body),
            kind="estimated" if body.get("isEstimated") else "measured",
            time=parse_time(body.get("datetime"), "datetime"),
            note=stale,
        )

    def _series(self, body: Mapping[str, Any], key: str, zone: str, stale: str) -> IntensitySeries:
        entries = body.get(key)
        if not isinstance(entries, list):
            raise ProviderError(f"malformed response: electricitymaps '{key}' is not a list")
        points = []
        for i, entry in enumerate(entries):
            if not isinstance(entry, Mapping):
                raise ProviderError(f"malformed response: electricitymaps {key}[{i}]")
            points.append(
                (
                    parse_time(entry.get("datetime"), f"{key}[{i}].datetime"),
                    number(entry.get("carbonIntensity"), f"{key}[{i}].carbonIntensity"),
                )
            )
        estimated = any(isinstance(e, Mapping) and e.get("isEstimated") for e in entries)
        series = points_to_series(
            points,
            zone=str(body.get("zone", zone)),
            source=f"electricitymaps:v3/{'past-range' if key == 'data' else key}",
            signal="average",
            scope=self._scope(entries[0]) if entries else "lifecycle",
            kind="forecast" if key == "forecast" else ("estimated" if estimated else "measured"),
        )
        return series.replace(notes=tuple(n for n in (*series.notes, stale) if n))

    def _history(self, zone: str, *, start: datetime, end: datetime) -> IntensitySeries:
        parts = []
        for frm, to in chunked(start, end, MAX_PAST_RANGE):
            body, stale = self._get(
                "past-range", zone, self.ttl_s, start=_stamp(frm), end=_stamp(to)
            )
            parts.append(self._series(body, "data", zone, stale))
        full = merge_series(parts)
        part = full.between(start, end)
        if part.start > start or part.end < end:
            note = f"the provider returned {full.start.isoformat()} to {full.end.isoformat()}"
            part = part.replace(notes=(*part.notes, note))
        return part

    def _forecast(self, zone: str, *, now: datetime, horizon_h: int) -> IntensitySeries:
        asked = next((h for h in FORECAST_HORIZONS_H if h >= horizon_h), None)
        if asked is None:
            raise ProviderError(
                f"electricitymaps forecasts {FORECAST_HORIZONS_H[-1]} h ahead at most, "
                f"asked for {horizon_h} h"
            )
        body, stale = self._get("forecast", zone, 3 * self.ttl_s, horizonHours=str(asked))
        return self._window(self._series(body, "forecast", zone, stale), now, horizon_h)


def _stamp(when: datetime) -> str:
    """UTC ISO 8601 with ``Z``, as the API's examples write it."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
