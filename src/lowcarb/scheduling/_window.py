"""The planner's core: pure, vectorised functions over arrays of equally spaced intensity slots.

Everything here works in *slots* (the step of the series, usually one hour) and knows nothing of
dates, zones or forecasts: a series ``values`` (gCO2e/kWh per slot) and a job's *work weights*
``weights`` (the energy, in kWh, its k-th slot of work draws) are enough. The cost of a placement
is ``sum_k weights[k] * values[slot_k]`` (grams of CO2e when the weights are kWh).

* :func:`window_costs`: the cost of every contiguous start (a rolling weighted sum, one pass).
* :func:`best_window`: the cheapest contiguous start no later than a hard latest start.
* :func:`best_slots`: the cheapest set of slots for an interruptible job, with a minimum chunk
  length and a per-resume overhead, by an exact dynamic programme (vectorised over work done).
* :func:`work_weights`: a job's per-slot energy from its duration and power (constant or a curve).

Ties go to the earliest start: waiting for no gain only adds risk.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from lowcarb.errors import InvalidValueError

__all__ = [
    "best_slots",
    "best_window",
    "chunks_of",
    "first_min",
    "window_costs",
    "work_weights",
]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

# Durations within this many slots of a whole number are treated as whole (float noise from
# hour/step conversions, e.g. 0.1 h steps).
_EPS_SLOTS = 1e-9


def work_weights(
    duration_slots: float, *, power_kw: float | Sequence[float] | None = None, step_h: float = 1.0
) -> FloatArray:
    """Energy (kWh) of each slot of work of a job, in order.

    Args:
        duration_slots: The job's length in slots (> 0; a fraction of a slot is allowed: the last
            slot then carries only that fraction).
        power_kw: Constant power (kW), or a curve of powers (kW) spread evenly over the job's
            duration (point ``i`` of ``m`` covers ``[i/m, (i+1)/m)`` of it). None: a nominal 1 kW,
            for ranking only.
        step_h: Length of one slot in hours.

    Returns:
        ``ceil(duration_slots)`` weights, kWh.

    Raises:
        InvalidValueError: A non-positive duration, a negative or empty power.
    """
    d = float(duration_slots)
    if not (math.isfinite(d) and d > 0):
        raise InvalidValueError(f"job duration must be > 0 slots, got {duration_slots!r}")
    n = max(1, math.ceil(d - _EPS_SLOTS))
    # Fraction of each slot the job occupies: 1 for all but possibly the last.
    occupied = np.ones(n)
    occupied[-1] = min(1.0, d - (n - 1)) if d - (n - 1) > _EPS_SLOTS else 1.0
    if power_kw is None or isinstance(power_kw, int | float):
        p = 1.0 if power_kw is None else float(power_kw)
        if not (math.isfinite(p) and p >= 0):
            raise InvalidValueError(f"job power must be a number >= 0 kW, got {power_kw!r}")
        return occupied * p * step_h
    curve = np.asarray(power_kw, dtype=float)
    if curve.ndim != 1 or curve.size == 0 or not np.all(np.isfinite(curve)) or np.any(curve < 0):
        raise InvalidValueError(
            f"a power curve must be a non-empty list of numbers >= 0, got {list(power_kw)!r}"
        )
    # Integrate the piecewise-constant curve (spread over [0, d) slots) over each slot.
    m = curve.size
    edges = np.minimum(np.arange(n + 1, dtype=float), d)  # slot boundaries, in slots
    knots = np.linspace(0.0, d, m + 1)
    cumulative = np.concatenate([[0.0], np.cumsum(curve * np.diff(knots))])  # kW*slot at knots
    at_edges = np.interp(edges, knots, cumulative)
    out: FloatArray = np.diff(at_edges) * step_h
    return out


def window_costs(values: FloatArray, weights: FloatArray) -> FloatArray:
    """Cost of starting the job at every slot where it fits.

    Args:
        values: Intensity per slot, gCO2e/kWh (length ``T``).
        weights: Energy per slot of work, kWh (length ``n <= T``).

    Returns:
        ``T - n + 1`` costs, grams: ``cost[s] = sum_k weights[k] * values[s + k]``.
    """
    x = np.asarray(values, dtype=float)
    w = np.asarray(weights, dtype=float)
    n = w.size
    if n > x.size:
        return np.empty(0)
    if np.all(w[:-1] == w[0]):
        # Constant weights (except perhaps a partial last slot): one cumulative sum, O(T).
        c = np.concatenate([[0.0], np.cumsum(x)])
        head = (c[n - 1 : x.size] - c[: x.size - n + 1]) * w[0]
        out: FloatArray = head + w[-1] * x[n - 1 :] if n > 1 else w[0] * x
        return out
    corr: FloatArray = np.correlate(x, w, mode="valid")
    return corr


def best_window(values: FloatArray, weights: FloatArray, *, latest_start: int) -> tuple[int, float]:
    """The cheapest contiguous start in ``[0, latest_start]``.

    Args:
        values: Intensity per slot (must cover ``latest_start + len(weights)`` slots).
        weights: Energy per slot of work.
        latest_start: The last start that still finishes by the deadline (inclusive, >= 0).

    Returns:
        ``(start, cost)``; ties go to the earliest start.

    Raises:
        InvalidValueError: ``latest_start`` negative or the series too short to cover it.
    """
    need = latest_start + len(weights)
    if latest_start < 0 or len(values) < need:
        raise InvalidValueError(
            f"cannot place a {len(weights)}-slot job with latest start {latest_start} in a "
            f"series of {len(values)} slots"
        )
    costs = window_costs(np.asarray(values[:need], dtype=float), weights)
    start = int(first_min(costs[None, :])[0])
    return start, float(costs[start])


def first_min(costs: FloatArray) -> IntArray:
    """Per row, the first index whose cost is within rounding (1e-9 relative) of the row's minimum.

    Costs computed in different orders (a cumulative sum, a dot product) differ in the last bits;
    comparing with a tolerance makes every code path break ties the same way: earliest first.
    """
    c = np.asarray(costs, dtype=float)
    low = c.min(axis=1, keepdims=True)
    out: IntArray = np.argmax(c <= low + 1e-9 * np.abs(low) + 1e-12, axis=1).astype(np.int64)
    return out


def best_slots(
    values: FloatArray,
    weights: FloatArray,
    *,
    end: int,
    min_chunk: int = 1,
    resume_overhead_kwh: float = 0.0,
    paused: bool = False,
) -> tuple[IntArray, float]:
    """The cheapest slots in ``[0, end)`` for an interruptible job.

    The job's k-th slot of work draws ``weights[k]``; work is done in order. Every chunk (a run of
    consecutive slots) lasts at least ``min_chunk`` slots (a job shorter than that runs in one
    chunk), and every resume after a pause costs ``resume_overhead_kwh`` at the intensity of the
    slot it resumes in (checkpoint restore, warm-up). The first start costs nothing extra.

    Without a chunk constraint, overhead, or a varying power profile this is the ``n`` cheapest
    slots; otherwise an exact dynamic programme over (slot, work done, current chunk length) with
    ``O(end * n * min_chunk)`` work, vectorised over work done.

    Args:
        values: Intensity per slot, gCO2e/kWh.
        weights: Energy per slot of work, kWh (length ``n <= end``).
        end: Slots ``[0, end)`` may be used (the deadline).
        min_chunk: Minimum chunk length in slots (>= 1).
        resume_overhead_kwh: Extra energy per resume, kWh (>= 0).
        paused: The job has already run and is paused: its first start is a resume too.

    Returns:
        ``(slots, cost)``: the ``n`` chosen slot indices in increasing order, and the cost
        including resume overheads.

    Raises:
        InvalidValueError: Not enough slots before ``end``, or bad parameters.
    """
    x = np.asarray(values, dtype=float)[:end]
    w = np.asarray(weights, dtype=float)
    n = w.size
    if end > len(values) or n > end or n == 0:
        raise InvalidValueError(
            f"cannot place {n} slots of work in the first {end} of {len(values)} slots"
        )
    if min_chunk < 1 or not resume_overhead_kwh >= 0:
        raise InvalidValueError(
            f"min_chunk must be >= 1 and the resume overhead >= 0, got {min_chunk!r}, "
            f"{resume_overhead_kwh!r}"
        )
    chunk = min(min_chunk, n)
    if chunk == 1 and resume_overhead_kwh == 0 and np.all(w == w[0]):
        # A stable sort keeps the earliest of equal slots.
        chosen = np.sort(np.argsort(x, kind="stable")[:n])
        return chosen.astype(np.int64), float(np.dot(w, x[chosen]))
    return _dp_slots(x, w, chunk, resume_overhead_kwh, paused)


def _dp_slots(
    x: FloatArray, w: FloatArray, chunk: int, overhead: float, paused: bool
) -> tuple[IntArray, float]:
    """Exact DP for :func:`best_slots`.

    State after a slot: ``S[0, j]`` not running with ``j`` slots of work done; ``S[r, j]`` running
    in a chunk of length ``r`` (``r == chunk`` means ``>= chunk``). Back-pointers record the only
    two non-deterministic choices: whether ``off`` came from a finished chunk, and whether the
    ``chunk`` row came from growing a shorter chunk or continuing a long one (or, when
    ``chunk == 1``, from a (re)start).
    """
    n, end = w.size, x.size
    inf = np.inf
    state = np.full((chunk + 1, n + 1), inf)
    state[0, 0] = 0.0
    resume = np.full(n, overhead)
    if not paused:
        resume[0] = 0.0  # the first start is free
    off_from_run = np.zeros((end, n + 1), dtype=bool)
    top_from_below = np.zeros((end, n + 1), dtype=bool)
    for t in range(end):
        v = x[t]
        step = w * v  # cost of doing work slot j at t, for j = 0..n-1
        new = np.full_like(state, inf)
        # Stop (or stay stopped): only a chunk of full length may end.
        take_run = state[chunk] < state[0]
        new[0] = np.where(take_run, state[chunk], state[0])
        off_from_run[t] = take_run
        start_cost = state[0, :-1] + resume * v + step
        if chunk == 1:
            cont = state[1, :-1] + step
            below = start_cost <= cont  # prefer a fresh start only when strictly not worse
            new[1, 1:] = np.where(below, start_cost, cont)
            top_from_below[t, 1:] = below
        else:
            new[1, 1:] = start_cost
            for r in range(2, chunk):
                new[r, 1:] = state[r - 1, :-1] + step
            grow = state[chunk - 1, :-1] + step
            cont = state[chunk, :-1] + step
            below = grow <= cont
            new[chunk, 1:] = np.where(below, grow, cont)
            top_from_below[t, 1:] = below
        state = new
    final_off, final_run = state[0, n], state[chunk, n]
    if not np.isfinite(min(final_off, final_run)):
        raise InvalidValueError(
            f"no way to place {n} slots of work in chunks of >= {chunk} within {end} slots"
        )
    # Walk back from the cheaper final state.
    r = 0 if final_off <= final_run else chunk
    j = n
    chosen: list[int] = []
    for t in range(end - 1, -1, -1):
        if r == 0:
            # Idle at t; before t the job was either idle too or just ending a full chunk.
            r = chunk if off_from_run[t, j] else 0
            continue
        # Running at t with chunk-length state r and j slots done after t.
        chosen.append(t)
        if r == 1:
            came_from_start = chunk > 1 or top_from_below[t, j]
            r = 0 if came_from_start else 1
        elif r == chunk:
            r = chunk - 1 if top_from_below[t, j] else chunk
        else:
            r -= 1
        j -= 1
    chosen.reverse()
    slots = np.asarray(chosen, dtype=np.int64)
    return slots, float(min(final_off, final_run))


def chunks_of(slots: IntArray) -> list[tuple[int, int]]:
    """Group increasing slot indices into ``[start, end)`` runs of consecutive slots."""
    out: list[tuple[int, int]] = []
    for s in np.asarray(slots, dtype=np.int64).tolist():
        if out and out[-1][1] == s:
            out[-1] = (out[-1][0], s + 1)
        else:
            out.append((s, s + 1))
    return out
