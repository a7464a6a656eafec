"""Policies and backtests: vectorised == job by job, the oracle bounds all, reference figures."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from lowcarb.errors import InvalidValueError
from lowcarb.grid import (
    IntensitySeries,
    ProfileBlendForecaster,
    SeasonalNaiveForecaster,
    load_trace_table,
)
from lowcarb.scheduling import (
    ForecastWindow,
    JobSpec,
    OraclePolicy,
    RollingReplan,
    RunNow,
    SimEnv,
    SimJob,
    Threshold,
    Workload,
    backtest_jobs,
    backtest_workload,
    work_weights,
)

WORKLOADS = [
    Workload(duration_h=1, slack_h=23),
    Workload(duration_h=8, slack_h=24),
    Workload(duration_h=8, slack_h=24, interruptible=True),
    Workload(duration_h=2.5, slack_h=10, power_w=(500.0, 200.0)),
]


@pytest.fixture(scope="module")
def de_2022(grid_data_dir: Path) -> IntensitySeries:
    path = grid_data_dir / "em2022_123zones" / "em2022_lca_hourly_123zones.csv"
    return load_trace_table(path).series("DE")


def _policies() -> list:
    naive, blend = SeasonalNaiveForecaster, ProfileBlendForecaster
    return [
        RunNow(),
        Threshold(),
        ForecastWindow(naive()),
        ForecastWindow(blend()),
        RollingReplan(naive()),
        RollingReplan(blend()),
        OraclePolicy(),
    ]


@pytest.mark.parametrize("workload", WORKLOADS, ids=lambda w: w.label)
def test_vectorised_backtest_equals_job_by_job(
    de_2022: IntensitySeries, workload: Workload
) -> None:
    x = de_2022.values_g_per_kwh
    submits = np.arange(24 * 30, 24 * 30 + 150, dtype=np.int64)
    fast = backtest_workload(x, _policies(), workload, submits=submits)
    slow = backtest_workload(x, _policies(), workload, submits=submits, vectorised=False)
    for a, b in zip(fast.results, slow.results, strict=True):
        assert a.policy == b.policy
        assert a.emissions_g == pytest.approx(b.emissions_g, rel=1e-9), a.policy
        assert a.missed_deadlines == b.missed_deadlines == 0
        assert a.mean_wait_h == pytest.approx(b.mean_wait_h)


def test_oracle_matches_the_reference_figures_and_bounds_every_policy(
    de_2022: IntensitySeries,
) -> None:
    x = de_2022.values_g_per_kwh
    # ../shared/data/grid/README.md: DE 2022, perfect foresight, a job every hour: 23.1% (1 h
    # job, 24 h deadline), 18.1% (8 h, 24 h slack), 19.7% (same, interruptible).
    expected = [23.1, 18.1, 19.7]
    for workload, pct in zip(WORKLOADS[:3], expected, strict=True):
        span = int(workload.duration_h + workload.slack_h)
        every_hour = np.arange(0, x.size - span + 1)
        bound = backtest_workload(x, [RunNow(), OraclePolicy()], workload, submits=every_hour)
        assert bound.result("oracle").savings_pct == pytest.approx(pct, abs=0.05)
        result = backtest_workload(x, _policies(), workload, zone="DE")
        oracle = result.result("oracle")
        assert oracle.captured_pct == pytest.approx(100.0)
        assert result.result("run-now").savings_pct == 0.0
        for r in result.results:
            assert r.missed_deadlines == 0
            assert r.emissions_g >= oracle.emissions_g - 1e-6
        # A forecast beats doing nothing and a fixed gate on this variable grid.
        blend = result.result(f"rolling:{ProfileBlendForecaster().label}")
        assert blend.captured_pct is not None and blend.captured_pct > 60


def test_oracle_is_optimal_job_by_job_on_random_jobs() -> None:
    rng = np.random.default_rng(5)
    x = rng.random(24 * 25) * 400
    jobs = []
    for _ in range(60):
        n = float(rng.choice([1, 2.5, 4]))
        submit = int(rng.integers(24 * 16, 24 * 18))
        w = work_weights(n)
        jobs.append(
            SimJob(submit, w, submit + w.size + int(rng.integers(0, 20)), bool(rng.random() < 0.5))
        )
    env = SimEnv(actual=x)
    for job in jobs:
        best = OraclePolicy().schedule(job, env)
        best_cost = float(np.dot(job.weights, x[best]))
        for policy in _policies():
            slots = policy.schedule(job, env)
            assert slots.size == job.n and slots.min() >= job.submit and slots.max() < job.deadline
            assert float(np.dot(job.weights, x[slots])) >= best_cost - 1e-9
    result = backtest_jobs(x, _policies(), jobs, label="mixed")
    assert all(r.missed_deadlines == 0 for r in result.results)


def test_constant_series_has_no_captured_share() -> None:
    result = backtest_workload(np.full(24 * 20, 300.0), [RunNow(), OraclePolicy()], WORKLOADS[0])
    assert result.result("oracle").savings_pct == 0.0
    assert result.result("oracle").captured_pct is None


def test_threshold_gate_waits_for_a_low_reading_but_not_past_the_latest_start() -> None:
    x = np.array([100.0] * 10 + [500.0] * 10)
    env = SimEnv(actual=x)
    gate = Threshold(g_per_kwh=200)
    assert gate.schedule(SimJob(3, np.ones(2), 9), env).tolist() == [3, 4]
    assert gate.schedule(SimJob(12, np.ones(2), 18), env).tolist() == [16, 17]  # forced
    assert gate.name == "threshold(200g)"


def test_backtest_rejects_windows_past_the_series() -> None:
    with pytest.raises(InvalidValueError):
        backtest_workload(np.ones(50), [RunNow()], WORKLOADS[1], submits=np.array([40]))
    with pytest.raises(InvalidValueError):
        Workload(duration_h=0, slack_h=1)


def test_a_workload_is_a_job_spec_with_a_relative_deadline() -> None:
    submit = datetime(2022, 3, 1, 9, tzinfo=UTC)
    w = Workload(duration_h=8, slack_h=24, interruptible=True, power_w=300.0)
    job = w.job(submit)
    assert job == JobSpec(
        duration_h=8, deadline=submit + timedelta(hours=32), interruptible=True, power_w=300.0
    )
