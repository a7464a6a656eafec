"""How a study runs (:class:`StudyConfig`), and which way each objective is optimised."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from lowcarb.tuning._budget import EnergyBudget
from lowcarb.tuning._pruning import EnergyHalvingPruner

__all__ = ["DIRECTIONS", "StudyConfig"]

#: How each objective is optimised.
DIRECTIONS: Mapping[str, str] = {
    "metric": "maximize",
    "reward": "maximize",
    "energy": "minimize",
    "inference_energy": "minimize",
    "flops": "minimize",
}


@dataclass(frozen=True)
class StudyConfig:
    """How a study runs (picklable: every worker process gets a copy).

    Attributes:
        study_name: Optuna study name (also the ledger ``project`` of its trials).
        budget: The hard budget for the whole study.
        storage: Optuna storage URL; None for in-memory (one worker only).
        objectives: Names from :data:`DIRECTIONS`; one gives a single-objective study.
        reward: (alpha, beta, gamma) of ``alpha*metric - beta*FLOPs - gamma*energy_j`` when the
            objective is ``reward``.
        n_trials: Stop after this many trials (all workers together).
        timeout_s: Stop starting trials after this long.
        zone, pue, ledger: As for the Tracker (``ledger=""``: record nowhere).
        seed: Sampler seed.
        pruner: Successive halving on joules, or None.
        deadline: With ``zone``: pace trials into the cleanest windows before it.
        first_cost: The reservation of the first trial (later ones use measured costs).
        reclaim_after_s: A reservation without a heartbeat for this long is reclaimed.
        environ: Environment for trackers (settings, ledger).
    """

    study_name: str
    budget: EnergyBudget
    storage: str | None = None
    objectives: tuple[str, ...] = ("metric", "energy")
    reward: tuple[float, float, float] | None = None
    n_trials: int | None = None
    timeout_s: float | None = None
    zone: str | None = None
    pue: float | None = None
    ledger: str | None = ""
    seed: int | None = None
    pruner: EnergyHalvingPruner | None = None
    deadline: datetime | None = None
    first_cost: float | None = None
    reclaim_after_s: float = 60.0
    environ: Mapping[str, str] = field(default_factory=dict)

    @property
    def directions(self) -> list[str]:
        return [DIRECTIONS[o] for o in self.objectives]
