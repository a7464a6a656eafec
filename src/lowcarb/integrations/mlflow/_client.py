"""The MLflow client and MLflow-safe names (extra ``lowcarb[mlflow]``, imported lazily)."""

from __future__ import annotations

import re
from typing import Any

from lowcarb.errors import MissingDependencyError

__all__ = ["import_mlflow", "mlflow_client", "safe_name"]

_UNSAFE = re.compile(r"[^A-Za-z0-9_.\-]")


def safe_name(name: str) -> str:
    """An MLflow-safe metric/tag name fragment (``gpu:0`` -> ``gpu_0``)."""
    return _UNSAFE.sub("_", name)


def import_mlflow() -> Any:
    """The ``mlflow`` module, imported on first use (it is an optional extra).

    Raises:
        MissingDependencyError: MLflow is not installed (extra ``mlflow``).
    """
    try:
        import mlflow
    except ImportError:
        raise MissingDependencyError("mlflow", "mlflow") from None
    return mlflow


def mlflow_client(tracking_uri: str | None = None) -> Any:
    """An ``MlflowClient`` for ``tracking_uri`` (registry at the same URI).

    Raises:
        MissingDependencyError: MLflow is not installed (extra ``mlflow``).
    """
    mlflow = import_mlflow()
    return mlflow.MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
