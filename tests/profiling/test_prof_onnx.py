"""ONNX graphs: loading, FLOP/parameter counts from the graph, profiling through library and CLI."""

from __future__ import annotations

import json
import sys
import warnings
from io import StringIO
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper
from skl2onnx import to_onnx
from sklearn.datasets import load_digits
from sklearn.ensemble import RandomForestClassifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier

from lowcarb.cli import main
from lowcarb.cli._common import CliContext
from lowcarb.energy import FakeMeter
from lowcarb.errors import DataError, MissingDependencyError, UsageError
from lowcarb.profiling import ProfileSettings, count_complexity, load_model, profile_model
from lowcarb.profiling._onnx import OnnxModel, load_onnx
from lowcarb.profiling._onnx_complexity import count_onnx_complexity

FAST = ProfileSettings(
    batch_size=16,
    latency_calls=20,
    latency_max_s=0.2,
    warmup_calls=1,
    energy_min_inferences=20,
    energy_min_duration_s=0.05,
    energy_max_duration_s=1.0,
)


@pytest.fixture(scope="module")
def digits() -> tuple[Any, Any, Any, Any]:
    x, y = load_digits(return_X_y=True)
    return tuple(train_test_split(x, y, test_size=0.25, random_state=0))  # type: ignore[return-value]


@pytest.fixture(scope="module")
def fitted(digits: Any) -> dict[str, Any]:
    x_train, _, y_train, _ = digits
    mlp = MLPClassifier(hidden_layer_sizes=(16,), max_iter=20, random_state=0)
    with pytest.warns(ConvergenceWarning):  # 20 iterations are deliberately few: speed
        mlp.fit(x_train, y_train)
    return {
        "lr": LogisticRegression(max_iter=300).fit(x_train, y_train),
        "mlp": mlp,
        "rf": RandomForestClassifier(n_estimators=4, random_state=0).fit(x_train, y_train),
    }


def _save(model: Any, x: Any, path: Path) -> Path:
    path.write_bytes(to_onnx(model, x[:1].astype(np.float32)).SerializeToString())
    return path


@pytest.mark.parametrize("kind", ["lr", "mlp", "rf"])
def test_converted_models_profile_like_their_sklearn_originals(
    kind: str, fitted: dict[str, Any], digits: Any, tmp_path: Path
) -> None:
    _, x_test, _, y_test = digits
    sk = fitted[kind]
    path = _save(sk, x_test, tmp_path / f"{kind}.onnx")
    model, size = load_model(path)
    assert isinstance(model, OnnxModel) and size == path.stat().st_size
    # float32 inside the graph: a row on a threshold could flip, so allow a stray label.
    assert np.mean(model.predict(x_test) == sk.predict(x_test)) >= 0.995
    onnx_c, sk_c = count_complexity(model), count_complexity(sk)
    assert onnx_c.params == sk_c.params
    if kind in ("lr", "mlp"):
        assert onnx_c.flops == sk_c.flops
    else:
        # No training samples in the graph: the path is a random walk, so only the leaf
        # aggregation (4 trees x 10 classes) is exact; the comparisons stay within the trees.
        assert onnx_c.flops is not None and sk_c.flops is not None
        depths = [e.get_depth() for e in sk.estimators_]
        assert 40 + 4 <= onnx_c.flops <= 40 + sum(depths)
        assert "probability 1/2" in onnx_c.note
    p = profile_model(
        model,
        x_test,
        y_test,
        name=kind,
        version="1",
        size_bytes=size,
        settings=FAST,
        meters=[FakeMeter(power_w={"cpu": 10.0}, source="fake:cpu")],
        environ={},
    )
    assert p.flops == onnx_c.flops and p.params == onnx_c.params
    assert p.accuracy == pytest.approx(float(np.mean(model.predict(x_test) == y_test)))
    assert p.accuracy == pytest.approx(float(np.mean(sk.predict(x_test) == y_test)), abs=0.005)
    assert p.framework == "onnxruntime" and p.model_class is not None
    assert "skl2onnx" in p.model_class
    assert p.energy_method == "measured" and p.energy_per_1k_j > 0


def test_profile_an_onnx_model_through_the_cli(
    fitted: dict[str, Any], digits: Any, tmp_path: Path
) -> None:
    _, x_test, _, y_test = digits
    path = _save(fitted["mlp"], x_test, tmp_path / "mlp.onnx")
    np.savez(tmp_path / "held.npz", X=x_test, y=y_test)
    out, err = StringIO(), StringIO()
    code = main(
        [
            "profile",
            "--model",
            str(path),
            "--data",
            str(tmp_path / "held.npz"),
            "--version",
            "2",
            "--latency-calls",
            "20",
            "--batch-size",
            "8",
            "--energy-seconds",
            "0.05",
            "--energy-inferences",
            "20",
            "--json",
        ],
        ctx=CliContext(stdout=out, stderr=err, environ={"LOWCARB_METERS": "cpu-model"}),
    )
    assert code == 0, err.getvalue()
    data = json.loads(out.getvalue())
    assert data["model"] == "mlp" and data["version"] == "2"
    assert data["flops"] == 2 * (64 * 16 + 16 * 10)
    assert data["size_bytes"] == path.stat().st_size
    assert data["energy_method"] == "estimated"  # the real Tracker with the CPU model
    assert data["accuracy"] == pytest.approx(
        float(np.mean(fitted["mlp"].predict(x_test) == y_test))
    )


def _graph(nodes: list[Any], inits: list[Any], x_shape: list[Any], y_shape: list[Any]) -> Any:
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, x_shape)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, y_shape)],
        initializer=inits,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def _init(name: str, shape: tuple[int, ...]) -> Any:
    return numpy_helper.from_array(np.ones(shape, dtype=np.float32), name)


def test_an_unsupported_operator_gives_no_flops_and_names_it(tmp_path: Path) -> None:
    proto = _graph(
        [helper.make_node("MatMul", ["x", "w"], ["h"]), helper.make_node("Erf", ["h"], ["y"])],
        [_init("w", (4, 3))],
        ["N", 4],
        ["N", 3],
    )
    path = tmp_path / "erf.onnx"
    onnx.save(proto, str(path))
    model, _ = load_model(path)
    c = count_complexity(model)
    assert c.flops is None and c.params == 12
    assert "Erf" in c.note and "not counted" in c.note
    assert model.predict(np.zeros((2, 4))).shape == (2,)  # float scores -> argmax labels


def test_int8_variants_count_like_their_fp32_graph(fitted: dict[str, Any], digits: Any) -> None:
    """ONNX Runtime's dynamic (MatMulInteger) and static (QDQ) INT8 graphs have the FLOPs and
    parameters of the FP32 graph they came from, within their quantization arithmetic: a FLOPs
    rule in a policy can judge an INT8 variant."""
    from lowcarb.compression import export, to_static_int8

    x_train, x_test, _, _ = digits
    fp32 = export(fitted["mlp"], x_test[:1]).onnx_bytes
    dynamic = export(fitted["mlp"], x_test[:1], quantize="int8").onnx_bytes
    base = count_onnx_complexity(onnx.load_from_string(fp32))
    assert base.flops
    for data in (dynamic, to_static_int8(fp32, x_train[:200])):
        c = count_onnx_complexity(onnx.load_from_string(data))
        # plus the dequantizing Mul and the bias Add per layer: 2% of this small MLP
        assert c.flops == pytest.approx(base.flops, rel=0.05), c.note
        assert c.params == pytest.approx(base.params, rel=0.02)
        assert "QuantizeLinear" in c.note and "not counted" in c.note


def test_gemm_conv_and_elementwise_counts() -> None:
    # Conv 1x3x8x8 -> 1x4x6x6 (3x3 kernel, bias), flatten 144, Gemm to 5 (bias), Mul by 2, Relu.
    nodes = [
        helper.make_node("Conv", ["x", "k", "kb"], ["c"]),
        helper.make_node("Flatten", ["c"], ["f"]),
        helper.make_node("Gemm", ["f", "w", "b"], ["g"], transB=1),
        helper.make_node("Mul", ["g", "two"], ["m"]),
        helper.make_node("Relu", ["m"], ["y"]),
    ]
    inits = [
        _init("k", (4, 3, 3, 3)),
        _init("kb", (4,)),
        _init("w", (5, 144)),
        _init("b", (5,)),
        _init("two", (1,)),
    ]
    c = count_onnx_complexity(_graph(nodes, inits, [None, 3, 8, 8], [None, 5]))
    conv = 2 * 4 * 6 * 6 * 3 * 3 * 3
    assert c.flops == conv + 2 * 144 * 5 + 5
    assert c.params == 4 * 27 + 4 + 5 * 144 + 5 + 1
    assert "Relu" in c.note
    # A second dynamic dimension leaves a shape unknown: no number rather than a wrong one.
    dynamic = _graph([helper.make_node("Add", ["x", "x"], ["y"])], [], ["N", "M"], ["N", "M"])
    d = count_onnx_complexity(dynamic)
    assert d.flops is None and "unknown" in d.note


def test_bad_onnx_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"not a graph at all")
    with pytest.raises(DataError, match=r"junk\.onnx"):
        load_model(junk)
    with pytest.raises(UsageError, match="does not exist"):
        load_model(tmp_path / "missing.onnx")
    two = helper.make_model(
        helper.make_graph(
            [helper.make_node("Add", ["a", "b"], ["y"])],
            "g",
            [helper.make_tensor_value_info(n, TensorProto.FLOAT, [1]) for n in ("a", "b")],
            [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])],
        ),
        opset_imports=[helper.make_opsetid("", 17)],
    )
    onnx.save(two, str(tmp_path / "two.onnx"))
    with pytest.raises(UsageError, match="2 inputs"):
        load_model(tmp_path / "two.onnx")
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import fails as if not installed
    with pytest.raises(MissingDependencyError, match=r"lowcarb\[onnx\]"):
        load_model(tmp_path / "two.onnx")


@pytest.mark.parametrize("binary", [False, True])
def test_decision_scores_are_not_taken_for_probabilities(
    digits: Any, tmp_path: Path, binary: bool
) -> None:
    """skl2onnx names a LinearSVC's and a plain SVC's scores ``probabilities``: not read as such."""
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.svm import SVC, LinearSVC

    x_train, x_test, y_train, _ = digits
    y = (y_train > 4).astype(np.int64) if binary else y_train
    scorers = {
        "linear_svc": LinearSVC(max_iter=2000, random_state=0),
        "svc": SVC(random_state=0),
    }
    for name, model in scorers.items():
        with warnings.catch_warnings():  # unscaled pixels: LinearSVC may not converge
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(x_train, y)
        onnx_model = load_onnx(_save_quietly(model, x_train, tmp_path / f"{name}.onnx"))
        assert onnx_model.classes_ is None
        with pytest.raises(UsageError, match="decision scores, not class probabilities"):
            onnx_model.predict_proba(x_test[:3])
        # Its labels are still the model's own.
        assert (onnx_model.predict(x_test[:20]) == model.predict(x_test[:20])).all()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # SVC(probability=True): scikit-learn 1.9
        warnings.simplefilter("ignore", ConvergenceWarning)
        calibrated = {
            "svc_platt": SVC(probability=True, random_state=0).fit(x_train, y),
            "calibrated_linear_svc": CalibratedClassifierCV(LinearSVC(random_state=0)).fit(
                x_train, y
            ),
            "lr": LogisticRegression(max_iter=300).fit(x_train, y),
        }
    for name, model in calibrated.items():
        onnx_model = load_onnx(_save_quietly(model, x_train, tmp_path / f"{name}.onnx"))
        proba = onnx_model.predict_proba(x_test[:20])
        assert np.allclose(proba.sum(axis=1), 1.0, atol=1e-4)
        assert np.allclose(proba, model.predict_proba(x_test[:20]), atol=1e-3)


def _save_quietly(model: Any, x: Any, path: Path) -> Path:
    """:func:`_save`; skl2onnx reads SVC attributes scikit-learn 1.9 deprecates (``probA_``)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        return _save(model, x, path)
