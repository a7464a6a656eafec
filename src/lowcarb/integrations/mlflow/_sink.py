"""The ``mlflow`` tracking sink: a footprint logged to the active MLflow run.

Registered in the ``lowcarb.sinks`` entry-point group, so the tracking layer finds it without
importing this layer.
"""

from __future__ import annotations

import logging

from lowcarb.errors import LowcarbError
from lowcarb.grid import Footprint
from lowcarb.integrations.mlflow._runs import log_footprint
from lowcarb.tracking import Delivery, SinkContext

__all__ = ["MlflowSink"]

log = logging.getLogger(__name__)


class MlflowSink:
    """Logs each footprint (and its windows) to the active MLflow run under ``lowcarb.*``.

    Args:
        required: When True (``Tracker(mlflow=True)``), a footprint that cannot be logged (no
            active run, MLflow missing) is a failed delivery that :meth:`check` foresees where it
            can; when False, the sink is only used while a run is active.
    """

    name = "mlflow"

    def __init__(self, *, required: bool = False) -> None:
        self.required = required

    def check(self) -> None:
        return None

    def emit(self, footprint: Footprint, context: SinkContext) -> Delivery:
        try:
            log_footprint(footprint, windows=dict(context.windows))
        except LowcarbError as exc:
            log.error("the footprint was not logged to MLflow: %s", exc)
            return Delivery(self.name, ok=False, error=exc)
        return Delivery(self.name, ok=True)
