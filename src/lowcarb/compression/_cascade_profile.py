"""The efficiency profile of a cascade, judged by the gate like a single model's.

Requests go through the cascade's router one at a time (batch 1), as a server answers them: the
latency percentiles and the energy window include every stage a request passes and the routing
logic itself. Accuracy and the share answered per stage are on the held-out rows. The profile is a
:class:`lowcarb.profiling.Profile` (FLOPs unknown, size the sum of the stage files), so
``lowcarb gate`` reads a cascade's profile file exactly like a model's.
"""

from __future__ import annotations

import platform
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np

from lowcarb.compression._cascade import Cascade, OperatingPoint, PointChoice
from lowcarb.energy import Meter
from lowcarb.errors import DataError
from lowcarb.profiling import (
    PROFILE_SCHEMA,
    Profile,
    ProfileSettings,
    check_features,
    measure_energy,
    measure_latency,
)
from lowcarb.tracking import Tracker

__all__ = ["CascadeProfile", "cascade_profile"]


@dataclass(frozen=True, slots=True)
class CascadeProfile:
    """A cascade's profile at one operating point, with what a model profile cannot say.

    Attributes:
        profile: The gate's profile (``energy_per_1k_j`` measured through the router, batch 1).
        point: The operating point used.
        choice: Why that point was used, when it was chosen from the grid's intensity.
        stage_shares: Share of held-out requests answered at each stage.
        expected_energy_per_1k_j: The stages' recorded energies weighted by the held-out shares
            reaching them (what the fit predicted for these rows), J per 1,000 requests.
        router_p50_ms, router_p95_ms: Routing logic alone per request, ms.
    """

    profile: Profile
    point: OperatingPoint
    choice: PointChoice | None
    stage_shares: tuple[float, ...]
    expected_energy_per_1k_j: float
    router_p50_ms: float
    router_p95_ms: float

    def to_dict(self) -> dict[str, Any]:
        """JSON object: ``profile``, the point and why (with the intensity and its source),
        shares, router cost."""
        return {
            "profile": self.profile.to_dict(),
            "point": self.point.name,
            "thresholds": list(self.point.thresholds),
            "reason": None if self.choice is None else self.choice.reason,
            "intensity_g_per_kwh": None if self.choice is None else self.choice.intensity_g_per_kwh,
            "intensity_source": None if self.choice is None else self.choice.intensity_source,
            "stage_shares": list(self.stage_shares),
            "expected_energy_per_1k_j": self.expected_energy_per_1k_j,
            "router_p50_ms": self.router_p50_ms,
            "router_p95_ms": self.router_p95_ms,
        }


def router_cost_ms(
    cascade: Cascade, x: Any, *, point: OperatingPoint, requests: int = 500
) -> tuple[float, float]:
    """p50 and p95 of the routing logic alone per request (batch 1), ms."""
    rows = np.asarray(x)
    samples = []
    for i in range(min(requests, len(rows))):
        samples.append(cascade.predict(rows[i : i + 1], point=point).router_s * 1000.0)
    p50, p95 = np.percentile(np.asarray(samples), [50, 95])
    return float(p50), float(p95)


def cascade_profile(
    cascade: Cascade,
    x: Any,
    y: Any,
    *,
    point: str | OperatingPoint | PointChoice | None = None,
    name: str = "cascade",
    version: str = "1",
    settings: ProfileSettings | None = None,
    meters: Sequence[Meter] | None = None,
    environ: Mapping[str, str] | None = None,
    dataset: str | None = None,
    now: datetime | None = None,
    clock: Callable[[], float] = time.perf_counter,
) -> CascadeProfile:
    """Profile a cascade on held-out rows at one operating point.

    Args:
        cascade: The cascade.
        x: Held-out rows.
        y: Held-out labels.
        point: A point, its name, or a :meth:`Cascade.select_point` choice (default: fitted).
        name, version: Written into the profile.
        settings: How hard to measure (latency calls, energy window); batch sizes are 1.
        meters, environ: For the Tracker measuring energy (tests pass a ``FakeMeter``).
        dataset: Description of the held-out set.
        now: Profile time (default: now, UTC).
        clock: Seconds clock for latency and the energy window.

    Raises:
        DataError: Rows and labels differ in number, or rows the models cannot take.
    """
    s = settings or ProfileSettings()
    choice = point if isinstance(point, PointChoice) else None
    chosen = cascade.resolve_point(point.point if isinstance(point, PointChoice) else point)
    rows = np.asarray(x)
    labels = np.asarray(y)
    if len(rows) != len(labels) or len(rows) == 0:
        raise DataError(f"held-out rows ({len(rows)}) and labels ({len(labels)}) must match, > 0")
    for stage in cascade.stages:
        check_features(stage.model, rows, data=f"held-out set for {str(stage.path)!r}")
    routed = cascade.predict(rows, point=chosen)
    accuracy = float(np.mean(routed.predictions == labels))
    k = len(cascade.stages)
    shares = np.bincount(routed.stages, minlength=k) / len(rows)
    reaching = 1.0 - np.concatenate(([0.0], np.cumsum(shares)[:-1]))
    expected = float(np.dot(reaching, [st.energy_per_1k_j for st in cascade.stages]))

    def predict(batch: Any) -> Any:
        return cascade.predict(batch, point=chosen).predictions

    latency = measure_latency(
        predict,
        rows,
        batch_size=1,
        calls=s.latency_calls,
        max_s=s.latency_max_s,
        warmup=s.warmup_calls,
        clock=clock,
    )
    tracker = Tracker("cascade-profile", meters=meters, ledger="", environ=environ)
    energy = measure_energy(
        predict,
        rows,
        tracker=tracker,
        batch_size=1,
        min_inferences=s.energy_min_inferences,
        min_duration_s=s.energy_min_duration_s,
        max_duration_s=s.energy_max_duration_s,
        clock=clock,
    )
    router_p50, router_p95 = router_cost_ms(cascade, rows, point=chosen)
    notes = [
        f"cascade of {k} models at operating point {chosen.name!r} (thresholds "
        + ", ".join(f"{t:.4g}" for t in chosen.thresholds)
        + "); share answered per stage "
        + ", ".join(f"{v:.3f}" for v in shares),
        "energy and latency are per request through the router at batch 1, every stage a "
        "request passes included",
        *energy.notes,
    ]
    if choice is not None:
        notes.append(f"point chosen because {choice.reason}")
    profile = Profile(
        model=name,
        version=version,
        accuracy=accuracy,
        latency_p95_ms=latency.p95_ms,
        energy_per_1k_j=energy.energy_per_1k_j,
        energy_method=energy.method,
        flops=None,
        size_bytes=cascade.size_bytes,
        training_co2e_kg=None,
        schema=PROFILE_SCHEMA,
        flops_note="a cascade's FLOPs depend on the routing; not counted",
        latency_p50_ms=latency.p50_ms,
        energy_source=energy.source,
        energy_inferences=energy.inferences,
        energy_duration_s=energy.duration_s,
        energy_batch_size=1,
        dataset=dataset,
        n_test=len(rows),
        model_class="lowcarb.compression.Cascade",
        created_at=(now or datetime.now(UTC)).isoformat(),
        host=platform.node() or None,
        notes=tuple(notes),
    )
    return CascadeProfile(
        profile,
        chosen,
        choice,
        tuple(float(v) for v in shares),
        expected,
        router_p50,
        router_p95,
    )
