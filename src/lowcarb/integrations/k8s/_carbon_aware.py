"""The CarbonAwareKedaScaler of the Azure operator (github.com/Azure/carbon-aware-keda-operator):
its settings (:class:`CarbonAware`) and the object that caps a KEDA ScaledObject's
``maxReplicaCount`` by grid intensity (:func:`carbon_aware_scaler`), for :mod:`._serve`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lowcarb.errors import InvalidValueError

__all__ = ["MAX_REPLICAS", "CarbonAware", "IntensityCap", "carbon_aware_scaler"]

#: The most replicas any serve object allows (the ScaledObject's, the HPA's, a cap's).
MAX_REPLICAS = 1000


@dataclass(frozen=True)
class IntensityCap:
    """At most ``max_replicas`` while the grid intensity is at or below ``max_g_per_kwh``."""

    max_g_per_kwh: int
    max_replicas: int

    def __post_init__(self) -> None:
        if self.max_g_per_kwh <= 0:
            raise InvalidValueError(
                f"max_g_per_kwh={self.max_g_per_kwh!r} must be a positive intensity, gCO2e/kWh"
            )
        if not 0 <= self.max_replicas <= MAX_REPLICAS:
            raise InvalidValueError(
                f"max_replicas={self.max_replicas!r} must be between 0 and {MAX_REPLICAS}"
            )


def _default_caps() -> tuple[IntensityCap, ...]:
    return (IntensityCap(200, 5), IntensityCap(400, 3), IntensityCap(100_000, 1))


@dataclass(frozen=True)
class CarbonAware:
    """Settings of the CarbonAwareKedaScaler that caps replicas by grid intensity.

    The operator reads the intensity forecast from a ConfigMap written by the Kubernetes carbon
    intensity exporter for the cluster's location; ``zone`` records which grid zone that is (an
    annotation) so the dashboard and the ledger price energy with the same zone.

    Attributes:
        zone: the grid zone, e.g. ``DE`` or ``US-CAL-CISO``.
        caps: ascending thresholds, gCO2e/kWh, each with the replicas allowed up to it.
        eco_off_max_replicas: replicas allowed when carbon awareness is switched off (None: the
            ScaledObject's maximum).
        forecast_configmap: ``(namespace, name, key)`` of the exporter's ConfigMap.
    """

    zone: str
    caps: tuple[IntensityCap, ...] = field(default_factory=_default_caps)
    eco_off_max_replicas: int | None = None
    forecast_configmap: tuple[str, str, str] = ("kube-system", "carbon-intensity", "data")

    def __post_init__(self) -> None:
        if not self.zone or len(self.zone) > 64 or not self.zone.isprintable():
            raise InvalidValueError(f"zone={self.zone!r} must be a grid zone such as 'DE'")
        if not self.caps:
            raise InvalidValueError("caps=() needs at least one IntensityCap")
        limits = [c.max_g_per_kwh for c in self.caps]
        if limits != sorted(set(limits)):
            raise InvalidValueError(
                f"caps thresholds {limits!r} must be strictly ascending (gCO2e/kWh)"
            )


def carbon_aware_scaler(meta: dict[str, Any], ca: CarbonAware, max_r: int) -> dict[str, Any]:
    """The CarbonAwareKedaScaler for the ScaledObject of ``meta``: ``ca``'s caps, none above
    ``max_r`` replicas."""
    namespace, cm_name, cm_key = ca.forecast_configmap
    return {
        "apiVersion": "carbonaware.kubernetes.azure.com/v1alpha1",
        "kind": "CarbonAwareKedaScaler",
        "metadata": {**meta, "annotations": {"lowcarb.dev/zone": ca.zone}},
        "spec": {
            "kedaTarget": "scaledobjects.keda.sh",
            "kedaTargetRef": {"name": meta["name"], "namespace": meta["namespace"]},
            "carbonIntensityForecastDataSource": {
                "mockCarbonForecast": False,
                "localConfigMap": {"name": cm_name, "namespace": namespace, "key": cm_key},
            },
            "maxReplicasByCarbonIntensity": [
                {
                    "carbonIntensityThreshold": c.max_g_per_kwh,
                    "maxReplicas": min(c.max_replicas, max_r),
                }
                for c in ca.caps
            ],
            "ecoModeOff": {
                "maxReplicas": max_r if ca.eco_off_max_replicas is None else ca.eco_off_max_replicas
            },
        },
    }
