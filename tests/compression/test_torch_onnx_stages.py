"""PyTorch models through ``torch.onnx.export``, and ONNX graphs as cascade stages."""

from __future__ import annotations

import contextlib
import io
import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from lowcarb.compression import compress
from lowcarb.compression._cascade_file import load_cascade, save_cascade
from lowcarb.compression._cascade_fit import fit_cascade
from lowcarb.compression._variants import export
from lowcarb.errors import UsageError
from lowcarb.profiling import CLASSES_KEY, OUTPUT_KEY, ProfileSettings, TorchModel, load_model

FAST = ProfileSettings(
    batch_size=32, latency_calls=40, latency_max_s=0.5, warmup_calls=2,
    energy_min_inferences=100, energy_min_duration_s=0.2, energy_max_duration_s=0.5,
)  # fmt: skip


def _digits() -> tuple[Any, ...]:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype(np.float32)
    return tuple(train_test_split(x, y, test_size=0.3, random_state=0, stratify=y))


@pytest.fixture(scope="module")
def torch_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    torch = pytest.importorskip("torch", reason="PyTorch is not installed (extra lowcarb[torch])")
    pytest.importorskip("onnxscript", reason="onnxscript is not installed (extra lowcarb[torch])")
    root = tmp_path_factory.mktemp("torch")
    x_train, x_test, y_train, y_test = _digits()
    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Linear(64, 256), torch.nn.ReLU(), torch.nn.Linear(256, 256), torch.nn.ReLU(),
        torch.nn.Linear(256, 10),
    )  # fmt: skip
    opt = torch.optim.Adam(net.parameters(), 1e-3)
    xt, yt = torch.as_tensor(x_train), torch.as_tensor(y_train)
    for _ in range(200):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(net(xt), yt).backward()
        opt.step()
    net.eval()
    with torch.no_grad():
        logits = net(torch.as_tensor(x_test)).numpy()
    batch = torch.export.Dim("batch")
    program = torch.export.export(net, (xt[:2],), dynamic_shapes=({0: batch},))
    torch.export.save(program, root / "mlp.pt2")
    torch.save(net, root / "mlp.pt")
    regressor = torch.nn.Linear(64, 1)
    torch.export.save(
        torch.export.export(regressor, (xt[:2],), dynamic_shapes=({0: batch},)), root / "reg.pt2"
    )
    torch.export.save(torch.export.export(net, (xt[:2],)), root / "static.pt2")
    return {
        "root": root, "x_train": x_train, "x_test": x_test, "y_train": y_train,
        "y_test": y_test, "logits": logits,
    }  # fmt: skip


def test_pt2_program_loads_without_opt_in_and_predicts_as_the_module(
    torch_files: dict[str, Any],
) -> None:
    model, size = load_model(torch_files["root"] / "mlp.pt2")
    assert isinstance(model, TorchModel) and size > 0
    logits = torch_files["logits"]
    assert list(model.classes_) == list(range(10))
    assert np.array_equal(model.predict(torch_files["x_test"]), logits.argmax(axis=1))
    proba = model.predict_proba(torch_files["x_test"])
    assert np.allclose(proba.sum(axis=1), 1.0)
    assert np.array_equal(proba.argmax(axis=1), logits.argmax(axis=1))
    assert float(np.mean(model.predict(torch_files["x_test"]) == torch_files["y_test"])) > 0.95


def test_pickled_module_needs_the_opt_in(torch_files: dict[str, Any]) -> None:
    path = torch_files["root"] / "mlp.pt"
    with pytest.raises(UsageError, match=r"pickled PyTorch module.*--allow-pickle.*\.pt2"):
        load_model(path)
    model, _ = load_model(path, allow_pickle=True)
    assert np.array_equal(
        model.predict(torch_files["x_test"]), torch_files["logits"].argmax(axis=1)
    )


def test_a_regressor_is_refused_with_its_output_shape(torch_files: dict[str, Any]) -> None:
    with pytest.raises(UsageError, match=r"returns shape \(1, 1\) for one row.*class scores"):
        load_model(torch_files["root"] / "reg.pt2")


def test_a_program_with_a_fixed_batch_is_refused_with_the_fix(
    torch_files: dict[str, Any],
) -> None:
    from lowcarb.errors import DataError

    with pytest.raises(DataError, match=r"rows of shape \(1, 64\).*dynamic batch dimension"):
        load_model(torch_files["root"] / "static.pt2")


def test_torch_onnx_export_gives_probabilities_and_names_the_classes(
    torch_files: dict[str, Any],
) -> None:
    import onnx

    model, _ = load_model(torch_files["root"] / "mlp.pt2")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):  # the exporter's progress must not reach stdout
        made = export(model, torch_files["x_train"], quantize="fp32")
    assert out.getvalue() == ""
    meta = {p.key: p.value for p in onnx.load_from_string(made.onnx_bytes).metadata_props}
    assert meta[OUTPUT_KEY] == "probabilities"
    assert json.loads(meta[CLASSES_KEY]) == list(range(10))
    path = torch_files["root"] / "fp32.onnx"
    path.write_bytes(made.onnx_bytes)
    graph, _ = load_model(path)
    x = torch_files["x_test"]
    assert np.allclose(graph.predict_proba(x), model.predict_proba(x), atol=1e-5)
    assert np.array_equal(graph.predict(x), model.predict(x))
    assert np.array_equal(made.predict(x), model.predict(x))


def test_compress_a_pytorch_model_quantizes_its_onnx_export(
    torch_files: dict[str, Any], tmp_path: Path
) -> None:
    model, size = load_model(torch_files["root"] / "mlp.pt2")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ORT's quantizer warns about its own defaults
        report = compress(
            model, x_calibration=torch_files["x_train"][:200], x_eval=torch_files["x_test"],
            y_eval=torch_files["y_test"], name="mlp", size_bytes=size, settings=FAST,
            output=tmp_path / "small.onnx",
        )  # fmt: skip
    by = {c.method: c for c in report.candidates}
    assert set(by) == {"dynamic-int8", "static-int8", "fp16"}
    assert all(c.error is None for c in by.values()), [c.error for c in by.values()]
    int8 = by["dynamic-int8"].profile
    fp16 = by["fp16"].profile
    assert int8 is not None and fp16 is not None and report.reference is not None
    # int8 weights: about 4x smaller than the FP32 export; fp16 about 2x.
    assert report.reference.size_bytes / int8.size_bytes > 3.0
    assert 1.6 < report.reference.size_bytes / fp16.size_bytes < 2.1
    for c in by.values():
        assert c.profile is not None
        assert abs(c.profile.accuracy - report.before.accuracy) <= 0.01
    assert report.chosen is not None and (tmp_path / "small.onnx").is_file()


def test_prune_and_distil_are_refused_for_pytorch(torch_files: dict[str, Any]) -> None:
    model, size = load_model(torch_files["root"] / "mlp.pt2")
    for method in ("prune", "distil"):
        with pytest.raises(UsageError, match=rf"--method {method} applies to scikit-learn"):
            compress(
                model, x_calibration=torch_files["x_train"], x_eval=torch_files["x_test"],
                y_eval=torch_files["y_test"], name="mlp", size_bytes=size, method=method,
            )  # fmt: skip


@pytest.mark.parametrize("zipmap", [False, True])
def test_onnx_graphs_are_cascade_stages(tmp_path: Path, zipmap: bool) -> None:
    from skl2onnx import to_onnx
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier

    x_train, x_val, y_train, y_val = _digits()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        small = LogisticRegression(max_iter=200).fit(x_train, y_train)
        large = MLPClassifier((64,), max_iter=200, random_state=0).fit(x_train, y_train)
    stages = []
    for name, m in (("small", small), ("large", large)):
        options = None if zipmap else {id(m): {"zipmap": False}}
        path = tmp_path / f"{name}.onnx"
        path.write_bytes(to_onnx(m, x_train[:1], options=options).SerializeToString())
        graph, _ = load_model(path)
        assert np.allclose(graph.predict_proba(x_val), m.predict_proba(x_val), atol=1e-5)
        stages.append((path, graph))
    on_onnx = fit_cascade(stages, x_val, y_val, max_accuracy_loss_pts=0.5, energy_per_1k_j=(1, 20))
    on_sklearn = fit_cascade(
        [(tmp_path / "small.onnx", small), (tmp_path / "large.onnx", large)],
        x_val, y_val, max_accuracy_loss_pts=0.5, energy_per_1k_j=(1, 20),
    )  # fmt: skip
    # float32 graphs and float64 scikit-learn agree to 1e-5: the same thresholds come out.
    assert on_onnx.fitted.thresholds == pytest.approx(on_sklearn.fitted.thresholds, abs=1e-4)
    save_cascade(tmp_path / "cascade.json", on_onnx)
    loaded = load_cascade(tmp_path / "cascade.json")
    routed = loaded.predict(x_val)
    assert float(np.mean(routed.predictions == y_val)) == pytest.approx(
        on_onnx.fitted.accuracy, abs=1e-9
    )
    assert 0 < float(np.mean(routed.stages == 0)) < 1


def test_an_onnx_graph_without_probabilities_is_refused_as_a_stage(tmp_path: Path) -> None:
    from skl2onnx import to_onnx
    from sklearn.linear_model import LinearRegression

    x_train, x_val, y_train, y_val = _digits()
    reg = LinearRegression().fit(x_train, y_train)
    path = tmp_path / "reg.onnx"
    path.write_bytes(to_onnx(reg, x_train[:1]).SerializeToString())
    graph, _ = load_model(path)
    assert graph.classes_ is None
    with pytest.raises(UsageError, match="gives no class probabilities"):
        graph.predict_proba(x_val)
    with pytest.raises(UsageError, match=r"no class probabilities .*ONNX classifier exported"):
        fit_cascade([(path, graph), (path, graph)], x_val, y_val, max_accuracy_loss_pts=1,
                    energy_per_1k_j=(1, 2))  # fmt: skip
