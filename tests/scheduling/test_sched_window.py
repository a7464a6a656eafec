"""The array core: rolling window costs, best windows, cheapest slots (checked by brute force)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from lowcarb.errors import InvalidValueError
from lowcarb.scheduling import best_slots, best_window, window_costs, work_weights
from lowcarb.scheduling._window import chunks_of, first_min


def _brute_slots(
    x: np.ndarray, w: np.ndarray, end: int, chunk: int, overhead: float, paused: bool = False
) -> float:
    n = len(w)
    best = np.inf
    for comb in itertools.combinations(range(end), n):
        runs = chunks_of(np.array(comb))
        if min(chunk, n) > 1 and any(b - a < min(chunk, n) for a, b in runs):
            continue
        resumes = runs if paused else runs[1:]
        cost = sum(w[k] * x[t] for k, t in enumerate(comb)) + sum(
            overhead * x[a] for a, _ in resumes
        )
        best = min(best, cost)
    return best


def test_work_weights_constant_fractional_and_curve() -> None:
    assert work_weights(3).tolist() == [1.0, 1.0, 1.0]
    assert work_weights(2.5, power_kw=2.0).tolist() == [2.0, 2.0, 1.0]
    assert work_weights(1, power_kw=0.5, step_h=0.5).tolist() == [0.25]
    curve = work_weights(3.5, power_kw=[1.0, 2.0, 3.0])
    assert curve.size == 4
    assert curve.sum() == pytest.approx((1 + 2 + 3) / 3 * 3.5)  # mean power x duration
    assert curve[0] < curve[2]  # the curve rises
    for bad in (0, -1, float("nan")):
        with pytest.raises(InvalidValueError):
            work_weights(bad)
    with pytest.raises(InvalidValueError):
        work_weights(2, power_kw=[1.0, -1.0])


def test_window_costs_match_direct_sums() -> None:
    rng = np.random.default_rng(3)
    x = rng.random(60) * 400
    for w in (np.ones(5), work_weights(4.25), work_weights(3.5, power_kw=[1, 2, 3]), np.ones(1)):
        expected = [float(np.dot(w, x[s : s + w.size])) for s in range(x.size - w.size + 1)]
        assert window_costs(x, w) == pytest.approx(expected)


def test_best_window_respects_latest_start_and_prefers_earliest_tie() -> None:
    x = np.array([5.0, 4.0, 1.0, 1.0, 9.0, 0.0, 0.0])
    assert best_window(x, np.ones(2), latest_start=4) == (2, 2.0)
    # The cheapest window (5..6) starts after the latest start, so it is not allowed.
    assert best_window(x, np.ones(2), latest_start=3)[0] == 2
    assert best_window(np.full(10, 3.0), np.ones(3), latest_start=7)[0] == 0
    with pytest.raises(InvalidValueError):
        best_window(x, np.ones(2), latest_start=6)  # would run past the series


def test_first_min_is_robust_to_rounding() -> None:
    costs = np.array([[3.0 + 1e-13, 3.0, 4.0], [5.0, 2.0, 2.0]])
    assert first_min(costs).tolist() == [0, 1]


def test_best_slots_fast_path_is_the_cheapest_slots() -> None:
    x = np.array([5.0, 1.0, 7.0, 1.0, 3.0, 2.0])
    slots, cost = best_slots(x, np.ones(3), end=6)
    assert slots.tolist() == [1, 3, 5]
    assert cost == 4.0
    slots, _ = best_slots(x, np.ones(3), end=4)  # the deadline cuts slots 4 and 5
    assert slots.tolist() == [0, 1, 3]


@pytest.mark.parametrize("seed", range(6))
def test_best_slots_is_optimal_against_brute_force(seed: int) -> None:
    rng = np.random.default_rng(seed)
    for _ in range(40):
        end = int(rng.integers(3, 10))
        n = int(rng.integers(1, end + 1))
        chunk = int(rng.integers(1, 4))
        overhead = float(rng.choice([0.0, 0.5, 2.0]))
        paused = bool(rng.random() < 0.3)
        x = rng.integers(1, 20, size=end + 2).astype(float)
        w = rng.choice([1.0, 2.0], size=n) if rng.random() < 0.5 else np.ones(n)
        slots, cost = best_slots(
            x, w, end=end, min_chunk=chunk, resume_overhead_kwh=overhead, paused=paused
        )
        assert len(slots) == n and np.all(np.diff(slots) > 0) and slots.max() < end
        runs = chunks_of(slots)
        if min(chunk, n) > 1:
            assert all(b - a >= min(chunk, n) for a, b in runs)
        resumes = runs if paused and overhead else runs[1:]
        recomputed = float(np.dot(w, x[slots])) + sum(overhead * x[a] for a, _ in resumes)
        assert cost == pytest.approx(recomputed)
        assert cost == pytest.approx(_brute_slots(x, w, end, chunk, overhead, paused))


def test_best_slots_overhead_merges_chunks() -> None:
    x = np.array([1.0, 9.0, 1.0, 9.0, 9.0])
    assert best_slots(x, np.ones(2), end=5)[0].tolist() == [0, 2]
    # A resume costing 9 kWh-equivalents of the slot's intensity makes one chunk cheaper.
    assert best_slots(x, np.ones(2), end=5, resume_overhead_kwh=9.0)[0].tolist() == [0, 1]


def test_best_slots_rejects_impossible() -> None:
    with pytest.raises(InvalidValueError):
        best_slots(np.ones(5), np.ones(4), end=3)
    with pytest.raises(InvalidValueError):
        best_slots(np.ones(5), np.ones(2), end=5, min_chunk=0)
