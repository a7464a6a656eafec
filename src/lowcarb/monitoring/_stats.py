"""The five drift statistics, each computed by SciPy, and the defaults that turn them into verdicts.

Every statistic compares a *reference* sample with a *current* sample of one feature (missing
values already removed; numeric samples finite floats, categorical samples text):

============== =========================================================== ========= ==========
statistic      computed by                                                 kinds     drift when
============== =========================================================== ========= ==========
psi            ``scipy.special.rel_entr`` on binned shares (see below)     both      value > 0.2
ks             ``scipy.stats.ks_2samp`` (two-sided)                        numeric   p < 0.05
chi2           ``scipy.stats.chi2_contingency`` on a 2 x K count table     both      p < 0.05
jensen_shannon ``scipy.spatial.distance.jensenshannon(base=2)``            both      value > 0.1
wasserstein    ``scipy.stats.wasserstein_distance`` / std(reference)       numeric   value > 0.1
============== =========================================================== ========= ==========

Binning (numeric features, for ``psi``, ``chi2`` and ``jensen_shannon``): the edges are the
reference's quantiles at 0, 1/bins, ..., 1 (``bins=10``: deciles), with tied edges merged, so each
bin holds about the same share of the reference. Two open bins are added, one below the
reference's minimum and one above its maximum: current values never seen in the reference land
there (their reference share is 0). A constant reference gets three bins: below, equal, above.
Categorical features are binned by category (the union of both windows' categories).

PSI (population stability index) is ``sum((q - p) * ln(q / p))`` over bins, with ``p`` the
reference share and ``q`` the current share: the symmetric (Jeffreys) Kullback-Leibler divergence,
computed as ``sum(rel_entr(q, p) + rel_entr(p, q))``. A share of 0 is replaced by
:data:`PSI_EPSILON` (1e-4, as Evidently does) so that an empty bin gives a large, finite PSI.
The 0.2 threshold is the common industry rule (Siddiqi, 2006, "Credit Risk Scorecards": under
0.1 stable, 0.1-0.25 a moderate shift, above 0.25 a major one; Yurdakul, 2018).

Jensen-Shannon is SciPy's Jensen-Shannon *distance* (the square root of the divergence) in base 2,
so it lies in 0..1. Wasserstein is the earth mover's distance in the feature's own unit divided by
the reference's standard deviation (population std; at least :data:`WASSERSTEIN_MIN_STD`), so
one threshold fits every feature: 0.1 means the mass moved a tenth of a standard deviation on
average. ``chi2`` tests homogeneity of the two windows' counts (Yates' correction for a 2 x 2
table, SciPy's default); categories or bins empty in both windows are dropped.

Defaults follow Evidently's data-drift preset (docs.evidentlyai.com, "Data drift: default
algorithm"): with at most :data:`LARGE_SAMPLE_ROWS` reference rows a test (``ks`` for numeric,
``chi2`` for categorical features) at p < 0.05; above that a distance (``wasserstein`` for
numeric, ``jensen_shannon`` for categorical features) at 0.1, because on large windows a test
flags differences too small to matter.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, get_args

import numpy as np
import numpy.typing as npt

from lowcarb.errors import InvalidValueError, MissingDependencyError, UsageError
from lowcarb.monitoring._report import StatisticName

try:
    from scipy.spatial.distance import jensenshannon  # type: ignore[import-untyped]
    from scipy.special import rel_entr  # type: ignore[import-untyped]
    from scipy.stats import (  # type: ignore[import-untyped]
        chi2_contingency,
        ks_2samp,
        wasserstein_distance,
    )
except ImportError:  # pragma: no cover - the monitor extra is part of dev installs
    raise MissingDependencyError("scipy", "monitor") from None

__all__ = [
    "CATEGORICAL_STATISTICS",
    "DEFAULT_BINS",
    "DEFAULT_THRESHOLDS",
    "LARGE_SAMPLE_ROWS",
    "NUMERIC_STATISTICS",
    "PSI_EPSILON",
    "P_VALUE_STATISTICS",
    "STATISTICS",
    "WASSERSTEIN_MIN_STD",
    "FeatureKind",
    "StatResult",
    "bin_counts",
    "category_counts",
    "check_statistic",
    "chi2_test",
    "compute_all",
    "compute_statistic",
    "default_statistic",
    "is_drift",
    "jensen_shannon_distance",
    "ks_test",
    "psi",
    "wasserstein_normed",
]

FeatureKind = Literal["numeric", "categorical"]
FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: Every statistic, in the order reports list them.
STATISTICS: tuple[StatisticName, ...] = get_args(StatisticName)
#: Statistics that apply to a numeric feature (``psi``, ``chi2``, ``jensen_shannon`` on bins).
NUMERIC_STATISTICS: tuple[StatisticName, ...] = STATISTICS
#: Statistics that apply to a categorical feature (KS and Wasserstein need an order and a scale).
CATEGORICAL_STATISTICS: tuple[StatisticName, ...] = ("psi", "chi2", "jensen_shannon")
#: Statistics whose value is a test's p-value: drift when the value is *below* the threshold.
P_VALUE_STATISTICS: frozenset[StatisticName] = frozenset({"ks", "chi2"})
#: Default thresholds (see the module docstring for where each comes from).
DEFAULT_THRESHOLDS: Mapping[StatisticName, float] = {
    "psi": 0.2,
    "ks": 0.05,
    "chi2": 0.05,
    "jensen_shannon": 0.1,
    "wasserstein": 0.1,
}
#: Above this many reference rows the default statistic is a distance, not a test (Evidently).
LARGE_SAMPLE_ROWS = 1000
#: Quantile bins of the reference for numeric PSI, chi-squared and Jensen-Shannon.
DEFAULT_BINS = 10
#: Share substituted for an empty bin in PSI (Evidently's value).
PSI_EPSILON = 1e-4
#: Smallest reference standard deviation Wasserstein is divided by (Evidently's value).
WASSERSTEIN_MIN_STD = 1e-3


@dataclass(frozen=True, slots=True)
class StatResult:
    """One statistic on one feature.

    Attributes:
        statistic: Which statistic.
        value: The value a threshold is compared with: the p-value for ``ks`` and ``chi2``, the
            distance (unitless) for the others.
        test_statistic: The test statistic for ``ks`` (D) and ``chi2`` (chi-squared), else None.
    """

    statistic: StatisticName
    value: float
    test_statistic: float | None = None

    @property
    def p_value(self) -> float | None:
        """The p-value for a test, None for a distance."""
        return self.value if self.statistic in P_VALUE_STATISTICS else None


def check_statistic(name: str, *, feature: str | None = None) -> StatisticName:
    """``name`` as a statistic name, or a one-line error listing the known ones.

    Raises:
        UsageError: Not one of :data:`STATISTICS`.
    """
    if name in STATISTICS:
        return name
    where = f" for feature {feature!r}" if feature is not None else ""
    raise UsageError(f"unknown statistic {name!r}{where}; choose one of: {', '.join(STATISTICS)}")


def default_statistic(kind: FeatureKind, reference_rows: int) -> StatisticName:
    """The statistic used when none is chosen (Evidently's rule; see the module docstring)."""
    large = reference_rows > LARGE_SAMPLE_ROWS
    if kind == "numeric":
        return "wasserstein" if large else "ks"
    return "jensen_shannon" if large else "chi2"


def is_drift(statistic: StatisticName, value: float, threshold: float) -> bool:
    """Whether ``value`` of ``statistic`` crosses ``threshold``.

    A p-value (``ks``, ``chi2``) drifts *below* the threshold, a distance *above* it.
    """
    if statistic in P_VALUE_STATISTICS:
        return value < threshold
    return value > threshold


def _shares(counts: FloatArray | IntArray) -> FloatArray:
    total = float(np.sum(counts))
    return np.asarray(counts, dtype=np.float64) / total


def psi(
    reference_counts: FloatArray | IntArray,
    current_counts: FloatArray | IntArray,
    *,
    epsilon: float = PSI_EPSILON,
) -> float:
    """Population stability index of two count vectors over the same bins.

    Args:
        reference_counts: Counts per bin in the reference window.
        current_counts: Counts per bin in the current window (same bins, same order).
        epsilon: Share substituted for an empty bin.

    Returns:
        ``sum((q - p) * ln(q / p))`` with shares ``p`` (reference) and ``q`` (current), >= 0.
    """
    p = np.maximum(_shares(reference_counts), epsilon)
    q = np.maximum(_shares(current_counts), epsilon)
    return float(np.sum(rel_entr(q, p) + rel_entr(p, q)))


def jensen_shannon_distance(
    reference_counts: FloatArray | IntArray, current_counts: FloatArray | IntArray
) -> float:
    """Jensen-Shannon distance (base 2, in 0..1) of two count vectors over the same bins."""
    value = float(jensenshannon(_shares(reference_counts), _shares(current_counts), base=2.0))
    # Rounding can step a hair outside 0..1 (the distance is a square root of a difference).
    return min(max(value, 0.0), 1.0)


def chi2_test(
    reference_counts: FloatArray | IntArray, current_counts: FloatArray | IntArray
) -> StatResult:
    """Chi-squared test of homogeneity of two count vectors (bins empty in both dropped)."""
    table = np.vstack([reference_counts, current_counts]).astype(np.float64)
    table = table[:, table.sum(axis=0) > 0]
    result = chi2_contingency(table)
    return StatResult("chi2", float(result.pvalue), test_statistic=float(result.statistic))


def ks_test(reference: FloatArray, current: FloatArray) -> StatResult:
    """Two-sample, two-sided Kolmogorov-Smirnov test (``scipy.stats.ks_2samp``, method auto)."""
    result = ks_2samp(reference, current)
    return StatResult("ks", float(result.pvalue), test_statistic=float(result.statistic))


def wasserstein_normed(reference: FloatArray, current: FloatArray) -> float:
    """Wasserstein-1 distance divided by the reference's standard deviation (unitless).

    The divisor is the population standard deviation (``ddof=0``), at least
    :data:`WASSERSTEIN_MIN_STD`, so a constant reference does not divide by zero.
    """
    scale = max(float(np.std(reference)), WASSERSTEIN_MIN_STD)
    return float(wasserstein_distance(reference, current)) / scale


def bin_counts(
    reference: FloatArray, current: FloatArray, *, bins: int = DEFAULT_BINS
) -> tuple[IntArray, IntArray]:
    """Counts of both samples in the reference's quantile bins (see the module docstring).

    Args:
        reference: Finite reference values (at least one).
        current: Finite current values.
        bins: Quantile bins of the reference (before tied edges merge), at least 2.

    Returns:
        ``(reference_counts, current_counts)`` over the same bins, the two open outer bins
        included.
    """
    edges = np.unique(np.quantile(reference, np.linspace(0.0, 1.0, bins + 1)))
    if edges.size == 1:
        n = 3

        def index(x: FloatArray) -> IntArray:
            return np.where(x < edges[0], 0, np.where(x == edges[0], 1, 2)).astype(np.int64)
    else:
        n = edges.size + 1

        def index(x: FloatArray) -> IntArray:
            # side="right": a value on an inner edge opens the next bin; the last inner bin is
            # closed on the right, so the reference maximum stays inside it.
            idx = np.searchsorted(edges, x, side="right").astype(np.int64)
            idx[x == edges[-1]] = edges.size - 1
            return idx

    return (
        np.bincount(index(reference), minlength=n).astype(np.int64),
        np.bincount(index(current), minlength=n).astype(np.int64),
    )


def category_counts(
    reference: Sequence[str] | npt.NDArray[np.object_],
    current: Sequence[str] | npt.NDArray[np.object_],
) -> tuple[tuple[str, ...], IntArray, IntArray]:
    """Counts per category of both samples over the union of their categories.

    Returns:
        ``(categories, reference_counts, current_counts)``; categories sorted, reference ones
        first, then those only in the current window.
    """
    ref_cats, ref_n = np.unique(np.asarray(reference, dtype=object).astype(str), return_counts=True)
    cur_cats, cur_n = np.unique(np.asarray(current, dtype=object).astype(str), return_counts=True)
    ref_map = dict(zip(ref_cats.tolist(), ref_n.tolist(), strict=True))
    cur_map = dict(zip(cur_cats.tolist(), cur_n.tolist(), strict=True))
    categories = tuple(sorted(ref_map)) + tuple(sorted(set(cur_map) - set(ref_map)))
    return (
        categories,
        np.array([ref_map.get(c, 0) for c in categories], dtype=np.int64),
        np.array([cur_map.get(c, 0) for c in categories], dtype=np.int64),
    )


def _counts(
    kind: FeatureKind,
    reference: FloatArray | npt.NDArray[np.object_],
    current: FloatArray | npt.NDArray[np.object_],
    bins: int,
) -> tuple[IntArray, IntArray]:
    if kind == "numeric":
        return bin_counts(
            np.asarray(reference, dtype=np.float64),
            np.asarray(current, dtype=np.float64),
            bins=bins,
        )
    _, ref_counts, cur_counts = category_counts(
        np.asarray(reference, dtype=object), np.asarray(current, dtype=object)
    )
    return ref_counts, cur_counts


def _check_inputs(
    statistic: StatisticName,
    kind: FeatureKind,
    reference: FloatArray | npt.NDArray[np.object_],
    current: FloatArray | npt.NDArray[np.object_],
    bins: int,
) -> None:
    if kind == "categorical" and statistic not in CATEGORICAL_STATISTICS:
        raise UsageError(
            f"statistic {statistic!r} needs a numeric feature; for a categorical one choose "
            f"{', '.join(CATEGORICAL_STATISTICS)}"
        )
    if len(reference) == 0 or len(current) == 0:
        raise InvalidValueError(
            f"statistic {statistic!r} needs at least one value in each window, got "
            f"{len(reference)} reference and {len(current)} current values"
        )
    if isinstance(bins, bool) or not isinstance(bins, int) or bins < 2:
        raise InvalidValueError(f"bins must be a whole number of at least 2, got {bins!r}")


def compute_statistic(
    statistic: StatisticName,
    kind: FeatureKind,
    reference: FloatArray | npt.NDArray[np.object_],
    current: FloatArray | npt.NDArray[np.object_],
    *,
    bins: int = DEFAULT_BINS,
) -> StatResult:
    """One statistic of one feature.

    Args:
        statistic: Which statistic (see :data:`STATISTICS`).
        kind: ``numeric`` (finite floats) or ``categorical`` (values compared as text).
        reference: The reference sample, missing values removed.
        current: The current sample, missing values removed.
        bins: Quantile bins of the reference for binned statistics of a numeric feature.

    Raises:
        UsageError: ``ks`` or ``wasserstein`` asked of a categorical feature.
        InvalidValueError: An empty sample, or ``bins`` below 2.
    """
    _check_inputs(statistic, kind, reference, current, bins)
    if statistic == "ks":
        return ks_test(np.asarray(reference, np.float64), np.asarray(current, np.float64))
    if statistic == "wasserstein":
        value = wasserstein_normed(
            np.asarray(reference, np.float64), np.asarray(current, np.float64)
        )
        return StatResult("wasserstein", value)
    ref_counts, cur_counts = _counts(kind, reference, current, bins)
    return _binned(statistic, ref_counts, cur_counts)


def _binned(statistic: StatisticName, ref_counts: IntArray, cur_counts: IntArray) -> StatResult:
    if statistic == "psi":
        return StatResult("psi", psi(ref_counts, cur_counts))
    if statistic == "chi2":
        return chi2_test(ref_counts, cur_counts)
    return StatResult("jensen_shannon", jensen_shannon_distance(ref_counts, cur_counts))


def compute_all(
    kind: FeatureKind,
    reference: FloatArray | npt.NDArray[np.object_],
    current: FloatArray | npt.NDArray[np.object_],
    *,
    bins: int = DEFAULT_BINS,
) -> dict[StatisticName, StatResult]:
    """Every statistic that applies to ``kind``, by name (the bins are computed once)."""
    names = NUMERIC_STATISTICS if kind == "numeric" else CATEGORICAL_STATISTICS
    _check_inputs(names[0], kind, reference, current, bins)
    ref_counts, cur_counts = _counts(kind, reference, current, bins)
    out: dict[StatisticName, StatResult] = {}
    for name in names:
        if name in ("ks", "wasserstein"):
            out[name] = compute_statistic(name, kind, reference, current, bins=bins)
        else:
            out[name] = _binned(name, ref_counts, cur_counts)
    for result in out.values():
        if not math.isfinite(result.value):  # pragma: no cover - guarded by the checks above
            raise InvalidValueError(f"statistic {result.statistic!r} is not finite on this data")
    return out
