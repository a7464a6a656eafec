"""The GB Carbon Intensity API (NESO, api.carbonintensity.org.uk; no key; CC BY 4.0).

Documented endpoints, half-hourly, gCO2/kWh:

* national: ``GET /intensity`` (now), ``/intensity/{from}/fw48h`` (48 h forecast),
  ``/intensity/{from}/{to}``: ``{"data": [{"from", "to", "intensity": {"forecast", "actual",
  "index"}}]}``;
* regional: ``/regional/intensity/{from}/fw48h/regionid/{id}`` and
  ``/regional/regionid/{id}``: ``{"data": [{"regionid", "shortname", "data": [{"from", "to",
  "intensity": {"forecast", "index"}}]}]}`` (forecasts only).

Zones: ``GB`` (national) or ``GB:<regionid>`` (1..17, e.g. ``GB:13`` London). The API counts
generation emissions only, so values are labelled ``scope="direct"``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
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
from lowcarb.grid._series import IntensitySeries, floor_hour
from lowcarb.grid._types import Intensity

__all__ = ["UKCarbonIntensitySource"]

DEFAULT_BASE_URL = "https://api.carbonintensity.org.uk"
_HOUR = timedelta(hours=1)
#: Longest range one /intensity/{from}/{to} request may ask for.
MAX_HISTORY_SPAN = timedelta(days=14)


def _stamp(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%MZ")


class UKCarbonIntensitySource(LiveIntensitySource):
    """GB national or regional carbon intensity: actuals where published, else forecasts.

    Args:
        fetcher: Retries, timeouts, cache.
        base_url: API root.
        fallback: Labelled offline fallback to the embedded GB profile.
    """

    name = "ukci"

    def __init__(
        self,
        *,
        fetcher: JsonFetcher | None = None,
        base_url: str = DEFAULT_BASE_URL,
        fallback: bool = True,
    ) -> None:
        super().__init__(fetcher or JsonFetcher("ukci"), fallback=fallback)
        self.base_url = base_url.rstrip("/")

    @staticmethod
    def _region(zone: str) -> str | None:
        text = zone.strip().upper()
        if text == "GB":
            return None
        prefix, _, region = text.partition(":")
        if prefix != "GB" or not region.isdigit() or not 1 <= int(region) <= 17:
            raise ProviderError(
                f"ukci knows zone 'GB' (national) or 'GB:<1..17>' (a region), not {zone!r}"
            )
        return region

    def _get(self, path: str, ttl_s: float) -> tuple[list[Any], str]:
        got = self.fetcher.get(f"{self.base_url}{path}", ttl_s=ttl_s)
        data = got.body.get("data") if isinstance(got.body, Mapping) else None
        if isinstance(data, Mapping):  # some regional answers wrap one region in an object
            data = [data]
        if not isinstance(data, list):
            raise ProviderError(f"malformed response: ukci {path} has no 'data' list")
        if data and isinstance(data[0], Mapping) and "regionid" in data[0]:
            data = data[0].get("data")
            if not isinstance(data, list):
                raise ProviderError(f"malformed response: ukci {path} region has no 'data' list")
        return data, self.stale_note(got)

    @staticmethod
    def _points(entries: list[Any]) -> tuple[list[tuple[datetime, float]], bool]:
        points: list[tuple[datetime, float]] = []
        all_actual = True
        for i, entry in enumerate(entries):
            intensity = entry.get("intensity") if isinstance(entry, Mapping) else None
            if not isinstance(intensity, Mapping):
                raise ProviderError(f"malformed response: ukci data[{i}] has no 'intensity'")
            actual = intensity.get("actual")
            value = actual if actual is not None else intensity.get("forecast")
            all_actual &= actual is not None
            points.append(
                (parse_time(entry.get("from"), f"data[{i}].from"), number(value, f"data[{i}]"))
            )
        return points, all_actual

    def _series(self, path: str, zone: str, forecast: bool, ttl_s: float) -> IntensitySeries:
        entries, stale = self._get(path, ttl_s)
        points, all_actual = self._points(entries)
        series = points_to_series(
            points,
            zone=zone.strip().upper(),
            source="ukci:" + path.split("/")[1] + ("/fw48h" if forecast else ""),
            signal="average",
            scope="direct",
            kind="forecast" if forecast or not all_actual else "measured",
        )
        notes = ["half-hourly values averaged per hour", stale]
        if not forecast and not all_actual:
            notes.append("some half-hours have forecasts only (no actual yet)")
        return series.replace(notes=tuple(n for n in (*series.notes, *notes) if n))

    def _latest(self, zone: str, *, now: datetime) -> Intensity:
        region = self._region(zone)
        path = "/intensity" if region is None else f"/regional/regionid/{region}"
        entries, stale = self._get(path, ttl_s=300.0)
        points, all_actual = self._points(entries[:1])
        when, value = points[0]
        return Intensity(
            zone=zone.strip().upper(),
            intensity_g_per_kwh=value,
            source="ukci:" + path.split("/")[1],
            signal="average",
            scope="direct",
            kind="measured" if all_actual else "forecast",
            time=when,
            note=stale,
        )

    def _history(self, zone: str, *, start: datetime, end: datetime) -> IntensitySeries:
        region = self._region(zone)
        parts = []
        # The API answers at most 14 days per /intensity/{from}/{to} request (api.carbonintensity
        # .org.uk, "Intensity" and "Regional" sections): longer ranges go out in pieces.
        for frm, to in chunked(floor_hour(start), end, MAX_HISTORY_SPAN):
            if region is None:
                path = f"/intensity/{_stamp(frm)}/{_stamp(to)}"
            else:
                path = f"/regional/intensity/{_stamp(frm)}/{_stamp(to)}/regionid/{region}"
            parts.append(self._series(path, zone, forecast=False, ttl_s=1800.0))
        return merge_series(parts).between(start, end)

    def _forecast(self, zone: str, *, now: datetime, horizon_h: int) -> IntensitySeries:
        if horizon_h > 48:
            raise ProviderError(f"ukci forecasts 48 h ahead at most, asked for {horizon_h} h")
        region = self._region(zone)
        frm = _stamp(floor_hour(now))
        path = (
            f"/intensity/{frm}/fw48h"
            if region is None
            else f"/regional/intensity/{frm}/fw48h/regionid/{region}"
        )
        return self._window(self._series(path, zone, forecast=True, ttl_s=900.0), now, horizon_h)
