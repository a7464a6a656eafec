"""``lowcarb k8s release``: un-suspend each lowcarb Job at its planned start, one controller at
a time, and account for what it emitted.

The loop (:meth:`ReleaseController.run`) is level-triggered: each pass (:meth:`~ReleaseController.
tick`) acquires or renews the Lease (:mod:`._lease`), lists the Jobs labelled
``app.kubernetes.io/managed-by=lowcarb`` and brings each one forward:

1. *suspended, due* (planned start <= now): patch ``spec.suspend=false`` with the resourceVersion
   it was read at (a second controller in a split brain gets 409 and does nothing), and annotate
   ``lowcarb.dev/released-at``;
2. *suspended, not due*: with a forecast source, once a forecast issued in a later hour than the
   plan exists, plan again; the planned start moves only if the new window's forecast intensity
   is lower than the current window's under the *same* fresh forecast by ``min_gain_pct``, and
   the planner never ends a window after the deadline;
3. *finished*: estimate its energy from its pods (:mod:`._pod_energy`), price it with the grid
   intensity of the hours it ran, and annotate the result.

Between passes it watches the Jobs (a watch, not a poll) until the next planned start, the next
Lease renewal or the next hour's forecast, whichever is first; a new or changed Job wakes it.

Ledger (optional): a ``decision`` record per release (stage ``k8s-release``), a ``schedule``
record per re-plan (stage ``k8s-replan``), a ``run`` record per finished Job (stage ``k8s-job``),
attributed from the Job's labels ``lowcarb.dev/team`` and ``lowcarb.dev/project``. Each action is
written to the Job first and recorded after; the Job keeps an annotation until its record is in
(``lowcarb.dev/release-record``, ``lowcarb.dev/unrecorded-replan``, ``lowcarb.dev/energy-record``),
so a ledger that is down, or a controller that dies between the two, loses nothing: the next pass
appends what is missing (at least once).
"""

from __future__ import annotations

import json
import logging
import math
import threading
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from lowcarb.errors import DataError, InvalidValueError, LedgerError, LowcarbError, ProviderError
from lowcarb.grid import IntensitySource, floor_hour
from lowcarb.integrations.k8s._batch import (
    FALLBACK,
    MANAGED_BY,
    PROJECT_LABEL,
    TEAM_LABEL,
    JobPlan,
    job_plan,
    utc_text,
)
from lowcarb.integrations.k8s._errors import ClusterError, ClusterUnreachableError, LeaseLostError
from lowcarb.integrations.k8s._job_energy import JobEnergy, finished_at
from lowcarb.integrations.k8s._kube import ConflictError, KubeApi, NotFoundError
from lowcarb.integrations.k8s._lease import LeaseElector
from lowcarb.integrations.k8s._pod_energy import KeplerEnergy
from lowcarb.integrations.k8s._release_config import ReleaseConfig, TickReport
from lowcarb.integrations.k8s._replan import fresher_forecast_exists, replan
from lowcarb.ledger import Attribution, RecordDraft, draft_from_footprint
from lowcarb.units import parse_timestamp

if TYPE_CHECKING:
    from lowcarb.ledger import Ledger

__all__ = ["ReleaseController"]

log = logging.getLogger(__name__)

RELEASED_AT = "lowcarb.dev/released-at"
RELEASED_BY = "lowcarb.dev/released-by"
RELEASE_RECORD = "lowcarb.dev/release-record"
UNRECORDED_REPLAN = "lowcarb.dev/unrecorded-replan"
ENERGY_KWH = "lowcarb.dev/energy-kwh"
CO2E_G = "lowcarb.dev/co2e-g"
ENERGY_METHOD = "lowcarb.dev/energy-method"
ENERGY_RECORD = "lowcarb.dev/energy-record"
#: Pods of a Job carry its uid in this label (Kubernetes 1.27+).
_CONTROLLER_UID = "batch.kubernetes.io/controller-uid"


def _notes(job: Mapping[str, Any]) -> dict[str, str]:
    return dict((job.get("metadata") or {}).get("annotations") or {})


def _ref(job: Mapping[str, Any]) -> str:
    meta = job.get("metadata") or {}
    return f"{meta.get('namespace', '?')}/{meta.get('name', '?')}"


class ReleaseController:
    """Releases suspended lowcarb Jobs at their planned start (see the module docstring).

    Not thread-safe: run one per process; several processes (replicas) share the Lease.

    Args:
        kube: The Kubernetes API (:class:`._kube.KubeApi`).
        config: How it runs.
        clock: The current time, timezone-aware (injected in tests).
        ledger: Where releases, re-plans and energy are recorded (None: not recorded).
        source: Forecasts for re-plans and history for pricing finished Jobs (None: no
            re-plans; finished Jobs priced with the zone's hourly profile).
        kepler: Kepler's energy through Prometheus instead of the request-based estimate.
    """

    def __init__(
        self,
        kube: KubeApi,
        *,
        config: ReleaseConfig,
        clock: Callable[[], datetime],
        ledger: Ledger | None = None,
        source: IntensitySource | None = None,
        kepler: KeplerEnergy | None = None,
    ) -> None:
        self.kube = kube
        self.config = config
        self._clock = clock
        self.ledger = ledger
        self.source = source
        self.energy = JobEnergy(
            kepler=kepler, node_cpu=config.node_cpu, pue=config.pue, source=source
        )
        self.elector = LeaseElector(
            kube,
            namespace=config.namespace,
            name=config.lease_name,
            identity=config.identity,
            lease_duration_s=config.lease_duration_s,
            clock=clock,
        )
        self.selector = f"{MANAGED_BY[0]}={MANAGED_BY[1]}"
        self._resource_version = ""
        self._checked_hour: dict[str, datetime] = {}  # Job uid -> hour of its last re-plan check

    # -- one pass --------------------------------------------------------------------------
    def tick(self) -> TickReport:
        """One pass: the Lease, then every lowcarb Job in the namespace.

        Raises:
            LeaseLostError: Another controller holds the Lease this one held.
            ClusterUnreachableError: The API server cannot be reached.
            ClusterError: The API server refused to list the Jobs (e.g. RBAC).
        """
        now = self._clock()
        state = self.elector.try_acquire()
        report = TickReport(at=now, leader=state.leader, holder=state.holder)
        if not state.leader:
            return report
        jobs, self._resource_version = self.kube.list_jobs(self.config.namespace, self.selector)
        for job in sorted(jobs, key=_ref):
            try:
                self._reconcile(job, now, report)
            except (LeaseLostError, ClusterUnreachableError):
                raise
            except ConflictError as exc:
                log.info("Job %s changed meanwhile (%s); it is looked at again", _ref(job), exc)
            except NotFoundError:
                log.info("Job %s was deleted meanwhile", _ref(job))
            except (ClusterError, DataError, LedgerError, ProviderError, InvalidValueError) as exc:
                problem = f"Job {_ref(job)}: {exc}"
                log.warning("%s", problem)
                report.problems.append(problem)
        return report

    def _reconcile(self, job: dict[str, Any], now: datetime, report: TickReport) -> None:
        notes = _notes(job)
        if RELEASED_AT not in notes:
            if not (job.get("spec") or {}).get("suspend"):
                return  # resumed by someone else: not lowcarb's to release or record
            plan = job_plan(job)
            if plan.planned_start <= now:
                self._release(job, plan, now, report)
                return
            if self.config.replan and self.source is not None:
                plan = self._maybe_replan(job, plan, now, report)
            if report.next_start is None or plan.planned_start < report.next_start:
                report.next_start = plan.planned_start
        elif self.ledger is not None and RELEASE_RECORD not in notes:
            self._record_release(job, report)  # released, not yet in the ledger
        if self.ledger is not None and UNRECORDED_REPLAN in notes:
            self._record_replan(job, notes[UNRECORDED_REPLAN], report)
        if RELEASED_AT in notes and ENERGY_KWH not in notes and finished_at(job) is not None:
            self._account(job, report)

    # -- release ---------------------------------------------------------------------------
    def _release(
        self, job: dict[str, Any], plan: JobPlan, now: datetime, report: TickReport
    ) -> None:
        self.elector.ensure()  # never release on a Lease that is gone
        meta = job["metadata"]
        patch = {
            "metadata": {
                "resourceVersion": meta.get("resourceVersion"),
                "annotations": {RELEASED_AT: utc_text(now), RELEASED_BY: self.config.identity},
            },
            "spec": {"suspend": False},
        }
        updated = self.kube.patch_job(meta["namespace"], meta["name"], patch)
        report.released.append(_ref(job))
        late_s = (now - plan.planned_start).total_seconds()
        if now > plan.latest_start:
            log.warning(
                "released Job %s %.0f s after its latest start: it may miss its deadline %s",
                _ref(job),
                (now - plan.latest_start).total_seconds(),
                utc_text(plan.deadline),
            )
        else:
            log.info(
                "released Job %s (planned %s, %.0f s late)",
                _ref(job),
                utc_text(plan.planned_start),
                late_s,
            )
        if self.ledger is not None:
            self._record_release(updated, report)

    def _record_release(self, job: dict[str, Any], report: TickReport) -> None:
        assert self.ledger is not None  # callers check
        notes = _notes(job)
        plan = job_plan(job)
        released_at = parse_timestamp(notes[RELEASED_AT], what=f"{RELEASED_AT} of {_ref(job)}")
        draft = RecordDraft(
            kind="decision",
            attribution=self._attribution(job, "k8s-release"),
            metadata={
                "action": "release",
                "job": self._job_ref(job),
                "plan": plan.to_dict(),
                "released_at": utc_text(released_at),
                "released_by": notes.get(RELEASED_BY),
                "late_s": (released_at - plan.planned_start).total_seconds(),
                "meets_deadline": released_at <= plan.latest_start,
            },
        )
        record = self.ledger.append(draft)
        report.record_ids.append(record.id)
        meta = job["metadata"]
        self.kube.patch_job(
            meta["namespace"],
            meta["name"],
            {"metadata": {"annotations": {RELEASE_RECORD: record.id}}},
        )

    # -- re-plan ---------------------------------------------------------------------------
    def _maybe_replan(
        self, job: dict[str, Any], plan: JobPlan, now: datetime, report: TickReport
    ) -> JobPlan:
        assert self.source is not None  # callers check
        uid = str(job["metadata"].get("uid") or _ref(job))
        hour = floor_hour(now)
        if not fresher_forecast_exists(plan, now) or self._checked_hour.get(uid) == hour:
            return plan  # no forecast fresher than the one the plan (or the last look) used
        self._checked_hour[uid] = hour
        try:
            change = replan(plan, self.source, now=now, min_gain_pct=self.config.min_gain_pct)
        except LowcarbError as exc:
            log.warning("no re-plan for Job %s (%s); it keeps its plan", _ref(job), exc)
            return plan
        if change is None:
            return plan
        new = change.new
        pending = json.dumps(change.to_dict(), sort_keys=True)
        annotations: dict[str, str | None] = {**new.annotations(), UNRECORDED_REPLAN: pending}
        annotations.setdefault(FALLBACK, None)  # a fallback note of the old plan goes
        meta = job["metadata"]
        patch = {
            "metadata": {"resourceVersion": meta.get("resourceVersion"), "annotations": annotations}
        }
        updated = self.kube.patch_job(meta["namespace"], meta["name"], patch)
        log.info(
            "re-planned Job %s: %s -> %s (%.1f -> %.1f gCO2e/kWh, %s forecast)",
            _ref(job), utc_text(plan.planned_start), utc_text(new.planned_start),
            change.old_window_g_per_kwh, new.expected_intensity_g_per_kwh, new.forecast_model,
        )  # fmt: skip
        report.replanned.append({"job": _ref(job), **change.to_dict()})
        if self.ledger is not None:
            self._record_replan(updated, pending, report)
        return new

    def _record_replan(self, job: dict[str, Any], change_json: str, report: TickReport) -> None:
        assert self.ledger is not None  # callers check
        try:
            change = json.loads(change_json)
        except ValueError:
            raise DataError(f"annotation {UNRECORDED_REPLAN} is not JSON") from None
        record = self.ledger.append(
            RecordDraft(
                kind="schedule",
                attribution=self._attribution(job, "k8s-replan"),
                metadata={"action": "replan", "job": self._job_ref(job), **change},
            )
        )
        report.record_ids.append(record.id)
        meta = job["metadata"]
        self.kube.patch_job(
            meta["namespace"],
            meta["name"],
            {"metadata": {"annotations": {UNRECORDED_REPLAN: None}}},
        )

    # -- energy ----------------------------------------------------------------------------
    def _account(self, job: dict[str, Any], report: TickReport) -> None:
        meta = job["metadata"]
        finished = finished_at(job)
        assert finished is not None  # callers check
        ended_at, outcome = finished
        plan = job_plan(job)
        started_raw = (job.get("status") or {}).get("startTime") or _notes(job)[RELEASED_AT]
        started_at = parse_timestamp(started_raw, what=f"start of Job {_ref(job)}")
        pods = self.kube.list_pods(meta["namespace"], f"{_CONTROLLER_UID}={meta.get('uid', '')}")
        result = self.energy.footprint(
            job, pods, zone=plan.zone, started_at=started_at, ended_at=ended_at
        )
        fp = result.footprint
        annotations = {
            ENERGY_KWH: f"{fp.energy_kwh:.6g}",
            CO2E_G: f"{fp.co2e_g:.6g}",
            ENERGY_METHOD: result.method,
        }
        if self.ledger is not None:
            record = self.ledger.append(
                draft_from_footprint(
                    fp,
                    kind="run",
                    attribution=self._attribution(job, "k8s-job"),
                    metadata={
                        "job": self._job_ref(job),
                        "outcome": outcome,
                        "energy_method": result.method,
                        "plan": plan.to_dict(),
                        "pods": list(result.pods[:100]),
                    },
                )
            )
            report.record_ids.append(record.id)
            annotations[ENERGY_RECORD] = record.id
        patch = {"metadata": {"annotations": annotations}}
        self.kube.patch_job(meta["namespace"], meta["name"], patch)
        report.accounted.append(
            {
                "job": _ref(job),
                "outcome": outcome,
                "energy_kwh": fp.energy_kwh,
                "co2e_g": fp.co2e_g,
                "method": result.method,
                "zone": fp.intensity.zone,
                "intensity_g_per_kwh": fp.intensity.intensity_g_per_kwh,
                "pods": len(result.pods),
            }
        )
        log.info(
            "Job %s %s: %.4g kWh, %.4g gCO2e (%s)",
            _ref(job), outcome, fp.energy_kwh, fp.co2e_g, result.method,
        )  # fmt: skip

    # -- attribution -----------------------------------------------------------------------
    @staticmethod
    def _attribution(job: Mapping[str, Any], stage: str) -> Attribution:
        labels = (job.get("metadata") or {}).get("labels") or {}
        return Attribution(
            team=labels.get(TEAM_LABEL) or None,
            project=labels.get(PROJECT_LABEL) or None,
            run_id=(job.get("metadata") or {}).get("uid") or None,
            stage=stage,
        )

    def _job_ref(self, job: Mapping[str, Any]) -> dict[str, Any]:
        meta = job.get("metadata") or {}
        return {
            "namespace": meta.get("namespace"),
            "name": meta.get("name"),
            "uid": meta.get("uid"),
            "cluster": self.kube.host,
        }

    # -- the loop --------------------------------------------------------------------------
    def wait_s(self, report: TickReport) -> int:
        """Seconds to wait (watching) before the next pass."""
        # The holder renews within the Lease's duration; a standby looks as often.
        wait = min(self.config.renew_every_s, self.config.max_wait_s)
        if report.next_start is not None:
            wait = min(wait, (report.next_start - report.at).total_seconds())
        if report.leader and self.config.replan and self.source is not None:
            to_hour = floor_hour(report.at) + timedelta(hours=1) - report.at
            wait = min(wait, to_hour.total_seconds() + 1)
        return max(1, math.ceil(wait))

    def run(
        self,
        *,
        stop: threading.Event | None = None,
        on_tick: Callable[[TickReport], None] | None = None,
    ) -> None:
        """Pass, watch, pass, ... until ``stop`` is set; the Lease is given up on the way out.

        Raises:
            LeaseLostError: The Lease was lost (it stops at once; nothing released since).
            ClusterUnreachableError: The API server went away.
        """
        stop = stop if stop is not None else threading.Event()
        lost = False
        try:
            while not stop.is_set():
                report = self.tick()
                if on_tick is not None:
                    on_tick(report)
                wait = self.wait_s(report)
                if not report.leader or not self._resource_version:
                    stop.wait(wait)
                    continue
                try:
                    for _event in self.kube.watch_jobs(
                        self.config.namespace, self.selector, self._resource_version, wait
                    ):
                        break  # a Job was added or changed: look at them all again
                except ConflictError:
                    log.info("watch expired (410 Gone): listing again")
        except LeaseLostError:
            lost = True
            raise
        finally:
            if not lost:
                try:
                    self.elector.release()
                except ClusterError as exc:
                    log.warning("could not give the Lease up (%s); it expires by itself", exc)
