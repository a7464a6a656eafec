"""lowcarb.serving: an inference app that reports the energy and CO2e of every request.

- :func:`create_app`: a FastAPI app for one :class:`ServedModel` (``POST /predict``,
  ``/healthz``, ``/readyz``, ``/metrics``), validating input strictly (4xx naming the field).
- :class:`MicroBatcher`: concurrent requests run as one ``predict`` call on a worker thread.
- :class:`TrackerEnergy`: each batch's energy from the process's Tracker (measured or estimated),
  split among its requests by rows; :class:`ServingMetrics` exports it to Prometheus.
- :class:`FeatureLog`: each request's rows and predictions as JSON Lines, for drift checks.
- :func:`run_server`: uvicorn with a graceful drain on SIGTERM (``lowcarb serve``).
"""

from __future__ import annotations

from lowcarb.serving._app import (
    PredictRequest,
    PredictResponse,
    ServeConfig,
    ServingState,
    create_app,
)
from lowcarb.serving._batcher import BatchResult, MicroBatcher, PredictionError
from lowcarb.serving._energy import BatchEnergy, NoEnergy, TrackerEnergy
from lowcarb.serving._feature_log import FeatureLog
from lowcarb.serving._metrics import METRIC_NAMES, ServingMetrics, record_prediction
from lowcarb.serving._model import ServedModel, load_served_model
from lowcarb.serving._server import run_server

__all__ = [
    "METRIC_NAMES",
    "BatchEnergy",
    "BatchResult",
    "FeatureLog",
    "MicroBatcher",
    "NoEnergy",
    "PredictRequest",
    "PredictResponse",
    "PredictionError",
    "ServeConfig",
    "ServedModel",
    "ServingMetrics",
    "ServingState",
    "TrackerEnergy",
    "create_app",
    "load_served_model",
    "record_prediction",
    "run_server",
]
