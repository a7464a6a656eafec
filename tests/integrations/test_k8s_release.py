"""`lowcarb k8s release` against the stand-in API server (tests/integrations/k8s_standin.py).

No Kubernetes API server can be installed here, so the controller talks through the official
``kubernetes`` client, configured from a kubeconfig, to a small real HTTP server implementing the
Job, Pod and Lease endpoints it uses: the same client code as against a real cluster.
"""

from __future__ import annotations

import math
import queue
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from io import StringIO
from pathlib import Path
from typing import Any

import httpx
import pytest
from k8s_standin import StandInCluster

from lowcarb.cli import main
from lowcarb.cli._common import CliContext
from lowcarb.energy import MEMORY_W_PER_GB
from lowcarb.energy._hardware import UNKNOWN_CPU_MAX_W_PER_VCPU
from lowcarb.errors import LedgerError
from lowcarb.grid import IntensitySeries, IntensitySource
from lowcarb.integrations.k8s import (
    BatchJob,
    ClusterUnreachableError,
    JobPlan,
    KeplerEnergy,
    KubeApi,
    LeaseLostError,
    ReleaseConfig,
    ReleaseController,
    Resources,
    TickReport,
    connect,
    job_plan,
    suspended_job,
)
from lowcarb.integrations.k8s._informer import JobInformer
from lowcarb.ledger import Ledger, RecordFilter, open_ledger

T0 = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
NS = "default"


@dataclass
class Clock:
    now: datetime = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kw: float) -> None:
        self.now += timedelta(**kw)


class HourlySource(IntensitySource):
    """A fresh forecast: hour ``T0 + i h`` has ``values[i]`` gCO2e/kWh (any zone)."""

    name = "test-forecast"

    def __init__(self, values: list[float]) -> None:
        self.values = values

    def _series(self, start: datetime, hours: int) -> IntensitySeries:
        i0 = int((start - T0).total_seconds() // 3600)
        vals = [self.values[min(max(i, 0), len(self.values) - 1)] for i in range(i0, i0 + hours)]
        return IntensitySeries(
            zone="DE", start=start, values_g_per_kwh=vals, source="test-forecast", kind="forecast"
        )

    def latest(self, zone: str, *, now: datetime) -> Any:
        return self._series(now.replace(minute=0, second=0), 1).latest()

    def history(self, zone: str, *, start: datetime, end: datetime) -> IntensitySeries:
        return self._series(start, max(1, round((end - start).total_seconds() / 3600)))

    def forecast(self, zone: str, *, now: datetime, horizon_h: int = 24) -> IntensitySeries:
        return self._series(now, horizon_h)


@pytest.fixture
def cluster() -> Iterator[StandInCluster]:
    with StandInCluster() as c:
        yield c


@pytest.fixture
def kube(cluster: StandInCluster, tmp_path: Path) -> KubeApi:
    config = cluster.kubeconfig(tmp_path / "kubeconfig")
    return KubeApi(connect(kubeconfig=str(config), environ={}))


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    with open_ledger(f"sqlite:///{tmp_path / 'ledger.db'}", environ={}) as led:
        yield led


def _plan(start_h: float, *, deadline_h: float = 12, duration_h: float = 2) -> JobPlan:
    return JobPlan(
        zone="DE",
        planned_start=T0 + timedelta(hours=start_h),
        deadline=T0 + timedelta(hours=deadline_h),
        duration_s=duration_h * 3600,
        expected_intensity_g_per_kwh=300.0,
        now_intensity_g_per_kwh=400.0,
        forecast_model="profile",
        planned_at=T0,
    )


def _add(cluster: StandInCluster, name: str, plan: JobPlan, **kw: Any) -> None:
    job = BatchJob(name=name, image="ghcr.io/acme/train:1", command=("python", "train.py"), **kw)
    cluster.add_job(suspended_job(job, plan))


def _controller(kube: KubeApi, clock: Clock, identity: str = "a", **kw: Any) -> ReleaseController:
    config = ReleaseConfig(identity=identity, lease_duration_s=15, renew_every_s=5)
    return ReleaseController(kube, config=config, clock=clock, **kw)


def test_releases_each_job_at_its_planned_start_and_records_it(
    cluster: StandInCluster, kube: KubeApi, ledger: Ledger
) -> None:
    clock = Clock()
    _add(cluster, "train", _plan(2), team="vision", project="detector")
    _add(cluster, "later", _plan(5))
    ctl = _controller(kube, clock, ledger=ledger)

    report = ctl.tick()
    assert report.leader and report.released == []
    assert report.next_start == T0 + timedelta(hours=2)
    assert cluster.job("train")["spec"]["suspend"] is True
    # The Lease is renewed on its own timer: only max_wait_s (300 s) caps the 2 h to the start.
    assert ctl.wait_s(report) == 300

    clock.advance(hours=2)
    report = ctl.tick()
    assert report.released == ["default/train"]
    job = cluster.job("train")
    assert job["spec"]["suspend"] is False
    notes = job["metadata"]["annotations"]
    assert notes["lowcarb.dev/released-at"] == "2024-05-01T12:00:00Z"
    assert notes["lowcarb.dev/released-by"] == "a"
    assert cluster.job("later")["spec"]["suspend"] is True
    (record,) = list(ledger.records(RecordFilter(kind="decision")))
    assert notes["lowcarb.dev/release-record"] == record.id
    assert record.attribution.team == "vision"
    assert record.attribution.project == "detector"
    assert record.attribution.stage == "k8s-release"
    assert record.metadata["action"] == "release"
    assert record.metadata["plan"]["planned_start"] == "2024-05-01T12:00:00Z"
    assert record.metadata["meets_deadline"] is True
    # A second pass releases nothing twice and records nothing twice.
    assert ctl.tick().released == []
    assert ledger.count() == 1


def test_two_controllers_share_one_lease_and_only_the_holder_releases(
    cluster: StandInCluster, kube: KubeApi
) -> None:
    clock = Clock(T0 + timedelta(hours=3))
    _add(cluster, "due", _plan(1))
    a, b = _controller(kube, clock, "a"), _controller(kube, clock, "b")
    ra = a.tick()
    rb = b.tick()
    assert (ra.leader, rb.leader) == (True, False)
    assert rb.holder == "a" and rb.released == []
    assert ra.released == ["default/due"]
    lease = cluster.lease("lowcarb-release")
    assert lease is not None
    assert lease["spec"]["holderIdentity"] == "a"
    assert lease["spec"]["leaseDurationSeconds"] == 15
    # b keeps standing by while a renews ...
    _add(cluster, "next", _plan(3 + 20 / 3600))  # due 20 s from now
    clock.advance(seconds=10)
    assert a.tick().leader
    assert not b.tick().leader
    # ... and takes over once a has been silent for a lease duration (by b's own clock).
    clock.advance(seconds=14)
    assert not b.tick().leader
    clock.advance(seconds=2)
    rb = b.tick()
    assert rb.leader
    assert cluster.lease("lowcarb-release")["spec"]["leaseTransitions"] == 1  # type: ignore[index]
    assert cluster.job("due")["metadata"]["annotations"]["lowcarb.dev/released-by"] == "a"
    assert cluster.job("next")["metadata"]["annotations"]["lowcarb.dev/released-by"] == "b"
    patches = [p for m, p in cluster.requests if m == "PATCH" and "/jobs/due" in p]
    assert len(patches) == 1  # released once, by a


def test_a_lost_lease_stops_releasing_at_once_and_says_so(
    cluster: StandInCluster, kube: KubeApi
) -> None:
    clock = Clock()
    _add(cluster, "due-soon", _plan(1))
    ctl = _controller(kube, clock)
    assert ctl.tick().leader
    cluster.set_lease_holder("lowcarb-release", "intruder")
    clock.advance(hours=1)
    with pytest.raises(
        LeaseLostError, match=r"lost the Lease default/lowcarb-release .*'intruder'"
    ):
        ctl.tick()
    assert cluster.job("due-soon")["spec"]["suspend"] is True  # nothing released, nothing lost
    # The loop stops as well, with the same error, the moment it finds the Lease gone.
    clock.now = T0
    cluster.set_lease_holder("lowcarb-release", "b")
    config = ReleaseConfig(identity="b", lease_duration_s=3, renew_every_s=1)
    b = ReleaseController(kube, config=config, clock=clock)
    ticks: list[TickReport] = []

    def taken(report: TickReport) -> None:
        ticks.append(report)
        cluster.set_lease_holder("lowcarb-release", "intruder")
        clock.advance(hours=1)  # due now, but b must not release it

    with pytest.raises(LeaseLostError, match="stopped releasing"):
        b.run(stop=threading.Event(), on_tick=taken)
    assert len(ticks) == 1 and ticks[0].leader
    assert cluster.job("due-soon")["spec"]["suspend"] is True


def test_replan_moves_earlier_or_later_only_for_a_better_window_and_never_past_the_deadline(
    cluster: StandInCluster, kube: KubeApi, ledger: Ledger
) -> None:
    #            hour: 0    1    2   3   4    5    6    7    8    9   10   11   12  13
    earlier = [400, 400, 100, 100, 400, 300, 300, 400, 400, 400, 400, 400, 400, 400]
    later = [400, 400, 400, 400, 400, 300, 300, 400, 400, 90, 90, 400, 400, 400]
    past = [400, 400, 400, 400, 400, 300, 300, 400, 400, 400, 250, 200, 10, 10]
    flat = [300.0] * 24
    clock = Clock(T0 + timedelta(minutes=30))
    ctl = _controller(kube, clock, ledger=ledger, source=HourlySource(earlier))
    _add(cluster, "early", _plan(5), team="nlp")
    assert ctl.tick().replanned == []  # the forecast is no fresher than the plan's (same hour)

    clock.advance(hours=1)  # a forecast issued in a later hour exists now
    for name, values in (("early", earlier), ("late", later), ("past", past), ("flat", flat)):
        if name != "early":
            _add(cluster, name, _plan(5), team="nlp")
        ctl.source = HourlySource(values)
        ctl.tick()  # the Jobs moved before are not looked at again within this hour
    start = {n: job_plan(cluster.job(n)).planned_start for n in ("early", "late", "past", "flat")}
    assert start["early"] == T0 + timedelta(hours=2)
    assert start["late"] == T0 + timedelta(hours=9)
    assert start["past"] == T0 + timedelta(hours=10)  # 10-12 h: ends exactly at the deadline
    assert start["flat"] == T0 + timedelta(hours=5)  # no better window: unchanged
    for name in ("early", "late", "past"):
        plan = job_plan(cluster.job(name))
        assert plan.planned_start + plan.duration <= plan.deadline
        assert plan.planned_at == clock.now
        assert "lowcarb.dev/unrecorded-replan" not in cluster.job(name)["metadata"]["annotations"]
    records = list(ledger.records(RecordFilter(kind="schedule")))
    assert len(records) == 3
    moves = {r.metadata["job"]["name"]: r.metadata for r in records}
    assert moves["early"]["from"]["planned_start"] == "2024-05-01T15:00:00Z"
    assert moves["early"]["to"]["planned_start"] == "2024-05-01T12:00:00Z"
    assert moves["early"]["to"]["expected_intensity_g_per_kwh"] == pytest.approx(100.0)
    assert moves["early"]["from"]["fresh_intensity_g_per_kwh"] == pytest.approx(300.0)
    assert all(r.attribution.team == "nlp" and r.attribution.stage == "k8s-replan" for r in records)
    # Released at the new start, not the old one.
    clock.now = T0 + timedelta(hours=2)
    assert ctl.tick().released == ["default/early"]


def _nothing_listening(tmp_path: Path) -> tuple[Path, int]:
    """A kubeconfig whose server is a local port nothing listens on, and the port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    config = tmp_path / "kubeconfig"
    config.write_text(
        '{"apiVersion": "v1", "kind": "Config", "current-context": "x", '
        f'"clusters": [{{"name": "c", "cluster": {{"server": "http://127.0.0.1:{port}"}}}}], '
        '"users": [{"name": "u", "user": {"token": "t"}}], '
        '"contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}]}'
    )
    return config, port


def test_unreachable_api_server_is_one_line_and_exit_2(tmp_path: Path) -> None:
    config, port = _nothing_listening(tmp_path)
    out, err = StringIO(), StringIO()
    code = main(
        ["k8s", "release", "--once", "--kubeconfig", str(config)],
        ctx=CliContext(stdout=out, stderr=err, environ={}),
    )
    assert code == 2
    (line,) = [ln for ln in err.getvalue().splitlines() if ln.startswith("lowcarb: error")]
    assert f"cannot reach the Kubernetes API server at http://127.0.0.1:{port}" in line
    assert "--kubeconfig" in line
    assert out.getvalue() == ""


def test_energy_of_a_finished_job_is_estimated_from_its_pods_requests(
    cluster: StandInCluster, kube: KubeApi, ledger: Ledger
) -> None:
    clock = Clock(T0 + timedelta(hours=1))
    res = Resources(cpu_request="2", memory_request="4G", cpu_limit="2", memory_limit="4G")
    _add(cluster, "fit", _plan(1), resources=res, team="vision")
    ctl = _controller(kube, clock, ledger=ledger)
    ctl.tick()
    pods = cluster.run_job(
        "fit", started="2024-05-01T11:00:00Z", finished="2024-05-01T12:30:00Z", pods=2
    )
    clock.advance(hours=2)
    report = ctl.tick()
    (item,) = report.accounted
    assert item["method"] == "estimated" and item["pods"] == 2 and item["outcome"] == "Complete"
    runtime_s = 5400.0
    cpu_j = 2 * 2 * runtime_s * UNKNOWN_CPU_MAX_W_PER_VCPU
    ram_j = 2 * 4 * runtime_s * MEMORY_W_PER_GB
    (run,) = list(ledger.records(RecordFilter(kind="run")))
    assert run.footprint is not None
    comps = {c.name: c for c in run.footprint.measurement.components}
    assert comps["cpu"].energy_j == pytest.approx(cpu_j)
    assert comps["ram"].energy_j == pytest.approx(ram_j)
    assert {c.method for c in comps.values()} == {"estimated"}
    assert comps["cpu"].source == "model:k8s-cpu-request(ccf-unknown)"
    assert run.energy_kwh == pytest.approx((cpu_j + ram_j) / 3.6e6)
    assert run.footprint.intensity.zone == "DE"
    assert run.attribution.team == "vision" and run.attribution.stage == "k8s-job"
    assert sorted(run.metadata["pods"]) == sorted(pods)
    notes = cluster.job("fit")["metadata"]["annotations"]
    assert notes["lowcarb.dev/energy-method"] == "estimated"
    assert notes["lowcarb.dev/energy-record"] == run.id
    assert float(notes["lowcarb.dev/energy-kwh"]) == pytest.approx(run.energy_kwh, rel=1e-5)
    assert ctl.tick().accounted == []  # accounted once


def test_kepler_energy_is_used_when_given_and_labelled_as_kepler_s(
    cluster: StandInCluster, kube: KubeApi, ledger: Ledger
) -> None:
    seen: list[str] = []

    def prometheus(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.params["query"])
        pod = "none" if "missing" in request.url.params["query"] else "x"
        result = [] if pod == "none" else [{"metric": {}, "value": [1714564800, "5400.5"]}]
        return httpx.Response(
            200, json={"status": "success", "data": {"resultType": "vector", "result": result}}
        )

    http = httpx.Client(transport=httpx.MockTransport(prometheus))
    kepler = KeplerEnergy("http://prometheus.test:9090", http=http)
    clock = Clock(T0 + timedelta(hours=1))
    _add(cluster, "kepler-job", _plan(1))
    _add(cluster, "missing", _plan(1))
    ctl = _controller(kube, clock, ledger=ledger, kepler=kepler)
    ctl.tick()
    cluster.run_job("kepler-job", started="2024-05-01T11:00:00Z", finished="2024-05-01T12:00:00Z")
    cluster.run_job("missing", started="2024-05-01T11:00:00Z", finished="2024-05-01T12:00:00Z")
    report = ctl.tick()
    methods = {a["job"]: a["method"] for a in report.accounted}
    assert methods == {"default/kepler-job": "measured-by-kepler", "default/missing": "estimated"}
    assert (
        'kepler_container_joules_total{container_namespace="default",pod_name="kepler-job-'
        in (seen[0])
    )
    runs = {r.metadata["job"]["name"]: r for r in list(ledger.records(RecordFilter(kind="run")))}
    (comp,) = runs["kepler-job"].footprint.measurement.components  # type: ignore[union-attr]
    assert comp.energy_j == pytest.approx(5400.5)
    assert comp.source == "kepler:kepler_container_joules_total"
    assert "Kepler itself models this figure" in comp.detail
    notes = runs["missing"].footprint.measurement.notes  # type: ignore[union-attr]
    assert any("Kepler unavailable" in n for n in notes)  # a labelled fallback, never silent


class _DownLedger:
    """A ledger whose database is down."""

    def append(self, draft: Any) -> Any:
        raise LedgerError("ledger database is down (test)")


def test_a_ledger_that_is_down_loses_nothing(
    cluster: StandInCluster, kube: KubeApi, ledger: Ledger
) -> None:
    clock = Clock(T0 + timedelta(hours=2))
    _add(cluster, "job", _plan(1))
    ctl = _controller(kube, clock, ledger=_DownLedger())  # type: ignore[arg-type]
    report = ctl.tick()
    assert report.released == ["default/job"]
    assert any("ledger database is down" in p for p in report.problems)
    assert "lowcarb.dev/release-record" not in cluster.job("job")["metadata"]["annotations"]
    ctl.ledger = ledger  # back up: the next pass appends what is missing
    report = ctl.tick()
    assert report.released == [] and len(report.record_ids) == 1
    (record,) = list(ledger.records(RecordFilter(kind="decision")))
    assert record.metadata["released_by"] == "a"


def test_the_watch_wakes_the_loop_when_a_job_is_added(
    cluster: StandInCluster, kube: KubeApi
) -> None:
    clock = Clock(T0 + timedelta(hours=5))
    config = ReleaseConfig(identity="w", lease_duration_s=20, renew_every_s=10, max_wait_s=10)
    ctl = ReleaseController(kube, config=config, clock=clock)
    reports: list[tuple[float, TickReport]] = []
    stop = threading.Event()
    thread = threading.Thread(
        target=ctl.run,
        kwargs={"stop": stop, "on_tick": lambda r: reports.append((time.monotonic(), r))},
    )
    thread.start()
    try:
        deadline = time.monotonic() + 5
        while not reports and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.2)  # the loop is watching now
        added = time.monotonic()
        _add(cluster, "new", _plan(1))
        while time.monotonic() < added + 5 and not any(r.released for _, r in reports):
            time.sleep(0.02)
        woke = next(t for t, r in reports if r.released)
        assert woke - added < 2  # woken by the watch, well before the 10 s renew period
    finally:
        stop.set()  # seen within half a second, however long the watch stays open
        thread.join(timeout=15)
    assert not thread.is_alive()
    assert cluster.job("new")["spec"]["suspend"] is False
    assert cluster.lease("lowcarb-release")["spec"].get("holderIdentity") is None  # type: ignore[index]
    assert any("watch=true" in p for m, p in cluster.requests if m == "GET")


# -- the informer: one LIST, one long WATCH, the Lease on its own timer ----------------------
def _wait_for(check: Any, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


@dataclass
class _Running:
    ctl: ReleaseController
    stop: threading.Event
    thread: threading.Thread
    errors: list[BaseException]
    reports: list[TickReport]


def _start(kube: KubeApi, **kw: Any) -> _Running:
    """A controller on the real clock, renewing its Lease every 0.5 s, in a thread."""
    config = ReleaseConfig(identity="live", lease_duration_s=2, renew_every_s=0.5, **kw)
    ctl = ReleaseController(kube, config=config, clock=lambda: datetime.now(UTC))
    stop, errors, reports = threading.Event(), [], []

    def target() -> None:
        try:
            ctl.run(stop=stop, on_tick=reports.append)
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=target)
    thread.start()
    return _Running(ctl, stop, thread, errors, reports)  # type: ignore[arg-type]


def _finish(running: _Running) -> None:
    running.stop.set()
    running.thread.join(timeout=10)
    assert not running.thread.is_alive()


def _live_plan(start_in_s: float) -> JobPlan:
    now = datetime.now(UTC).replace(microsecond=0)
    return JobPlan(
        zone="DE",
        planned_start=now + timedelta(seconds=math.ceil(start_in_s)),
        deadline=now + timedelta(hours=3),
        duration_s=3600,
        expected_intensity_g_per_kwh=300.0,
        now_intensity_g_per_kwh=400.0,
        forecast_model="profile",
        planned_at=now,
    )


def test_with_nothing_changing_it_lists_once_watches_once_and_still_renews(
    cluster: StandInCluster, kube: KubeApi
) -> None:
    _add(cluster, "later", _live_plan(3600))
    running = _start(kube)
    try:
        _wait_for(lambda: cluster.watch_requests() == 1)
        time.sleep(3.0)  # 6 renew periods
        assert running.errors == []
    finally:
        _finish(running)
    assert cluster.list_requests() == 1
    assert cluster.watch_requests() == 1
    renewals = [p for m, p in cluster.requests if m == "PUT" and "/leases/" in p]
    assert len(renewals) >= 4  # renewed every 0.5 s while the one watch stayed open
    assert len(running.reports) == 1  # one pass: nothing woke it again
    assert cluster.job("later")["spec"]["suspend"] is True


def test_a_job_added_during_the_watch_is_released_at_its_planned_start_without_a_relist(
    cluster: StandInCluster, kube: KubeApi, ledger: Ledger
) -> None:
    running = _start(kube)
    running.ctl.ledger = ledger
    try:
        _wait_for(lambda: cluster.watch_requests() == 1)
        plan = _live_plan(1.5)
        _add(cluster, "soon", plan)
        _wait_for(lambda: cluster.job("soon")["spec"]["suspend"] is False)
        released = datetime.now(UTC)
        # At its start (a timer from the cache), not at some later pass (max_wait_s is 300 s).
        assert plan.planned_start <= released < plan.planned_start + timedelta(seconds=4)
        _add(cluster, "poke", _live_plan(3600))  # one more event after the release's own
        _wait_for(lambda: len(running.reports) >= 3)
        assert running.errors == []
    finally:
        _finish(running)
    assert cluster.list_requests() == 1
    assert cluster.watch_requests() == 1
    # The cache held the controller's own writes: the release was recorded exactly once.
    (record,) = list(ledger.records(RecordFilter(kind="decision")))
    assert cluster.job("soon")["metadata"]["annotations"]["lowcarb.dev/release-record"] == record.id
    patches = [p for m, p in cluster.requests if m == "PATCH" and p.endswith("/jobs/soon")]
    assert len(patches) == 2  # the release, then its record id


def test_after_410_gone_it_lists_again_once_and_a_watch_that_ends_is_reopened_without_one(
    cluster: StandInCluster, kube: KubeApi
) -> None:
    running = _start(kube)
    try:
        _wait_for(lambda: cluster.watch_requests() == 1)
        # A write the watch does not see (another app's Job) moves the version on; the history
        # is compacted past the controller's version and the server drops its watches.
        cluster.add_job({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "other"}})
        cluster.compact()
        cluster.end_watches()
        _wait_for(lambda: cluster.watch_requests() == 3)  # 410, list, watch from the list
        assert cluster.list_requests() == 2
        cluster.end_watches()  # ended (a restart, a load balancer), nothing expired
        _wait_for(lambda: cluster.watch_requests() == 4)
        _add(cluster, "due", _live_plan(0))
        _wait_for(lambda: cluster.job("due")["spec"]["suspend"] is False)
        assert running.errors == []
    finally:
        _finish(running)
    assert cluster.list_requests() == 2
    assert cluster.lease("lowcarb-release")["spec"].get("holderIdentity") is None  # type: ignore[index]


def test_a_lease_taken_mid_run_stops_releasing_within_a_renew_period(
    cluster: StandInCluster, kube: KubeApi
) -> None:
    running = _start(kube)
    try:
        _wait_for(lambda: cluster.watch_requests() == 1)
        _add(cluster, "at-3s", _live_plan(3))
        cluster.set_lease_holder("lowcarb-release", "intruder")
        taken = time.monotonic()
        running.thread.join(timeout=10)
        assert not running.thread.is_alive()
        assert time.monotonic() - taken < 2.5  # renewed every 0.5 s: found out at the next
    finally:
        _finish(running)
    (error,) = running.errors
    assert isinstance(error, LeaseLostError)
    assert "lost the Lease default/lowcarb-release" in str(error) and "'intruder'" in str(error)
    time.sleep(3.5)  # past the planned start: nobody released it, nothing is lost
    assert cluster.job("at-3s")["spec"]["suspend"] is True
    assert cluster.lease("lowcarb-release")["spec"]["holderIdentity"] == "intruder"  # type: ignore[index]
    patches = [p for m, p in cluster.requests if m == "PATCH"]
    assert patches == []


def test_a_broken_watch_is_followed_by_one_list(cluster: StandInCluster, kube: KubeApi) -> None:
    running = _start(kube)
    try:
        _wait_for(lambda: cluster.watch_requests() == 1)
        cluster.end_watches(broken=True)  # the connection is reset mid-stream
        _wait_for(lambda: cluster.watch_requests() == 2)
        assert cluster.list_requests() == 2  # events may have been missed: listed again
        _add(cluster, "due", _live_plan(0))
        _wait_for(lambda: cluster.job("due")["spec"]["suspend"] is False)
        assert running.errors == []
    finally:
        _finish(running)
    assert cluster.list_requests() == 2


class _QueueWatch:
    """A watch fed by the test: ``None`` ends it."""

    def __init__(self, events: queue.Queue[Any]) -> None:
        self.events = events

    def stop(self) -> None:
        self.events.put(None)

    def __iter__(self) -> Iterator[tuple[str, dict[str, Any]]]:
        while (item := self.events.get()) is not None:
            yield item


class _QueueKube:
    """The two calls of KubeApi an informer makes, fed by the test."""

    def __init__(self, jobs: list[dict[str, Any]]) -> None:
        self.jobs = jobs
        self.events: queue.Queue[Any] = queue.Queue()

    def list_jobs(self, namespace: str, selector: str) -> tuple[list[dict[str, Any]], str]:
        return list(self.jobs), "10"

    def watch_jobs(self, namespace: str, selector: str, version: str, timeout_s: int) -> Any:
        return _QueueWatch(self.events)


def _version_job(version: str, mark: str = "") -> dict[str, Any]:
    meta = {"namespace": NS, "name": "a", "resourceVersion": version, "annotations": {"m": mark}}
    return {"metadata": meta}


def test_the_cache_keeps_the_controller_s_own_writes_and_never_rolls_back() -> None:
    kube = _QueueKube([_version_job("10", "listed")])
    changes: list[int] = []
    informer = JobInformer(
        kube,  # type: ignore[arg-type]
        namespace=NS,
        selector="x=y",
        on_change=lambda: changes.append(1),
    )

    def feed(kind: str, job: dict[str, Any]) -> None:
        kube.events.put((kind, job))
        _wait_for(lambda: informer.resource_version == job["metadata"]["resourceVersion"])

    def mark() -> str:
        (job,) = informer.jobs()
        return str(job["metadata"]["annotations"]["m"])

    informer.sync()
    informer.start()
    try:
        informer.written(_version_job("12", "ours"))  # the API server's answer to our patch
        feed("MODIFIED", _version_job("11", "older"))  # an older event, still on its way
        assert (mark(), changes) == ("ours", [])
        feed("MODIFIED", _version_job("12", "ours"))  # our write's own event: nothing new
        assert (mark(), changes) == ("ours", [])
        feed("MODIFIED", _version_job("13", "theirs"))  # someone else's change wakes us
        assert (mark(), changes) == ("theirs", [1])
        # The watch delivered our write and a later change before we handed the answer over.
        feed("MODIFIED", _version_job("14", "ours-2"))
        feed("MODIFIED", _version_job("15", "theirs-2"))
        informer.written(_version_job("14", "ours-2"))
        assert mark() == "theirs-2"
        feed("BOOKMARK", {"metadata": {"resourceVersion": "20"}})
        assert mark() == "theirs-2" and len(changes) == 3
        feed("DELETED", _version_job("21"))
        assert informer.jobs() == [] and len(changes) == 4
        assert (informer.lists, informer.watches) == (1, 1)
    finally:
        informer.stop()


# -- an API server that goes away -------------------------------------------------------------
def test_an_outage_shorter_than_the_lease_is_ridden_out_and_the_job_still_released(
    cluster: StandInCluster, kube: KubeApi, caplog: pytest.LogCaptureFixture
) -> None:
    running = _start(kube)  # Lease of 2 s, renewed every 0.5 s
    try:
        _wait_for(lambda: cluster.watch_requests() == 1)
        _add(cluster, "after", _live_plan(2.5))
        cluster.outage(True)  # its watch is cut; every request from now on is reset
        time.sleep(1.5)
        assert running.thread.is_alive() and running.errors == []
        assert cluster.job("after")["spec"]["suspend"] is True  # nothing acted meanwhile
        cluster.outage(False)
        _wait_for(lambda: cluster.job("after")["spec"]["suspend"] is False)
        assert running.errors == []
        assert cluster.lease("lowcarb-release")["spec"]["holderIdentity"] == "live"  # type: ignore[index]
    finally:
        _finish(running)
    assert cluster.list_requests() == 2  # listed again after it: events may have been missed
    said = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert any("trying again until it answers" in m for m in said), said
    assert any("reached the Kubernetes API server again" in m for m in said), said


def test_a_controller_that_never_reached_the_api_server_stops_at_once(tmp_path: Path) -> None:
    config, port = _nothing_listening(tmp_path)
    kube = KubeApi(connect(kubeconfig=str(config), environ={}))
    running = _start(kube)
    running.thread.join(timeout=30)
    assert not running.thread.is_alive()
    (error,) = running.errors
    assert isinstance(error, ClusterUnreachableError)
    assert f"127.0.0.1:{port}" in str(error)
