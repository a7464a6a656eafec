"""``measured()``: run an Airflow task under a lowcarb Tracker and append its footprint.

Works on any operator and on a TaskFlow call's result (``measured(train())``): the operator's
``execute`` (and, for a deferrable operator, each ``resume_execution``) runs inside a
:class:`lowcarb.tracking.Tracker` that measures the task's process tree, prices it at the hours it
ran and appends a ``run`` record whose metadata names the Airflow task (``airflow``: ``dag_id``,
``task_id``, ``run_id``, ``try_number``), the ``phase`` (``execute`` or ``resume:<method>``) and
the ``outcome`` (``success``, ``failed``, ``deferred``, ``skipped``). A failed task is recorded
too: its energy was spent. Nothing here imports Airflow: the operator is wrapped as it is.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from lowcarb.energy import Meter
from lowcarb.errors import UsageError
from lowcarb.integrations.airflow._ledger import LedgerTarget, airflow_ids
from lowcarb.ledger import RecordDraft
from lowcarb.tracking import Tracker

__all__ = ["MeasureSettings", "measured"]

log = logging.getLogger(__name__)
T = TypeVar("T")

_MARK = "_lowcarb_measured"
#: Outcome per exception class name (Airflow's control-flow exceptions are not failures).
_OUTCOMES = {
    "TaskDeferred": "deferred",
    "AirflowSkipException": "skipped",
    "AirflowRescheduleException": "rescheduled",
}


@dataclass(frozen=True, slots=True)
class MeasureSettings:
    """How a measured task is tracked (checked when the DAG is parsed).

    Attributes:
        target: Ledger and attribution.
        zone: Zone or cloud region the task runs in (default: the lowcarb settings).
        pue: Facility PUE (default: the settings).
        metadata: More JSON metadata for every record.
        meters: Meters to use instead of detecting them (e.g. a ``FakeMeter`` in tests).
    """

    target: LedgerTarget
    zone: str | None = None
    pue: float | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    meters: Sequence[Meter] | None = None

    def run(self, context: Mapping[str, Any], *, phase: str, call: Callable[[], T]) -> T:
        """Run ``call`` (one execution of the task) under a Tracker; record it; return its value.

        Raises:
            UsageError: No ledger (before ``call`` runs), or a bad setting.
            BaseException: Whatever ``call`` raises, after its footprint is recorded.
        """
        ids = airflow_ids(context)
        who = f"{ids['dag_id']}.{ids['task_id']}"
        tracker = Tracker(
            f"airflow:{who}",
            zone=self.zone,
            pue=self.pue,
            ledger=self.target.url_argument(),
            attribution=self.target.attribution,
            metadata={**self.metadata, "airflow": ids, "phase": phase},
            kind="run",
            meters=self.meters,
        )
        self.target.require(tracker.ledger_url, who=f"measured task {who}")
        outcome = "success"
        tracker.start()
        try:
            return call()
        except BaseException as exc:
            outcome = _OUTCOMES.get(type(exc).__name__, "failed")
            raise
        finally:
            tracker.metadata["outcome"] = outcome
            footprint = tracker.stop()
            where = tracker.record_id or tracker.spooled_to or "nowhere (ledger='')"
            log.info(
                "lowcarb: %s %s used %.3g kWh, %.3g gCO2e in %s (%s); recorded: %s",
                who,
                phase,
                footprint.energy_kwh,
                footprint.co2e_g,
                footprint.intensity.zone,
                outcome,
                where,
            )


def measured(
    task: T,
    *,
    team: str | None = None,
    project: str | None = None,
    model: str | None = None,
    model_version: str | None = None,
    stage: str | None = None,
    zone: str | None = None,
    pue: float | None = None,
    ledger: str | None = None,
    ledger_conn_id: str | None = None,
    metadata: Mapping[str, Any] | None = None,
    meters: Sequence[Meter] | None = None,
) -> T:
    """Measure every run of an Airflow task and append its footprint to the ledger.

    ``task`` is an operator or the result of calling a TaskFlow ``@task`` function (its
    ``.operator`` is wrapped); the same object is returned, so it chains::

        wait >> measured(train(), team="vision", project="detector", model="resnet")

    Args:
        task: The operator, or a TaskFlow call's ``XComArg``.
        team, project, model, model_version, stage: Attribution (team and project default to
            ``LOWCARB_TEAM`` / ``LOWCARB_PROJECT`` or the config file).
        zone: Zone or cloud region of the workers (default: ``LOWCARB_ZONE`` or the config).
        pue: Facility PUE.
        ledger: Ledger URL (``""``: measure and log only); default: ``ledger_conn_id``, then
            ``LOWCARB_LEDGER`` / the config file. A task that finds no ledger fails before
            its work runs.
        ledger_conn_id: An Airflow connection whose extra holds ``ledger_url``.
        metadata: More JSON metadata for each record.
        meters: Meters to use instead of detecting them (tests).

    Returns:
        ``task`` itself, its operator now measured.

    Raises:
        UsageError: Not an operator, a mapped task, already measured, or bad settings.
    """
    operator: Any = getattr(task, "operator", task)
    if type(operator).__name__ == "MappedOperator":
        raise UsageError(
            "measured() cannot wrap a mapped task (.expand()); measure inside its function with "
            "lowcarb.tracking.track, or measure the unmapped task"
        )
    if not callable(getattr(operator, "execute", None)) or not hasattr(operator, "task_id"):
        raise UsageError(f"measured() takes an Airflow operator or a @task call, got {task!r}")
    if getattr(operator, _MARK, False):
        raise UsageError(f"task {operator.task_id!r} is already measured")
    extra = dict(metadata or {})
    RecordDraft(metadata=extra)  # JSON-only metadata fails here, not after the work ran
    settings = MeasureSettings(
        target=LedgerTarget.build(
            ledger=ledger,
            ledger_conn_id=ledger_conn_id,
            team=team,
            project=project,
            model=model,
            model_version=model_version,
            stage=stage,
        ),
        zone=zone,
        pue=pue,
        metadata=extra,
        meters=meters,
    )
    cls = type(operator)

    # The task runner calls execute(context=...) and resume_execution(next_method=...,
    # next_kwargs=..., context=...) on a copy of the operator whose templates are rendered
    # (``prepare_for_execution``); that copy is ``context["task"]``, so the class's methods are
    # called on it, never on the operator parsed from the DAG file.
    def measured_execute(*args: Any, **kwargs: Any) -> Any:
        context = kwargs["context"] if "context" in kwargs else args[0]
        current = _current(context, cls)
        return settings.run(
            context, phase="execute", call=lambda: cls.execute(current, *args, **kwargs)
        )

    def measured_resume(*args: Any, **kwargs: Any) -> Any:
        context = kwargs["context"] if "context" in kwargs else args[2]
        method = kwargs["next_method"] if "next_method" in kwargs else args[0]
        current = _current(context, cls)
        return settings.run(
            context,
            phase=f"resume:{method}",
            call=lambda: cls.resume_execution(current, *args, **kwargs),
        )

    operator.execute = measured_execute
    operator.resume_execution = measured_resume
    setattr(operator, _MARK, True)
    return task


def _current(context: Mapping[str, Any], cls: type) -> Any:
    """The operator instance running now (``context["task"]``), checked to be of ``cls``."""
    task = context.get("task")
    if not isinstance(task, cls):
        raise UsageError(
            f"measured task: the context's task is {task!r}, not a {cls.__name__}; "
            "is this an Airflow task context?"
        )
    return task
