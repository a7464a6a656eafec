"""Each drift statistic against SciPy called directly, against its textbook form, and on known
shifts (none, half a standard deviation, a category that appears)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.spatial.distance import jensenshannon
from scipy.special import rel_entr
from scipy.stats import chi2_contingency, ks_2samp, wasserstein_distance

from lowcarb.errors import InvalidValueError, UsageError
from lowcarb.monitoring import (
    DEFAULT_THRESHOLDS,
    STATISTICS,
    bin_counts,
    category_counts,
    compute_statistic,
    default_statistic,
)
from lowcarb.monitoring._stats import (
    PSI_EPSILON,
    chi2_test,
    compute_all,
    is_drift,
    jensen_shannon_distance,
    ks_test,
    psi,
    wasserstein_normed,
)

N = 5000


@pytest.fixture(scope="module")
def rng_samples() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(20240517)
    return {
        "ref": rng.normal(10.0, 2.0, N),
        "same": rng.normal(10.0, 2.0, N),
        "shifted": rng.normal(11.0, 2.0, N),  # +0.5 standard deviation
    }


def test_statistic_names_are_the_report_contract() -> None:
    assert STATISTICS == ("psi", "ks", "chi2", "jensen_shannon", "wasserstein")
    assert DEFAULT_THRESHOLDS == {
        "psi": 0.2,
        "ks": 0.05,
        "chi2": 0.05,
        "jensen_shannon": 0.1,
        "wasserstein": 0.1,
    }


def test_ks_is_scipys_two_sample_test(rng_samples: dict[str, np.ndarray]) -> None:
    ref, cur = rng_samples["ref"], rng_samples["shifted"]
    expected = ks_2samp(ref, cur)
    got = ks_test(ref, cur)
    assert got.value == expected.pvalue
    assert got.p_value == expected.pvalue
    assert got.test_statistic == expected.statistic


def test_wasserstein_is_scipys_distance_over_the_reference_std(
    rng_samples: dict[str, np.ndarray],
) -> None:
    ref, cur = rng_samples["ref"], rng_samples["shifted"]
    assert wasserstein_normed(ref, cur) == pytest.approx(
        wasserstein_distance(ref, cur) / np.std(ref), rel=1e-12
    )
    # A shift of half a standard deviation moves the mass half a standard deviation.
    assert wasserstein_normed(ref, cur) == pytest.approx(0.5, abs=0.05)


def test_wasserstein_of_a_constant_reference_divides_by_the_floor() -> None:
    ref = np.full(100, 3.0)
    assert wasserstein_normed(ref, ref + 0.01) == pytest.approx(0.01 / 1e-3)


def test_bins_are_reference_quantiles_with_open_outer_bins(
    rng_samples: dict[str, np.ndarray],
) -> None:
    ref = rng_samples["ref"]
    ref_counts, cur_counts = bin_counts(ref, np.array([-1e9, 1e9, float(np.median(ref))]), bins=10)
    assert ref_counts.tolist() == [0] + [N // 10] * 10 + [0]
    assert cur_counts.tolist() == [1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1]
    # The reference's own minimum and maximum stay in the first and last inner bins.
    _, edge_counts = bin_counts(ref, np.array([ref.min(), ref.max()]), bins=10)
    assert edge_counts.tolist() == [0, 1] + [0] * 8 + [1, 0]


def test_a_constant_reference_gets_below_equal_above_bins() -> None:
    ref_counts, cur_counts = bin_counts(np.full(50, 2.0), np.array([1.0, 2.0, 2.0, 3.0]))
    assert ref_counts.tolist() == [0, 50, 0]
    assert cur_counts.tolist() == [1, 2, 1]


def test_psi_is_the_symmetric_kl_of_binned_shares(rng_samples: dict[str, np.ndarray]) -> None:
    ref, cur = rng_samples["ref"], rng_samples["shifted"]
    ref_counts, cur_counts = bin_counts(ref, cur)
    p = np.maximum(ref_counts / ref_counts.sum(), PSI_EPSILON)
    q = np.maximum(cur_counts / cur_counts.sum(), PSI_EPSILON)
    textbook = float(np.sum((q - p) * np.log(q / p)))
    scipy_form = float(np.sum(rel_entr(q, p) + rel_entr(p, q)))
    got = compute_statistic("psi", "numeric", ref, cur).value
    assert got == pytest.approx(textbook, rel=1e-12)
    assert got == pytest.approx(scipy_form, rel=1e-12)


def test_psi_of_an_empty_bin_is_large_and_finite() -> None:
    value = psi(np.array([100, 0]), np.array([50, 50]))
    assert math.isfinite(value)
    assert value == pytest.approx((0.5 - 1.0) * math.log(0.5) + (0.5 - 1e-4) * math.log(0.5 / 1e-4))


def test_jensen_shannon_is_scipys_base_2_distance(rng_samples: dict[str, np.ndarray]) -> None:
    ref, cur = rng_samples["ref"], rng_samples["shifted"]
    ref_counts, cur_counts = bin_counts(ref, cur)
    expected = jensenshannon(ref_counts / ref_counts.sum(), cur_counts / cur_counts.sum(), base=2)
    assert compute_statistic("jensen_shannon", "numeric", ref, cur).value == pytest.approx(
        expected, rel=1e-12
    )
    assert jensen_shannon_distance(np.array([5, 0]), np.array([0, 5])) == 1.0
    assert jensen_shannon_distance(np.array([3, 7]), np.array([30, 70])) == 0.0


def test_chi2_is_scipys_contingency_test_on_category_counts() -> None:
    ref = ["a"] * 50 + ["b"] * 30 + ["c"] * 20
    cur = ["a"] * 30 + ["b"] * 30 + ["c"] * 30 + ["d"] * 10
    categories, ref_counts, cur_counts = category_counts(ref, cur)
    assert categories == ("a", "b", "c", "d")
    assert ref_counts.tolist() == [50, 30, 20, 0]
    assert cur_counts.tolist() == [30, 30, 30, 10]
    expected = chi2_contingency(np.array([[50, 30, 20, 0], [30, 30, 30, 10]]))
    got = compute_statistic("chi2", "categorical", np.array(ref, object), np.array(cur, object))
    assert got.value == pytest.approx(expected.pvalue, rel=1e-12)
    assert got.test_statistic == pytest.approx(expected.statistic, rel=1e-12)


def test_chi2_drops_bins_empty_in_both_windows() -> None:
    got = chi2_test(np.array([10, 0, 5]), np.array([12, 0, 3]))
    expected = chi2_contingency(np.array([[10, 5], [12, 3]]))
    assert got.value == pytest.approx(expected.pvalue)


def test_no_shift_on_a_large_sample_is_no_drift_for_every_statistic(
    rng_samples: dict[str, np.ndarray],
) -> None:
    results = compute_all("numeric", rng_samples["ref"], rng_samples["same"])
    assert set(results) == set(STATISTICS)
    for name, result in results.items():
        assert not is_drift(name, result.value, DEFAULT_THRESHOLDS[name]), (name, result.value)


def test_half_a_standard_deviation_is_drift_for_every_statistic(
    rng_samples: dict[str, np.ndarray],
) -> None:
    results = compute_all("numeric", rng_samples["ref"], rng_samples["shifted"])
    for name, result in results.items():
        assert is_drift(name, result.value, DEFAULT_THRESHOLDS[name]), (name, result.value)


def test_a_new_category_is_drift_for_every_categorical_statistic() -> None:
    rng = np.random.default_rng(7)
    ref = rng.choice(["red", "green", "blue"], N).astype(object)
    same = rng.choice(["red", "green", "blue"], N).astype(object)
    cur = rng.choice(["red", "green", "blue", "violet"], N).astype(object)
    stable = compute_all("categorical", ref, same)
    drifted = compute_all("categorical", ref, cur)
    assert set(drifted) == {"psi", "chi2", "jensen_shannon"}
    for name in drifted:
        assert not is_drift(name, stable[name].value, DEFAULT_THRESHOLDS[name]), name
        assert is_drift(name, drifted[name].value, DEFAULT_THRESHOLDS[name]), name


def test_defaults_follow_evidently_by_kind_and_reference_size() -> None:
    assert default_statistic("numeric", 1000) == "ks"
    assert default_statistic("numeric", 1001) == "wasserstein"
    assert default_statistic("categorical", 1000) == "chi2"
    assert default_statistic("categorical", 1001) == "jensen_shannon"


def test_p_values_drift_below_and_distances_above_the_threshold() -> None:
    assert is_drift("ks", 0.01, 0.05) and not is_drift("ks", 0.05, 0.05)
    assert is_drift("psi", 0.21, 0.2) and not is_drift("psi", 0.2, 0.2)


def test_ks_of_a_categorical_feature_is_refused_in_one_line() -> None:
    with pytest.raises(UsageError) as info:
        compute_statistic("ks", "categorical", np.array(["a"], object), np.array(["b"], object))
    assert str(info.value) == (
        "statistic 'ks' needs a numeric feature; for a categorical one choose "
        "psi, chi2, jensen_shannon"
    )


def test_empty_samples_and_bad_bins_are_refused() -> None:
    with pytest.raises(InvalidValueError, match="at least one value in each window"):
        compute_statistic("psi", "numeric", np.array([1.0]), np.array([]))
    with pytest.raises(InvalidValueError, match="bins must be a whole number of at least 2"):
        compute_statistic("psi", "numeric", np.array([1.0]), np.array([1.0]), bins=1)
