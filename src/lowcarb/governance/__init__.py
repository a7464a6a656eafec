"""lowcarb.governance: may this model ship? Promotion policies, gate rules, verdicts, budgets.

- **Policies** (:class:`PromotionPolicy`, :func:`load_policy`): YAML rules, carbon budgets per
  team/project and period, and recorded overrides (approver, reason, expiry), validated strictly.
- **Gates** (:func:`evaluate_gate`, :func:`gate_files`, ``lowcarb gate``): promote or reject,
  every verdict appended to the ledger as a ``decision`` record with the SHA-256 of its inputs.
  The rules are small objects in a table (:data:`GATE_RULES`, :class:`GateRule`).
- **Budgets** (:func:`budget_report`, :func:`check_budgets`, ``lowcarb budget``).
- **Comparison** (``lowcarb compare``): Rich, Markdown and JSON.

Profiles (what a gate compares) come from :mod:`lowcarb.profiling`; the MLflow registry gate
lives in :mod:`lowcarb.integrations.mlflow`. See DESIGN.md.
"""

from lowcarb.governance._budget import (
    BudgetState,
    BudgetStatus,
    applicable_budgets,
    enforce_budgets,
    period_bounds,
)
from lowcarb.governance._compare import (
    comparison_json,
    comparison_markdown,
    comparison_rows,
    comparison_table,
)
from lowcarb.governance._decide import (
    GateOutcome,
    budget_report,
    check_budgets,
    decide,
    gate_files,
)
from lowcarb.governance._gate import evaluate_gate
from lowcarb.governance._ledger_io import GateInput, budget_statuses, decision_draft
from lowcarb.governance._policy import (
    BUDGET_RULE,
    RULES,
    Budget,
    BudgetAction,
    Override,
    Period,
    PromotionPolicy,
)
from lowcarb.governance._policy_yaml import load_policy, parse_policy, policy_from_dict
from lowcarb.governance._render import print_budgets, print_verdict
from lowcarb.governance._rule import GateRule, RuleResult, ThresholdRule
from lowcarb.governance._rules import GATE_RULES
from lowcarb.governance._verdict import Check, CheckStatus, Decision, Verdict

__all__ = [
    "BUDGET_RULE",
    "GATE_RULES",
    "RULES",
    "Budget",
    "BudgetAction",
    "BudgetState",
    "BudgetStatus",
    "Check",
    "CheckStatus",
    "Decision",
    "GateInput",
    "GateOutcome",
    "GateRule",
    "Override",
    "Period",
    "PromotionPolicy",
    "RuleResult",
    "ThresholdRule",
    "Verdict",
    "applicable_budgets",
    "budget_report",
    "budget_statuses",
    "check_budgets",
    "comparison_json",
    "comparison_markdown",
    "comparison_rows",
    "comparison_table",
    "decide",
    "decision_draft",
    "enforce_budgets",
    "evaluate_gate",
    "gate_files",
    "load_policy",
    "parse_policy",
    "period_bounds",
    "policy_from_dict",
    "print_budgets",
    "print_verdict",
]
