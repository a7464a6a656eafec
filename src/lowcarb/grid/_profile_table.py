"""The embedded zone x month x UTC-hour profile table, in plain Python (no numpy).

``lowcarb/grid/data/profiles.csv`` holds, for each zone, the mean 2022 intensity of every
(month, UTC hour of day) cell, built by ``scripts/build_profiles.py`` from Electricity Maps data
(ODbL 1.0; see ``data/ATTRIBUTION.md``). The Tracker prices every run from it, so reading it must
stay cheap: no numpy here (the numpy-backed :func:`lowcarb.grid.profile_series` builds on this).
"""

from __future__ import annotations

import csv
import functools
from datetime import UTC, datetime, timedelta
from importlib import resources

from lowcarb.errors import ForecastError, InvalidValueError
from lowcarb.grid._zones import lookup_zone

__all__ = ["PROFILE_NOTE", "PROFILE_SOURCE", "profile_values", "profile_zones"]

#: Provenance tag of the table.
PROFILE_SOURCE = "profile:electricitymaps-2022"
#: What the table is, for notes on the values taken from it.
PROFILE_NOTE = "mean of 2022 by month and UTC hour of day (Electricity Maps, ODbL 1.0)"
_HOUR = timedelta(hours=1)


@functools.cache
def _text() -> str:
    # Immutable packaged data: caching it is not mutable global state.
    return resources.files("lowcarb.grid").joinpath("data", "profiles.csv").read_text("utf-8")


@functools.cache
def _zone_grid(zone_id: str) -> tuple[tuple[float, ...], ...] | None:
    """The 12 x 24 grid of one zone, parsed on first use (one zone's rows, not the whole table)."""
    prefix = zone_id + ","
    lines = [line for line in _text().splitlines() if line.startswith(prefix)]
    if not lines:
        return None
    by_month = {int(row[1]): tuple(float(v) for v in row[2:26]) for row in csv.reader(lines)}
    nan_day = (float("nan"),) * 24
    return tuple(by_month.get(m, nan_day) for m in range(1, 13))


@functools.cache
def profile_zones() -> tuple[str, ...]:
    """Zones with an embedded profile."""
    zones = {line.split(",", 1)[0] for line in _text().splitlines()[1:] if line}
    return tuple(sorted(zones))


def profile_values(
    zone: str, *, start: datetime, hours: int
) -> tuple[str, datetime, tuple[float, ...]]:
    """The table's values for ``hours`` UTC hours from the hour containing ``start``.

    Returns:
        (zone id, first hour, gCO2e/kWh per hour).

    Raises:
        UnknownZoneError: Unknown zone.
        ForecastError: A known zone without an embedded profile (e.g. WORLD).
    """
    zone_id = lookup_zone(zone).zone_id
    grid = _zone_grid(zone_id)
    if grid is None:
        raise ForecastError(
            f"no embedded profile for zone {zone_id!r}; give a trace with --trace or pick one of "
            "the zones listed by `lowcarb zones`"
        )
    if start.tzinfo is None or start.utcoffset() is None:
        raise InvalidValueError(f"start must be timezone-aware, got {start.isoformat()!r}")
    first = start.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    times = [first + i * _HOUR for i in range(hours)]
    return zone_id, first, tuple(grid[t.month - 1][t.hour] for t in times)
