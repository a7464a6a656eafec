"""The grid view: each zone's intensity over the last day and its forecast for the next.

Zones are the ones asked for (``zone=DE``, repeatable, up to :data:`MAX_ZONES`; cloud regions
such as ``aws:eu-central-1`` resolve to their zone), else the zones the asker's records were
priced in during the period. Values come from the dashboard's intensity source (a trace file,
else the embedded month x hour profile), each series labelled with its source and kind
(measured, estimated, forecast); the same numbers are served by the Carbon Aware
SDK-compatible API, which each zone links to. A zone the source has no data for is listed with
the reason instead of figures.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from lowcarb._text import plain
from lowcarb.errors import LowcarbError, UnknownZoneError
from lowcarb.grid import IntensitySeries, floor_hour, lookup_zone
from lowcarb.reporting.dashboard._auth import Principal
from lowcarb.reporting.dashboard._charts import lines
from lowcarb.reporting.dashboard._errors import DashboardError
from lowcarb.reporting.dashboard._query import DashboardQuery
from lowcarb.reporting.dashboard._service import Dashboard

__all__ = ["MAX_ZONES", "grid_charts", "grid_page"]

#: Zones one page shows.
MAX_ZONES = 8
#: Hours of history and of forecast shown.
HOURS = 24


def _iso(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _points(series: IntensitySeries) -> list[dict[str, Any]]:
    return [
        {"time": _iso(p.time), "intensity_g_per_kwh": p.intensity_g_per_kwh, "kind": p.kind}
        for p in series
        if p.time is not None
    ]


def _resolve(names: Sequence[str]) -> list[str]:
    if len(names) > MAX_ZONES:
        raise DashboardError(
            400, f"{len(names)} zones asked for; a page shows at most {MAX_ZONES}", param="zone"
        )
    out: list[str] = []
    for name in names:
        if len(name) > 64:
            raise DashboardError(
                400,
                f"zone {plain(name)[:64]!r}... is too long; give a zone id such as DE",
                param="zone",
            )
        try:
            zone = lookup_zone(name).zone_id
        except UnknownZoneError as exc:
            raise DashboardError(404, str(exc), param="zone") from None
        if zone not in out:
            out.append(zone)
    return out


def _zone(d: Dashboard, zone: str, now: datetime) -> dict[str, Any]:
    start = floor_hour(now) - timedelta(hours=HOURS)
    api = {
        "emissions": "/emissions/bylocation?"
        + urlencode({"location": zone, "time": _iso(start), "toTime": _iso(floor_hour(now))}),
        "forecast": "/emissions/forecasts/current?" + urlencode({"location": zone}),
    }
    out: dict[str, Any] = {"zone": zone, "links": api}
    try:
        history = d.source.history(zone, start=start, end=floor_hour(now))
        history = history.between(None, now)  # only what was known at now
    except LowcarbError as exc:
        out.update(error=" ".join(str(exc).split()), history=[], forecast=[], forecast_error=None)
        return out
    out.update(
        error=None,
        source=history.source,
        kind=history.kind,
        signal=history.signal,
        scope=history.scope,
        history=_points(history),
        latest=_points(history)[-1] if len(history) else None,
    )
    try:  # a forecast that cannot be made does not hide the history
        forecast = d.source.forecast(zone, now=now, horizon_h=HOURS)
    except LowcarbError as exc:
        out.update(forecast=[], forecast_source=None, forecast_error=" ".join(str(exc).split()))
        return out
    out.update(forecast=_points(forecast), forecast_source=forecast.source, forecast_error=None)
    return out


def grid_page(
    d: Dashboard, q: DashboardQuery, who: Principal, *, zones: Sequence[str]
) -> dict[str, Any]:
    """Intensity over the last day and the forecast for the next, per zone."""
    asked = _resolve(zones)
    d.refresh()
    q = d.scoped(q, who)
    if asked:
        shown = asked
    else:
        rows = d.rollup.groups(
            ("zone",), since=q.since, until=q.until, team=q.team, project=q.project
        )
        ranked = sorted(rows, key=lambda r: -r.figures.energy_kwh)
        shown = [str(r.keys[0]) for r in ranked if r.keys[0] is not None][:MAX_ZONES]
    now = d.now()
    return {
        "page": "grid",
        "query": q.to_dict(),
        "viewer": who.to_dict(),
        "now": _iso(now),
        "zones_from": "asked" if asked else "the zones the period's records were priced in",
        "zones": [_zone(d, z, now) for z in shown],
    }


def grid_charts(page: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """One chart per zone with data: the last day (solid) and the forecast (dashed)."""
    out = []
    for i, z in enumerate(page["zones"]):
        if z.get("error"):
            continue
        series = [
            (
                f"{z['zone']} ({z['kind']})",
                [p["time"] for p in z["history"]],
                [p["intensity_g_per_kwh"] for p in z["history"]],
                False,
            ),
            (
                f"{z['zone']} forecast",
                [p["time"] for p in z["forecast"]],
                [p["intensity_g_per_kwh"] for p in z["forecast"]],
                True,
            ),
        ]
        out.append(
            (f"chart-zone-{i}", lines(f"{z['zone']}: gCO2e/kWh", series, y_title="gCO2e/kWh"))
        )
    return out
