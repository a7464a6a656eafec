"""CBPE against NannyML's own estimates on the same data, and against realised accuracy under a
known covariate shift.

``data/nannyml_cbpe_reference.json`` was written by ``scripts/nannyml_reference.py`` with NannyML
0.13.1 (a scratch environment; NannyML cannot share lowcarb's). It holds the inputs (rounded
scores, the model's predictions, labels) and NannyML's estimated accuracy per chunk.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from lowcarb.errors import DataError, InvalidValueError, UsageError
from lowcarb.monitoring import CbpeEstimator, fit_cbpe, realised_performance

REFERENCE = Path(__file__).parent / "data" / "nannyml_cbpe_reference.json"
#: Same algorithm, same scikit-learn isotonic regression, same inputs: agreement to rounding.
TOLERANCE = 1e-9


@pytest.fixture(scope="module")
def nannyml() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(REFERENCE.read_text(encoding="utf-8"))
    return data


@pytest.mark.parametrize("problem", ["binary", "multiclass"])
def test_cbpe_matches_nannyml_per_chunk(nannyml: dict[str, Any], problem: str) -> None:
    case = nannyml[problem]
    ref, ana = case["reference"], case["analysis"]
    estimator = fit_cbpe(
        ref["scores"],
        ref["labels"],
        reference_predictions=ref["predictions"],
        classes=case["classes"],
    )
    assert list(estimator.calibrated) == case["nannyml_calibrated"]
    scores, predictions = np.asarray(ana["scores"]), np.asarray(ana["predictions"])
    labels = np.asarray(ana["labels"])
    assert len(case["chunks"]) == 3
    for chunk in case["chunks"]:
        rows = slice(chunk["start_index"], chunk["end_index"] + 1)
        estimate = estimator.estimate(scores[rows], predictions[rows])
        assert estimate.method == "cbpe"
        assert estimate.value == pytest.approx(chunk["estimated_accuracy"], abs=TOLERANCE)
        realised = realised_performance(labels[rows], predictions[rows])
        assert realised.value == pytest.approx(chunk["realised_accuracy"], abs=1e-12)


def test_the_nannyml_reference_records_where_it_came_from(nannyml: dict[str, Any]) -> None:
    assert nannyml["nannyml_version"] == "0.13.1"
    assert nannyml["generated_by"] == "scripts/nannyml_reference.py"
    # Both calibration branches are exercised: calibrated and left-alone classes.
    assert set(nannyml["multiclass"]["nannyml_calibrated"]) == {True, False}


def _logistic_world(n: int, mean: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """x ~ N(mean, 1); P(y=1 | x) = sigmoid(2.5 x): the same concept, shifted inputs."""
    rng = np.random.default_rng(seed)
    x = rng.normal(mean, 1.0, n)
    p = 1.0 / (1.0 + np.exp(-2.5 * x))
    return p, (rng.random(n) < p).astype(int)


def test_cbpe_follows_realised_accuracy_under_a_known_covariate_shift() -> None:
    # A model that outputs the true probability; covariate shift towards the decision
    # boundary lowers accuracy (realised 0.869 to 0.809; CBPE says 0.812) without labels.
    ref_p, ref_y = _logistic_world(20_000, 1.0, seed=1)
    cur_p, cur_y = _logistic_world(20_000, 0.0, seed=2)
    estimator = fit_cbpe(ref_p, ref_y)
    estimate = estimator.estimate(cur_p)
    realised = realised_performance(cur_y, (cur_p >= 0.5).astype(int))
    assert estimate.value == pytest.approx(realised.value, abs=0.01)
    assert estimate.reference_value == pytest.approx(
        realised_performance(ref_y, (ref_p >= 0.5).astype(int)).value
    )
    assert estimate.drop_pts is not None and estimate.drop_pts > 4.0
    assert estimate.rows == 20_000


def test_binary_scores_as_one_column_or_two_are_the_same() -> None:
    p, y = _logistic_world(2000, 0.5, seed=3)
    one = fit_cbpe(p, y).estimate(p)
    two = fit_cbpe(np.column_stack([1 - p, p]), y).estimate(np.column_stack([1 - p, p]))
    assert one.value == two.value


def test_string_labels_follow_the_classes_order() -> None:
    p, y = _logistic_world(2000, 0.5, seed=4)
    names = np.where(y == 1, "spam", "ham")
    estimator = fit_cbpe(p, names)
    assert isinstance(estimator, CbpeEstimator)
    assert estimator.classes == ("ham", "spam")
    assert estimator.estimate(p).value == fit_cbpe(p, y).estimate(p).value


def test_bad_input_is_one_line() -> None:
    p, y = _logistic_world(200, 0.5, seed=5)
    with pytest.raises(UsageError, match="the reference has 200 score rows but 199 labels"):
        fit_cbpe(p, y[:-1])
    with pytest.raises(InvalidValueError, match="give probabilities, not logits"):
        fit_cbpe(p * 3.0, y)
    bad = p.copy()
    bad[4] = np.nan
    with pytest.raises(DataError) as info:
        fit_cbpe(bad, y)
    assert str(info.value) == (
        "reference scores holds a missing or non-finite score (row 5); fix it"
    )
    with pytest.raises(DataError) as info:
        fit_cbpe(p, np.where(np.arange(200) == 9, 7, y), classes=[0, 1])
    assert str(info.value) == (
        "reference labels holds 7 (row 10), not one of the classes 0, 1; fix it or give classes="
    )
    with pytest.raises(UsageError, match="at least two classes"):
        fit_cbpe(p, np.ones(200, dtype=int), classes=[1])
    estimator = fit_cbpe(p, y)
    with pytest.raises(UsageError, match="has shape \\(200, 3\\)"):
        estimator.estimate(np.full((200, 3), 1 / 3))
    with pytest.raises(UsageError, match="predictions has 2 rows but the scores have 200"):
        estimator.estimate(p, [0, 1])
    with pytest.raises(UsageError, match="3 labels but 2 predictions"):
        realised_performance([0, 1, 1], [0, 1])
    with pytest.raises(DataError, match="no labels to score"):
        realised_performance([], [])
