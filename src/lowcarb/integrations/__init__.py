"""lowcarb.integrations: lowcarb composed with the tools ML teams already run.

- :mod:`lowcarb.integrations.mlflow`: footprints as MLflow run metrics, profiles on registered
  model versions, the ``champion`` alias gate, and the run-context plugin (extra ``mlflow``).
- :func:`run_governance_demo`: the governance part of ``make demo`` (tracking, profiling,
  governance and the ledger in one story).

This layer only composes: nothing below it imports it. See DESIGN.md.
"""

from lowcarb.integrations._demo import DEMO_POLICY, run_governance_demo

__all__ = ["DEMO_POLICY", "run_governance_demo"]
