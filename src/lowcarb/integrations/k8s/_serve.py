"""Kubernetes manifests for ``lowcarb serve``: plain dicts, one per object, ready for YAML.

Who owns the replica count: KEDA's ScaledObject creates and drives an HPA of its own, so a second
HPA on the same Deployment would fight it. With ``keda=True`` (the default) only the ScaledObject is
emitted and it scales to zero when no requests arrive; with ``keda=False`` a plain CPU HPA is
emitted instead, whose ``minReplicas`` is at least 1 (an HPA cannot scale to zero without the
alpha ``HPAScaleToZero`` feature gate). The CarbonAwareKedaScaler of the Azure operator
(github.com/Azure/carbon-aware-keda-operator) caps the ScaledObject's ``maxReplicaCount`` by grid
intensity, so it needs KEDA.
"""

from __future__ import annotations

import copy
import re
from typing import Any

import yaml

from lowcarb.errors import InvalidValueError
from lowcarb.integrations.k8s._carbon_aware import MAX_REPLICAS, CarbonAware, carbon_aware_scaler
from lowcarb.integrations.k8s._resources import Resources, check_requests_within_limits

__all__ = [
    "request_rate_query",
    "serve_manifests",
    "to_yaml",
]

#: DNS-1123 label: what a Service (and so every object here) may be named.
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_NAME_MAX = 63
#: The user the image runs as (deploy/Dockerfile creates it with this id).
_UID = 10001
#: Seconds a pod waits after being told to stop, before SIGTERM reaches the server.
_PRE_STOP_S = 5
#: Seconds ``lowcarb serve`` waits for requests in flight after SIGTERM (``run_server``).
_DRAIN_S = 30


def serve_manifests(
    name: str,
    image: str,
    model_path: str,
    *,
    namespace: str = "default",
    port: int = 8080,
    min_replicas: int = 1,
    max_replicas: int = 5,
    resources: Resources | None = None,
    prometheus_url: str = "http://prometheus-server.monitoring.svc:9090",
    requests_per_replica: float = 5.0,
    cpu_utilization_percent: int = 70,
    keda: bool = True,
    carbon_aware: CarbonAware | None = None,
    model_label: str | None = None,
    scale_query: str | None = None,
) -> list[dict[str, Any]]:
    """The objects that run ``lowcarb serve MODEL`` on Kubernetes, in apply order.

    Args:
        name: the name of every object (a DNS-1123 label, at most 63 characters).
        image: the container image (built from ``deploy/Dockerfile``).
        model_path: the model or cascade file, as a path inside the container.
        namespace: the namespace of every object.
        port: the server's port, container and Service.
        min_replicas: the fewest replicas. With KEDA, 0 scales to zero when idle, and needs
            ``scale_query``: at zero replicas no pod counts requests, so a trigger on the
            server's own ``lowcarb_requests_total`` could never wake it. The HPA uses at least 1.
        max_replicas: the most replicas (the carbon-aware scaler may lower it).
        resources: CPU and memory requests and limits.
        prometheus_url: where KEDA queries the request rate.
        requests_per_replica: KEDA's target, requests per second per replica.
        cpu_utilization_percent: the HPA's target CPU utilisation (``keda=False`` only).
        keda: a KEDA ScaledObject (True) or a CPU HorizontalPodAutoscaler (False), never both.
        carbon_aware: add a CarbonAwareKedaScaler capping replicas by intensity (needs KEDA).
        model_label: the server's ``--name``, the ``model`` label of its metrics (default:
            ``name``).
        scale_query: PromQL of the request rate counted in front of the pods (an ingress
            controller's or a gateway's request counter), which KEDA scales on instead of the
            server's own :func:`request_rate_query`. Needed to scale to zero.

    Returns:
        Deployment, Service, then the ScaledObject (and CarbonAwareKedaScaler) or the HPA.

    Raises:
        InvalidValueError: a bad name, port, replica range or target, quoting the value.
    """
    _check_name("name", name)
    _check_name("namespace", namespace)
    if not image or any(c.isspace() for c in image) or len(image) > 512:
        raise InvalidValueError(f"image={image!r} must be an image reference such as 'repo:tag'")
    if not model_path or len(model_path) > 4096 or not model_path.isprintable():
        raise InvalidValueError(f"model_path={model_path!r} must be a path inside the container")
    if not 1 <= port <= 65535:
        raise InvalidValueError(f"port={port!r} must be between 1 and 65535")
    if not 0 <= min_replicas <= max_replicas <= MAX_REPLICAS or max_replicas < 1:
        raise InvalidValueError(
            f"min_replicas={min_replicas!r}, max_replicas={max_replicas!r}: need "
            f"0 <= min <= max, 1 <= max <= {MAX_REPLICAS}"
        )
    if not requests_per_replica > 0:
        raise InvalidValueError(f"requests_per_replica={requests_per_replica!r} must be > 0")
    if not 1 <= cpu_utilization_percent <= 100:
        raise InvalidValueError(
            f"cpu_utilization_percent={cpu_utilization_percent!r} must be between 1 and 100"
        )
    if not prometheus_url.startswith(("http://", "https://")):
        raise InvalidValueError(f"prometheus_url={prometheus_url!r} must be an http(s) URL")
    if scale_query is not None and (
        not scale_query.strip() or len(scale_query) > 2048 or not scale_query.isprintable()
    ):
        raise InvalidValueError(
            f"scale_query={scale_query[:100]!r} must be a one-line PromQL query"
        )
    if scale_query is not None and not keda:
        raise InvalidValueError(
            "scale_query needs keda=True: the CPU HPA does not query Prometheus"
        )
    if keda and min_replicas == 0 and scale_query is None:
        raise InvalidValueError(
            "min_replicas=0 needs scale_query, a request rate counted in front of the pods (an "
            "ingress controller's counter): with no pod running, the server's own "
            "lowcarb_requests_total stops, and KEDA could never scale it back up"
        )
    if carbon_aware is not None and not keda:
        raise InvalidValueError(
            "carbon_aware needs keda=True: the CarbonAwareKedaScaler caps a KEDA ScaledObject"
        )
    label = name if model_label is None else model_label
    if not label.isprintable() or '"' in label or "\\" in label or len(label) > 256:
        raise InvalidValueError(f"model_label={label!r} must be printable, without quotes")
    res = resources or Resources()
    check_requests_within_limits(res)
    labels = {
        "app.kubernetes.io/name": name,
        "app.kubernetes.io/component": "inference",
        "app.kubernetes.io/managed-by": "lowcarb",
    }
    meta = {"name": name, "namespace": namespace, "labels": labels}
    objects = [
        _deployment(meta, image, _server_args(model_path, port, label, carbon_aware), port, res),
        _service(meta, port),
    ]
    if keda:
        objects.append(
            _scaled_object(
                meta,
                scale_query or request_rate_query(label),
                min_replicas,
                max_replicas,
                prometheus_url,
                requests_per_replica,
            )
        )
        if carbon_aware is not None:
            objects.append(carbon_aware_scaler(meta, carbon_aware, max_replicas))
    else:
        objects.append(_hpa(meta, max(1, min_replicas), max_replicas, cpu_utilization_percent))
    # Independent dicts: no object shares a nested dict with another (nor YAML anchors).
    return [copy.deepcopy(o) for o in objects]


def to_yaml(objects: list[dict[str, Any]]) -> str:
    """The objects as one multi-document YAML stream (``kubectl apply -f -`` reads it)."""
    return yaml.dump_all(objects, Dumper=_NoAliasDumper, sort_keys=False, default_flow_style=False)


class _NoAliasDumper(yaml.SafeDumper):
    """Writes a repeated dict out again instead of as a YAML anchor and alias."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _check_name(key: str, value: str) -> None:
    if not isinstance(value, str) or len(value) > _NAME_MAX or not _NAME.fullmatch(value):
        raise InvalidValueError(
            f"{key}={value!r} is not a Kubernetes name: lower-case letters, digits and '-', "
            f"starting and ending with a letter or digit, at most {_NAME_MAX} characters"
        )


def _server_args(
    model_path: str, port: int, model_label: str, carbon_aware: CarbonAware | None
) -> list[str]:
    """``lowcarb serve``'s arguments: the model label KEDA's query filters on, and the zone the
    carbon-aware scaler follows, so the server prices energy with the same grid."""
    # All interfaces inside the pod: the Service and the kubelet's probes reach it there.
    args = [model_path, "--host", "0.0.0.0", "--port", str(port), "--name", model_label]  # noqa: S104
    if carbon_aware is not None:
        args += ["--zone", carbon_aware.zone]
    return args


def _deployment(
    meta: dict[str, Any], image: str, args: list[str], port: int, res: Resources
) -> dict[str, Any]:
    selector = {"app.kubernetes.io/name": meta["name"]}

    def probe(path: str, period_s: int) -> dict[str, Any]:
        return {
            "httpGet": {"path": path, "port": "http"},
            "periodSeconds": period_s,
            "timeoutSeconds": 2,
            "failureThreshold": 3,
        }

    container = {
        "name": "server",
        "image": image,
        # Explicit, so the manifest runs whatever the image's ENTRYPOINT is.
        "command": ["lowcarb", "serve"],
        "args": args,
        "ports": [{"name": "http", "containerPort": port, "protocol": "TCP"}],
        "resources": {
            "requests": {"cpu": res.cpu_request, "memory": res.memory_request},
            "limits": {"cpu": res.cpu_limit, "memory": res.memory_limit},
        },
        "startupProbe": {**probe("/healthz", 2), "failureThreshold": 30},
        "livenessProbe": probe("/healthz", 10),
        "readinessProbe": probe("/readyz", 5),
        # Endpoints are removed asynchronously: a few seconds of grace before SIGTERM let the
        # Service stop routing here, then the server drains what is in flight.
        "lifecycle": {"preStop": {"exec": {"command": ["sleep", str(_PRE_STOP_S)]}}},
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
            "capabilities": {"drop": ["ALL"]},
        },
        # A read-only root filesystem still needs a scratch directory for temporary files.
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],  # noqa: S108 (a pod's own)
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": meta,
        "spec": {
            # No ``replicas``: KEDA or the HPA owns the count, and re-applying must not reset it.
            "selector": {"matchLabels": selector},
            "template": {
                "metadata": {
                    "labels": dict(meta["labels"]),
                    "annotations": {
                        "prometheus.io/scrape": "true",
                        "prometheus.io/port": str(port),
                        "prometheus.io/path": "/metrics",
                    },
                },
                "spec": {
                    "securityContext": {
                        "runAsNonRoot": True,
                        "runAsUser": _UID,
                        "runAsGroup": _UID,
                        "fsGroup": _UID,
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                    "automountServiceAccountToken": False,
                    # The preStop pause, the server's 30 s drain, and a margin before SIGKILL.
                    "terminationGracePeriodSeconds": _PRE_STOP_S + _DRAIN_S + 10,
                    "containers": [container],
                    "volumes": [{"name": "tmp", "emptyDir": {}}],
                },
            },
        },
    }


def _service(meta: dict[str, Any], port: int) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": meta,
        "spec": {
            "selector": {"app.kubernetes.io/name": meta["name"]},
            "ports": [{"name": "http", "port": port, "targetPort": "http", "protocol": "TCP"}],
        },
    }


def _hpa(meta: dict[str, Any], min_r: int, max_r: int, cpu_percent: int) -> dict[str, Any]:
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": meta,
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": meta["name"]},
            "minReplicas": min_r,
            "maxReplicas": max_r,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {"type": "Utilization", "averageUtilization": cpu_percent},
                    },
                }
            ],
        },
    }


def request_rate_query(model_label: str) -> str:
    """The PromQL KEDA scales on: requests per second over two minutes, one model."""
    return f'sum(rate(lowcarb_requests_total{{model="{model_label}"}}[2m]))'


def _scaled_object(
    meta: dict[str, Any],
    query: str,
    min_r: int,
    max_r: int,
    prometheus_url: str,
    per_replica: float,
) -> dict[str, Any]:
    return {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledObject",
        "metadata": meta,
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": meta["name"]},
            "minReplicaCount": min_r,
            "maxReplicaCount": max_r,
            "pollingInterval": 15,
            # Seconds without requests before scaling to zero (when minReplicaCount is 0).
            "cooldownPeriod": 300,
            "triggers": [
                {
                    "type": "prometheus",
                    "metricType": "AverageValue",
                    # KEDA's trigger metadata is a map of strings (its CRD says so).
                    "metadata": {
                        "serverAddress": prometheus_url,
                        "query": query,
                        "threshold": f"{per_replica:g}",
                        "activationThreshold": "0",
                    },
                }
            ],
        },
    }
