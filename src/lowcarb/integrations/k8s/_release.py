"""``lowcarb k8s release``: un-suspend each lowcarb Job at its planned start, one controller at
a time, and account for what it emitted.

Each pass over the Jobs labelled ``app.kubernetes.io/managed-by=lowcarb`` brings each one
forward:

1. *suspended, due* (planned start <= now): patch ``spec.suspend=false`` with the resourceVersion
   it was read at (a second controller in a split brain gets 409 and does nothing), and annotate
   ``lowcarb.dev/released-at``;
2. *suspended, not due*: with a forecast source, once a forecast issued in a later hour than the
   plan exists, plan again; the planned start moves only if the new window's forecast intensity
   is lower than the current window's under the *same* fresh forecast by ``min_gain_pct``, and
   the planner never ends a window after the deadline;
3. *finished*: estimate its energy from its pods (:mod:`._pod_energy`), price it with the grid
   intensity of the hours it ran, and annotate the result.

:meth:`ReleaseController.tick` is one pass on its own (``--once``): take or renew the Lease
(:mod:`._lease`), LIST the Jobs, act. :meth:`ReleaseController.run` is the controller: a standby
looks at the Lease every renew period; the holder lists the Jobs *once* into a local cache
(:mod:`._informer`) that one long WATCH keeps current, renews the Lease on its own thread, and
passes over the cached Jobs when a Job is added, changed or deleted, at the next planned start,
at the next hour's forecast (re-plans), and at least every ``max_wait_s`` (a pass makes no API
call unless something is due). It lists again only after 410 Gone or a broken watch: a watch,
not a poll.

Ledger (optional): a record per release, per re-plan and per finished Job (drafted by
:mod:`._release_records`). Each action is written to the Job first and recorded after; the Job
keeps an annotation until its record is in (``lowcarb.dev/release-record``,
``lowcarb.dev/unrecorded-replan``, ``lowcarb.dev/energy-record``), so a ledger that is down, or a
controller that dies between the two, loses nothing: the next pass appends what is missing (at
least once).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from lowcarb.errors import DataError, InvalidValueError, LedgerError, LowcarbError, ProviderError
from lowcarb.grid import IntensitySource, floor_hour
from lowcarb.integrations.k8s._batch import FALLBACK, MANAGED_BY, JobPlan, job_plan, utc_text
from lowcarb.integrations.k8s._errors import ClusterError, ClusterUnreachableError, LeaseLostError
from lowcarb.integrations.k8s._informer import JobInformer
from lowcarb.integrations.k8s._job_energy import JobEnergy, finished_at
from lowcarb.integrations.k8s._kube import ConflictError, KubeApi, NotFoundError
from lowcarb.integrations.k8s._lease import LeaseElector, LeaseRenewer
from lowcarb.integrations.k8s._outage import Outage
from lowcarb.integrations.k8s._pod_energy import KeplerEnergy
from lowcarb.integrations.k8s._release_config import ReleaseConfig, TickReport
from lowcarb.integrations.k8s._release_records import (
    ENERGY_KWH,
    ENERGY_RECORD,
    RELEASE_RECORD,
    RELEASED_AT,
    RELEASED_BY,
    UNRECORDED_REPLAN,
    energy_draft,
    energy_notes,
    job_name,
    job_notes,
    release_draft,
    replan_draft,
)
from lowcarb.integrations.k8s._replan import fresher_forecast_exists, replan
from lowcarb.units import parse_timestamp

if TYPE_CHECKING:
    from lowcarb.ledger import Ledger

__all__ = ["ReleaseController"]

log = logging.getLogger(__name__)

#: Pods of a Job carry its uid in this label (Kubernetes 1.27+).
_CONTROLLER_UID = "batch.kubernetes.io/controller-uid"
#: A pass that left a problem (a ledger that refused) is retried this soon, seconds.
_RETRY_S = 30.0
#: How often a waiting loop looks at the caller's stop event (it cannot wake a wait on another
#: event); local, no API call.
_STOP_CHECK_S = 0.5


class ReleaseController:
    """Releases suspended lowcarb Jobs at their planned start (see the module docstring).

    Not thread-safe: call :meth:`tick` or :meth:`run` from one thread (:meth:`run` starts its own
    watch and Lease threads); several processes (replicas) share the Lease.

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
        self.informer: JobInformer | None = None  # the cache while run() leads
        self._checked_hour: dict[str, datetime] = {}  # Job uid -> hour of its last re-plan check

    # -- one pass --------------------------------------------------------------------------
    def tick(self) -> TickReport:
        """One pass on its own: the Lease, then a LIST of the lowcarb Jobs in the namespace.

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
        jobs, _version = self.kube.list_jobs(self.config.namespace, self.selector)
        self._pass(jobs, report)
        return report

    def _pass(self, jobs: Iterable[dict[str, Any]], report: TickReport) -> None:
        """Bring each Job forward (the module docstring's three cases)."""
        seen: set[str] = set()
        for job in sorted(jobs, key=job_name):
            seen.add(str((job.get("metadata") or {}).get("uid") or job_name(job)))
            try:
                self._reconcile(job, report.at, report)
            except (LeaseLostError, ClusterUnreachableError):
                raise
            except ConflictError as exc:
                log.info("Job %s changed meanwhile (%s); it is looked at again", job_name(job), exc)
            except NotFoundError:
                log.info("Job %s was deleted meanwhile", job_name(job))
            except (ClusterError, DataError, LedgerError, ProviderError, InvalidValueError) as exc:
                problem = f"Job {job_name(job)}: {exc}"
                log.warning("%s", problem)
                report.problems.append(problem)
        self._checked_hour = {u: h for u, h in self._checked_hour.items() if u in seen}

    def _patch(self, job: Mapping[str, Any], patch: Mapping[str, Any]) -> dict[str, Any]:
        """Patch a Job; the answer goes into the cache at once (see :mod:`._informer`)."""
        meta = job["metadata"]
        updated = self.kube.patch_job(meta["namespace"], meta["name"], patch)
        if self.informer is not None:
            self.informer.written(updated)
        return updated

    def _reconcile(self, job: dict[str, Any], now: datetime, report: TickReport) -> None:
        notes = job_notes(job)
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
        patch = {
            "metadata": {
                "resourceVersion": job["metadata"].get("resourceVersion"),
                "annotations": {RELEASED_AT: utc_text(now), RELEASED_BY: self.config.identity},
            },
            "spec": {"suspend": False},
        }
        updated = self._patch(job, patch)
        report.released.append(job_name(job))
        late_s = (now - plan.planned_start).total_seconds()
        if now > plan.latest_start:
            log.warning(
                "released Job %s %.0f s after its latest start: it may miss its deadline %s",
                job_name(job),
                (now - plan.latest_start).total_seconds(),
                utc_text(plan.deadline),
            )
        else:
            log.info(
                "released Job %s (planned %s, %.0f s late)",
                job_name(job),
                utc_text(plan.planned_start),
                late_s,
            )
        if self.ledger is not None:
            self._record_release(updated, report)

    def _record_release(self, job: dict[str, Any], report: TickReport) -> None:
        assert self.ledger is not None  # callers check
        record = self.ledger.append(release_draft(job, cluster=self.kube.host))
        report.record_ids.append(record.id)
        self._patch(job, {"metadata": {"annotations": {RELEASE_RECORD: record.id}}})

    # -- re-plan ---------------------------------------------------------------------------
    def _maybe_replan(
        self, job: dict[str, Any], plan: JobPlan, now: datetime, report: TickReport
    ) -> JobPlan:
        assert self.source is not None  # callers check
        uid = str(job["metadata"].get("uid") or job_name(job))
        hour = floor_hour(now)
        if not fresher_forecast_exists(plan, now) or self._checked_hour.get(uid) == hour:
            return plan  # no forecast fresher than the one the plan (or the last look) used
        self._checked_hour[uid] = hour
        try:
            change = replan(plan, self.source, now=now, min_gain_pct=self.config.min_gain_pct)
        except LowcarbError as exc:
            log.warning("no re-plan for Job %s (%s); it keeps its plan", job_name(job), exc)
            return plan
        if change is None:
            return plan
        new = change.new
        pending = json.dumps(change.to_dict(), sort_keys=True)
        annotations: dict[str, str | None] = {**new.annotations(), UNRECORDED_REPLAN: pending}
        annotations.setdefault(FALLBACK, None)  # a fallback note of the old plan goes
        version = job["metadata"].get("resourceVersion")
        patch = {"metadata": {"resourceVersion": version, "annotations": annotations}}
        updated = self._patch(job, patch)
        log.info(
            "re-planned Job %s: %s -> %s (%.1f -> %.1f gCO2e/kWh, %s forecast)",
            job_name(job),
            utc_text(plan.planned_start),
            utc_text(new.planned_start),
            change.old_window_g_per_kwh,
            new.expected_intensity_g_per_kwh,
            new.forecast_model,
        )
        report.replanned.append({"job": job_name(job), **change.to_dict()})
        if self.ledger is not None:
            self._record_replan(updated, pending, report)
        return new

    def _record_replan(self, job: dict[str, Any], change_json: str, report: TickReport) -> None:
        assert self.ledger is not None  # callers check
        record = self.ledger.append(replan_draft(job, change_json, cluster=self.kube.host))
        report.record_ids.append(record.id)
        self._patch(job, {"metadata": {"annotations": {UNRECORDED_REPLAN: None}}})

    # -- energy ----------------------------------------------------------------------------
    def _account(self, job: dict[str, Any], report: TickReport) -> None:
        meta = job["metadata"]
        finished = finished_at(job)
        assert finished is not None  # callers check
        ended_at, outcome = finished
        plan = job_plan(job)
        started_raw = (job.get("status") or {}).get("startTime") or job_notes(job)[RELEASED_AT]
        started_at = parse_timestamp(started_raw, what=f"start of Job {job_name(job)}")
        pods = self.kube.list_pods(meta["namespace"], f"{_CONTROLLER_UID}={meta.get('uid', '')}")
        result = self.energy.footprint(
            job, pods, zone=plan.zone, started_at=started_at, ended_at=ended_at
        )
        fp = result.footprint
        annotations = energy_notes(result)
        if self.ledger is not None:
            record = self.ledger.append(
                energy_draft(job, result, outcome=outcome, plan=plan, cluster=self.kube.host)
            )
            report.record_ids.append(record.id)
            annotations[ENERGY_RECORD] = record.id
        self._patch(job, {"metadata": {"annotations": annotations}})
        report.accounted.append(
            {
                "job": job_name(job),
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
            job_name(job),
            outcome,
            fp.energy_kwh,
            fp.co2e_g,
            result.method,
        )

    # -- the loop --------------------------------------------------------------------------
    def wait_s(self, report: TickReport) -> float:
        """Seconds the leader waits (watching) before its next pass, if no Job changes."""
        wait = self.config.max_wait_s
        if report.next_start is not None:
            wait = min(wait, (report.next_start - report.at).total_seconds())
        if report.leader and self.config.replan and self.source is not None:
            to_hour = floor_hour(report.at) + timedelta(hours=1) - report.at
            wait = min(wait, to_hour.total_seconds() + 1)
        if report.problems:
            wait = min(wait, _RETRY_S)
        return max(0.0, wait)

    def run(
        self,
        *,
        stop: threading.Event | None = None,
        on_tick: Callable[[TickReport], None] | None = None,
    ) -> None:
        """Stand by or lead (see the module docstring) until ``stop`` is set; the Lease is given
        up on the way out.

        Once it has reached the API server, it rides out an outage: it stops acting, tries
        again every renew period (sooner at first), and resumes (re-listing the Jobs) when the
        server answers, as the holder if its Lease has not expired meanwhile.

        Raises:
            LeaseLostError: The Lease was lost (it stops at once; nothing released since).
            ClusterUnreachableError: The API server could not be reached at the start.
            ClusterError: The API server refused to list or watch the Jobs.
        """
        stop = stop if stop is not None else threading.Event()
        lost = False
        outage = Outage(max_wait_s=self.config.renew_every_s)
        try:
            while not stop.is_set():
                try:
                    state = self.elector.try_acquire()
                    outage.over()
                    if state.leader:
                        self._lead(stop, on_tick)
                        return
                except ClusterUnreachableError as exc:
                    if not outage.reached:
                        raise  # a wrong address, or a cluster that is down: said at once
                    stop.wait(outage.wait_s(exc))
                    continue
                if on_tick is not None:
                    on_tick(TickReport(at=self._clock(), leader=False, holder=state.holder))
                stop.wait(self.config.renew_every_s)
        except LeaseLostError:
            lost = True
            raise
        finally:
            if not lost:
                try:
                    self.elector.release()
                except ClusterError as exc:
                    log.warning("could not give the Lease up (%s); it expires by itself", exc)

    def _lead(self, stop: threading.Event, on_tick: Callable[[TickReport], None] | None) -> None:
        """List once, then watch and renew in threads, passing over the cache when woken."""
        wake = threading.Event()
        informer = JobInformer(
            self.kube, namespace=self.config.namespace, selector=self.selector, on_change=wake.set
        )
        renewer = LeaseRenewer(
            self.elector, every_s=self.config.renew_every_s, clock=self._clock, on_lost=wake.set
        )
        informer.sync()
        self.informer = informer
        informer.start()
        renewer.start()
        try:
            while not stop.is_set():
                wake.clear()  # first: a change or a loss from now on wakes the next pass
                renewer.raise_if_lost()
                informer.raise_if_failed()
                report = TickReport(at=self._clock(), leader=True, holder=self.config.identity)
                self._pass(informer.jobs(), report)
                if on_tick is not None:
                    on_tick(report)
                deadline = time.monotonic() + self.wait_s(report)
                while not stop.is_set() and (left := deadline - time.monotonic()) > 0:
                    if wake.wait(min(left, _STOP_CHECK_S)):
                        break
        finally:
            self.informer = None
            renewer.stop()
            informer.stop()
