"""lowcarb.integrations: lowcarb composed with the tools ML teams already run.

- :mod:`lowcarb.integrations.mlflow`: footprints as MLflow run metrics, profiles on registered
  model versions, the ``champion`` alias gate, and the run-context plugin (extra ``mlflow``).
- :func:`run_demo`: ``make demo``, the whole story in eight steps (measure, plan, tune, compress
  and cascade, gate, serve, drift and retrain, report and verify) on embedded defaults;
  :func:`run_governance_demo` is its governance part alone.

This layer only composes: nothing below it imports it. See DESIGN.md.
"""

from lowcarb.integrations._demo import (
    DEMO_POLICY,
    DemoContext,
    DemoResult,
    DemoSettings,
    ReportStep,
    run_demo,
    run_governance_demo,
)

__all__ = [
    "DEMO_POLICY",
    "DemoContext",
    "DemoResult",
    "DemoSettings",
    "ReportStep",
    "run_demo",
    "run_governance_demo",
]
