"""The Prometheus metrics of one serving app, in a registry of its own.

Names follow Prometheus conventions (base units, counters end in ``_total``); the Grafana dashboard
and the Kubernetes manifests are built on these exact names and labels, so they are a public
contract (DESIGN.md). A registry per app, never the global default one, so that tests and one
process may build many apps.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

__all__ = ["METRIC_NAMES", "ServingMetrics"]

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

    def render(self) -> bytes:
        """The Prometheus text exposition of every family."""
        return generate_latest(self.registry)
