"""Spatial choice for a Kubernetes Job: the cleanest cluster (kube context) that meets the deadline.

Each candidate is a kube context and the grid zone its nodes draw from. The planner
(:func:`lowcarb.scheduling.plan_from_source`) finds the best window in every zone, all of them
finishing by the deadline, and picks the lowest forecast intensity; ties go to the candidate
given first (the home cluster, which the ``now_*`` figures refer to). A zone without a forecast is
left out with a note; when none has one the plan is a labelled fallback in the first zone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from lowcarb.errors import InvalidValueError, UsageError
from lowcarb.grid import IntensitySource, lookup_zone
from lowcarb.integrations.k8s._batch import JobPlan
from lowcarb.scheduling import JobSpec, OnForecastError, Plan, plan_from_source

__all__ = ["Placement", "place_job"]


@dataclass(frozen=True)
class Placement:
    """Where and when a Job runs.

    Attributes:
        context: The kube context chosen (None: the kubeconfig's current context).
        plan: The planner's plan (its ``options`` list every zone considered).
        candidates: ``(context, zone)`` as given, zones resolved to their ids.
    """

    context: str | None
    plan: Plan
    candidates: tuple[tuple[str | None, str], ...]

    @property
    def job_plan(self) -> JobPlan:
        """The plan as the Job's annotations carry it."""
        return JobPlan.from_plan(self.plan)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ``{context, zone, plan, candidates}``."""
        return {
            "context": self.context,
            "zone": self.plan.zone,
            "plan": self.plan.to_dict(),
            "candidates": [{"context": c, "zone": z} for c, z in self.candidates],
        }


def place_job(
    job: JobSpec,
    candidates: Sequence[tuple[str | None, str]],
    source: IntensitySource,
    *,
    now: datetime,
    on_forecast_error: OnForecastError = "start-now",
) -> Placement:
    """Plan ``job`` over the candidates' zones and name the context of the zone chosen.

    Args:
        job: The job (a contiguous run: a Kubernetes Job does not pause).
        candidates: ``(kube context, zone)`` pairs; the first is the home cluster.
        source: Forecasts for the zones.
        now: The decision time.
        on_forecast_error: As for :func:`lowcarb.scheduling.plan_from_source`.

    Raises:
        UsageError: No candidate, or one context named twice.
        UnknownZoneError: An unknown zone.
        InvalidValueError: An interruptible job, or a deadline that leaves no room.
    """
    if not candidates:
        raise UsageError("give a zone (--zone Z) or clusters with their zones (--context CTX=ZONE)")
    if job.interruptible:
        raise InvalidValueError(
            "a Kubernetes Job runs in one go: plan it without interruptible=True"
        )
    contexts = [c for c, _ in candidates]
    repeated = sorted({c for c in contexts if c is not None and contexts.count(c) > 1})
    if repeated:
        raise UsageError(f"context {repeated[0]!r} is given twice: give each context once")
    resolved = tuple((c, lookup_zone(z).zone_id) for c, z in candidates)
    zones = list(dict.fromkeys(z for _, z in resolved))
    plan = plan_from_source(job, zones, source, now=now, on_forecast_error=on_forecast_error)
    chosen = next((c for c, z in resolved if z.upper() == plan.zone.upper()), resolved[0][0])
    return Placement(context=chosen, plan=plan, candidates=resolved)
