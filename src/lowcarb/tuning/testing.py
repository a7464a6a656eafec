"""Test doubles for budgeted searches: trials that burn a known amount of CPU, step by step.

Module-level functions, so worker processes (spawned) can import them by name.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from lowcarb.tuning._runner import StepReporter

__all__ = ["burn", "busy_sample", "busy_train"]


def burn(seconds: float) -> None:
    """Keep one CPU busy for ``seconds`` of wall time."""
    end = time.perf_counter() + seconds
    x = 0
    while time.perf_counter() < end:
        x += 1


def busy_sample(trial: Any) -> dict[str, Any]:
    """A two-parameter space: ``quality`` in [0, 1] and ``steps`` in [1, 6]."""
    return {
        "quality": trial.suggest_float("quality", 0.0, 1.0),
        "steps": trial.suggest_int("steps", 1, 6),
    }


def busy_train(params: Mapping[str, Any], report: StepReporter) -> dict[str, Any]:
    """Burn ``step_s`` (default 0.2 s) of CPU per step; the metric climbs to ``quality``."""
    steps = int(params.get("steps", 3))
    step_s = float(params.get("step_s", 0.2))
    quality = float(params.get("quality", 0.5))
    value = 0.0
    for step in range(1, steps + 1):
        burn(step_s)
        value = quality * step / steps
        report(step, value)
    return {"metric": value, "flops": 1000.0 * steps}
