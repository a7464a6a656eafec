"""The embedded zone x month x hour-of-day profile table: the offline forecast fallback.

``lowcarb/grid/data/profiles.csv`` holds, for each zone, the mean 2022 intensity of every
(month, UTC hour of day) cell, built by ``scripts/build_profiles.py`` from Electricity Maps data
(ODbL 1.0; see ``data/ATTRIBUTION.md``). It knows the typical shape of a day in a given month, not
the weather of any particular day: a fallback that works offline, not a substitute for a model
fitted on recent data.
"""

from __future__ import annotations

import csv
import functools
import io
from dataclasses import dataclass
from datetime import datetime, timedelta
from importlib import resources

import numpy as np
import numpy.typing as npt

from lowcarb.errors import ForecastError
from lowcarb.grid._forecast import FloatArray, Forecaster
from lowcarb.grid._series import IntensitySeries, floor_hour
from lowcarb.grid._zones import lookup_zone

__all__ = ["PROFILE_SOURCE", "ProfileForecaster", "profile_series", "profile_zones"]

#: Provenance tag of the table.
PROFILE_SOURCE = "profile:electricitymaps-2022"
_HOUR = timedelta(hours=1)


@functools.cache
def _table() -> dict[str, npt.NDArray[np.float64]]:
    # Immutable packaged data: caching it is not mutable global state.
    text = resources.files("lowcarb.grid").joinpath("data", "profiles.csv").read_text("utf-8")
    rows: dict[str, npt.NDArray[np.float64]] = {}
    for row in csv.reader(io.StringIO(text)):
        if row[0] == "zone_id":
            continue
        grid = rows.setdefault(row[0], np.full((12, 24), np.nan))
        grid[int(row[1]) - 1] = [float(v) for v in row[2:26]]
    return rows


def profile_zones() -> tuple[str, ...]:
    """Zones with an embedded profile."""
    return tuple(sorted(_table()))


def profile_series(zone: str, *, start: datetime, hours: int) -> IntensitySeries:
    """The embedded profile's values for ``hours`` hours from ``floor_hour(start)``.

    Args:
        zone: Zone id or cloud region.
        start: First hour (timezone-aware).
        hours: Number of hourly values.

    Returns:
        A ``kind="estimated"`` series whose source is :data:`PROFILE_SOURCE`.

    Raises:
        UnknownZoneError: Unknown zone.
        ForecastError: A known zone without an embedded profile (e.g. WORLD).
    """
    zone_id = lookup_zone(zone).zone_id
    grid = _table().get(zone_id)
    if grid is None:
        raise ForecastError(
            f"no embedded profile for zone {zone_id!r}; give a trace with --trace or pick one of "
            "the zones listed by `lowcarb zones`"
        )
    first = floor_hour(start)
    times = [first + i * _HOUR for i in range(hours)]
    values = np.array([grid[t.month - 1, t.hour] for t in times], dtype=np.float64)
    return IntensitySeries(
        zone=zone_id,
        start=first,
        values_g_per_kwh=values,
        source=PROFILE_SOURCE,
        kind="estimated",
        notes=("mean of 2022 by month and UTC hour of day (Electricity Maps, ODbL 1.0)",),
    )


@dataclass(frozen=True)
class ProfileForecaster(Forecaster):
    """Forecast from the embedded month x hour-of-day table; needs no history (offline default).

    The history passed in only names the zone; its values are ignored.
    """

    name: str = "profile"
    min_history_h: int = 0

    def _predict(
        self, past: IntensitySeries, *, steps: int, first: datetime
    ) -> tuple[FloatArray, str]:
        series = profile_series(past.zone, start=first, hours=steps)
        return series.values_g_per_kwh, "profile(electricitymaps-2022)"
