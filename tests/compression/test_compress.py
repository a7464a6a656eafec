"""Compression on real models and bundled data: the sizes, accuracies and verdicts measured."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from lowcarb.compression import compress, distil, export, to_fp16, to_static_int8
from lowcarb.errors import DataError, UsageError
from lowcarb.governance import policy_from_dict
from lowcarb.profiling import ProfileSettings

FAST = ProfileSettings(
    batch_size=32, latency_calls=40, latency_max_s=0.5, warmup_calls=2,
    energy_min_inferences=100, energy_min_duration_s=0.2, energy_max_duration_s=0.5,
)  # fmt: skip


@pytest.fixture(scope="module")
def digits() -> tuple[Any, ...]:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    x, y = load_digits(return_X_y=True)
    x = x / 16.0
    return tuple(train_test_split(x, y, test_size=0.4, random_state=0))


@pytest.fixture(scope="module")
def mlp(digits: tuple[Any, ...]) -> Any:
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    x_train, _, y_train, _ = digits
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return MLPClassifier((128, 128), max_iter=60, random_state=0).fit(x_train, y_train)


def _accuracy(data: bytes, x: Any, y: Any) -> float:
    import onnxruntime as ort

    session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    out = session.run(None, {name: np.asarray(x, dtype=np.float32)})[0]
    return float((np.asarray(out) == y).mean())


def test_static_int8_and_fp16_shrink_the_graph_and_keep_accuracy(
    mlp: Any, digits: tuple[Any, ...]
) -> None:
    _, x_test, _, y_test = digits
    fp32 = export(mlp, x_test[:300], quantize="fp32").onnx_bytes
    int8 = to_static_int8(fp32, x_test[:300])
    half = to_fp16(fp32)
    base = _accuracy(fp32, x_test[300:], y_test[300:])
    assert len(int8) < len(fp32) / 3 and len(half) < len(fp32) * 0.7
    assert _accuracy(int8, x_test[300:], y_test[300:]) >= base - 0.01
    assert _accuracy(half, x_test[300:], y_test[300:]) >= base - 0.005


def test_fp16_and_static_int8_of_a_scaler_and_mlp_pipeline_load_and_keep_accuracy(
    digits: tuple[Any, ...],
) -> None:
    """skl2onnx puts an ONNX-ML Scaler and a Cast in front of the MLP: FP16 made a graph ONNX
    Runtime refused, static INT8 failed in ORT's quantizer, until the float types after the
    scaler were declared."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x_train, x_test, y_train, y_test = digits
    pipe = make_pipeline(StandardScaler(), MLPClassifier((64,), max_iter=200, random_state=0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        pipe.fit(x_train * 16.0, y_train)  # raw pixel values: the scaler does the work
    data = export(pipe, x_test[:1] * 16.0).onnx_bytes
    base = _accuracy(data, x_test[300:] * 16.0, y_test[300:])
    assert base > 0.9
    for variant in (to_fp16(data), to_static_int8(data, x_test[:300] * 16.0)):
        assert _accuracy(variant, x_test[300:] * 16.0, y_test[300:]) >= base - 0.01


def test_static_int8_refuses_calibration_rows_of_another_width(mlp: Any) -> None:
    fp32 = export(mlp, np.zeros((1, 64)), quantize="fp32").onnx_bytes
    with pytest.raises(DataError, match=r"calibration data has shape 10x5; .* 64 features"):
        to_static_int8(fp32, np.zeros((10, 5)))


def test_distillation_makes_a_much_smaller_student_that_mostly_agrees(
    mlp: Any, digits: tuple[Any, ...]
) -> None:
    _, x_test, _, y_test = digits
    student = distil(mlp, x_test[:300], hidden=32)
    teacher_bytes = export(mlp, x_test[:1]).onnx_bytes
    assert len(student.onnx_bytes) < len(teacher_bytes) / 5
    assert _accuracy(student.onnx_bytes, x_test[300:], y_test[300:]) > 0.85


def test_a_student_learns_a_teacher_that_scales_its_inputs_inside() -> None:
    """A teacher pipeline scales raw inputs itself; the student must too (on raw pixel values
    0-16 an unscaled student learned this teacher to 43%)."""
    from sklearn.datasets import load_digits
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import train_test_split
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x, y = load_digits(return_X_y=True)  # raw: 0-16
    x_train, x_rest, y_train, y_rest = train_test_split(x, y, test_size=0.25, random_state=0)
    teacher = make_pipeline(StandardScaler(), MLPClassifier((128,), max_iter=300, random_state=0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        teacher.fit(x_train, y_train)
    student = distil(teacher, x_rest[:225])
    assert _accuracy(student.onnx_bytes, x_rest[225:], y_rest[225:]) > 0.8


def test_distillation_needs_probabilities() -> None:
    with pytest.raises(UsageError, match="predict_proba"):
        distil(object(), np.zeros((30, 4)))


def test_compress_auto_writes_the_best_passing_variant(
    mlp: Any, digits: tuple[Any, ...], tmp_path: Path
) -> None:
    _, x_test, _, y_test = digits
    out = tmp_path / "small.onnx"
    report = compress(
        mlp, x_calibration=x_test[:300], x_eval=x_test[300:], y_eval=y_test[300:],
        name="mlp", size_bytes=500_000, output=out, settings=FAST, environ={},
    )  # fmt: skip
    assert report.chosen is not None and report.chosen.passed
    assert out.is_file() and out.read_bytes() == report.chosen.onnx_bytes
    after = report.chosen.profile
    assert after is not None and report.reference is not None
    assert after.size_bytes < report.reference.size_bytes  # cheaper than the plain export too
    assert after.accuracy >= report.before.accuracy - 0.01  # the default policy: 1 point
    methods = {c.method for c in report.candidates}
    assert {"dynamic-int8", "static-int8", "fp16", "distil"} <= methods
    data = report.to_dict()
    assert set(data) >= {"before", "after", "verdict"} and data["verdict"]["decision"] == "promote"


def test_a_variant_that_loses_too_much_is_reported_and_not_written(
    mlp: Any, digits: tuple[Any, ...], tmp_path: Path
) -> None:
    _, x_test, _, y_test = digits
    strict = policy_from_dict(
        {"version": 1, "name": "strict", "rules": {"max_accuracy_drop_pts": 0.0}}
    )
    out = tmp_path / "never.onnx"
    report = compress(
        mlp, x_calibration=x_test[:300], x_eval=x_test[300:], y_eval=y_test[300:],
        name="mlp", size_bytes=500_000, method="distil", policy=strict, output=out,
        settings=FAST, environ={},
    )  # fmt: skip
    (candidate,) = report.candidates
    assert not candidate.passed and candidate.verdict is not None
    assert candidate.verdict.decision == "reject"
    assert report.chosen is None and not out.exists()
    assert report.to_dict()["verdict"]["decision"] == "reject"


def test_pruning_a_forest_really_removes_trees(digits: tuple[Any, ...], tmp_path: Path) -> None:
    from sklearn.ensemble import RandomForestClassifier

    x_train, x_test, y_train, y_test = digits
    forest = RandomForestClassifier(n_estimators=60, random_state=0).fit(x_train, y_train)
    lenient = policy_from_dict(
        {"version": 1, "name": "lenient", "rules": {"max_accuracy_drop_pts": 3}}
    )
    report = compress(
        forest, x_calibration=x_test[:300], x_eval=x_test[300:], y_eval=y_test[300:],
        name="rf", size_bytes=1_000_000, method="prune", policy=lenient, settings=FAST,
        environ={},
    )  # fmt: skip
    (candidate,) = report.candidates
    assert candidate.profile is not None and report.reference is not None
    assert candidate.profile.size_bytes < report.reference.size_bytes * 0.6  # half the trees
    assert candidate.passed
