"""The carbon-intensity forecast ConfigMap the carbon-aware KEDA operator reads, from lowcarb.

The CarbonAwareKedaScaler of Azure's carbon-aware KEDA operator caps replicas by the forecast it
reads from a ConfigMap that Azure's Kubernetes carbon intensity exporter writes (from WattTime or
Electricity Maps, through the Carbon Aware SDK, with an account there). :func:`intensity_configmap`
writes that ConfigMap from lowcarb's own forecast instead, in the exporter's exact format, so the
operator reads it unchanged and the cluster needs no second tool.

The format, as read from the sources (both MIT licensed, Copyright (c) Microsoft Corporation):

* Azure/kubernetes-carbon-intensity-exporter, commit a8d4d2fa6639efc83ea258451af203c2d9e2362a
  (2025-03-18). ``pkg/exporter/consts.go``: the ``data`` keys ``lastHeartbeatTime``,
  ``message``, ``numOfRecords``, ``forecastDateTime``, ``minForecast``, ``maxForecast`` and the
  ``binaryData`` key ``data``. ``pkg/exporter/configmap.go``
  (``CreateConfigMapFromEmissionForecast``): ``binaryData.data`` is ``json.Marshal`` of the
  forecast points; the times are Go's ``time.Time.String()`` (``2023-03-31 00:00:00 +0000
  UTC``), the bounds ``fmt.Sprintf("%f")``, the count ``strconv.Itoa``, ``message`` is ``""``
  unless a refresh failed; the object is ``immutable`` and is deleted and created again on every
  refresh. ``pkg/sdk/client/model_emissions_data_dto.go``: a point is ``{"location": string,
  "timestamp": RFC 3339, "duration": int32 minutes, "value": float64}`` in that order.
  ``cmd/exporter/app/server.go`` and ``charts/.../values.yaml``: name ``carbon-intensity``,
  namespace ``kube-system``.
* Azure/carbon-aware-keda-operator, commit 275783dc278fe921365e86fd976c366eaa85d38e
  (2023-11-12). ``controllers/carbon_forecast_fetcher.go``: ``json.Unmarshal`` of
  ``BinaryData[key]`` into ``[]CarbonForecast`` (the same four fields and Go types; the ``data``
  strings are never read) and ``findCarbonForecast``: the point whose ``[timestamp, timestamp +
  duration minutes)`` holds the present; none there means eco mode off (``ecoModeOff``'s
  replicas). ``controllers/max_replica_getter.go``: ``value`` is compared with the integer
  ``carbonIntensityThreshold`` of each cap (``lower < value <= upper``).

Units: ``value`` is gCO2e/kWh. The exporter's values come from the Carbon Aware SDK, which turns
WattTime's MOER (lbs/MWh) into g/kWh (``x 453.59237 / 1000``,
``WattTimeDataSource.ConvertMoerToGramsPerKilowattHour``); lowcarb's series are gCO2e/kWh already
(its WattTime source converts the same way), so values are written as they are, never converted.
The *signal* may differ: the exporter's WattTime data is marginal, lowcarb's offline profile and
most traces are average (lifecycle) intensity, which is lower and flatter; the annotations
``lowcarb.dev/signal`` and ``lowcarb.dev/scope`` say which, so the caps can be set for it.

Points are hourly (``duration`` 60) from the first hour at or after the issue time ``now``: until
then the operator finds no point and uses ``ecoModeOff``, as it does between the exporter's
heartbeat and its first 5-minute point. Refresh a little before the hour.
"""

from __future__ import annotations

import base64
import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from lowcarb._text import plain
from lowcarb.errors import InvalidValueError
from lowcarb.grid import (
    MAX_HORIZON_H,
    PROFILE_NOTE,
    IntensitySeries,
    IntensitySource,
    ProviderForecaster,
    TraceIntensitySource,
    ceil_hour,
    floor_hour,
    lookup_region,
    lookup_zone,
    make_forecaster,
)

__all__ = [
    "FORECAST_CONFIGMAP",
    "forecast_configmap_ref",
    "intensity_configmap",
    "zone_forecast",
]

#: ``(namespace, name, key)`` where the exporter writes its ConfigMap and the operator's example
#: reads it; :class:`~lowcarb.integrations.k8s.CarbonAware` points there by default.
FORECAST_CONFIGMAP: tuple[str, str, str] = ("kube-system", "carbon-intensity", "data")

#: A DNS-1123 subdomain (a ConfigMap's name) and label (a namespace).
_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
#: A zone id, ``provider:region`` or a trace column: letters, digits, ``-_.:``, at most 64.
_ZONE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")
_NOTE_MAX = 1000
_HOURLY_MIN = 60


def forecast_configmap_ref(
    namespace: str = FORECAST_CONFIGMAP[0], name: str = FORECAST_CONFIGMAP[1]
) -> tuple[str, str, str]:
    """``(namespace, name, key)`` of a forecast ConfigMap, checked (the key is always ``data``).

    Raises:
        InvalidValueError: ``namespace`` is not a DNS-1123 label or ``name`` not a subdomain.
    """
    _check_k8s_name("namespace", namespace, _LABEL, 63)
    _check_k8s_name("name", name, _SUBDOMAIN, 253)
    return namespace, name, FORECAST_CONFIGMAP[2]


def zone_forecast(
    zone: str,
    *,
    now: datetime,
    horizon_h: int = 24,
    trace: TraceIntensitySource | None = None,
    model: str | None = None,
    provider: IntensitySource | None = None,
) -> IntensitySeries:
    """lowcarb's hourly forecast of ``zone`` from ``now``, as ``lowcarb intensity forecast``.

    One source, never a silent fallback: ``trace`` (model ``lag-ridge`` unless ``model`` says
    otherwise; only hours stamped strictly before ``now`` are used), else ``provider`` (a live
    API's own forecast; its offline fallback, if it took one, is in the notes), else the embedded
    month x hour profile table (offline; the notes say so).

    Args:
        zone: A zone id or cloud region (for WattTime, its region name); checked before any
            lookup, file column or request.
        now: The issue time, timezone-aware; points start at ``ceil_hour(now)``.
        horizon_h: Hourly points, 1..168.
        trace: Past values, e.g. ``TraceIntensitySource(path)`` or ``TraceIntensitySource(series)``.
        model: A registered forecaster name (:func:`lowcarb.grid.forecaster_names`).
        provider: A live source (:func:`lowcarb.grid.open_provider`).

    Returns:
        At most ``horizon_h`` hourly points from ``ceil_hour(now)``, gCO2e/kWh.

    Raises:
        InvalidValueError: A hostile zone, both ``trace`` and ``provider``, a model that needs
            history without a trace, a model with a provider, or a bad horizon.
        LowcarbError: A subclass from the forecast (unknown zone, too little history, provider).
    """
    _check_zone(zone)
    _aware(now)
    if trace is not None and provider is not None:
        raise InvalidValueError("give either a trace or a provider, not both")
    if not 1 <= horizon_h <= MAX_HORIZON_H:
        raise InvalidValueError(f"horizon_h={horizon_h!r} must be 1..{MAX_HORIZON_H} hours")
    if trace is not None:
        region = lookup_region(zone)  # a cloud region names its zone's trace column
        history = trace.series(region.zone_id if region is not None else zone)
        fc = make_forecaster(model or "lag-ridge").forecast(
            history, origin=now, horizon_h=horizon_h
        )
        cut = f"only trace data stamped before {_aware(now).isoformat()}"
        return fc.replace(notes=(*fc.notes, cut))
    if provider is not None:
        if model is not None:
            raise InvalidValueError(f"model={model!r} does not apply to a provider's forecast")
        if provider.name == "electricitymaps":
            zone = lookup_zone(zone).zone_id  # cloud regions -> zone ids
        fc = ProviderForecaster(provider).forecast(
            _no_history(zone, now), origin=now, horizon_h=horizon_h
        )
        # A live provider may answer from the current hour: keep the issued-at-now contract.
        start = ceil_hour(now)
        return fc.between(start, start + timedelta(hours=horizon_h))
    if model not in (None, "profile"):
        raise InvalidValueError(
            f"model={model!r} needs history: give a trace (or use the 'profile' model)"
        )
    fc = make_forecaster("profile").forecast(
        _no_history(lookup_zone(zone).zone_id, now), origin=now, horizon_h=horizon_h
    )
    return fc.replace(notes=(*fc.notes, f"embedded table: {PROFILE_NOTE}; not live data"))


def intensity_configmap(
    points: IntensitySeries,
    *,
    zone: str,
    name: str = FORECAST_CONFIGMAP[1],
    namespace: str = FORECAST_CONFIGMAP[0],
    now: datetime,
    source_note: str | None = None,
    immutable: bool = True,
) -> dict[str, Any]:
    """The v1 ConfigMap the carbon-aware KEDA operator reads, in the exporter's exact format.

    Args:
        points: An hourly forecast of ``zone`` (e.g. from :func:`zone_forecast`), gCO2e/kWh,
            starting at or after ``now``.
        zone: The grid zone of ``points``: each point's ``location`` and an annotation.
        name: The ConfigMap's name (a DNS-1123 subdomain).
        namespace: Its namespace (a DNS-1123 label).
        now: The issue time (timezone-aware): ``lastHeartbeatTime`` and an annotation.
        source_note: What produced the forecast, stated in ``message`` and in the
            ``lowcarb.dev/source`` annotation (default: the series' source and notes).
            Control characters are made harmless; at most 1000 characters are kept.
        immutable: True as the exporter writes it (refresh by deleting and creating it:
            ``kubectl replace --force``); False lets ``kubectl apply`` update it in place.

    Returns:
        The manifest as a plain dict (``to_yaml([manifest])`` or ``json.dumps`` it).

    Raises:
        InvalidValueError: A hostile zone, name or namespace, a zone other than the series',
            no points or more than 168, or points that start before ``now``.
    """
    namespace, name, key = forecast_configmap_ref(namespace, name)
    _check_zone(zone)
    issued = _aware(now)
    if zone.upper() != points.zone.upper():
        raise InvalidValueError(f"zone={zone!r} but the points are for zone {points.zone!r}")
    if not 1 <= len(points) <= MAX_HORIZON_H:
        raise InvalidValueError(
            f"a forecast ConfigMap needs 1..{MAX_HORIZON_H} hourly points, got {len(points)}"
        )
    if points.start < issued:
        raise InvalidValueError(
            f"the points start at {points.start.isoformat()}, before now={issued.isoformat()}: "
            "a forecast issued now covers the hours from ceil_hour(now)"
        )
    values = [_go_number(v) for v in np.round(points.values_g_per_kwh, 3).tolist()]
    records = [
        {
            "location": zone,
            "timestamp": points.time_at(i).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "duration": _HOURLY_MIN,
            "value": value,
        }
        for i, value in enumerate(values)
    ]
    # Go's json.Marshal: compact, fields in struct order (zone ids need no HTML escaping).
    payload = json.dumps(records, separators=(",", ":")).encode("ascii")
    note = _one_line(source_note if source_note is not None else _default_note(points))
    message = _one_line(
        f"lowcarb forecast for {zone}, {len(points)} hourly points, gCO2e/kWh, "
        f"{points.signal} {points.scope}; source: {note}"
    )
    manifest: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": name,
            "namespace": namespace,
            # No name label: a ConfigMap name may be longer than a label value (63).
            "labels": {
                "app.kubernetes.io/component": "carbon-intensity-forecast",
                "app.kubernetes.io/managed-by": "lowcarb",
            },
            "annotations": {
                "lowcarb.dev/zone": zone,
                "lowcarb.dev/source": note,
                "lowcarb.dev/model": _one_line(points.source),
                "lowcarb.dev/signal": points.signal,
                "lowcarb.dev/scope": points.scope,
                "lowcarb.dev/unit": "gCO2e/kWh",
                "lowcarb.dev/issued-at": issued.isoformat(),
                "lowcarb.dev/format": "Azure/kubernetes-carbon-intensity-exporter",
            },
        },
        "data": {
            "lastHeartbeatTime": _go_time(issued),
            "message": message,
            "numOfRecords": str(len(records)),
            "forecastDateTime": _go_time(points.start),
            "minForecast": f"{min(values):f}",
            "maxForecast": f"{max(values):f}",
        },
        "binaryData": {key: base64.b64encode(payload).decode("ascii")},
    }
    if immutable:
        manifest["immutable"] = True
    return manifest


def _check_k8s_name(key: str, value: str, pattern: re.Pattern[str], limit: int) -> None:
    if not isinstance(value, str) or len(value) > limit or not pattern.fullmatch(value):
        raise InvalidValueError(
            f"{key}={plain(value)!r} is not a Kubernetes name: lower-case letters, digits and "
            f"'-'{', dots between parts' if pattern is _SUBDOMAIN else ''}, starting and ending "
            f"with a letter or digit, at most {limit} characters"
        )


def _check_zone(zone: str) -> None:
    if not isinstance(zone, str) or not _ZONE.fullmatch(zone):
        raise InvalidValueError(
            f"zone={plain(zone)!r} is not a grid zone: use an id such as 'DE' or 'US-CAL-CISO' "
            "(letters, digits, '-', '_', '.', ':'; at most 64 characters)"
        )


def _aware(now: datetime) -> datetime:
    if now.tzinfo is None or now.utcoffset() is None:
        raise InvalidValueError(
            f"now={now.isoformat()!r} has no time zone; give an offset such as +00:00"
        )
    return now.astimezone(UTC)


def _no_history(zone: str, now: datetime) -> IntensitySeries:
    """An empty series that only names the zone (for models that need no history)."""
    return IntensitySeries(
        zone=zone, start=floor_hour(now), values_g_per_kwh=np.zeros(0), source="none"
    )


def _default_note(points: IntensitySeries) -> str:
    return "; ".join((points.source, *points.notes))


def _one_line(text: str) -> str:
    """Untrusted text (a file name in a note) as one bounded line without control characters."""
    line = " ".join(plain(text).split())
    return line if len(line) <= _NOTE_MAX else line[: _NOTE_MAX - 3] + "..."


def _go_number(value: float) -> float | int:
    """A float as Go's ``json.Marshal`` writes it: ``550`` for 550.0, ``550.5`` for 550.5."""
    return int(value) if float(value).is_integer() else float(value)


def _go_time(when: datetime) -> str:
    """Go's ``time.Time.String()`` of a UTC time: ``2023-03-31 00:00:00 +0000 UTC``.

    Go prints the fraction of a second only when it is not zero, without trailing zeros (and a
    monotonic ``m=+...`` suffix that only has meaning inside the process, left out here).
    """
    t = when.astimezone(UTC)
    fraction = f".{t.microsecond:06d}".rstrip("0") if t.microsecond else ""
    return f"{t:%Y-%m-%d %H:%M:%S}{fraction} +0000 UTC"
