"""Measure a model on this machine: latency percentiles, energy per 1,000 inferences, accuracy.

Latency is wall time of one ``predict`` call (``time.perf_counter``), after a few warm-up calls,
at batch size 1 and at a larger batch; percentiles use numpy's linear interpolation. Energy is
measured by the :class:`~lowcarb.Tracker` over a window that runs ``predict`` at the energy batch
size until both a minimum number of inferences and a minimum duration are reached (meters that
integrate power or read counters at window edges need a window of at least a few seconds to say
anything useful). The energy is labelled ``measured`` only when every meter read hardware
counters; a CPU-utilisation model makes it ``estimated``, and the profile says which meters.
"""

from __future__ import annotations

import platform
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import numpy as np

from lowcarb.energy import Measurement, Meter, Method
from lowcarb.errors import DataError, InvalidValueError, UsageError
from lowcarb.profiling._flops import count_complexity
from lowcarb.profiling._onnx import OnnxModel
from lowcarb.profiling._profile import PROFILE_SCHEMA, Profile
from lowcarb.profiling._training import TrainingCO2e
from lowcarb.tracking import Tracker

__all__ = [
    "EnergyStats",
    "LatencyStats",
    "ProfileSettings",
    "measure_energy",
    "measure_latency",
    "profile_model",
]

Predict = Callable[[Any], Any]


@dataclass(frozen=True, slots=True)
class LatencyStats:
    """Latency of ``predict`` at one batch size.

    Attributes:
        batch_size: Rows per call.
        calls: Timed calls (after warm-up).
        p50_ms: Median latency of one call, ms.
        p95_ms: 95th-percentile latency of one call, ms.
    """

    batch_size: int
    calls: int
    p50_ms: float
    p95_ms: float


@dataclass(frozen=True, slots=True)
class EnergyStats:
    """Energy of ``predict`` over a measured window.

    Attributes:
        energy_per_1k_j: Joules per 1,000 inferences (rows).
        energy_j: Energy of the whole window, J.
        method: ``measured`` or ``estimated`` (see :attr:`Measurement.method`).
        source: The meters behind the figure, comma-separated.
        inferences: Rows predicted in the window.
        duration_s: Window length, s.
        batch_size: Rows per ``predict`` call.
        notes: Caveats from the meters.
    """

    energy_per_1k_j: float
    energy_j: float
    method: Method
    source: str
    inferences: int
    duration_s: float
    batch_size: int
    notes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ProfileSettings:
    """How hard to measure.

    Attributes:
        batch_size: The larger batch size timed besides batch 1.
        latency_calls: Timed calls per batch size.
        latency_max_s: Stop timing a batch size after this long (at least 20 calls are made).
        warmup_calls: Untimed calls first.
        energy_min_inferences: The energy window runs at least this many inferences ...
        energy_min_duration_s: ... and at least this long, seconds ...
        energy_max_duration_s: ... but stops after this long even short of the inferences
            (a slow model still gets a bounded window), seconds.
        energy_batch_size: Rows per call in the energy window (1 = request-at-a-time serving).
    """

    batch_size: int = 64
    latency_calls: int = 200
    latency_max_s: float = 5.0
    warmup_calls: int = 5
    energy_min_inferences: int = 1000
    energy_min_duration_s: float = 2.0
    energy_max_duration_s: float = 10.0
    energy_batch_size: int = 1

    def __post_init__(self) -> None:
        for name in ("batch_size", "latency_calls", "energy_min_inferences", "energy_batch_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InvalidValueError(f"{name} must be a whole number >= 1, got {value!r}")
        for name in ("latency_max_s", "energy_min_duration_s", "energy_max_duration_s"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and value >= 0):
                raise InvalidValueError(f"{name} must be a number >= 0, got {value!r}")
        if self.energy_max_duration_s < self.energy_min_duration_s:
            raise InvalidValueError(
                f"energy_max_duration_s ({self.energy_max_duration_s!r}) must be >= "
                f"energy_min_duration_s ({self.energy_min_duration_s!r})"
            )


def _batches(x: Any, batch_size: int) -> Callable[[int], Any]:
    n = len(x)
    if n == 0:
        raise UsageError("the held-out set is empty; profile needs at least one row")

    def batch(i: int) -> Any:
        start = (i * batch_size) % n
        idx = np.arange(start, start + batch_size) % n
        return x[idx]

    return batch


def measure_latency(
    predict: Predict,
    x: Any,
    *,
    batch_size: int = 1,
    calls: int = 200,
    max_s: float = 5.0,
    warmup: int = 5,
    clock: Callable[[], float] = time.perf_counter,
) -> LatencyStats:
    """Time ``predict`` on batches of ``x`` (rows cycled).

    Args:
        predict: The model's predict function.
        x: Rows (an array indexable by an index array).
        batch_size: Rows per call.
        calls: Timed calls.
        max_s: Stop after this many seconds of timing once 20 calls are done.
        warmup: Untimed calls first.
        clock: Seconds clock.
    """
    batch = _batches(x, batch_size)
    for i in range(warmup):
        predict(batch(i))
    samples: list[float] = []
    began = clock()
    for i in range(calls):
        b = batch(warmup + i)
        t0 = clock()
        predict(b)
        samples.append((clock() - t0) * 1000.0)
        if len(samples) >= 20 and clock() - began > max_s:
            break
    p50, p95 = np.percentile(np.asarray(samples), [50, 95])
    return LatencyStats(batch_size, len(samples), float(p50), float(p95))


def measure_energy(
    predict: Predict,
    x: Any,
    *,
    tracker: Tracker,
    batch_size: int = 1,
    min_inferences: int = 1000,
    min_duration_s: float = 2.0,
    max_duration_s: float = 10.0,
    clock: Callable[[], float] = time.perf_counter,
) -> EnergyStats:
    """Measure the energy of inference with the Tracker.

    The tracker is started, a window named ``inference`` runs ``predict`` on cycled batches of
    ``x`` until at least ``min_inferences`` rows and ``min_duration_s`` seconds (or, for a slow
    model, ``max_duration_s`` seconds), and the tracker is stopped. Build the tracker with
    ``ledger=""`` unless the profiling run itself should be recorded.
    """
    batch = _batches(x, batch_size)
    inferences = 0
    with tracker:
        # Open the window only once the meters are counting, or its first moments go unmeasured.
        tracker.wait_ready(timeout_s=30.0)
        with tracker.window("inference"):
            began = clock()
            i = 0
            while True:
                predict(batch(i))
                inferences += batch_size
                i += 1
                elapsed = clock() - began
                if elapsed >= max_duration_s:
                    break
                if inferences >= min_inferences and elapsed >= min_duration_s:
                    break
    window: Measurement = tracker.windows["inference"]
    energy_j = window.energy_j
    sources = sorted({c.source for c in window.components})
    notes = list(window.notes)
    if energy_j == 0:
        notes.append("the meters saw no energy in the inference window; run a longer window")
    return EnergyStats(
        energy_per_1k_j=energy_j / inferences * 1000.0,
        energy_j=energy_j,
        method=window.method,
        source=",".join(sources) or "none",
        inferences=inferences,
        duration_s=window.duration_s,
        batch_size=batch_size,
        notes=tuple(notes),
    )


def _accuracy(model: Any, x: Any, y: Any) -> float:
    if isinstance(model, OnnxModel) and not model.is_classifier:
        raise UsageError(
            f"{str(model.path)!r} outputs {model.output_name!r}, not labels: a profile's accuracy "
            "is the share of held-out labels predicted exactly"
        )
    try:
        from sklearn.base import is_classifier
    except ImportError:  # a non-scikit-learn model: trust that predict returns labels
        pass
    else:
        if hasattr(model, "fit") and not is_classifier(model):
            raise UsageError(
                f"{type(model).__name__} is not a classifier: a profile's accuracy is the share "
                "of held-out labels predicted exactly"
            )
    try:
        predicted = np.asarray(model.predict(x))
    except (ValueError, TypeError) as exc:  # the model's own message says what it expected
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(
            f"the model cannot predict on the held-out set: {first[:300]}; give the held-out "
            "set the model was trained for"
        ) from None
    if predicted.shape != np.shape(y):
        raise DataError(
            f"the model predicted {predicted.shape} for labels of shape {np.shape(y)}; give one "
            "label per held-out row"
        )
    return float(np.mean(predicted == np.asarray(y)))


def _model_class(model: Any) -> str:
    if isinstance(model, OnnxModel):
        return f"onnx graph by {model.producer}" if model.producer else "onnx graph"
    return f"{type(model).__module__}.{type(model).__qualname__}"


def _framework(model: Any) -> str | None:
    if isinstance(model, OnnxModel):
        return "onnxruntime"
    return "scikit-learn" if type(model).__module__.startswith("sklearn") else None


def _lowcarb_version() -> str | None:
    try:
        return version("lowcarb")
    except PackageNotFoundError:  # running from a source tree
        return None


def profile_model(
    model: Any,
    x_test: Any,
    y_test: Any,
    *,
    name: str,
    version: str,
    size_bytes: int,
    settings: ProfileSettings | None = None,
    zone: str | None = None,
    meters: Sequence[Meter] | None = None,
    training: TrainingCO2e | None = None,
    team: str | None = None,
    project: str | None = None,
    dataset: str | None = None,
    environ: Mapping[str, str] | None = None,
    now: datetime | None = None,
    clock: Callable[[], float] = time.perf_counter,
) -> Profile:
    """Profile a fitted model on a held-out set.

    Args:
        model: A fitted estimator with ``predict`` (scikit-learn or compatible), or an ONNX
            graph loaded by :func:`~lowcarb.profiling.load_model`.
        x_test: Held-out rows (numpy array).
        y_test: Held-out labels.
        name: Model name.
        version: Model version.
        size_bytes: Size of the serialized model on disk.
        settings: How hard to measure (defaults: :class:`ProfileSettings`).
        zone: Grid zone used to price energy (only recorded in the profile).
        meters: Meters for the Tracker (default: detected on this machine).
        training: Training CO2e from the ledger, if known.
        team, project: Attribution (budgets are charged per team and project).
        dataset: Description of the held-out set.
        environ: Environment for the Tracker (``LOWCARB_*``).
        now: Profile time (default: now, UTC).
        clock: Seconds clock for latency and the energy window.

    Returns:
        The profile (``energy_method`` says measured or estimated, ``energy_source`` by what).
    """
    s = settings or ProfileSettings()
    x = np.asarray(x_test)
    if len(x) != len(y_test):
        raise UsageError(f"held-out rows ({len(x)}) and labels ({len(y_test)}) differ in number")
    complexity = count_complexity(model)
    accuracy = _accuracy(model, x, y_test)
    one = measure_latency(
        model.predict,
        x,
        batch_size=1,
        calls=s.latency_calls,
        max_s=s.latency_max_s,
        warmup=s.warmup_calls,
        clock=clock,
    )
    many = measure_latency(
        model.predict,
        x,
        batch_size=s.batch_size,
        calls=s.latency_calls,
        max_s=s.latency_max_s,
        warmup=s.warmup_calls,
        clock=clock,
    )
    # ledger="" keeps the profiling window itself out of the ledger even when LOWCARB_LEDGER is set.
    tracker = Tracker("profile", zone=zone, meters=meters, ledger="", environ=environ)
    energy = measure_energy(
        model.predict,
        x,
        tracker=tracker,
        batch_size=s.energy_batch_size,
        min_inferences=s.energy_min_inferences,
        min_duration_s=s.energy_min_duration_s,
        max_duration_s=s.energy_max_duration_s,
        clock=clock,
    )
    notes = list(energy.notes)
    if training is None or training.co2e_kg is None:
        notes.append("training CO2e unknown: no ledger records for this model version")
    fp = tracker.footprint
    return Profile(
        model=name,
        version=version,
        accuracy=accuracy,
        latency_p95_ms=one.p95_ms,
        energy_per_1k_j=energy.energy_per_1k_j,
        energy_method=energy.method,
        flops=complexity.flops,
        size_bytes=int(size_bytes),
        training_co2e_kg=None if training is None else training.co2e_kg,
        schema=PROFILE_SCHEMA,
        params=complexity.params,
        flops_note=complexity.note,
        latency_p50_ms=one.p50_ms,
        latency_batch_size=many.batch_size,
        latency_batch_p50_ms=many.p50_ms,
        latency_batch_p95_ms=many.p95_ms,
        energy_source=energy.source,
        energy_inferences=energy.inferences,
        energy_duration_s=energy.duration_s,
        energy_batch_size=energy.batch_size,
        training_co2e_source=None if training is None else training.source,
        training_records=None if training is None else training.records,
        team=team,
        project=project,
        zone=None if fp is None else fp.intensity.zone,
        intensity_g_per_kwh=None if fp is None else fp.intensity.intensity_g_per_kwh,
        dataset=dataset,
        n_test=len(x),
        model_class=_model_class(model),
        framework=_framework(model),
        created_at=(now or datetime.now(UTC)).isoformat(),
        host=platform.node() or None,
        lowcarb_version=_lowcarb_version(),
        notes=tuple(notes),
    )
