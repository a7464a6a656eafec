"""Recording, exactly once, a job run that ended while no worker watched it.

A job's wrapper (:mod:`._jobwrap`) leaves a durable ``result.json`` when its command ends. A
worker that finds a job still marked ``running`` whose worker died reads that result and appends
the run to the ledger here. The job id and attempt are the idempotency key: before appending,
the ledger is searched for a ``run`` record with the same ``job_id`` and ``attempt`` in its
metadata (the worker that died may have appended it just before dying, and a worker may die
again between this append and the queue update), so a run is recorded once, never twice.

Energy of such a run was not measured (no worker sampled it): it is estimated from the job's
declared power (``--power-w``) times its wall time, labelled ``estimated``; without a declared
power it is recorded as 0 J with a note saying so, so the run is still in the audit trail.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from lowcarb.energy import ComponentEnergy, Measurement
from lowcarb.grid import price, static_intensity
from lowcarb.jobs._job import Job
from lowcarb.jobs._jobrun import iso
from lowcarb.units import parse_timestamp

__all__ = ["find_run_record", "record_unwatched_run"]

log = logging.getLogger(__name__)


def _when(text: object, default: datetime) -> datetime:
    if isinstance(text, str):
        try:
            return parse_timestamp(text, what="result time")
        except ValueError:
            return default
    return default


def find_run_record(
    job_id: str, attempt: int, *, ledger_url: str, environ: Mapping[str, str], since: datetime
) -> str | None:
    """Id of the ledger's ``run`` record of ``job_id``'s attempt ``attempt``, if one exists.

    Args:
        job_id: The job.
        attempt: Its attempt number (1 for the first run).
        ledger_url: The ledger.
        environ: Environment for opening it.
        since: Only records appended at or after this time are searched (bounds the scan).
    """
    from lowcarb.ledger import RecordFilter, open_ledger

    with open_ledger(ledger_url, environ=environ) as ledger:
        for record in ledger.records(RecordFilter(kind="run", since=since)):
            meta = record.metadata
            if meta.get("job_id") == job_id and meta.get("attempt") == attempt:
                return record.id
    return None


def record_unwatched_run(
    job: Job,
    result: Mapping[str, Any],
    *,
    ledger_url: str,
    environ: Mapping[str, str],
) -> str:
    """Append the run described by a wrapper's ``result`` to the ledger, unless already there.

    Args:
        job: The job, as the queue holds it (``attempts`` is the run's attempt number).
        result: What the wrapper left (see :mod:`._jobwrap`): exit code, start, end, seconds.
        ledger_url: The ledger.
        environ: Environment for opening it.

    Returns:
        The id of the run's record (the existing one when it was already recorded).

    Raises:
        LedgerError: The ledger cannot be read or written (the job stays ``running``, so the
            next pass tries again: nothing is lost).
    """
    from lowcarb.ledger import Attribution, draft_from_footprint, open_ledger

    now = datetime.now(UTC)
    ended = _when(result.get("ended_at"), now)
    started = _when(result.get("started_at"), ended)
    # Records are appended after the run started (real time): a margin covers clock steps.
    since = started - timedelta(minutes=10)
    existing = find_run_record(
        job.id, job.attempts, ledger_url=ledger_url, environ=environ, since=since
    )
    if existing is not None:
        log.info("job %s: its run is already in the ledger (%s)", job.id, existing)
        return existing
    wall_s = max(0.0, (ended - started).total_seconds())
    power_w = job.power_w
    if isinstance(power_w, tuple):  # an hourly profile: its mean is the best single figure
        power_w = sum(power_w) / len(power_w) if power_w else None
    if power_w is not None:
        component = ComponentEnergy(
            "job",
            power_w * wall_s,
            "estimated",
            "model:declared-power",
            f"{power_w:g} W (--power-w) x {wall_s:.1f} s wall time",
        )
        note = "not measured: it ended while no worker watched it; energy from its --power-w"
    else:
        component = ComponentEnergy("job", 0.0, "estimated", "model:none", "no --power-w")
        note = "not measured: it ended while no worker watched it and has no --power-w: 0 J"
    measurement = Measurement(
        name="run", started_at=started, duration_s=wall_s, components=(component,), notes=(note,)
    )
    zone = (job.plan or {}).get("zone") or job.zones[0]
    footprint = price(measurement, intensity=static_intensity(zone))
    plan = job.plan or {}
    metadata = {
        "job_id": job.id,
        "command": list(job.command),
        "attempt": job.attempts,
        "planned_start": plan.get("start"),
        "deadline": iso(job.deadline),
        "fallback": plan.get("fallback"),
        "exit_code": result.get("exit_code"),
        "cpu_s": result.get("cpu_s"),
        "run_start": iso(started),
        "run_end": iso(ended),
        "measured": False,
        "reconciled": True,
    }
    attribution = Attribution(team=job.team, project=job.project)
    with open_ledger(ledger_url, environ=environ) as ledger:
        record = ledger.append(
            draft_from_footprint(footprint, attribution=attribution, metadata=metadata)
        )
    log.warning("job %s: recorded its run that ended while no worker watched it", job.id)
    return record.id
