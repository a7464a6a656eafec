"""What a retrain decision reads from and writes to the ledger and the job queue.

* :func:`find_last_retrain`: the previous retrain, from the ledger. The monitor's own job
  submissions are ``schedule`` records with ``stage = "retrain"`` (their submission time starts
  the cooldown). A retrain's energy is the sum of the ``run`` records of its job (the worker
  writes one per run, with ``metadata.job_id``), or of a ``run`` record whose
  ``metadata.command`` is the policy's command (a retrain started by hand with ``lowcarb run`` or
  ``lowcarb submit``), with the policy's team and project; a correction replaces the record it
  corrects. The newest such retrain is the one used.
* :func:`submit_retrain`: the retraining job is queued for the lowest-carbon window that starts
  within the policy's deadline, planned by :func:`lowcarb.scheduling.plan_from_source` exactly as
  the worker plans, and the plan is stored on the job (the worker keeps a fresh plan).
* :func:`record_check`: the check, the decision and the submitted job are appended in one
  transaction, as ``decision`` records (stages ``drift-check`` and ``retrain``, like a gate
  verdict's ``decision`` record with stage ``gate``) and a ``schedule`` record (stage
  ``retrain``), linked by ``metadata.check_id``.
* :class:`RetrainMonitor`: one check end to end (decide, submit, record), what ``watch`` runs.
  No action goes unrecorded: a job whose records cannot be appended is cancelled again.
"""

from __future__ import annotations

import logging
import math
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from lowcarb._text import plain
from lowcarb.energy import Method
from lowcarb.errors import InvalidValueError, LowcarbError, UsageError
from lowcarb.governance import GateInput
from lowcarb.grid import IntensitySource
from lowcarb.jobs import Job, JobStore
from lowcarb.ledger import Attribution, RecordDraft, RecordFilter
from lowcarb.monitoring._policy import RetrainPolicy
from lowcarb.monitoring._report import DriftReport
from lowcarb.monitoring._retrain import LastRetrain, RetrainDecision, decide_retrain, iso_utc
from lowcarb.scheduling import JobSpec, OnForecastError, Plan, plan_from_source
from lowcarb.units import parse_timestamp

if TYPE_CHECKING:
    from lowcarb.ledger import Ledger, Record

__all__ = [
    "CheckOutcome",
    "RetrainJob",
    "RetrainMonitor",
    "find_last_retrain",
    "record_check",
    "submit_retrain",
]

log = logging.getLogger(__name__)

#: Features listed in a check record (drifted ones first); the rest are counted. With names cut
#: to 100 characters this keeps the three records of a check far below the ledger's 64 KiB
#: metadata limit, so a check over thousands of features is still recorded.
MAX_RECORDED_FEATURES = 100
_MAX_NAME = 100


# -- reading the ledger ------------------------------------------------------------------------
def _submitted_at(record: Record) -> datetime:
    text = record.metadata.get("submitted_at")
    if isinstance(text, str):
        try:
            return parse_timestamp(text, what="submitted_at")
        except InvalidValueError:
            pass  # a record written by hand: its append time is the best we have
    return record.timestamp


def find_last_retrain(ledger: Ledger, policy: RetrainPolicy) -> LastRetrain:
    """What the ledger knows of the policy's earlier retrains (see the module docstring).

    Raises:
        UsageError: The policy has no ``retrain:`` section.
        LedgerError: The ledger cannot be read.
    """
    job = policy.require_retrain().job
    command = list(job.command)
    submitted_at: datetime | None = None
    last_job_id: str | None = None
    retrain_jobs: set[str] = set()
    for r in ledger.records(RecordFilter(team=job.team, project=job.project, kind="schedule")):
        meta = r.metadata.get("job")
        if r.attribution.stage != "retrain" or not isinstance(meta, Mapping):
            continue
        if list(meta.get("command") or ()) != command:
            continue  # another policy's retrains in the same team and project
        job_id = meta.get("id")
        if isinstance(job_id, str):
            retrain_jobs.add(job_id)
        when = _submitted_at(r)
        if submitted_at is None or when >= submitted_at:
            submitted_at, last_job_id = when, job_id if isinstance(job_id, str) else None

    corrections: dict[str, Record] = {}
    for r in ledger.records(
        RecordFilter(team=job.team, project=job.project, kind="correction"), newest_first=True
    ):
        if r.corrects is not None:
            corrections.setdefault(r.corrects, r)  # the newest correction of a record wins
    key: str | None = None
    group: list[Record] = []
    for r in ledger.records(
        RecordFilter(team=job.team, project=job.project, kind="run"), newest_first=True
    ):
        run_job = r.metadata.get("job_id")
        is_retrain = (isinstance(run_job, str) and run_job in retrain_jobs) or list(
            r.metadata.get("command") or ()
        ) == command
        if not is_retrain:
            continue
        this = run_job if isinstance(run_job, str) else r.id
        if key is None:
            key = this
        if this == key:
            group.append(r)
    if not group:
        return LastRetrain(submitted_at=submitted_at, job_id=last_job_id)

    energy_kwh = 0.0
    measured = True
    for r in group:
        counted = corrections.get(r.id, r)
        if counted.footprint is None or counted.energy_kwh is None:
            continue  # voided by a correction: counts for nothing
        energy_kwh += counted.energy_kwh
        measured = measured and counted.footprint.measurement.method == "measured"
    method: Method = "measured" if measured else "estimated"
    what = f"job {key}" if isinstance(group[0].metadata.get("job_id"), str) else f"run {key}"
    source = f"ledger {ledger.url}: {what}, {len(group)} run record(s)"
    return LastRetrain(
        submitted_at=submitted_at,
        job_id=last_job_id,
        energy_kwh=energy_kwh,
        energy_method=method,
        energy_source=source,
        records=len(group),
    )


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


# -- recording ---------------------------------------------------------------------------------
def _number(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def _name(value: str) -> str:
    return plain(value)[:_MAX_NAME]


def report_summary(report: DriftReport) -> dict[str, Any]:
    """The drift check as recorded: verdict, figures, and up to 100 features (drifted first).

    Non-finite statistics are recorded as null (the ledger stores finite numbers only).
    """
    ordered = sorted(report.features, key=lambda f: not f.drift)
    kept = ordered[:MAX_RECORDED_FEATURES]
    perf = report.performance
    return {
        "drift": report.drift,
        "drift_share": _number(report.drift_share),
        "drift_share_threshold": _number(report.drift_share_threshold),
        "drifted_features": [_name(n) for n in report.drifted[:MAX_RECORDED_FEATURES]],
        "reference_rows": report.reference_rows,
        "current_rows": report.current_rows,
        "features": [
            {
                "name": _name(f.name),
                "statistic": f.statistic,
                "value": _number(f.value),
                "threshold": _number(f.threshold),
                "drift": f.drift,
            }
            for f in kept
        ],
        "features_total": len(report.features),
        "performance": None
        if perf is None
        else {
            "metric": _name(perf.metric),
            "method": perf.method,
            "value": _number(perf.value),
            "reference_value": _number(perf.reference_value),
            "drop_pts": _number(perf.drop_pts),
            "rows": perf.rows,
        },
        "notes": [_name(n) for n in report.notes[:20]],
    }


def _bounded_decision(decision: RetrainDecision) -> dict[str, Any]:
    data = decision.to_dict()
    drifted = data["drifted_features"]
    data["drifted_features"] = [_name(n) for n in drifted[:MAX_RECORDED_FEATURES]]
    data["drifted_features_total"] = len(drifted)
    data["reasons"] = [plain(r)[:2000] for r in data["reasons"]]
    return data


def record_check(
    ledger: Ledger,
    report: DriftReport,
    decision: RetrainDecision,
    job: RetrainJob | None = None,
    *,
    policy: RetrainPolicy,
    inputs: Sequence[GateInput] = (),
    job_error: str | None = None,
) -> tuple[Record, ...]:
    """Append the check, the decision and (when one was submitted) the job, in one transaction.

    Records (no footprint: deciding emits nothing itself), attributed to the job's team,
    project and model, linked by ``metadata.check_id``:

    - ``decision``, stage ``drift-check``: ``{"drift": <summary>, "inputs": {role: {location,
      sha256}}, "policy": {name, location, sha256}}``;
    - ``decision``, stage ``retrain``: ``{"retrain": <decision>, "policy": ...}``, with
      ``job_error`` when the decision fired but the job could not be planned or queued;
    - ``schedule``, stage ``retrain``: ``{"job": <job and plan>, "submitted_at": ..., ...}``.

    Returns:
        The appended records, in that order.

    Raises:
        LedgerError: The ledger refused (nothing was appended).
    """
    t = policy.require_retrain().job
    check_id = uuid.uuid4().hex

    def attribution(stage: str) -> Attribution:
        return Attribution(team=t.team, project=t.project, model=t.model, stage=stage)

    common = {"check_id": check_id, "policy": policy.to_dict()}
    drafts = [
        RecordDraft(
            kind="decision",
            attribution=attribution("drift-check"),
            metadata={
                **common,
                "drift": report_summary(report),
                "inputs": {i.role: i.to_dict() for i in inputs},
                "checked_at": iso_utc(decision.decided_at),
            },
        ),
        RecordDraft(
            kind="decision",
            attribution=attribution("retrain"),
            metadata={
                **common,
                "retrain": _bounded_decision(decision),
                **({} if job_error is None else {"job_error": plain(job_error)[:1000]}),
            },
        ),
    ]
    if job is not None:
        drafts.append(
            RecordDraft(
                kind="schedule",
                attribution=attribution("retrain"),
                metadata={
                    **common,
                    "job": job.to_dict(),
                    "submitted_at": iso_utc(decision.decided_at),
                },
            )
        )
    return tuple(ledger.append_many(drafts))


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
