"""The forecast ConfigMap: valid for Kubernetes 1.29, in the exact format of Azure's carbon
intensity exporter, and read by a Python port of the carbon-aware KEDA operator's Go parsing.

The port follows Azure/carbon-aware-keda-operator at commit
275783dc278fe921365e86fd976c366eaa85d38e (MIT, Copyright (c) Microsoft Corporation):
``controllers/carbon_forecast_fetcher.go`` (``CarbonForecast``, ``Fetch``,
``findCarbonForecast``) and ``controllers/max_replica_getter.go`` (``getMaxReplicas``).
"""

from __future__ import annotations

import base64
import itertools
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import kubernetes_validate
import numpy as np
import pytest

from lowcarb.errors import InvalidValueError
from lowcarb.grid import (
    IntensitySeries,
    StaticIntensitySource,
    TraceIntensitySource,
    ceil_hour,
)
from lowcarb.integrations.k8s import (
    FORECAST_CONFIGMAP,
    CarbonAware,
    forecast_configmap_ref,
    intensity_configmap,
    serve_manifests,
    zone_forecast,
)

#: As tests/integrations/test_k8s.py: the oldest widely run release with every API used.
K8S_VERSION = "1.29.0"
NOW = datetime(2024, 5, 1, 10, 20, tzinfo=UTC)

# The exporter's own sample, Azure/kubernetes-carbon-intensity-exporter at commit
# a8d4d2fa6639efc83ea258451af203c2d9e2362a (MIT), examples/carbon-intensity-configmap.yaml:
# its ``data`` section verbatim and the first two of the 288 points its ``binaryData.data``
# decodes to (base64 of ``json.Marshal([]EmissionsDataDto)``, pkg/exporter/configmap.go).
EXPORTER_SAMPLE_DATA = {
    "forecastDateTime": "2023-03-31 00:00:00 +0000 UTC",
    "lastHeartbeatTime": "2023-03-30 23:57:26.041158869 +0000 UTC m=+10.861427049",
    "maxForecast": "589.701421",
    "message": "",
    "minForecast": "549.970284",
    "numOfRecords": "288",
}
EXPORTER_SAMPLE_POINTS = (
    b'[{"location":"PJM_ROANOKE","timestamp":"2023-03-31T00:00:00Z","duration":5,'
    b'"value":550.9853294805798},{"location":"PJM_ROANOKE","timestamp":"2023-03-31T00:05:00Z",'
    b'"duration":5,"value":551.0120178988342}]'
)
# The operator's tests build their forecast as (controllers/suite_test.go, BeforeSuite):
#   carbonforecast = append(carbonforecast, CarbonForecast{
#       Timestamp: time.Now().UTC().Add(time.Duration(i*5) * time.Minute),
#       Value:     carbonintensity[i+18],
#       Duration:  5,
#   })
# and the mock fetcher stores ``json.Marshal(c.CarbonForecast)`` as ``BinaryData["data"]``
# (controllers/carbon_forecast_fetcher.go), i.e. the same four fields as the exporter writes.

#: Go's time.Time.String(): "2006-01-02 15:04:05.999999999 -0700 MST" (+ an in-process m=).
GO_TIME = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d{1,9})? \+0000 UTC( m=[+-]\d+\.\d+)?$")
#: fmt.Sprintf("%f"): six decimals.
GO_F = re.compile(r"^-?\d+\.\d{6}$")
#: What Go's time.Time.MarshalJSON writes for UTC and UnmarshalJSON (RFC 3339) accepts.
RFC3339_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z$")
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")
INT32_MAX = 2**31 - 1


@dataclass(frozen=True)
class CarbonForecast:
    """The operator's ``CarbonForecast`` struct (location, timestamp, duration int32, value)."""

    location: str
    timestamp: datetime
    duration: int
    value: float


def operator_fetch(configmap: dict[str, Any], key: str) -> list[CarbonForecast]:
    """``CarbonForecastConfigMapFetcher.Fetch``: ``json.Unmarshal(cm.BinaryData[key], &cf)``.

    Strict where Go is strict: the top level must be an array, ``timestamp`` an RFC 3339 string,
    ``duration`` an integer literal that fits int32 (Go refuses ``60.0``), ``value`` a number.
    Unknown fields would be ignored by Go; here they fail, so lowcarb writes no extra ones.
    """
    raw = base64.b64decode(configmap["binaryData"][key], validate=True)
    decoded = json.loads(raw, parse_float=Decimal)
    assert isinstance(decoded, list)
    out = []
    for item in decoded:
        assert isinstance(item, dict)
        assert set(item) <= {"location", "timestamp", "duration", "value"}
        location = item.get("location", "")
        stamp, duration, value = item.get("timestamp"), item.get("duration", 0), item["value"]
        assert isinstance(location, str)
        assert isinstance(stamp, str) and RFC3339.match(stamp), stamp
        assert type(duration) is int and 0 <= duration <= INT32_MAX, duration
        assert type(value) in (int, Decimal), value
        when = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
        out.append(CarbonForecast(location, when, duration, float(value)))
    return out


def find_carbon_forecast(cfs: list[CarbonForecast], t: datetime) -> CarbonForecast | None:
    """``findCarbonForecast``: the first point whose [timestamp, +duration min) holds ``t``."""
    for cf in cfs:
        if cf.timestamp <= t < cf.timestamp + timedelta(minutes=cf.duration):
            return cf
    return None


def get_max_replicas(forecast: CarbonForecast, caps: list[dict[str, int]]) -> int:
    """``getMaxReplicas``: the cap whose (previous threshold, threshold] holds the value."""
    ordered = sorted(caps, key=lambda c: c["carbonIntensityThreshold"])
    for i, cap in enumerate(ordered):
        lower = 0.0 if i == 0 else float(ordered[i - 1]["carbonIntensityThreshold"])
        if lower < forecast.value <= float(cap["carbonIntensityThreshold"]):
            return cap["maxReplicas"]
    return ordered[-1]["maxReplicas"]


def _series(values: list[float], start: datetime, zone: str = "DE") -> IntensitySeries:
    return IntensitySeries(
        zone=zone,
        start=start,
        values_g_per_kwh=np.array(values, dtype=float),
        source="forecast:test",
        kind="forecast",
    )


def _history(days: int = 30, zone: str = "DE") -> IntensitySeries:
    """A daily cycle with a trend, hourly from 2022-01-01 (enough for every model)."""
    hours = np.arange(days * 24)
    values = 300 + 120 * np.sin(2 * np.pi * hours / 24) + hours * 0.05
    return IntensitySeries(
        zone=zone, start=datetime(2022, 1, 1, tzinfo=UTC), values_g_per_kwh=values, source="t"
    )


def test_the_operator_port_reads_the_exporters_own_sample() -> None:
    sample = {"binaryData": {"data": base64.b64encode(EXPORTER_SAMPLE_POINTS).decode()}}
    points = operator_fetch(sample, "data")
    assert points[0] == CarbonForecast(
        "PJM_ROANOKE", datetime(2023, 3, 31, tzinfo=UTC), 5, 550.9853294805798
    )
    assert find_carbon_forecast(points, datetime(2023, 3, 31, 0, 7, tzinfo=UTC)) == points[1]
    for key in ("forecastDateTime", "lastHeartbeatTime"):
        assert GO_TIME.match(EXPORTER_SAMPLE_DATA[key])
    assert GO_F.match(EXPORTER_SAMPLE_DATA["minForecast"])


def test_lowcarb_writes_the_exporters_fields_types_and_time_formats() -> None:
    cm = intensity_configmap(
        _series([412.25, 300.0, 0.5], ceil_hour(NOW)), zone="DE", now=NOW, source_note="unit test"
    )
    kubernetes_validate.validate(cm, K8S_VERSION, strict=True)
    assert (cm["metadata"]["namespace"], cm["metadata"]["name"]) == FORECAST_CONFIGMAP[:2]
    assert cm["immutable"] is True  # as the exporter creates it
    assert set(cm["binaryData"]) == {"data"}
    data = cm["data"]
    assert set(data) == set(EXPORTER_SAMPLE_DATA)
    assert all(isinstance(v, str) for v in data.values())
    assert data["lastHeartbeatTime"] == "2024-05-01 10:20:00 +0000 UTC"
    assert data["forecastDateTime"] == "2024-05-01 11:00:00 +0000 UTC"
    assert GO_TIME.match(data["lastHeartbeatTime"]) and GO_TIME.match(data["forecastDateTime"])
    assert (data["minForecast"], data["maxForecast"]) == ("0.500000", "412.250000")
    assert data["numOfRecords"] == "3"

    raw = base64.b64decode(cm["binaryData"]["data"])
    sample = json.loads(EXPORTER_SAMPLE_POINTS)
    mine = json.loads(raw)
    assert [list(p) for p in mine] == [list(sample[0])] * 3  # same names, same (struct) order
    for theirs_point, my_point in zip(sample * 2, mine, strict=False):
        for key in ("location", "timestamp", "duration"):
            assert type(my_point[key]) is type(theirs_point[key]), key
    assert all(RFC3339_UTC.match(p["timestamp"]) for p in [*sample, *mine])
    assert b", " not in raw and b": " not in raw  # compact, as Go's json.Marshal
    assert b'"value":300}' in raw  # Go writes float64 300 as 300, not 300.0

    points = operator_fetch(cm, "data")
    assert [p.timestamp for p in points] == [ceil_hour(NOW) + timedelta(hours=i) for i in range(3)]
    assert [(p.location, p.duration, p.value) for p in points] == [
        ("DE", 60, 412.25),
        ("DE", 60, 300.0),
        ("DE", 60, 0.5),
    ]


def test_the_scaler_lowcarb_serve_emits_reads_this_configmap_and_caps_replicas() -> None:
    scaler = serve_manifests("iris", "img:1", "/m.skops", carbon_aware=CarbonAware("DE"))[3]
    ref = scaler["spec"]["carbonIntensityForecastDataSource"]["localConfigMap"]
    assert (ref["namespace"], ref["name"], ref["key"]) == FORECAST_CONFIGMAP
    assert CarbonAware("DE").forecast_configmap == FORECAST_CONFIGMAP == forecast_configmap_ref()
    cm = intensity_configmap(_series([150.0, 350.0, 900.0], ceil_hour(NOW)), zone="DE", now=NOW)
    assert (cm["metadata"]["namespace"], cm["metadata"]["name"]) == (
        ref["namespace"],
        ref["name"],
    )
    points = operator_fetch(cm, ref["key"])
    caps = scaler["spec"]["maxReplicasByCarbonIntensity"]  # 200 -> 5, 400 -> 3, 100000 -> 1
    replicas = []
    for minutes in (60, 119, 120, 180):
        found = find_carbon_forecast(points, NOW.replace(minute=0) + timedelta(minutes=minutes))
        assert found is not None
        replicas.append(get_max_replicas(found, caps))
    assert replicas == [5, 5, 3, 1]
    assert find_carbon_forecast(points, NOW) is None  # before the first hour: ecoModeOff
    assert find_carbon_forecast(points, ceil_hour(NOW) + timedelta(hours=3)) is None


def test_provenance_is_stated_in_the_message_and_annotations() -> None:
    fc = zone_forecast("DE", now=NOW, horizon_h=24)  # the embedded profile: offline
    cm = intensity_configmap(fc, zone="DE", now=NOW)
    notes = cm["metadata"]["annotations"]
    assert notes["lowcarb.dev/zone"] == "DE"
    assert notes["lowcarb.dev/model"] == "forecast:profile(electricitymaps-2022)"
    assert "not live data" in notes["lowcarb.dev/source"]
    assert notes["lowcarb.dev/source"] in cm["data"]["message"]
    assert (notes["lowcarb.dev/signal"], notes["lowcarb.dev/scope"]) == ("average", "lifecycle")
    assert notes["lowcarb.dev/unit"] == "gCO2e/kWh"
    assert notes["lowcarb.dev/issued-at"] == "2024-05-01T10:20:00+00:00"
    hostile = intensity_configmap(fc, zone="DE", now=NOW, source_note="a\nb\x1b[31m" + "x" * 2000)
    note = hostile["metadata"]["annotations"]["lowcarb.dev/source"]
    assert "\n" not in note and "\x1b" not in note and len(note) == 1000
    assert "\n" not in hostile["data"]["message"]


@pytest.mark.parametrize("horizon_h", [1, 24, 48, 168])
def test_hourly_points_cover_the_horizon_from_the_first_hour_at_or_after_now(
    horizon_h: int,
) -> None:
    for now in (NOW, NOW.replace(minute=0)):
        cm = intensity_configmap(
            zone_forecast("FR", now=now, horizon_h=horizon_h), zone="FR", now=now
        )
        points = operator_fetch(cm, "data")
        assert len(points) == horizon_h == int(cm["data"]["numOfRecords"])
        assert points[0].timestamp == ceil_hour(now) >= now
        for a, b in itertools.pairwise(points):  # gap-free, no overlap
            assert b.timestamp == a.timestamp + timedelta(minutes=a.duration)
        end = points[-1].timestamp + timedelta(minutes=points[-1].duration)
        assert end == ceil_hour(now) + timedelta(hours=horizon_h)


def test_a_trace_forecast_uses_only_data_before_now() -> None:
    honest = _history()
    now = datetime(2022, 1, 20, 7, 30, tzinfo=UTC)
    cut = honest.index_of(now)  # the hour holding now started before it: it is history...
    values = honest.values_g_per_kwh.copy()
    values[cut + 1 :] = 9999.0  # ...everything stamped at or after now is poison
    tampered = honest.replace(values_g_per_kwh=values)
    for model in (None, "seasonal-naive", "profile-blend"):
        made = [
            intensity_configmap(
                zone_forecast(
                    "DE", now=now, horizon_h=36, trace=TraceIntensitySource(s), model=model
                ),
                zone="DE",
                now=now,
            )
            for s in (honest, tampered)
        ]
        assert made[0]["binaryData"] == made[1]["binaryData"], model
        points = operator_fetch(made[0], "data")
        assert points[0].timestamp == datetime(2022, 1, 20, 8, tzinfo=UTC)
        assert len(points) == 36 and max(p.value for p in points) < 9999
    assert "only trace data stamped before 2022-01-20T07:30:00+00:00" in made[0]["data"]["message"]


def test_a_providers_forecast_is_kept_to_the_horizon_after_now() -> None:
    fc = zone_forecast("DE", now=NOW, horizon_h=6, provider=StaticIntensitySource())
    assert fc.start == ceil_hour(NOW) and len(fc) == 6
    cm = intensity_configmap(fc, zone=fc.zone, now=NOW)
    assert "static" in cm["data"]["message"]


def test_mutable_leaves_immutable_out_and_still_validates() -> None:
    cm = intensity_configmap(
        _series([1.0], ceil_hour(NOW)),
        zone="DE",
        now=NOW,
        name="ci.forecast",
        namespace="carbon",
        immutable=False,
    )
    assert "immutable" not in cm
    kubernetes_validate.validate(cm, K8S_VERSION, strict=True)
    assert cm["data"]["lastHeartbeatTime"] == "2024-05-01 10:20:00 +0000 UTC"
    frac = intensity_configmap(
        _series([1.0], ceil_hour(NOW)), zone="DE", now=NOW.replace(microsecond=123000)
    )
    assert frac["data"]["lastHeartbeatTime"] == "2024-05-01 10:20:00.123 +0000 UTC"


@pytest.mark.parametrize(
    ("kwargs", "quoted"),
    [
        ({"zone": "DE\nkind: Secret"}, "zone="),
        ({"zone": "../../etc/passwd"}, "'../../etc/passwd'"),
        ({"zone": "D" * 65}, "zone="),
        ({"zone": ""}, "zone=''"),
        ({"name": "Carbon"}, "'Carbon'"),
        ({"name": "a_b"}, "'a_b'"),
        ({"name": "x" * 254}, "name="),
        ({"name": "ok\n"}, "name="),
        ({"namespace": "kube.system"}, "'kube.system'"),
        ({"zone": "FR"}, "zone='FR'"),
    ],
)
def test_hostile_or_wrong_input_is_refused_in_one_line(kwargs: dict[str, Any], quoted: str) -> None:
    args: dict[str, Any] = {"zone": "DE", "now": NOW}
    args.update(kwargs)
    with pytest.raises(InvalidValueError) as info:
        intensity_configmap(_series([1.0], ceil_hour(NOW)), **args)
    assert quoted in str(info.value)
    assert "\n" not in str(info.value)


def test_points_must_be_a_forecast_issued_at_now() -> None:
    with pytest.raises(InvalidValueError, match="before now"):
        intensity_configmap(_series([1.0, 2.0], NOW.replace(minute=0)), zone="DE", now=NOW)
    with pytest.raises(InvalidValueError, match=r"1\.\.168"):
        intensity_configmap(_series([], ceil_hour(NOW)), zone="DE", now=NOW)
    with pytest.raises(InvalidValueError, match=r"1\.\.168"):
        intensity_configmap(_series([1.0] * 169, ceil_hour(NOW)), zone="DE", now=NOW)
    with pytest.raises(InvalidValueError, match="time zone"):
        intensity_configmap(_series([1.0], ceil_hour(NOW)), zone="DE", now=datetime(2024, 5, 1))


def test_zone_forecast_refuses_before_any_lookup_or_request() -> None:
    class Exploding(StaticIntensitySource):
        def forecast(self, zone: str, *, now: datetime, horizon_h: int = 24) -> IntensitySeries:
            raise AssertionError("asked a provider for a hostile zone")

    with pytest.raises(InvalidValueError, match="zone="):
        zone_forecast("DE&x=1", now=NOW, provider=Exploding())
    with pytest.raises(InvalidValueError, match="not both"):
        zone_forecast("DE", now=NOW, trace=TraceIntensitySource(_history()), provider=Exploding())
    with pytest.raises(InvalidValueError, match="needs history"):
        zone_forecast("DE", now=NOW, model="lag-ridge")
    with pytest.raises(InvalidValueError, match=r"1\.\.168"):
        zone_forecast("DE", now=NOW, horizon_h=169)
