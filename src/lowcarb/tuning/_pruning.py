"""Pruning with joules as the resource: successive halving that works in multi-objective studies.

Optuna's pruners read ``trial.report`` values, which multi-objective studies do not support. Here a
trial's intermediate validation values are compared at equal *spend*: rungs at ``min_j``,
``min_j * eta``, ``min_j * eta**2`` ... joules. When a trial first passes a rung, its value there is
stored on the trial (user attribute ``lowcarb.rung.K``) and compared with what every other trial
had at that rung: outside the best ``1/eta`` of them, it is pruned. So a trial is stopped for being
worse than its peers were after spending as much, which is what a budget cares about.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from lowcarb.errors import InvalidValueError
from lowcarb.tuning._runner import Step

__all__ = ["EnergyHalvingPruner", "rung_attribute"]


def rung_attribute(rung: int) -> str:
    """The user-attribute key that holds a trial's value at ``rung``."""
    return f"lowcarb.rung.{rung}"


@dataclass(frozen=True, slots=True)
class EnergyHalvingPruner:
    """Successive halving on joules (see the module).

    Attributes:
        min_j: Device joules of the first rung.
        eta: Reduction factor: keep the best ``1/eta`` at each rung (>= 2).
        maximize: Whether a higher validation value is better.
        min_peers: Prune only when at least this many other trials reached the rung.
    """

    min_j: float
    eta: float = 3.0
    maximize: bool = True
    min_peers: int = 3

    def __post_init__(self) -> None:
        if not (math.isfinite(self.min_j) and self.min_j > 0):
            raise InvalidValueError(f"min_j must be > 0 joules, got {self.min_j!r}")
        if not self.eta >= 2:
            raise InvalidValueError(f"eta must be >= 2, got {self.eta!r}")

    def rung_of(self, energy_j: float) -> int:
        """The highest rung a trial that spent ``energy_j`` has passed (-1 before the first)."""
        if energy_j < self.min_j:
            return -1
        return math.floor(math.log(energy_j / self.min_j, self.eta) + 1e-9)

    def decide(
        self,
        steps: Sequence[Step],
        *,
        peers: Callable[[int], list[float]],
        record: Callable[[int, float], None],
    ) -> bool:
        """Whether to prune a trial after its latest step.

        Args:
            steps: The trial's steps so far.
            peers: Rung -> the values other trials had there.
            record: Stores this trial's value at a rung it just passed.
        """
        if not steps:
            return False
        latest = steps[-1]
        reached = self.rung_of(latest.energy_j)
        passed_before = self.rung_of(steps[-2].energy_j) if len(steps) > 1 else -1
        for rung in range(passed_before + 1, reached + 1):
            record(rung, latest.value)
            others = peers(rung)
            if len(others) < self.min_peers:
                continue
            ranked = sorted(others, reverse=self.maximize)
            keep = max(1, int(len(ranked) / self.eta))
            threshold = ranked[keep - 1]
            worse = latest.value < threshold if self.maximize else latest.value > threshold
            if worse:
                return True
        return False


def peers_from_trials(trials: Sequence[Any], number: int) -> Callable[[int], list[float]]:
    """Rung -> values of the other trials (Optuna ``FrozenTrial``s) at that rung."""

    def at(rung: int) -> list[float]:
        key = rung_attribute(rung)
        return [
            float(t.user_attrs[key]) for t in trials if t.number != number and key in t.user_attrs
        ]

    return at
