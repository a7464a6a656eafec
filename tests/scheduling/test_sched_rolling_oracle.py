"""Rolling re-planning on oracle forecasts, up to the very end of the series (vectorised path)."""

from __future__ import annotations

import numpy as np
import pytest

from lowcarb.grid import Forecaster, NoisyOracleForecaster, OracleForecaster
from lowcarb.scheduling import (
    OraclePolicy,
    RollingReplan,
    RunNow,
    Workload,
    backtest_workload,
)

WORKLOADS = [
    Workload(duration_h=1, slack_h=23),
    Workload(duration_h=8, slack_h=24),
    Workload(duration_h=8, slack_h=24, interruptible=True),
]


def _series() -> np.ndarray:
    rng = np.random.default_rng(3)
    t = np.arange(24 * 10)
    return 300 + 120 * np.sin(2 * np.pi * t / 24) + rng.normal(0, 30, t.size)


def _oracles(x: np.ndarray) -> list[Forecaster]:
    # Both read exactly ``x``: a forecast slot past its end raises ForecastError.
    return [OracleForecaster(x), NoisyOracleForecaster(x, error=0.05, seed=0)]


@pytest.mark.parametrize("workload", WORKLOADS, ids=lambda w: w.label)
def test_rolling_oracles_run_until_the_last_deadline_at_the_series_end(workload: Workload) -> None:
    x = _series()
    policies = [RunNow(), *(RollingReplan(m) for m in _oracles(x)), OraclePolicy()]
    # Default submissions: every slot up to the one whose deadline is the end of the series.
    fast = backtest_workload(x, policies, workload)
    slow = backtest_workload(x, policies, workload, vectorised=False)
    assert fast.results[0].jobs == x.size - int(workload.duration_h + workload.slack_h)
    for a, b in zip(fast.results, slow.results, strict=True):
        assert a.emissions_g == pytest.approx(b.emissions_g, rel=1e-12), a.policy
        assert a.missed_deadlines == b.missed_deadlines == 0
        assert a.mean_wait_h == pytest.approx(b.mean_wait_h)


def test_rolling_oracles_with_sparse_submissions_ending_at_the_series_end() -> None:
    x = _series()
    workload = WORKLOADS[1]
    last = x.size - 32
    submits = np.arange(last, 0, -5)[::-1].copy()  # includes the last possible submission
    policies = [RunNow(), *(RollingReplan(m) for m in _oracles(x)), OraclePolicy()]
    fast = backtest_workload(x, policies, workload, submits=submits)
    slow = backtest_workload(x, policies, workload, submits=submits, vectorised=False)
    for a, b in zip(fast.results, slow.results, strict=True):
        assert a.emissions_g == pytest.approx(b.emissions_g, rel=1e-12), a.policy


def test_rolling_on_perfect_foresight_captures_all_of_the_oracle_saving() -> None:
    # A 1-slot job: the fresh plan's first cheapest slot at each step is the oracle's (the windows
    # dropped as time passes all cost more than it), so re-planning starts exactly there.
    x = _series()
    result = backtest_workload(
        x, [RunNow(), RollingReplan(OracleForecaster(x)), OraclePolicy()], WORKLOADS[0]
    )
    rolling = result.result("rolling:oracle")
    assert rolling.emissions_g == result.result("oracle").emissions_g
    assert rolling.captured_pct == pytest.approx(100.0)
