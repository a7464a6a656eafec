"""lowcarb.integrations.mlflow: the MLflow bridge (extra ``lowcarb[mlflow]``, imported lazily).

- **Runs** (:func:`log_footprint`): a Tracker footprint as ``lowcarb.*`` metrics and tags;
  :class:`MlflowSink` is the tracking sink that does it at every ``stop()`` (entry point
  ``lowcarb.sinks: mlflow``).
- **Model versions** (:func:`tag_model_version`, :func:`read_model_version_profile`): the
  profile JSON stored on a registered model version.
- **The registry gate** (:func:`gate_registered_model`, ``lowcarb gate --mlflow-model``): moves
  the ``champion`` alias only on promote, after the verdict is recorded in the ledger.
- **Run context** (:mod:`lowcarb.integrations.mlflow.mlflow_context`): the
  ``mlflow.run_context_provider`` plugin that tags every run with team, project and zone.

Importing this package does not import MLflow; each function does, on first use.
"""

from lowcarb.integrations.mlflow._client import mlflow_client, safe_name
from lowcarb.integrations.mlflow._registry import (
    CHAMPION_ALIAS,
    PROFILE_TAG,
    RegistryRef,
    gate_registered_model,
    read_model_version_profile,
    tag_model_version,
)
from lowcarb.integrations.mlflow._rollback import (
    ROLLBACK_TAG,
    AliasRollback,
    MlflowAliasRollback,
    previous_champion,
    rollback_alias,
)
from lowcarb.integrations.mlflow._runs import log_footprint
from lowcarb.integrations.mlflow._sink import MlflowSink

__all__ = [
    "CHAMPION_ALIAS",
    "PROFILE_TAG",
    "ROLLBACK_TAG",
    "AliasRollback",
    "MlflowAliasRollback",
    "MlflowSink",
    "RegistryRef",
    "gate_registered_model",
    "log_footprint",
    "mlflow_client",
    "previous_champion",
    "read_model_version_profile",
    "rollback_alias",
    "safe_name",
    "tag_model_version",
]
