"""What a retrain decision reads from and writes to the ledger.

* :func:`find_last_retrain`: the previous retrain, from the ledger. The monitor's own job
  submissions are ``schedule`` records with ``stage = "retrain"`` (their submission time starts
  the cooldown). A retrain's energy is the sum of the ``run`` records of its job (the worker
  writes one per run, with ``metadata.job_id``), or of a ``run`` record whose
  ``metadata.command`` is the policy's command (a retrain started by hand with ``lowcarb run`` or
  ``lowcarb submit``), with the policy's team and project; a correction replaces the record it
  corrects. The newest such retrain is the one used.
* :func:`record_check`: the check, the decision and the submitted job are appended in one
  transaction, as ``decision`` records (stages ``drift-check`` and ``retrain``, like a gate
  verdict's ``decision`` record with stage ``gate``) and a ``schedule`` record (stage
  ``retrain``), linked by ``metadata.check_id``.

The job queue side (submitting, and one check end to end) is in ``_retrain_io``.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from lowcarb._text import plain
from lowcarb.energy import Method
from lowcarb.errors import InvalidValueError
from lowcarb.governance import GateInput
from lowcarb.ledger import Attribution, RecordDraft, RecordFilter
from lowcarb.monitoring._policy import RetrainPolicy
from lowcarb.monitoring._report import DriftReport
from lowcarb.monitoring._retrain import LastRetrain, RetrainDecision, iso_utc
from lowcarb.units import parse_timestamp

if TYPE_CHECKING:
    from lowcarb.ledger import Ledger, Record

__all__ = ["MAX_RECORDED_FEATURES", "find_last_retrain", "record_check", "report_summary"]

#: Features listed in a check record (drifted ones first); the rest are counted. With names cut
#: to 100 characters this keeps the three records of a check far below the ledger's 64 KiB
#: metadata limit, so a check over thousands of features is still recorded.
MAX_RECORDED_FEATURES = 100
_MAX_NAME = 100


class RecordedJob(Protocol):
    """A submitted job as ``record_check`` records it (``RetrainJob`` is one)."""

    def to_dict(self) -> dict[str, Any]:
        """As plain JSON (the ``job`` metadata of the ``schedule`` record)."""
        ...


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
    job: RecordedJob | None = None,
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
