"""Vectorised backtests of many identical jobs (one per submission slot) over one series.

Each function here gives exactly what simulating the policy job by job gives (the test suite
checks this against :mod:`lowcarb.scheduling._policies`), with numpy over all jobs at once:
a year of hourly submissions in milliseconds instead of seconds. Supported: every policy for
contiguous jobs; for interruptible jobs, constant per-slot energy with no chunk constraint and no
resume overhead. :func:`schedule_batch` returns None when a case is not supported, and the
caller falls back to the job-by-job path.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from numpy.typing import NDArray

from lowcarb.grid import Forecaster
from lowcarb.scheduling._policies import (
    ForecastWindow,
    OraclePolicy,
    RollingReplan,
    RunNow,
    SchedulingPolicy,
    SimEnv,
    Threshold,
)
from lowcarb.scheduling._window import first_min, window_costs

__all__ = ["schedule_batch"]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]


def schedule_batch(
    policy: SchedulingPolicy,
    env: SimEnv,
    submits: IntArray,
    weights: FloatArray,
    slack: int,
    *,
    interruptible: bool,
    min_chunk: int = 1,
    resume_overhead_kwh: float = 0.0,
) -> IntArray | None:
    """Slots run by identical jobs submitted at ``submits``: shape ``(len(submits), n)``.

    Each job has ``n = len(weights)`` slots of work and may use slots
    ``[submit, submit + n + slack)``.

    Returns:
        The slot matrix, or None if this case has no vectorised path.
    """
    s = np.asarray(submits, dtype=np.int64)
    n = len(weights)
    if not interruptible or n == 1:
        start = _contiguous_starts(policy, env, s, weights, slack)
        if start is None:
            return None
        out: IntArray = start[:, None] + np.arange(n)[None, :]
        return out
    if min_chunk > 1 or resume_overhead_kwh != 0 or not np.all(weights == weights[0]):
        return None
    return _interruptible_slots(policy, env, s, n, slack)


def _rows(model: Forecaster, env: SimEnv, origins: IntArray, horizon: int) -> FloatArray:
    return model.matrix(env.actual, origins, horizon)


def _replan_rows(
    model: Forecaster, env: SimEnv, s: IntArray, decisions: int, span: int
) -> FloatArray:
    """Forecasts at every origin ``min(s) .. max(s) + decisions - 1``: shape ``(origins, span)``.

    The job submitted at ``s[i]`` re-plans at ``s[i] + j`` for ``j < decisions`` and reads the
    forecast up to its deadline ``s[i] + span``. Origins whose full ``span`` ends inside the series
    are forecast at once, as before; the few later ones only up to the latest deadline among the
    jobs re-planning there (NaN after it, never read). Oracles, which read the true future, would
    otherwise be asked for slots past the end of the series.
    """
    t0 = int(s.min())
    origins = np.arange(t0, int(s.max()) + decisions, dtype=np.int64)
    out = np.full((origins.size, span), np.nan)
    bulk = int(np.searchsorted(origins, env.actual.size - span, side="right"))
    if bulk:
        out[:bulk] = _rows(model, env, origins[:bulk], span)
    tail = origins[bulk:]
    if tail.size:
        submitted = np.unique(s)
        latest = submitted[np.searchsorted(submitted, tail, side="right") - 1]  # >= t0, exists
        need = np.where(tail - latest < decisions, latest + span - tail, 0)
        for h in np.unique(need[need > 0]).tolist():
            at = np.flatnonzero(need == h)
            out[bulk + at, :h] = _rows(model, env, tail[at], h)
    return out


def _window_cost_rows(f: FloatArray, weights: FloatArray) -> FloatArray:
    out: FloatArray = sliding_window_view(f, len(weights), axis=1) @ weights
    return out


def _trailing_quantile(policy: Threshold, env: SimEnv, t: IntArray) -> FloatArray:
    """The policy's threshold at each slot in ``t`` (data before each)."""
    if policy.g_per_kwh is not None:
        return np.full(t.size, policy.g_per_kwh)
    span = policy.window_days * env.slots_per_day
    x = env.actual
    out = np.empty(t.size)
    full = t >= span
    if full.any():
        windows = sliding_window_view(x, span)  # windows[i] = x[i : i + span]
        out[full] = np.quantile(windows[t[full] - span], policy.quantile, axis=1)
    for i in np.flatnonzero(~full):  # the first week: shorter windows, as job by job
        ti = int(t[i])
        past = x[max(0, ti - span) : ti]
        out[i] = np.quantile(past, policy.quantile) if past.size else np.inf
    return out


def _green(policy: Threshold, env: SimEnv, t0: int, t1: int) -> Callable[[IntArray], BoolArray]:
    """Whether the last observation at slot ``t`` is at or below the threshold, for t0..t1."""
    t = np.arange(t0, t1 + 1, dtype=np.int64)
    ok = np.zeros(t.size, dtype=bool)
    seen = t > 0
    ok[seen] = env.actual[t[seen] - 1] <= _trailing_quantile(policy, env, t[seen])

    def lookup(slots: IntArray) -> BoolArray:
        out: BoolArray = ok[slots - t0]
        return out

    return lookup


def _contiguous_starts(
    policy: SchedulingPolicy, env: SimEnv, s: IntArray, weights: FloatArray, slack: int
) -> IntArray | None:
    n = len(weights)
    x = env.actual
    if isinstance(policy, RunNow):
        return s.copy()
    if isinstance(policy, OraclePolicy | ForecastWindow):
        if isinstance(policy, OraclePolicy):
            costs = sliding_window_view(window_costs(x, weights), slack + 1)[s]
        else:
            costs = _window_cost_rows(_rows(policy.model, env, s, n + slack), weights)
        out: IntArray = s + first_min(costs)
        return out
    start = s + slack  # the latest start, unless a rule fires earlier
    pending = np.ones(s.size, dtype=bool)
    if isinstance(policy, Threshold):
        green = _green(policy, env, int(s.min()), int(s.max()) + slack)
        for j in range(slack):
            hit = pending & green(s + j)
            start[hit] = s[hit] + j
            pending &= ~hit
        return start
    if isinstance(policy, RollingReplan):
        t0 = int(s.min())
        if int(s.max()) + slack <= t0:
            return start
        wc = _window_cost_rows(_replan_rows(policy.model, env, s, slack, n + slack), weights)
        for j in range(slack):
            rows = wc[s + j - t0, : slack - j + 1]
            now_best = first_min(rows) == 0
            hit = pending & now_best
            start[hit] = s[hit] + j
            pending &= ~hit
        return start
    return None


def _interruptible_slots(
    policy: SchedulingPolicy, env: SimEnv, s: IntArray, n: int, slack: int
) -> IntArray | None:
    x = env.actual
    span = n + slack
    if isinstance(policy, RunNow):
        out: IntArray = s[:, None] + np.arange(n)[None, :]
        return out
    if isinstance(policy, OraclePolicy | ForecastWindow):
        if isinstance(policy, OraclePolicy):
            f = sliding_window_view(x, span)[s]
        else:
            f = _rows(policy.model, env, s, span)
        pick = np.sort(np.argsort(f, axis=1, kind="stable")[:, :n], axis=1).astype(np.int64)
        return s[:, None] + pick
    t0 = int(s.min())
    if isinstance(policy, RollingReplan):
        rows_all = _replan_rows(policy.model, env, s, span, span)

        def wanted(t: IntArray, j: int, left: IntArray) -> BoolArray:
            f = rows_all[t - t0, : span - j]
            out: BoolArray = (f[:, 1:] < f[:, :1]).sum(axis=1) < left
            return out

    elif isinstance(policy, Threshold):
        green = _green(policy, env, t0, int(s.max()) + span)

        def wanted(t: IntArray, j: int, left: IntArray) -> BoolArray:
            return green(t)

    else:
        return None
    slots = np.full((s.size, n), -1, dtype=np.int64)
    done = np.zeros(s.size, dtype=np.int64)
    for j in range(span):
        t = s + j
        left = n - done
        forced = (span - j) <= left
        run = (left > 0) & (forced | wanted(t, j, left))
        idx = np.flatnonzero(run)
        slots[idx, done[idx]] = t[idx]
        done += run
    return slots
