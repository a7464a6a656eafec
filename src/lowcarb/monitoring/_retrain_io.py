"""What a retrain decision does with the job queue, and one check end to end.

* :func:`submit_retrain`: the retraining job is queued for the lowest-carbon window that starts
  within the policy's deadline, planned by :func:`lowcarb.scheduling.plan_from_source` exactly as
  the worker plans, and the plan is stored on the job (the worker keeps a fresh plan).
* :class:`RetrainMonitor`: one check end to end (decide, submit, record), what ``watch`` runs.
  No action goes unrecorded: a job whose records cannot be appended is cancelled again.

What is read from and appended to the ledger is in ``_retrain_ledger``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from lowcarb.errors import LowcarbError, UsageError
from lowcarb.governance import GateInput
from lowcarb.grid import IntensitySource
from lowcarb.jobs import Job, JobStore
from lowcarb.monitoring._policy import RetrainPolicy
from lowcarb.monitoring._report import DriftReport
from lowcarb.monitoring._retrain import RetrainDecision, decide_retrain, iso_utc
from lowcarb.monitoring._retrain_ledger import find_last_retrain, record_check
from lowcarb.scheduling import JobSpec, OnForecastError, Plan, plan_from_source

if TYPE_CHECKING:
    from lowcarb.ledger import Ledger

__all__ = ["CheckOutcome", "RetrainJob", "RetrainMonitor", "submit_retrain"]

log = logging.getLogger(__name__)


# -- submitting --------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class RetrainJob:
    """A queued retraining job and the plan it was queued with.

    Attributes:
        job: The stored job (its plan and planned start set).
        plan: Where and when it is planned to run, with the expected and run-now intensities.
    """

    job: Job
    plan: Plan

    @property
    def id(self) -> str:
        """The job id (``lowcarb jobs`` lists it)."""
        return self.job.id

    @property
    def planned_start(self) -> datetime:
        """The planned start, UTC."""
        return self.plan.start

    @property
    def expected_intensity_g_per_kwh(self) -> float:
        """Forecast intensity of the planned window, gCO2e/kWh."""
        return self.plan.expected_intensity_g_per_kwh

    @property
    def now_intensity_g_per_kwh(self) -> float:
        """Forecast intensity of starting at once in the home zone, gCO2e/kWh."""
        return self.plan.now_intensity_g_per_kwh

    def to_dict(self) -> dict[str, Any]:
        """As plain JSON (the ``job`` metadata of the ``schedule`` record)."""
        plan = self.plan
        return {
            "id": self.job.id,
            "state": self.job.state,
            "command": list(self.job.command),
            "zones": list(self.job.zones),
            "team": self.job.team,
            "project": self.job.project,
            "duration_h": self.job.duration_h,
            "deadline": iso_utc(self.job.deadline),
            "zone": plan.zone,
            "planned_start": iso_utc(plan.start),
            "expected_intensity_g_per_kwh": _finite(plan.expected_intensity_g_per_kwh),
            "now_intensity_g_per_kwh": _finite(plan.now_intensity_g_per_kwh),
            "expected_savings_pct": _finite(plan.expected_savings_pct),
            "forecast_model": plan.forecast_model,
            "fallback": plan.fallback,
            "notes": list(plan.notes),
        }


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def submit_retrain(
    decision: RetrainDecision,
    policy: RetrainPolicy,
    *,
    store: JobStore,
    source: IntensitySource,
    now: datetime,
    on_forecast_error: OnForecastError = "latest-start",
) -> RetrainJob:
    """Queue the policy's retraining job for its lowest-carbon window.

    The job must start within the policy's ``deadline`` (its finish deadline is
    ``now + deadline + duration``); the window is chosen over ``source``'s forecasts in every
    candidate zone by :func:`lowcarb.scheduling.plan_from_source`, and stored on the job as its
    plan, so the worker starts it then.

    Args:
        decision: A decision that fired.
        policy: The policy it was made under.
        store: The job queue.
        source: Forecasts (a live provider, a trace, the offline profile).
        now: Submission time, timezone-aware.
        on_forecast_error: With no forecast at all: ``latest-start`` (default: the latest start
            within the deadline), ``start-now``, or ``raise``.

    Raises:
        UsageError: The decision did not fire, or the policy has no ``retrain:`` section.
        LowcarbError: Planning failed (``raise``) or the queue refused the job.
    """
    if not decision.fire:
        raise UsageError(
            f"the retrain decision did not fire ({decision.status}); there is nothing to submit"
        )
    rule = policy.require_retrain()
    t = rule.job
    spec = JobSpec(
        duration_h=t.duration_h,
        deadline=now + rule.deadline + timedelta(seconds=t.duration_s),
        interruptible=t.interruptible,
        min_chunk_h=t.min_chunk_s / 3600.0,
        power_w=t.power_w,
    )
    plan = plan_from_source(
        spec, list(t.zones), source, now=now, on_forecast_error=on_forecast_error
    )
    job = store.submit(
        list(t.command),
        spec,
        zones=list(t.zones),
        now=now,
        cwd=t.cwd,
        team=t.team,
        project=t.project,
    )
    data = plan.to_dict()
    data["slots"] = [s.to_dict() for s in plan.slots]  # as the worker stores its plans
    planned = store.update(job, plan=data, planned_start=plan.start, planned_at=now)
    return RetrainJob(job=planned or store.get(job.id), plan=plan)


# -- one check, end to end ---------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class CheckOutcome:
    """One check: the drift report, the decision, the job submitted (if any) and the records.

    Attributes:
        report: The drift check.
        decision: The retrain decision.
        job: The job submitted when the decision fired, else None.
        record_ids: Ids of the ledger records appended (check, decision, job).
        ledger: The ledger they were appended to (password hidden).
    """

    report: DriftReport
    decision: RetrainDecision
    job: RetrainJob | None
    record_ids: tuple[str, ...]
    ledger: str

    def to_dict(self) -> dict[str, Any]:
        """The ``lowcarb monitor watch --json`` object of one check."""
        return {
            "drift": self.report.to_dict(),
            "retrain": self.decision.to_dict(),
            "job": None if self.job is None else self.job.to_dict(),
            "record_ids": list(self.record_ids),
            "ledger": self.ledger,
        }


class RetrainMonitor:
    """Decides, submits and records one check at a time (what ``watch`` runs periodically).

    Args:
        policy: A policy with a ``retrain:`` section.
        ledger: Where earlier retrains are read and every check is appended.
        store: The job queue retrains are submitted to.
        source: Forecasts for planning the retrain's window.
        inputs: The check's inputs (reference and current data), with their SHA-256, recorded
            with every check.
        on_forecast_error: See :func:`submit_retrain`.

    Raises:
        UsageError: The policy has no ``retrain:`` section.
    """

    def __init__(
        self,
        policy: RetrainPolicy,
        *,
        ledger: Ledger,
        store: JobStore,
        source: IntensitySource,
        inputs: Sequence[GateInput] = (),
        on_forecast_error: OnForecastError = "latest-start",
    ) -> None:
        policy.require_retrain()
        self.policy = policy
        self.ledger = ledger
        self.store = store
        self.source = source
        self.inputs = tuple(inputs)
        self.on_forecast_error: OnForecastError = on_forecast_error

    def check(self, report: DriftReport, *, now: datetime) -> CheckOutcome:
        """Decide on ``report`` at ``now``; submit the retrain when it fires; record all of it.

        Raises:
            UsageError: The policy watches features the check did not cover.
            LedgerError: The ledger cannot be read or appended to (a job submitted for this
                check is cancelled again, so no action goes unrecorded).
            LowcarbError: Planning or submitting failed (recorded with the decision first).
        """
        last = find_last_retrain(self.ledger, self.policy)
        decision = decide_retrain(report, self.policy, last_retrain=last, now=now)
        job = None
        failure: LowcarbError | None = None
        if decision.fire:
            try:
                job = submit_retrain(
                    decision,
                    self.policy,
                    store=self.store,
                    source=self.source,
                    now=now,
                    on_forecast_error=self.on_forecast_error,
                )
            except LowcarbError as exc:  # recorded with the decision below, then raised
                failure = exc
        try:
            records = record_check(
                self.ledger,
                report,
                decision,
                job,
                policy=self.policy,
                inputs=self.inputs,
                job_error=None if failure is None else str(failure),
            )
        except LowcarbError:
            if job is not None:
                try:
                    self.store.cancel(job.id)
                except LowcarbError as exc:
                    log.error("job %s not cancelled after the ledger failed: %s", job.id, exc)
            raise
        if failure is not None:
            raise failure
        return CheckOutcome(report, decision, job, tuple(r.id for r in records), self.ledger.url)

    def __call__(self, report: DriftReport, *, now: datetime) -> CheckOutcome:
        return self.check(report, now=now)
