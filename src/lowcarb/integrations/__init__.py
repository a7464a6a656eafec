"""lowcarb.integrations: the bridges to tools teams already run (MLflow, ...)."""

from lowcarb.integrations._mlflow_sink import MlflowSink

__all__ = ["MlflowSink"]
