"""Footprints as MLflow run metrics and tags (extra ``lowcarb[mlflow]``).

Naming schema (everything lowcarb writes to MLflow starts with ``lowcarb.``).

Runs (:func:`log_footprint`, into the active run or ``run_id``):

==========================================  ======  ===========================================
name                                        kind    value
==========================================  ======  ===========================================
``lowcarb.energy_kwh``                      metric  facility energy (device energy x PUE), kWh
``lowcarb.it_energy_kwh``                   metric  device energy, kWh
``lowcarb.co2e_g``                          metric  location-based CO2e, g
``lowcarb.duration_s``                      metric  run length, s
``lowcarb.pue``                             metric  PUE used
``lowcarb.intensity_g_per_kwh``             metric  grid intensity used, gCO2e/kWh
``lowcarb.component.<c>.energy_kwh``        metric  device energy of component ``<c>``, kWh
``lowcarb.window.<w>.energy_kwh``           metric  device energy of Tracker window ``<w>``, kWh
``lowcarb.zone``                            tag     grid zone
``lowcarb.method``                          tag     ``measured`` or ``estimated`` (whole run)
``lowcarb.intensity_source``                tag     where the intensity came from
``lowcarb.component.<c>.method``            tag     ``measured`` or ``estimated``
``lowcarb.component.<c>.source``            tag     sensor or model behind the figure
``lowcarb.team`` / ``.project`` / ``.zone`` tag     set at run start by the run-context provider
==========================================  ======  ===========================================

Component and window names are made MLflow-safe: characters outside ``[A-Za-z0-9_.-]`` become
``_`` (``gpu:0`` -> ``gpu_0``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lowcarb.energy import Measurement
from lowcarb.errors import UsageError
from lowcarb.grid import Footprint
from lowcarb.integrations.mlflow._client import import_mlflow, safe_name

__all__ = ["log_footprint"]


def log_footprint(
    footprint: Footprint,
    *,
    windows: Mapping[str, Measurement] | None = None,
    run_id: str | None = None,
    client: Any = None,
    step: int = 0,
) -> str:
    """Log a Tracker footprint to an MLflow run under the ``lowcarb.*`` schema above.

    Args:
        footprint: The priced measurement (``tracker.footprint``).
        windows: Named windows (``tracker.windows``).
        run_id: Run to log to; default: the active run.
        client: An ``MlflowClient`` (default: one for the current tracking URI).
        step: Metric step.

    Returns:
        The run id logged to.

    Raises:
        UsageError: No ``run_id`` and no active run.
        MissingDependencyError: MLflow is not installed.
    """
    mlflow = import_mlflow()
    if run_id is None:
        active = mlflow.active_run()
        if active is None:
            raise UsageError("no active MLflow run: call mlflow.start_run() or pass run_id=")
        run_id = active.info.run_id
    client = client or mlflow.MlflowClient()
    m = footprint.measurement
    metrics: dict[str, float] = {
        "lowcarb.energy_kwh": footprint.energy_kwh,
        "lowcarb.it_energy_kwh": footprint.it_energy_kwh,
        "lowcarb.co2e_g": footprint.co2e_g,
        "lowcarb.duration_s": m.duration_s,
        "lowcarb.pue": footprint.pue,
        "lowcarb.intensity_g_per_kwh": footprint.intensity.intensity_g_per_kwh,
    }
    tags: dict[str, str] = {
        "lowcarb.zone": footprint.intensity.zone,
        "lowcarb.method": m.method,
        "lowcarb.intensity_source": footprint.intensity.source,
    }
    for c in m.components:
        key = f"lowcarb.component.{safe_name(c.name)}"
        metrics[f"{key}.energy_kwh"] = c.energy_kwh
        tags[f"{key}.method"] = c.method
        tags[f"{key}.source"] = c.source
    for name, w in (windows or {}).items():
        metrics[f"lowcarb.window.{safe_name(name)}.energy_kwh"] = w.energy_kwh
    from mlflow.entities import Metric, RunTag

    stamp = int(m.started_at.timestamp() * 1000)
    client.log_batch(
        run_id,
        metrics=[Metric(k, float(v), stamp, step) for k, v in metrics.items()],
        tags=[RunTag(k, v) for k, v in tags.items()],
    )
    return str(run_id)
