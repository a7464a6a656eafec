"""Periodic checks: injected clock and sleep, the rhythm, stopping, errors, a real SIGTERM."""

from __future__ import annotations

import os
import signal
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from lowcarb.errors import DataError, InvalidValueError, LowcarbError
from lowcarb.grid import IntensitySeries, OracleForecaster, TraceIntensitySource, load_trace_table
from lowcarb.jobs import open_job_store
from lowcarb.ledger import open_ledger
from lowcarb.monitoring import DriftReport, FeatureDrift, PerformanceEstimate
from lowcarb.monitoring._policy_yaml import parse_retrain_policy
from lowcarb.monitoring._retrain import decide_retrain
from lowcarb.monitoring._retrain_io import CheckOutcome, RetrainMonitor
from lowcarb.monitoring._watch import stop_on_signals, watch

T0 = datetime(2022, 6, 1, 0, 0, tzinfo=UTC)
POLICY = parse_retrain_policy(
    """\
retrain:
  drift: {max_drift_share: 0.4}
  cooldown: 7d
  deadline: 12h
  job: {command: [python, train.py], duration: 2h, zone: ES, team: ml, project: churn}
"""
)


@pytest.fixture(autouse=True)
def _in_tmp_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


class FakeTime:
    """A clock the sleep advances; the check can take time too."""

    def __init__(self, start: datetime) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def clock(self) -> datetime:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += timedelta(seconds=seconds)


def _report(drifted: bool) -> DriftReport:
    features = (
        FeatureDrift("hour", "numeric", "psi", 0.5 if drifted else 0.0, 0.2, drifted),
        FeatureDrift("temp", "numeric", "psi", 0.0, 0.2, False),
    )
    share = 0.5 if drifted else 0.0
    perf = PerformanceEstimate("accuracy", 0.85, "cbpe", 0.9, 100)
    return DriftReport(features, share, 0.5, drifted, 100, 100, perf)


def _decide_only(report: DriftReport, *, now: datetime) -> CheckOutcome:
    return CheckOutcome(
        report, decide_retrain(report, POLICY, last_retrain=None, now=now), None, (), "-"
    )


def test_a_real_monitor_checks_hourly_for_two_days(tmp_path: Path, grid_data_dir: Path) -> None:
    series: IntensitySeries = load_trace_table(
        grid_data_dir / "em_raw_2021_2023" / "ES_2022_hourly.csv"
    ).series("ES")
    source = TraceIntensitySource(series, forecaster=OracleForecaster(series.values_g_per_kwh))
    t = FakeTime(T0)
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    seen: list[str] = []
    started = time.monotonic()
    with open_ledger(url, environ={}) as ledger, open_job_store(url, environ={}) as store:
        monitor = RetrainMonitor(POLICY, ledger=ledger, store=store, source=source)
        summary = watch(
            lambda: _report(drifted=t.now >= T0 + timedelta(hours=5)),
            monitor,
            every_s=3600,
            clock=t.clock,
            sleep=t.sleep,
            iterations=48,
            on_outcome=lambda o: seen.append(o.decision.status),
        )
        assert time.monotonic() - started < 20  # two days of checks, no real waiting
        assert (summary.checks, summary.retrains, summary.errors) == (48, 1, 0)
        assert summary.stopped_by == "iterations"
        assert seen[:5] == ["no-trigger"] * 5
        assert seen[5] == "retrain" and set(seen[6:]) == {"cooldown"}
        (job,) = store.list_jobs()
        assert job.planned_start is not None
        assert T0 + timedelta(hours=5) <= job.planned_start <= T0 + timedelta(hours=17)
        kinds = [r.kind for r in ledger.records()]
        assert kinds.count("schedule") == 1 and kinds.count("decision") == 96
        assert summary.last is not None and summary.last.decision.status == "cooldown"
        assert summary.to_dict()["last"]["retrain"]["status"] == "cooldown"
    assert t.sleeps == [3600.0] * 47  # no sleep after the last check
    assert t.now == T0 + timedelta(hours=47)


def test_checks_keep_their_rhythm_and_skip_missed_slots() -> None:
    t = FakeTime(T0)
    times: list[datetime] = []

    def slow_check() -> DriftReport:
        times.append(t.now)
        t.now += timedelta(minutes=25 if len(times) != 2 else 150)  # the 2nd overruns 2 slots
        return _report(False)

    summary = watch(
        slow_check, _decide_only, every_s=3600, clock=t.clock, sleep=t.sleep, iterations=4
    )
    assert summary.checks == 4
    assert times == [T0, T0 + timedelta(hours=1), T0 + timedelta(hours=4), T0 + timedelta(hours=5)]
    assert t.sleeps == [35 * 60.0, 30 * 60.0, 35 * 60.0]


def test_stopping_between_checks_and_on_ctrl_c() -> None:
    t = FakeTime(T0)
    stop = threading.Event()
    count = [0]

    def check() -> DriftReport:
        count[0] += 1
        if count[0] == 3:
            stop.set()  # as a signal handler would, during the third check
        return _report(True)

    summary = watch(check, _decide_only, every_s=60, clock=t.clock, sleep=t.sleep, stop=stop)
    assert (summary.checks, summary.stopped_by) == (3, "stopped")  # the third check completed

    def interrupted() -> DriftReport:
        raise KeyboardInterrupt

    summary = watch(interrupted, _decide_only, every_s=60, clock=t.clock, sleep=t.sleep)
    assert (summary.checks, summary.stopped_by, summary.last) == (0, "interrupted", None)


def test_errors_are_raised_or_handed_to_on_error() -> None:
    t = FakeTime(T0)
    calls = [0]

    def flaky() -> DriftReport:
        calls[0] += 1
        if calls[0] == 2:
            raise DataError("current.csv: column 'hour' has no values; fix the export")
        return _report(False)

    with pytest.raises(DataError, match="column 'hour' has no values"):
        watch(flaky, _decide_only, every_s=60, clock=t.clock, sleep=t.sleep, iterations=3)
    calls[0] = 0
    errors: list[LowcarbError] = []
    summary = watch(
        flaky,
        _decide_only,
        every_s=60,
        clock=t.clock,
        sleep=t.sleep,
        iterations=3,
        on_error=errors.append,
    )
    assert (summary.checks, summary.errors) == (2, 1)
    assert [str(e) for e in errors] == ["current.csv: column 'hour' has no values; fix the export"]


def test_sigterm_stops_a_sleeping_watch_at_once() -> None:
    stop = threading.Event()
    before = signal.getsignal(signal.SIGTERM)
    timer = threading.Timer(0.3, os.kill, args=(os.getpid(), signal.SIGTERM))
    started = time.monotonic()
    with stop_on_signals(stop):
        timer.start()
        summary = watch(lambda: _report(False), _decide_only, every_s=3600, stop=stop)
    timer.join()
    assert summary.stopped_by == "stopped" and summary.checks == 1
    assert time.monotonic() - started < 10  # not the hour it was sleeping for
    assert signal.getsignal(signal.SIGTERM) is before  # handlers restored


def test_bad_periods_are_refused() -> None:
    for every in (0, -1, float("nan"), float("inf")):
        with pytest.raises(
            InvalidValueError, match="the watch period must be a number of seconds > 0"
        ):
            watch(lambda: _report(False), _decide_only, every_s=every)
    with pytest.raises(InvalidValueError, match="longer than 366 days; give a shorter --every"):
        watch(lambda: _report(False), _decide_only, every_s=400 * 86400)
    with pytest.raises(InvalidValueError, match="iterations must be a whole number >= 1, got 0"):
        watch(lambda: _report(False), _decide_only, every_s=60, iterations=0)
