"""lowcarb.governance: may this model ship? Profiles, policy-as-code gates, budgets, MLflow.

- **Profiles** (:func:`profile_model`, ``lowcarb profile``): size, parameters, FLOPs, latency
  p50/p95, energy per 1,000 inferences measured with the Tracker (labelled measured/estimated),
  held-out accuracy and training CO2e from the ledger, as the profile JSON of DESIGN.md.
- **Policies** (:func:`load_policy`): YAML rules, carbon budgets per team/project and period,
  and recorded overrides (approver, reason, expiry), validated strictly.
- **Gates** (:func:`evaluate_gate`, :func:`gate_files`, ``lowcarb gate``): promote or reject,
  every verdict appended to the ledger as a ``decision`` record with the SHA-256 of its inputs.
- **Budgets** (:func:`budget_report`, :func:`check_budgets`, ``lowcarb budget``).
- **Comparison** (``lowcarb compare``): Rich, Markdown and JSON.
- **MLflow** (extra ``mlflow``): :func:`log_footprint`, :func:`tag_model_version`,
  :func:`gate_registered_model` (moves the ``champion`` alias only on promote), and the run-context
  provider in :mod:`lowcarb.governance.mlflow_context`.

See DESIGN.md.
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
from lowcarb.governance._demo import DEMO_POLICY, run_governance_demo
from lowcarb.governance._flops import Complexity, count_complexity
from lowcarb.governance._gate import evaluate_gate
from lowcarb.governance._ledger_io import GateInput, budget_statuses, decision_draft, training_co2e
from lowcarb.governance._loading import check_features, load_dataset, load_model
from lowcarb.governance._mlflow import (
    CHAMPION_ALIAS,
    PROFILE_TAG,
    RegistryRef,
    gate_registered_model,
    log_footprint,
    mlflow_client,
    read_model_version_profile,
    safe_name,
    tag_model_version,
)
from lowcarb.governance._policy import (
    BUDGET_RULE,
    RULES,
    Budget,
    BudgetAction,
    Override,
    Period,
    Policy,
)
from lowcarb.governance._policy_yaml import load_policy, parse_policy, policy_from_dict
from lowcarb.governance._profile import (
    OPTIONAL_PROFILE_FIELDS,
    PROFILE_SCHEMA,
    REQUIRED_PROFILE_FIELDS,
    Profile,
    load_profile,
    parse_profile,
    profile_from_dict,
    sha256_hex,
)
from lowcarb.governance._profiler import (
    EnergyStats,
    LatencyStats,
    ProfileSettings,
    TrainingCO2e,
    measure_energy,
    measure_latency,
    profile_model,
)
from lowcarb.governance._render import print_budgets, print_profile, print_verdict
from lowcarb.governance._verdict import Check, CheckStatus, Decision, Verdict

__all__ = [
    "BUDGET_RULE",
    "CHAMPION_ALIAS",
    "DEMO_POLICY",
    "OPTIONAL_PROFILE_FIELDS",
    "PROFILE_SCHEMA",
    "PROFILE_TAG",
    "REQUIRED_PROFILE_FIELDS",
    "RULES",
    "Budget",
    "BudgetAction",
    "BudgetState",
    "BudgetStatus",
    "Check",
    "CheckStatus",
    "Complexity",
    "Decision",
    "EnergyStats",
    "GateInput",
    "GateOutcome",
    "LatencyStats",
    "Override",
    "Period",
    "Policy",
    "Profile",
    "ProfileSettings",
    "RegistryRef",
    "TrainingCO2e",
    "Verdict",
    "applicable_budgets",
    "budget_report",
    "budget_statuses",
    "check_budgets",
    "check_features",
    "comparison_json",
    "comparison_markdown",
    "comparison_rows",
    "comparison_table",
    "count_complexity",
    "decide",
    "decision_draft",
    "enforce_budgets",
    "evaluate_gate",
    "gate_files",
    "gate_registered_model",
    "load_dataset",
    "load_model",
    "load_policy",
    "load_profile",
    "log_footprint",
    "measure_energy",
    "measure_latency",
    "mlflow_client",
    "parse_policy",
    "parse_profile",
    "period_bounds",
    "policy_from_dict",
    "print_budgets",
    "print_profile",
    "print_verdict",
    "profile_from_dict",
    "profile_model",
    "read_model_version_profile",
    "run_governance_demo",
    "safe_name",
    "sha256_hex",
    "tag_model_version",
    "training_co2e",
]
