"""What ``lowcarb k8s release`` (:mod:`._release`) writes on a Job and in the ledger.

The annotations a Job carries once released, re-planned or accounted, and the ledger records
drafted from them: a ``decision`` per release (stage ``k8s-release``), a ``schedule`` per re-plan
(stage ``k8s-replan``), a ``run`` per finished Job (stage ``k8s-job``), attributed from the Job's
labels ``lowcarb.dev/team`` and ``lowcarb.dev/project``. Pure functions over the Job's dict: no
API call, no ledger I/O.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from lowcarb.errors import DataError
from lowcarb.integrations.k8s._batch import PROJECT_LABEL, TEAM_LABEL, JobPlan, job_plan, utc_text
from lowcarb.integrations.k8s._job_energy import JobFootprint
from lowcarb.ledger import Attribution, RecordDraft, draft_from_footprint
from lowcarb.units import parse_timestamp

__all__ = [
    "CO2E_G",
    "ENERGY_KWH",
    "ENERGY_METHOD",
    "ENERGY_RECORD",
    "RELEASED_AT",
    "RELEASED_BY",
    "RELEASE_RECORD",
    "UNRECORDED_REPLAN",
    "energy_draft",
    "energy_notes",
    "job_name",
    "job_notes",
    "release_draft",
    "replan_draft",
]

RELEASED_AT = "lowcarb.dev/released-at"
RELEASED_BY = "lowcarb.dev/released-by"
RELEASE_RECORD = "lowcarb.dev/release-record"
UNRECORDED_REPLAN = "lowcarb.dev/unrecorded-replan"
ENERGY_KWH = "lowcarb.dev/energy-kwh"
CO2E_G = "lowcarb.dev/co2e-g"
ENERGY_METHOD = "lowcarb.dev/energy-method"
ENERGY_RECORD = "lowcarb.dev/energy-record"


def job_notes(job: Mapping[str, Any]) -> dict[str, str]:
    """The Job's annotations (a copy; empty when it has none)."""
    return dict((job.get("metadata") or {}).get("annotations") or {})


def job_name(job: Mapping[str, Any]) -> str:
    """``namespace/name`` of the Job, for logs and reports."""
    meta = job.get("metadata") or {}
    return f"{meta.get('namespace', '?')}/{meta.get('name', '?')}"


def release_draft(job: Mapping[str, Any], *, cluster: str) -> RecordDraft:
    """The ``decision`` record of a released Job, from its plan and release annotations.

    Raises:
        DataError: The plan or the release time in its annotations cannot be read.
    """
    notes = job_notes(job)
    plan = job_plan(job)
    released_at = parse_timestamp(notes[RELEASED_AT], what=f"{RELEASED_AT} of {job_name(job)}")
    return RecordDraft(
        kind="decision",
        attribution=_attribution(job, "k8s-release"),
        metadata={
            "action": "release",
            "job": _job_ref(job, cluster),
            "plan": plan.to_dict(),
            "released_at": utc_text(released_at),
            "released_by": notes.get(RELEASED_BY),
            "late_s": (released_at - plan.planned_start).total_seconds(),
            "meets_deadline": released_at <= plan.latest_start,
        },
    )


def replan_draft(job: Mapping[str, Any], change_json: str, *, cluster: str) -> RecordDraft:
    """The ``schedule`` record of a re-plan, from the JSON kept in :data:`UNRECORDED_REPLAN`.

    Raises:
        DataError: ``change_json`` is not JSON.
    """
    try:
        change = json.loads(change_json)
    except ValueError:
        raise DataError(f"annotation {UNRECORDED_REPLAN} is not JSON") from None
    return RecordDraft(
        kind="schedule",
        attribution=_attribution(job, "k8s-replan"),
        metadata={"action": "replan", "job": _job_ref(job, cluster), **change},
    )


def energy_draft(
    job: Mapping[str, Any], result: JobFootprint, *, outcome: str, plan: JobPlan, cluster: str
) -> RecordDraft:
    """The ``run`` record of a finished Job: its footprint, how it was estimated, its pods."""
    return draft_from_footprint(
        result.footprint,
        kind="run",
        attribution=_attribution(job, "k8s-job"),
        metadata={
            "job": _job_ref(job, cluster),
            "outcome": outcome,
            "energy_method": result.method,
            "plan": plan.to_dict(),
            "pods": list(result.pods[:100]),
        },
    )


def energy_notes(result: JobFootprint) -> dict[str, str]:
    """The annotations of an accounted Job: its energy, CO2e and how they were estimated."""
    fp = result.footprint
    return {
        ENERGY_KWH: f"{fp.energy_kwh:.6g}",
        CO2E_G: f"{fp.co2e_g:.6g}",
        ENERGY_METHOD: result.method,
    }


def _attribution(job: Mapping[str, Any], stage: str) -> Attribution:
    labels = (job.get("metadata") or {}).get("labels") or {}
    return Attribution(
        team=labels.get(TEAM_LABEL) or None,
        project=labels.get(PROJECT_LABEL) or None,
        run_id=(job.get("metadata") or {}).get("uid") or None,
        stage=stage,
    )


def _job_ref(job: Mapping[str, Any], cluster: str) -> dict[str, Any]:
    meta = job.get("metadata") or {}
    return {
        "namespace": meta.get("namespace"),
        "name": meta.get("name"),
        "uid": meta.get("uid"),
        "cluster": cluster,
    }
