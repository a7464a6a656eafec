"""lowcarb.integrations.k8s: Kubernetes manifests and the controller that releases batch Jobs.

- :func:`serve_manifests`: Deployment, Service, and a KEDA ScaledObject (scale to zero on the
  request rate) or a CPU HorizontalPodAutoscaler, never both on one Deployment; optionally a
  CarbonAwareKedaScaler (Azure/carbon-aware-keda-operator) capping replicas by grid intensity.
- :func:`intensity_configmap`: the carbon-intensity forecast ConfigMap that scaler reads, in the
  format of Azure's carbon intensity exporter, from lowcarb's forecast (:func:`zone_forecast`);
  :data:`FORECAST_CONFIGMAP` is where both sides meet by default.
- :func:`suspended_job`: a ``batch/v1`` Job (:class:`BatchJob`) created suspended, its plan
  (:class:`JobPlan`, read back with :func:`job_plan`) in its annotations; :func:`place_job`
  picks the cleanest cluster (kube context) that meets the deadline.
- :class:`ReleaseController` (:class:`ReleaseConfig`, :class:`TickReport`): ``lowcarb k8s
  release``, on the official ``kubernetes`` client (:func:`connect`, :class:`KubeApi`): one
  active instance through a Lease, un-suspends each Job at its planned start, re-plans on
  fresher forecasts, records releases, re-plans and each finished Job's energy (estimated from
  its pods' requests, or Kepler's through Prometheus: :class:`KeplerEnergy`) in the ledger.
  Errors: :class:`ClusterError`, :class:`ClusterUnreachableError`, :class:`LeaseLostError`.
- :func:`to_yaml`: the objects as one multi-document YAML stream.
- :func:`crd_schema`: the vendored ``openAPIV3Schema`` of the custom resources (``schemas/``,
  sources and licenses in ``schemas/SOURCES.md``), to validate the custom objects.
"""

from lowcarb.integrations.k8s._batch import BatchJob, JobPlan, job_plan, suspended_job
from lowcarb.integrations.k8s._carbon_aware import CarbonAware, IntensityCap
from lowcarb.integrations.k8s._errors import ClusterError, ClusterUnreachableError, LeaseLostError
from lowcarb.integrations.k8s._intensity_configmap import (
    FORECAST_CONFIGMAP,
    forecast_configmap_ref,
    intensity_configmap,
    zone_forecast,
)
from lowcarb.integrations.k8s._kube import KubeApi, connect
from lowcarb.integrations.k8s._placement import Placement, place_job
from lowcarb.integrations.k8s._pod_energy import KeplerEnergy
from lowcarb.integrations.k8s._release import ReleaseController
from lowcarb.integrations.k8s._release_config import ReleaseConfig, TickReport
from lowcarb.integrations.k8s._resources import Resources
from lowcarb.integrations.k8s._schemas import crd_schema
from lowcarb.integrations.k8s._serve import request_rate_query, serve_manifests, to_yaml

__all__ = [
    "FORECAST_CONFIGMAP",
    "BatchJob",
    "CarbonAware",
    "ClusterError",
    "ClusterUnreachableError",
    "IntensityCap",
    "JobPlan",
    "KeplerEnergy",
    "KubeApi",
    "LeaseLostError",
    "Placement",
    "ReleaseConfig",
    "ReleaseController",
    "Resources",
    "TickReport",
    "connect",
    "crd_schema",
    "forecast_configmap_ref",
    "intensity_configmap",
    "job_plan",
    "place_job",
    "request_rate_query",
    "serve_manifests",
    "suspended_job",
    "to_yaml",
    "zone_forecast",
]
