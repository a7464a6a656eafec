"""The footprint of a finished Job: its pods' energy priced with the hours it ran.

Energy comes from Kepler when a Prometheus with Kepler is given (a labelled fallback to the
request-based estimate when it has no series), else from the pods' requests
(:mod:`._pod_energy`). Pods already gone (deleted by a TTL, or garbage-collected) are estimated
from the Job's pod template and its run time, with a note. The intensity is that of the hours
the Job ran in its plan's zone (:func:`lowcarb.tracking.intensity_for_hours`: a live source's
history, else the zone's hourly profile), each labelled.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Literal

from lowcarb.energy import Measurement
from lowcarb.errors import ProviderError
from lowcarb.grid import Footprint, IntensitySource, price
from lowcarb.integrations.k8s._pod_energy import (
    KeplerEnergy,
    PodRun,
    parse_quantity,
    pod_runs,
    requests_measurement,
)
from lowcarb.tracking import intensity_for_hours
from lowcarb.units import parse_timestamp

__all__ = ["EnergyMethod", "JobEnergy", "JobFootprint", "finished_at"]

log = logging.getLogger(__name__)

EnergyMethod = Literal["estimated", "measured-by-kepler"]


def finished_at(job: Mapping[str, Any]) -> tuple[datetime, str] | None:
    """When the Job finished and how (``Complete`` or ``Failed``), or None while it runs."""
    status = job.get("status") or {}
    meta = job.get("metadata") or {}
    for cond in status.get("conditions") or []:
        if cond.get("type") in ("Complete", "Failed") and cond.get("status") == "True":
            raw = status.get("completionTime") or cond.get("lastTransitionTime")
            if isinstance(raw, str):
                what = f"end of Job {meta.get('namespace')}/{meta.get('name')}"
                return parse_timestamp(raw, what=what), str(cond["type"])
    return None


@dataclass(frozen=True, slots=True)
class JobFootprint:
    """A finished Job's footprint.

    Attributes:
        footprint: Energy (with provenance per component) x PUE x intensity.
        method: ``estimated`` (requests) or ``measured-by-kepler``.
        pods: The pods counted.
    """

    footprint: Footprint
    method: EnergyMethod
    pods: tuple[str, ...]


@dataclass(frozen=True)
class JobEnergy:
    """How finished Jobs are measured and priced.

    Attributes:
        kepler: Kepler through Prometheus (None: estimate from requests).
        node_cpu: The nodes' CPU for the request-based estimate (None: unknown CPU).
        pue: Facility PUE.
        source: Intensity history for pricing (None: the zone's hourly profile).
    """

    kepler: KeplerEnergy | None = None
    node_cpu: str | None = None
    pue: float = 1.0
    source: IntensitySource | None = None

    def footprint(
        self,
        job: Mapping[str, Any],
        pods: Sequence[Mapping[str, Any]],
        *,
        zone: str,
        started_at: datetime,
        ended_at: datetime,
    ) -> JobFootprint:
        """The footprint of ``job``, whose ``pods`` ran between ``started_at`` and ``ended_at``.

        Raises:
            DataError: A malformed quantity or time in a pod.
            UnknownZoneError: An unknown zone.
        """
        meta = job.get("metadata") or {}
        namespace = str(meta.get("namespace", "default"))
        name = f"k8s-job:{namespace}/{meta.get('name')}"
        runs = pod_runs(pods, job_finished_at=ended_at)
        notes: tuple[str, ...] = ()
        if not runs:
            runs = [_template_run(job, started_at, ended_at)]
            notes = ("its pods were gone: estimated from the Job's pod template and run time",)
        duration_s = max(0.0, (ended_at - started_at).total_seconds())
        measurement = self._measure(runs, namespace, name, started_at, duration_s)
        if notes:
            measurement = replace(measurement, notes=(*measurement.notes, *notes))
        intensity = intensity_for_hours(
            zone, start=started_at, duration_s=duration_s, source=self.source
        )
        kepler = any(c.source.startswith("kepler:") for c in measurement.components)
        return JobFootprint(
            footprint=price(measurement, intensity=intensity, pue=self.pue),
            method="measured-by-kepler" if kepler else "estimated",
            pods=tuple(r.name for r in runs),
        )

    def _measure(
        self, runs: list[PodRun], namespace: str, name: str, started_at: datetime, duration_s: float
    ) -> Measurement:
        def estimate() -> Measurement:
            return requests_measurement(
                runs,
                name=name,
                started_at=started_at,
                duration_s=duration_s,
                node_cpu=self.node_cpu,
            )

        if self.kepler is None:
            return estimate()
        try:
            return self.kepler.measurement(
                runs,
                namespace=namespace,
                name=name,
                started_at=started_at,
                duration_s=duration_s,
            )
        except ProviderError as exc:
            log.warning("Kepler unavailable for %s (%s): estimating from requests", name, exc)
            m = estimate()
            note = f"Kepler unavailable ({exc}): estimated from the pods' requests"
            return replace(m, notes=(*m.notes, note))


def _template_run(job: Mapping[str, Any], start: datetime, end: datetime) -> PodRun:
    cpu = mem = 0.0
    template = ((job.get("spec") or {}).get("template") or {}).get("spec") or {}
    for c in template.get("containers") or []:
        requests = (c.get("resources") or {}).get("requests") or {}
        if "cpu" in requests:
            cpu += parse_quantity(requests["cpu"], what="template cpu request")
        if "memory" in requests:
            mem += parse_quantity(requests["memory"], what="template memory request")
    return PodRun(f"{(job.get('metadata') or {}).get('name')}-template", start, end, cpu, mem)
