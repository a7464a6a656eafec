"""Energy of a finished Job's pods: from their CPU and memory requests, or from Kepler.

**Estimated from requests** (:func:`requests_measurement`), with the models ``lowcarb run`` uses
when no counter can be read (:mod:`lowcarb.energy`):

* CPU: the pod is charged as if it kept its CPU request busy for its whole runtime,
  ``E = request_vcpu x runtime_s x P_max`` per vCPU, the cpu-model meter's ``c x P_max`` with
  ``c = request x runtime`` CPU-seconds. ``P_max`` is that of the nodes' CPU when given
  (``node_cpu``, a name from ``lowcarb estimate --list-hardware``), else Cloud Carbon Footprint's
  unknown-CPU coefficient. For a CPU-bound job this is the right order; a job that idles on its
  request is over-charged, one that bursts above it under-charged: the detail says so.
* Memory: the request held for the runtime, ``E = GB x 0.392 W/GB x runtime_s`` (Cloud Carbon
  Footprint's memory coefficient, as the memory-model meter).
* Accelerators (``nvidia.com/gpu`` requests) are not counted: a note says so when present.

**Kepler** (:class:`KeplerEnergy`): ``sum(increase(kepler_container_joules_total{...}[R]))`` over
each pod's lifetime from a Prometheus that scrapes Kepler (github.com/sustainable-computing-io/
kepler, label names of its 0.7 exporter). Kepler itself *models* the per-container figure: it
reads node counters (RAPL) where it can and splits them among containers by their resource use,
and on virtual machines it estimates power with a trained model. The figure is labelled
``measured`` with source ``kepler:...`` and that caveat in its detail, never as a counter reading.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from lowcarb.energy import (
    MEMORY_W_PER_GB,
    ComponentEnergy,
    CpuModelMeter,
    HardwareSpec,
    Measurement,
    lookup_hardware,
)
from lowcarb.errors import DataError, InvalidValueError, ProviderError
from lowcarb.units import parse_timestamp

__all__ = [
    "KeplerEnergy",
    "PodRun",
    "parse_quantity",
    "pod_runs",
    "requests_measurement",
]

_BYTES_PER_GB = 1e9
_SUFFIX = {
    "": 1.0,
    "m": 1e-3,
    "k": 1e3,
    "M": 1e6,
    "G": 1e9,
    "T": 1e12,
    "P": 1e15,
    "E": 1e18,
    "Ki": 2.0**10,
    "Mi": 2.0**20,
    "Gi": 2.0**30,
    "Ti": 2.0**40,
    "Pi": 2.0**50,
    "Ei": 2.0**60,
}
_QUANTITY = re.compile(
    r"^([+]?[0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$"
)
_GPU_KEYS = ("nvidia.com/gpu", "amd.com/gpu")


def parse_quantity(text: object, *, what: str) -> float:
    """A Kubernetes quantity (``500m``, ``2``, ``1.5Gi``, ``1e9``) as a plain number.

    Raises:
        DataError: Not a quantity.
    """
    match = _QUANTITY.fullmatch(str(text).strip()) if isinstance(text, str | int | float) else None
    if match is None:
        raise DataError(f"{what}={text!r} is not a Kubernetes quantity such as '500m' or '2Gi'")
    value = float(match.group(1)) * _SUFFIX[match.group(2) or ""]
    if not math.isfinite(value):
        raise DataError(f"{what}={text!r} is not a finite quantity")
    return value


@dataclass(frozen=True, slots=True)
class PodRun:
    """One pod of a Job, as far as energy goes.

    Attributes:
        name: The pod's name.
        started_at: When it started (``status.startTime``).
        finished_at: When its last container terminated (else the Job's end).
        cpu_request_vcpu: Sum of its containers' CPU requests, vCPUs.
        memory_request_bytes: Sum of its containers' memory requests, bytes.
        gpus: Accelerators requested (not counted by the estimate).
    """

    name: str
    started_at: datetime
    finished_at: datetime
    cpu_request_vcpu: float
    memory_request_bytes: float
    gpus: float = 0.0

    @property
    def runtime_s(self) -> float:
        """Seconds the pod ran (>= 0)."""
        return max(0.0, (self.finished_at - self.started_at).total_seconds())


def _time(value: object, what: str) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return parse_timestamp(value, what=what)
    except InvalidValueError as exc:
        raise DataError(str(exc)) from None


def pod_runs(pods: Iterable[Mapping[str, Any]], *, job_finished_at: datetime) -> list[PodRun]:
    """The pods that ran, with their requests and runtimes (pods that never started are left
    out: they drew nothing).

    Raises:
        DataError: A malformed quantity or time, naming the pod.
    """
    runs = []
    for pod in pods:
        meta = pod.get("metadata") or {}
        name = str(meta.get("name", "?"))
        status = pod.get("status") or {}
        started = _time(status.get("startTime"), f"startTime of pod {name}")
        if started is None:
            continue
        ends = [
            _time(
                ((cs.get("state") or {}).get("terminated") or {}).get("finishedAt"),
                f"finishedAt of pod {name}",
            )
            for cs in status.get("containerStatuses") or []
        ]
        known = [e for e in ends if e is not None]
        finished = max(known) if known and len(known) == len(ends) else job_finished_at
        cpu = mem = gpus = 0.0
        for c in (pod.get("spec") or {}).get("containers") or []:
            requests = (c.get("resources") or {}).get("requests") or {}
            cname = f"pod {name} container {c.get('name', '?')}"
            if "cpu" in requests:
                cpu += parse_quantity(requests["cpu"], what=f"{cname} cpu request")
            if "memory" in requests:
                mem += parse_quantity(requests["memory"], what=f"{cname} memory request")
            for key in _GPU_KEYS:
                limits = (c.get("resources") or {}).get("limits") or {}
                if key in requests or key in limits:
                    gpus += parse_quantity(requests.get(key, limits.get(key)), what=key)
        runs.append(PodRun(name, started, max(finished, started), cpu, mem, gpus))
    return runs


def _cpu_power(node_cpu: str | None) -> tuple[float, str, str]:
    """``(P_max W per vCPU, label, explanation)`` of the CPU model the cpu-model meter uses."""
    spec: HardwareSpec | None = lookup_hardware(node_cpu) if node_cpu else None
    if spec is not None and spec.kind != "cpu":
        raise InvalidValueError(
            f"node CPU {node_cpu!r} is a {spec.kind}, not a CPU: give a CPU from "
            "`lowcarb estimate --list-hardware`"
        )
    # The meter resolves its power model on open(); with the spec given (or none, and no
    # /proc/cpuinfo to match: this machine is not the node) it is the node's or CCF's figure.
    meter = CpuModelMeter(
        pid=os.getpid(), spec=spec, cpuinfo_path=Path(os.devnull), spec_resolver=lambda _b: None
    )
    meter.open()
    try:
        model = meter.model
    finally:
        meter.close()
    if model is None:  # not reached: open() sets it
        raise DataError("the CPU power model did not resolve")
    return model.max_w_per_vcpu, model.label, model.explanation


def requests_measurement(
    runs: Sequence[PodRun],
    *,
    name: str,
    started_at: datetime,
    duration_s: float,
    node_cpu: str | None = None,
) -> Measurement:
    """Estimated energy of ``runs`` from their requests (see the module docstring).

    Args:
        runs: The Job's pods.
        name: The measurement's name (``k8s-job:NAMESPACE/NAME``).
        started_at: When the Job started running.
        duration_s: The Job's wall-clock run time.
        node_cpu: The nodes' CPU model, a hardware name (default: CCF's unknown-CPU figure).
    """
    w_per_vcpu, label, explanation = _cpu_power(node_cpu)
    vcpu_s = sum(r.cpu_request_vcpu * r.runtime_s for r in runs)
    gb_s = sum(r.memory_request_bytes / _BYTES_PER_GB * r.runtime_s for r in runs)
    pods = f"{len(runs)} pod{'s' if len(runs) != 1 else ''}"
    components = (
        ComponentEnergy(
            name="cpu",
            energy_j=vcpu_s * w_per_vcpu,
            method="estimated",
            source=f"model:k8s-cpu-request({label})",
            detail=f"{vcpu_s:.0f} vCPU-seconds requested by {pods}, charged as if busy: "
            f"{explanation}; a pod idling on its request is over-charged, one bursting above "
            "it under-charged",
        ),
        ComponentEnergy(
            name="ram",
            energy_j=gb_s * MEMORY_W_PER_GB,
            method="estimated",
            source=f"model:k8s-memory-request({MEMORY_W_PER_GB:g} W/GB)",
            detail=f"{gb_s:.0f} GB-seconds requested by {pods}, {MEMORY_W_PER_GB:g} W per GB "
            "(Cloud Carbon Footprint methodology 2021, memory coefficient)",
        ),
    )
    notes: tuple[str, ...] = ()
    gpus = sum(r.gpus for r in runs)
    if gpus:
        notes = (f"{gpus:g} accelerators requested are not counted (no request-based model)",)
    return Measurement(
        name=name,
        started_at=started_at,
        duration_s=max(0.0, duration_s),
        components=components,
        notes=notes,
    )


class KeplerEnergy:
    """Per-pod energy from Kepler's ``kepler_container_joules_total`` through Prometheus.

    Args:
        prometheus_url: Prometheus' base URL (``http://prometheus.monitoring.svc:9090``).
        http: The HTTP client (injected in tests; default: a new one with a 10 s timeout).
        scrape_margin_s: Added to each pod's window on both sides, so the last scrape after
            the pod ended is inside it (Kepler's default export interval is 30 s).
    """

    METRIC = "kepler_container_joules_total"

    def __init__(
        self,
        prometheus_url: str,
        *,
        http: httpx.Client | None = None,
        scrape_margin_s: float = 60.0,
    ) -> None:
        if not prometheus_url.startswith(("http://", "https://")):
            raise InvalidValueError(
                f"prometheus_url={prometheus_url!r} must be an http(s) URL, e.g. "
                "http://prometheus.monitoring.svc:9090"
            )
        self.url = prometheus_url.rstrip("/")
        self._http = http or httpx.Client(timeout=10.0)
        self.margin = timedelta(seconds=scrape_margin_s)

    def query(self, namespace: str, pod: str, *, start: datetime, end: datetime) -> float:
        """Joules Kepler counted for the pod's containers between ``start`` and ``end``.

        Raises:
            ProviderError: Prometheus failed, or has no Kepler series for the pod.
        """
        window_s = math.ceil((end - start + 2 * self.margin).total_seconds())
        promql = (
            f'sum(increase({self.METRIC}{{container_namespace="{namespace}",'
            f'pod_name="{pod}"}}[{window_s}s]))'
        )
        at = (end + self.margin).timestamp()
        try:
            resp = self._http.get(
                f"{self.url}/api/v1/query", params={"query": promql, "time": f"{at:.3f}"}
            )
            body = resp.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise ProviderError(
                f"Prometheus at {self.url} failed ({type(exc).__name__}): check --prometheus"
            ) from None
        if resp.status_code != 200 or not isinstance(body, dict) or body.get("status") != "success":
            err = body.get("error", "") if isinstance(body, dict) else ""
            raise ProviderError(
                f"Prometheus at {self.url} answered HTTP {resp.status_code} {str(err)[:200]!r} "
                f"to {promql!r}"
            )
        result = (body.get("data") or {}).get("result") or []
        if not result:
            raise ProviderError(
                f"Prometheus at {self.url} has no {self.METRIC} for pod {namespace}/{pod}: is "
                "Kepler installed and scraped by it?"
            )
        try:
            value = float(result[0]["value"][1])
        except (KeyError, IndexError, TypeError, ValueError):
            raise ProviderError(f"Prometheus at {self.url} answered a malformed vector") from None
        if not math.isfinite(value) or value < 0:
            raise ProviderError(f"Prometheus at {self.url} answered {value!r} joules")
        return value

    def measurement(
        self,
        runs: Sequence[PodRun],
        *,
        namespace: str,
        name: str,
        started_at: datetime,
        duration_s: float,
    ) -> Measurement:
        """Kepler's energy of ``runs``, one component for all pods.

        Raises:
            ProviderError: Prometheus failed or has no series for a pod.
        """
        joules = sum(
            self.query(namespace, r.name, start=r.started_at, end=r.finished_at) for r in runs
        )
        return Measurement(
            name=name,
            started_at=started_at,
            duration_s=max(0.0, duration_s),
            components=(
                ComponentEnergy(
                    name="pods",
                    energy_j=joules,
                    method="measured",
                    source=f"kepler:{self.METRIC}",
                    detail=f"Kepler via {self.url}, increase over each of {len(runs)} pods' "
                    "lifetime; Kepler itself models this figure: it splits node energy (RAPL "
                    "counters where readable, else a trained power model) among containers by "
                    "their resource use",
                ),
            ),
        )
