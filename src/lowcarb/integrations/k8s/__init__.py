"""lowcarb.integrations.k8s: Kubernetes manifests for ``lowcarb serve``, as plain dicts and YAML.

- :func:`serve_manifests`: Deployment, Service, and a KEDA ScaledObject (scale to zero on the
  request rate) or a CPU HorizontalPodAutoscaler, never both on one Deployment; optionally a
  CarbonAwareKedaScaler (Azure/carbon-aware-keda-operator) capping replicas by grid intensity.
- :func:`intensity_configmap`: the carbon-intensity forecast ConfigMap that scaler reads, in the
  format of Azure's carbon intensity exporter, from lowcarb's forecast (:func:`zone_forecast`);
  :data:`FORECAST_CONFIGMAP` is where both sides meet by default.
- :func:`to_yaml`: the objects as one multi-document YAML stream.
- :func:`crd_schema`: the vendored ``openAPIV3Schema`` of the custom resources (``schemas/``,
  sources and licenses in ``schemas/SOURCES.md``), to validate the custom objects.
"""

from lowcarb.integrations.k8s._intensity_configmap import (
    FORECAST_CONFIGMAP,
    forecast_configmap_ref,
    intensity_configmap,
    zone_forecast,
)
from lowcarb.integrations.k8s._schemas import crd_schema
from lowcarb.integrations.k8s._serve import (
    CarbonAware,
    IntensityCap,
    Resources,
    request_rate_query,
    serve_manifests,
    to_yaml,
)

__all__ = [
    "FORECAST_CONFIGMAP",
    "CarbonAware",
    "IntensityCap",
    "Resources",
    "crd_schema",
    "forecast_configmap_ref",
    "intensity_configmap",
    "request_rate_query",
    "serve_manifests",
    "to_yaml",
    "zone_forecast",
]
