"""lowcarb.integrations.airflow: green windows and measured tasks in Airflow 3 (extra ``airflow``).

- :class:`GreenWindowSensor`: plans the greenest window for the work downstream of it (zone,
  duration, hard deadline; forecasts from the embedded profile, a trace or a live provider),
  succeeds at once if the window is now, else defers to :class:`GreenWindowTrigger`, which waits
  in the triggerer without holding a worker slot, re-planning with fresher forecasts. On release
  it appends a ``schedule`` record (planned vs immediate intensity) and pushes the decision to
  XCom.
- :func:`measured`: runs an operator, or a TaskFlow ``@task`` call, under a
  :class:`lowcarb.tracking.Tracker` and appends its footprint as a ``run`` record naming the DAG,
  task and run.
- The ledger comes from ``ledger=``, an Airflow connection (``ledger_conn_id=``, extra
  ``{"ledger_url": ...}``), or lowcarb's settings (``LOWCARB_LEDGER``); a task that finds none
  fails before its work runs.

Example (``examples/airflow/green_dag.py``)::

    from airflow.sdk import DAG, task
    from lowcarb.integrations.airflow import GreenWindowSensor, measured

    with DAG("nightly_training", schedule="@daily", catchup=False) as dag:
        wait = GreenWindowSensor(task_id="green_window", zone="DE", duration="2h", deadline="12h")

        @task
        def train() -> None: ...

        wait >> measured(train(), team="vision", project="detector")

Importing this package does not import Airflow: the sensor and trigger load it on first use,
and raise :class:`lowcarb.errors.MissingDependencyError` naming ``lowcarb[airflow]`` without it.
:class:`WindowRequest`, :class:`WindowPlanner`, :class:`ForecastSpec`, :class:`WindowClock` and
:func:`wait_for_window` are the Airflow-free core the trigger runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lowcarb._lazy import lazy_attributes as _lazy_attributes
from lowcarb.integrations.airflow._clock import WindowClock
from lowcarb.integrations.airflow._forecast import ForecastSpec
from lowcarb.integrations.airflow._ledger import LEDGER_URL_EXTRA
from lowcarb.integrations.airflow._measured import measured
from lowcarb.integrations.airflow._record import SENSOR_SOURCE
from lowcarb.integrations.airflow._window import (
    WindowOutcome,
    WindowPlanner,
    WindowRequest,
    wait_for_window,
)

if TYPE_CHECKING:
    from lowcarb.integrations.airflow._sensor import GreenWindowSensor
    from lowcarb.integrations.airflow._trigger import GreenWindowTrigger

# The Airflow classes load on first use (PEP 562): `import lowcarb.integrations.airflow` works
# without Airflow, and the trigger's classpath (lowcarb.integrations.airflow.GreenWindowTrigger)
# imports them in the triggerer.
_LAZY: dict[str, str] = {
    "GreenWindowSensor": "lowcarb.integrations.airflow._sensor",
    "GreenWindowTrigger": "lowcarb.integrations.airflow._trigger",
}

__getattr__, __dir__ = _lazy_attributes(__name__, _LAZY, globals())

__all__ = [
    "LEDGER_URL_EXTRA",
    "SENSOR_SOURCE",
    "ForecastSpec",
    "GreenWindowSensor",
    "GreenWindowTrigger",
    "WindowClock",
    "WindowOutcome",
    "WindowPlanner",
    "WindowRequest",
    "measured",
    "wait_for_window",
]
