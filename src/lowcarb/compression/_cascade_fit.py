"""Fit a cascade's thresholds on validation data: least expected energy within an accuracy loss.

Each stage's class probabilities on the validation rows are computed once; every candidate set of
thresholds is then scored by simulation (vectorised, no model call): the stage that answers each
row, the accuracy, the share answered per stage and the expected energy per request. Candidates
per stage are 0, 1 and quantiles of that stage's validation confidences; with more than two
stages the grid is coarser so the search stays near 20,000 combinations.

The loss compared with a limit is the validation loss against the last stage plus ``margin_sd``
standard errors of that paired difference: on a few hundred rows one row is a quarter of a point,
and a plain validation loss would certify "within 0.5 pt" on noise.
"""

from __future__ import annotations

import itertools
import logging
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from lowcarb.compression._cascade import (
    FITTED_POINT,
    Cascade,
    EnergyMethod,
    FittedOn,
    OperatingPoint,
    Stage,
    stage_proba,
)
from lowcarb.energy import Meter
from lowcarb.errors import DataError, InvalidValueError, UsageError
from lowcarb.profiling import EnergyStats, check_features, sha256_hex

__all__ = [
    "DEFAULT_EXTRA_LOSSES_PTS",
    "DEFAULT_MARGIN_SD",
    "check_same_classes",
    "fit_cascade",
    "measure_stage_energy",
    "simulate",
]

_log = logging.getLogger(__name__)

#: Allowed accuracy losses (points) of the cheaper points pre-fitted for a dirty grid.
DEFAULT_EXTRA_LOSSES_PTS = (1.0, 2.0, 5.0)
_MAX_COMBINATIONS = 20_000
#: Standard errors of the loss estimate a fit adds before comparing with the limit (2: the
#: limit holds at about 97.7% one-sided confidence under a normal approximation).
DEFAULT_MARGIN_SD = 2.0


def _check_stage_model(path: Path, model: Any) -> None:
    if (
        not callable(getattr(model, "predict_proba", None))
        or getattr(model, "classes_", None) is None
    ):
        raise UsageError(
            f"cascade model {str(path)!r} ({type(model).__name__}) gives no class probabilities "
            "(predict_proba and classes_); use a scikit-learn classifier saved with skops, or an "
            "ONNX classifier exported by skl2onnx or lowcarb compress"
        )


def check_same_classes(stages: Sequence[tuple[Path, Any]], *, source: str) -> None:
    """Refuse stages whose classes differ (their probabilities would not be comparable).

    Raises:
        UsageError: Names the first model whose classes differ from the first stage's.
    """
    first_path, first = stages[0]
    for path, model in stages:
        _check_stage_model(path, model)
        if not np.array_equal(np.asarray(model.classes_), np.asarray(first.classes_)):
            raise UsageError(
                f"{source}: model {str(path)!r} predicts classes {list(model.classes_)[:10]!r}, "
                f"but {str(first_path)!r} predicts {list(first.classes_)[:10]!r}; every stage "
                "must be trained on the same labels"
            )


def _answered_at(confidences: np.ndarray[Any, Any], thresholds: Sequence[float]) -> Any:
    n, k = confidences.shape
    sure = np.ones((n, k), dtype=bool)
    sure[:, :-1] = confidences[:, :-1] > np.asarray(thresholds)
    return sure.argmax(axis=1)


def simulate(
    confidences: np.ndarray[Any, Any],
    correct: np.ndarray[Any, Any],
    thresholds: Sequence[float],
    energy_per_1k_j: Sequence[float],
) -> tuple[float, float, tuple[float, ...]]:
    """Score thresholds without calling a model.

    Args:
        confidences: ``(rows, stages)`` largest class probability of each stage.
        correct: ``(rows, stages)`` whether each stage's prediction is right.
        thresholds: One per stage but the last; a stage answers when confidence > threshold.
        energy_per_1k_j: Joules per 1,000 requests of each stage.

    Returns:
        ``(accuracy, expected J per 1,000 requests, share answered per stage)``.
    """
    n, k = confidences.shape
    answered_at = _answered_at(confidences, thresholds)
    accuracy = float(correct[np.arange(n), answered_at].mean())
    shares = np.bincount(answered_at, minlength=k) / n
    reaching = 1.0 - np.concatenate(([0.0], np.cumsum(shares)[:-1]))
    energy = float(np.dot(reaching, np.asarray(energy_per_1k_j)))
    return accuracy, energy, tuple(float(s) for s in shares)


def _loss_bound(
    confidences: np.ndarray[Any, Any],
    correct: np.ndarray[Any, Any],
    thresholds: Sequence[float],
    margin_sd: float,
) -> float:
    """Accuracy loss against the last stage plus ``margin_sd`` standard errors, as a fraction.

    The loss is a paired difference on the same rows (last stage right minus cascade right), so
    its standard error comes from the rows where the two disagree: with few validation rows a
    loss that looks small is not trusted to be small.
    """
    n = len(confidences)
    cascade_right = correct[np.arange(n), _answered_at(confidences, thresholds)]
    diff = correct[:, -1].astype(np.float64) - cascade_right
    se = float(diff.std(ddof=1)) / math.sqrt(n) if n > 1 else 0.0
    return float(diff.mean()) + margin_sd * se


def _candidates(conf: np.ndarray[Any, Any], count: int) -> list[float]:
    quantiles = np.quantile(conf, np.linspace(0.0, 1.0, count))
    # Just below each quantile too, so "answer every row at least this sure" is reachable.
    values = {0.0, 1.0, *quantiles.tolist(), *np.nextafter(quantiles, 0.0).tolist()}
    return sorted(v for v in values if 0.0 <= v <= 1.0)


def _search(
    confidences: np.ndarray[Any, Any],
    correct: np.ndarray[Any, Any],
    energy: Sequence[float],
    max_loss: float,
    margin_sd: float,
) -> tuple[tuple[float, ...], float, float, tuple[float, ...]]:
    k = confidences.shape[1]
    per_stage = max(3, min(101, int(_MAX_COMBINATIONS ** (1.0 / (k - 1)) / 2)))
    grids = [_candidates(confidences[:, i], per_stage) for i in range(k - 1)]
    best: tuple[tuple[float, ...], float, float, tuple[float, ...]] | None = None
    for combo in itertools.product(*grids):
        acc, joules, shares = simulate(confidences, correct, combo, energy)
        if best is not None and (joules, -acc) >= (best[2], -best[1]):
            continue
        if _loss_bound(confidences, correct, combo, margin_sd) > max_loss + 1e-12:
            continue
        best = (tuple(combo), acc, joules, shares)
    if best is None:  # all thresholds 1: every request to the largest model meets any limit
        ones = (1.0,) * (k - 1)
        acc, joules, shares = simulate(confidences, correct, ones, energy)
        best = (ones, acc, joules, shares)
    return best


def fit_cascade(
    models: Sequence[tuple[str | Path, Any]],
    x_val: Any,
    y_val: Any,
    *,
    max_accuracy_loss_pts: float,
    energy_per_1k_j: Sequence[float],
    energy_method: EnergyMethod | Sequence[EnergyMethod] = "estimated",
    extra_losses_pts: Sequence[float] = DEFAULT_EXTRA_LOSSES_PTS,
    dataset: str = "validation set",
    margin_sd: float = DEFAULT_MARGIN_SD,
) -> Cascade:
    """Fit a cascade's thresholds on validation data.

    The fitted point minimises expected energy per request subject to validation accuracy at
    least the largest (last) model's accuracy minus ``max_accuracy_loss_pts`` points. A cheaper
    point is fitted the same way for each of ``extra_losses_pts`` larger than that limit
    (names ``loss-1pt``, ``loss-2pt``...), for a dirty grid.

    Args:
        models: ``(file path, loaded model)`` pairs, cheapest first; each has ``predict_proba``.
        x_val: Validation rows.
        y_val: Validation labels.
        max_accuracy_loss_pts: Allowed accuracy loss against the largest model, points (0..100).
        energy_per_1k_j: Joules per 1,000 requests of each stage at batch 1 (measured with
            :func:`measure_stage_energy`).
        energy_method: ``measured`` or ``estimated``, for all stages or per stage.
        extra_losses_pts: Losses of the pre-fitted cheaper points, points.
        dataset: Description of the validation set (recorded in the cascade file).
        margin_sd: Standard errors of the paired accuracy difference added to the validation
            loss before it is compared with a limit (0: the plain validation loss). The default
            keeps a small validation set from certifying a loss it cannot resolve.

    Raises:
        UsageError: Fewer than 2 models, a model without probabilities, differing classes, or
            energies that do not match the models.
        InvalidValueError: A loss outside 0..100 or a negative energy.
        DataError: Validation rows the models cannot take, or rows and labels that differ.
    """
    if len(models) < 2:
        raise UsageError(f"a cascade needs at least 2 models, got {len(models)}")
    if len(energy_per_1k_j) != len(models):
        raise UsageError(
            f"{len(energy_per_1k_j)} energy figure(s) for {len(models)} models; give one per model"
        )
    for e in energy_per_1k_j:
        if not math.isfinite(e) or e < 0:
            raise InvalidValueError(f"energy per 1,000 requests {e!r} J must be a number >= 0")
    if not math.isfinite(margin_sd) or margin_sd < 0:
        raise InvalidValueError(f"margin_sd {margin_sd!r} must be a number >= 0 (e.g. 1.0)")
    for loss in (max_accuracy_loss_pts, *extra_losses_pts):
        if not math.isfinite(loss) or not 0.0 <= loss <= 100.0:
            raise InvalidValueError(
                f"accuracy loss {loss!r} points is outside 0..100; e.g. 0.5 for half a point"
            )
    methods = [energy_method] * len(models) if isinstance(energy_method, str) else energy_method
    if len(methods) != len(models) or any(m not in ("measured", "estimated") for m in methods):
        raise UsageError(f"energy_method {energy_method!r}: give 'measured' or 'estimated'")
    paths = [(Path(p), m) for p, m in models]
    check_same_classes(paths, source="cascade")
    x = np.asarray(x_val)
    y = np.asarray(y_val)
    if len(x) != len(y) or len(x) == 0:
        raise DataError(f"validation rows ({len(x)}) and labels ({len(y)}) must match and be > 0")
    confidences = np.empty((len(x), len(paths)))
    correct = np.empty((len(x), len(paths)), dtype=bool)
    for i, (path, model) in enumerate(paths):
        check_features(model, x, data=f"validation set for {str(path)!r}")
        stage = Stage(path, "", model, float(energy_per_1k_j[i]), methods[i], 0)
        proba = stage_proba(stage, x)
        best = proba.argmax(axis=1)
        confidences[:, i] = proba[np.arange(len(x)), best]
        correct[:, i] = np.asarray(model.classes_)[best] == y
    largest = float(correct[:, -1].mean())
    points = []
    for name, loss in [(FITTED_POINT, max_accuracy_loss_pts)] + [
        (f"loss-{e:g}pt", e) for e in sorted(set(extra_losses_pts)) if e > max_accuracy_loss_pts
    ]:
        thresholds, acc, joules, shares = _search(
            confidences, correct, energy_per_1k_j, loss / 100.0, margin_sd
        )
        points.append(OperatingPoint(name, thresholds, acc, joules, shares, float(loss)))
    stages = [
        Stage(
            path,
            sha256_hex(path.read_bytes()),
            model,
            float(energy_per_1k_j[i]),
            methods[i],
            path.stat().st_size,
        )
        for i, (path, model) in enumerate(paths)
    ]
    if points[0].energy_per_1k_j > energy_per_1k_j[-1]:
        _log.warning(
            "the fitted cascade expects %.4g J per 1k requests, more than the last model alone "
            "(%.4g): too few requests stop early; serve the last model alone",
            points[0].energy_per_1k_j,
            energy_per_1k_j[-1],
        )
    fitted_on = FittedOn(dataset, len(x), largest, float(max_accuracy_loss_pts), margin_sd)
    return Cascade(stages, points, fitted_on)


def measure_stage_energy(
    model: Any,
    x: Any,
    *,
    meters: Sequence[Meter] | None = None,
    environ: Mapping[str, str] | None = None,
    min_inferences: int = 200,
    min_duration_s: float = 0.5,
    max_duration_s: float = 2.0,
) -> EnergyStats:
    """Joules per 1,000 requests of one stage: ``predict_proba`` at batch 1 on rows of ``x``.

    Measured with :func:`lowcarb.profiling.measure_energy` (a Tracker with ``ledger=""``);
    ``method`` says measured or estimated. ``meters`` and ``environ`` go to the Tracker.
    """
    from lowcarb.compression._variants import inference_energy

    return inference_energy(
        model.predict_proba,
        np.asarray(x),
        meters=meters,
        environ=environ,
        batch_size=1,
        min_inferences=min_inferences,
        min_duration_s=min_duration_s,
        max_duration_s=max_duration_s,
    )
