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


def _lenient(name: str = "lenient", pts: float = 10.0) -> Any:
    """Accuracy only: energy estimates move from run to run, these tests are about the files."""
    return policy_from_dict({"version": 1, "name": name, "rules": {"max_accuracy_drop_pts": pts}})


@pytest.fixture(scope="module")
def mlp_graph(mlp: Any, digits: tuple[Any, ...], tmp_path_factory: pytest.TempPathFactory) -> Any:
    from lowcarb.profiling import load_model

    path = tmp_path_factory.mktemp("graph") / "mlp.onnx"
    path.write_bytes(export(mlp, digits[1][:1]).onnx_bytes)
    graph, _ = load_model(path)
    return graph


def test_an_onnx_graph_is_quantized_from_its_own_bytes(
    mlp_graph: Any, digits: tuple[Any, ...], tmp_path: Path
) -> None:
    _, x_test, _, y_test = digits
    out = tmp_path / "small.onnx"
    report = compress(
        mlp_graph, x_calibration=x_test[:300], x_eval=x_test[300:], y_eval=y_test[300:],
        name="mlp", size_bytes=mlp_graph.path.stat().st_size, policy=_lenient(), output=out,
        settings=FAST, environ={},
    )  # fmt: skip
    made = {c.method: c for c in report.candidates}
    assert list(made) == ["dynamic-int8", "static-int8", "fp16", "distil"]
    assert all(c.error is None and c.profile is not None for c in made.values())
    graph_size = mlp_graph.path.stat().st_size
    int8 = made["dynamic-int8"].profile
    assert int8 is not None and int8.size_bytes < graph_size / 3  # FP32 weights became INT8
    assert int8.accuracy >= report.before.accuracy - 0.01
    assert report.reference is None  # the graph given is its own FP32 reference
    assert any("ONNX graph given" in n for n in made["fp16"].notes)
    assert out.is_file()


def test_what_does_not_apply_to_an_onnx_graph_is_refused(mlp_graph: Any) -> None:
    with pytest.raises(UsageError, match="--method prune applies to scikit-learn models"):
        compress(
            mlp_graph, x_calibration=np.zeros((5, 64)), x_eval=np.zeros((5, 64)),
            y_eval=np.zeros(5), name="g", size_bytes=1, method="prune",
        )  # fmt: skip


def test_a_compressed_student_keeps_its_classes(
    mlp: Any, digits: tuple[Any, ...], tmp_path: Path
) -> None:
    """The graph's metadata (here a student's class labels) survives quantization, so a
    variant of a cascade stage is a cascade stage."""
    from lowcarb.profiling import load_model

    _, x_test, _, y_test = digits
    path = tmp_path / "student.onnx"
    path.write_bytes(distil(mlp, x_test[:300]).onnx_bytes)
    student, _ = load_model(path)
    out = tmp_path / "student-int8.onnx"
    report = compress(
        student, x_calibration=x_test[:300], x_eval=x_test[300:], y_eval=y_test[300:],
        name="student", size_bytes=path.stat().st_size, method="dynamic-int8",
        policy=_lenient(), output=out, settings=FAST, environ={},
    )  # fmt: skip
    assert report.chosen is not None and out.is_file()
    quantized, _ = load_model(out)
    assert list(quantized.classes_) == list(mlp.classes_)
    assert quantized.predict_proba(x_test[:5]).shape == (5, 10)


def test_calibration_rows_of_another_width_are_refused_by_the_library(
    mlp: Any, digits: tuple[Any, ...]
) -> None:
    _, x_test, _, y_test = digits
    with pytest.raises(DataError, match=r"calibration set has 10 feature.*expects 64") as info:
        compress(
            mlp, x_calibration=x_test[:300, :10], x_eval=x_test[300:], y_eval=y_test[300:],
            name="mlp", size_bytes=1, settings=FAST, environ={},
        )  # fmt: skip
    assert "\n" not in str(info.value)
    with pytest.raises(DataError, match=r"evaluation set has 10 feature"):
        compress(
            mlp, x_calibration=x_test[:300], x_eval=x_test[300:, :10], y_eval=y_test[300:],
            name="mlp", size_bytes=1, settings=FAST, environ={},
        )  # fmt: skip


def test_the_output_is_a_new_onnx_file(
    mlp: Any, mlp_graph: Any, digits: tuple[Any, ...], tmp_path: Path
) -> None:
    _, x_test, _, y_test = digits
    model_file = tmp_path / "m.skops"
    model_file.write_bytes(b"the model")
    common: dict[str, Any] = {
        "x_calibration": x_test[:300], "x_eval": x_test[300:], "y_eval": y_test[300:],
        "name": "m", "size_bytes": 1, "settings": FAST, "environ": {},
    }  # fmt: skip
    with pytest.raises(UsageError, match=r"must end in \.onnx"):
        compress(mlp, output=model_file, model_path=model_file, **common)
    with pytest.raises(UsageError, match="is the model file itself"):
        compress(mlp, output=tmp_path / "x" / ".." / "m.onnx", model_path=tmp_path / "m.onnx",
                 **common)  # fmt: skip
    with pytest.raises(UsageError, match="is the model file itself"):  # a graph knows its file
        compress(mlp_graph, output=mlp_graph.path, **common)
    assert model_file.read_bytes() == b"the model"


def test_split_heldout_is_seeded_and_keeps_every_class_in_both_halves() -> None:
    from lowcarb.compression import split_heldout

    y = np.repeat(np.arange(10), 31)  # sorted by class, as files often are
    x = np.column_stack([y, np.arange(len(y))]).astype(float)
    x_cal, x_eval, y_eval = split_heldout(x, y)
    y_cal = x_cal[:, 0].astype(int)
    assert len(x_cal) + len(x_eval) == len(x) and len(x_eval) == len(y_eval)
    assert np.array_equal(x_eval[:, 0].astype(int), y_eval)  # rows keep their labels
    assert set(np.unique(x_cal[:, 1])).isdisjoint(np.unique(x_eval[:, 1]))
    for half in (y_cal, y_eval):
        assert np.abs(np.bincount(half, minlength=10) - 15.5).max() <= 0.5  # 15 or 16 a class
    again = split_heldout(x, y)
    assert all(np.array_equal(a, b) for a, b in zip(again, (x_cal, x_eval, y_eval), strict=True))
    other = split_heldout(x, y, seed=1)[0]
    assert not np.array_equal(other, x_cal)  # the seed draws the rows
    with pytest.raises(DataError, match="at least 40"):
        split_heldout(x[:30], y[:30])


def test_a_distilled_student_gives_probabilities_and_can_be_a_cascade_stage(
    mlp: Any, digits: tuple[Any, ...], tmp_path: Path
) -> None:
    import skops.io as sio

    from lowcarb.compression import fit_cascade, load_cascade, save_cascade
    from lowcarb.profiling import load_model

    _, x_test, _, y_test = digits
    path = tmp_path / "student.onnx"
    path.write_bytes(distil(mlp, x_test[:300]).onnx_bytes)
    student, _ = load_model(path)
    proba = student.predict_proba(x_test[300:])
    assert list(student.classes_) == list(mlp.classes_)
    assert proba.shape == (len(x_test) - 300, 10) and np.allclose(proba.sum(axis=1), 1.0)
    assert (proba >= 0).all()
    labels = student.predict(x_test[300:])
    assert np.mean(student.classes_[proba.argmax(axis=1)] == labels) > 0.99
    sio.dump(mlp, tmp_path / "mlp.skops")
    cascade = fit_cascade(
        [(path, student), (tmp_path / "mlp.skops", mlp)], x_test[300:], y_test[300:],
        max_accuracy_loss_pts=1.0, energy_per_1k_j=[0.1, 1.0],
    )  # fmt: skip
    save_cascade(tmp_path / "cascade.json", cascade)
    loaded = load_cascade(tmp_path / "cascade.json")
    assert np.mean(loaded.predict(x_test[300:]).predictions == y_test[300:]) > 0.9
