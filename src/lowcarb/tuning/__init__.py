"""lowcarb.tuning: hyperparameter and architecture search on Optuna under a hard energy budget.

- **A hard budget** (:class:`EnergyBudget`, kWh or kg CO2e) for a whole study across all its
  workers: each trial reserves its expected cost atomically in the study's storage
  (:class:`MemoryBudgetStore`, :class:`SqlBudgetStore` on SQLite or PostgreSQL) before it starts,
  is stopped from inside when its measured spend reaches what is left, and is settled at its
  measured spend; a dead worker's reservation is reclaimed.
- **Every trial a measured block** (the Tracker, ``kind="trial"``), its energy, CO2e and method on
  the trial as user attributes and in the ledger with the study and trial as attribution.
- **Energy-aware search**: multi-objective studies over (metric, energy) with their Pareto front,
  successive halving on joules that works there too (:class:`EnergyHalvingPruner`), an optional
  scalar reward, early stopping inside trials, and inference knobs (structured pruning, ONNX
  INT8) scored by measured inference energy.
- **Carbon-aware pacing** (:class:`Pacing`): trials in the cleanest windows before a deadline.

    from lowcarb.tuning import EnergyBudget, load_space, tune

    result = tune(load_space("space.yaml"), budget=EnergyBudget.of(kwh=0.01))
"""

from __future__ import annotations

from lowcarb.tuning._api import FunctionPlan, SpacePlan, tune
from lowcarb.tuning._budget import (
    BudgetState,
    BudgetStore,
    EnergyBudget,
    MemoryBudgetStore,
    Reservation,
)
from lowcarb.tuning._budget_sql import SqlBudgetStore
from lowcarb.tuning._pacing import PacedStart, Pacing
from lowcarb.tuning._pruning import EnergyHalvingPruner
from lowcarb.tuning._runner import Step, StepReporter, TrialOutcome, TrialStopped
from lowcarb.tuning._space import SearchSpace, load_space, parse_space
from lowcarb.tuning._study_config import DIRECTIONS, StudyConfig
from lowcarb.tuning._summary import TuneResult
from lowcarb.tuning._wrap import BudgetExhausted, energy_budgeted

__all__ = [
    "DIRECTIONS",
    "BudgetExhausted",
    "BudgetState",
    "BudgetStore",
    "EnergyBudget",
    "EnergyHalvingPruner",
    "FunctionPlan",
    "MemoryBudgetStore",
    "PacedStart",
    "Pacing",
    "Reservation",
    "SearchSpace",
    "SpacePlan",
    "SqlBudgetStore",
    "Step",
    "StepReporter",
    "StudyConfig",
    "TrialOutcome",
    "TrialStopped",
    "TuneResult",
    "energy_budgeted",
    "load_space",
    "parse_space",
    "tune",
]
