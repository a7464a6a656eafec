"""The Prometheus metrics of one serving app, in a registry of its own.

Names follow Prometheus conventions (base units, counters end in ``_total``); the Grafana dashboard
and the Kubernetes manifests are built on these exact names and labels, so they are a public
contract (DESIGN.md). A registry per app, never the global default one, so that tests and one
process may build many apps.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from lowcarb.energy import J_PER_KWH
from lowcarb.grid import Intensity
from lowcarb.serving._batcher import BatchResult
from lowcarb.serving._model import ServedModel

__all__ = ["METRIC_NAMES", "ServingMetrics", "record_prediction", "stage_shares"]

#: Per-request energy buckets, joules: a small model's row costs microjoules, a big batch joules.
_ENERGY_BUCKETS_J = (1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 0.1, 1.0, 10.0, 100.0)
_DURATION_BUCKETS_S = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)

#: Every metric family the app exports (as exposed, counters with their ``_total`` suffix).
METRIC_NAMES = (
    "lowcarb_energy_joules_total",
    "lowcarb_co2e_grams_total",
    "lowcarb_request_energy_joules",
    "lowcarb_requests_total",
    "lowcarb_inferences_total",
    "lowcarb_escalations_total",
    "lowcarb_request_duration_seconds",
    "lowcarb_grid_intensity_grams_per_kwh",
    "lowcarb_cascade_operating_point",
)


class ServingMetrics:
    """The metric families of one app. Thread-safe (prometheus-client's objects are)."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.energy_j = Counter(
            "lowcarb_energy_joules",
            "Energy used by inference, joules, labelled measured or estimated.",
            ["model", "stage", "method"],
            registry=r,
        )
        self.co2e_g = Counter(
            "lowcarb_co2e_grams",
            "CO2e of inference energy at the zone's grid intensity, grams.",
            ["model", "stage"],
            registry=r,
        )
        self.request_energy_j = Histogram(
            "lowcarb_request_energy_joules",
            "Energy attributed to one request (its share of its batch by rows), joules.",
            ["model"],
            buckets=_ENERGY_BUCKETS_J,
            registry=r,
        )
        self.requests = Counter(
            "lowcarb_requests",
            "Prediction requests answered, by HTTP status code.",
            ["model", "stage", "code"],
            registry=r,
        )
        self.inferences = Counter(
            "lowcarb_inferences",
            "Rows predicted.",
            ["model", "stage"],
            registry=r,
        )
        self.escalations = Counter(
            "lowcarb_escalations",
            "Rows a cascade passed from one stage to the next (none for a single model).",
            ["model", "from_stage", "to_stage"],
            registry=r,
        )
        self.request_duration_s = Histogram(
            "lowcarb_request_duration_seconds",
            "Time to answer a prediction request, seconds.",
            ["model"],
            buckets=_DURATION_BUCKETS_S,
            registry=r,
        )
        self.grid_intensity = Gauge(
            "lowcarb_grid_intensity_grams_per_kwh",
            "Grid carbon intensity used to price inference energy, gCO2e per kWh.",
            ["zone", "source"],
            registry=r,
        )
        self.operating_point = Gauge(
            "lowcarb_cascade_operating_point",
            "1 for the cascade operating point in use ('default' for a single model).",
            ["model", "point"],
            registry=r,
        )

        self._intensity_labels: tuple[str, str] | None = None

    def set_intensity(self, intensity: Intensity | None) -> None:
        """Show ``intensity`` as the one intensity in use (its zone and source as labels).

        Called with every priced request and every scrape, so the gauge follows the hour's
        intensity; a series whose zone or source is no longer in use is removed, not left stale.
        """
        if intensity is None:
            return
        labels = (intensity.zone or "", intensity.source or "")
        if labels != self._intensity_labels:
            if self._intensity_labels is not None:
                self.grid_intensity.remove(*self._intensity_labels)
            self._intensity_labels = labels
        self.grid_intensity.labels(zone=labels[0], source=labels[1]).set(
            intensity.intensity_g_per_kwh
        )

    def render(self) -> bytes:
        """The Prometheus text exposition of every family."""
        return generate_latest(self.registry)


def stage_shares(
    served: ServedModel, rows: int, stages: Sequence[int] | None
) -> list[tuple[str, int, int, float]]:
    """Per stage: (label, rows answered there, rows that reached it, share of the energy).

    A row reaching stage k ran through stages 0..k, so a stage's share of a request's energy is
    its rows reached times its joules per 1,000 requests, over the sum of those (an estimated
    split of one measured total; even split by rows reached where the figures are unknown).
    """
    n = len(served.stages)
    answered = np.bincount(np.asarray(stages, dtype=np.int64), minlength=n) if stages else None
    counts = [rows] if answered is None else [int(c) for c in answered[:n]]
    counts += [0] * (n - len(counts))
    reached = [sum(counts[k:]) for k in range(n)]
    weights = [r * max(e, 0.0) for r, e in zip(reached, served.stage_energy_per_1k_j, strict=False)]
    if not sum(weights):
        weights = [float(r) for r in reached]
    total = sum(weights) or 1.0
    return [(served.stages[k], counts[k], reached[k], weights[k] / total) for k in range(n)]


def record_prediction(
    metrics: ServingMetrics,
    served: ServedModel,
    result: BatchResult,
    intensity: Intensity | None,
) -> tuple[float | None, str]:
    """Count one answered request; return its CO2e in grams (None unmetered) and its stage label.

    The stage label is that of the last stage any of its rows reached.
    """
    name = served.name
    g_per_j = intensity.intensity_g_per_kwh / J_PER_KWH if intensity is not None else None
    co2e_g = 0.0 if g_per_j is not None else None
    last = served.stages[0]
    shares = stage_shares(served, len(result.predictions), result.stages)
    for k, (stage, answered, reached, share) in enumerate(shares):
        if reached:
            last = stage
        if answered:
            metrics.inferences.labels(model=name, stage=stage).inc(answered)
        if k + 1 < len(shares) and shares[k + 1][2]:
            metrics.escalations.labels(model=name, from_stage=stage, to_stage=shares[k + 1][0]).inc(
                shares[k + 1][2]
            )
        joules = result.energy_j * share
        if result.method != "none":
            metrics.energy_j.labels(model=name, stage=stage, method=result.method).inc(joules)
        if g_per_j is not None and co2e_g is not None:
            metrics.co2e_g.labels(model=name, stage=stage).inc(joules * g_per_j)
            co2e_g += joules * g_per_j
    metrics.request_energy_j.labels(model=name).observe(result.energy_j)
    return co2e_g, last
