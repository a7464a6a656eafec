"""lowcarb.tuning: hyperparameter and architecture search on Optuna under a hard energy budget."""

from __future__ import annotations

from lowcarb.tuning._budget import (
    BudgetState,
    BudgetStore,
    EnergyBudget,
    MemoryBudgetStore,
    Reservation,
)
from lowcarb.tuning._budget_sql import SqlBudgetStore

__all__ = [
    "BudgetState",
    "BudgetStore",
    "EnergyBudget",
    "MemoryBudgetStore",
    "Reservation",
    "SqlBudgetStore",
]
