"""``lowcarb compress``: before/after table or JSON, exit 1 when no variant passes, bad input."""

from __future__ import annotations

import contextlib
import json
import warnings
from io import StringIO
from pathlib import Path

import numpy as np
import pytest

from lowcarb.cli import main
from lowcarb.cli._common import CliContext


def _cli(*args: str) -> tuple[int, str, str]:
    out, err = StringIO(), StringIO()
    ctx = CliContext(stdout=out, stderr=err, environ={})
    with contextlib.redirect_stderr(err):
        code = main(list(args), ctx=ctx)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    import skops.io as sio
    from sklearn.datasets import load_digits
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import train_test_split
    from sklearn.neural_network import MLPClassifier

    root = tmp_path_factory.mktemp("compress")
    x, y = load_digits(return_X_y=True)
    x_train, x_test, y_train, y_test = train_test_split(x / 16.0, y, test_size=0.3, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = MLPClassifier((64,), max_iter=60, random_state=0).fit(x_train, y_train)
    sio.dump(model, root / "mlp.skops")
    np.savez(root / "heldout.npz", X=x_test, y=y_test)
    np.savez(root / "narrow.npz", X=x_test[:, :10], y=y_test)
    (root / "strict.yaml").write_text(
        "version: 1\nname: strict\nrules:\n  max_accuracy_drop_pts: 0\n  max_size_bytes: 10\n"
    )
    # Accuracy only: energy estimates move from run to run; these tests are about the files.
    (root / "lenient.yaml").write_text(
        "version: 1\nname: lenient\nrules:\n  max_accuracy_drop_pts: 10\n"
    )
    half = len(x_test) // 2
    np.savez(root / "cal-x.npz", X=x_test[:half])  # features only: calibration needs no labels
    header = ",".join(f"f{i}" for i in range(64))
    body = "\n".join(",".join(map(str, r)) for r in x_test[:half])
    (root / "cal-x.csv").write_text(f"{header}\n{body}\n", encoding="utf-8")
    np.savez(root / "eval.npz", X=x_test[half:], y=y_test[half:])
    from lowcarb.compression import export

    (root / "mlp.onnx").write_bytes(export(model, x_test[:1]).onnx_bytes)
    return {
        "model": root / "mlp.skops",
        "data": root / "heldout.npz",
        "narrow": root / "narrow.npz",
        "strict": root / "strict.yaml",
        "lenient": root / "lenient.yaml",
        "cal_x": root / "cal-x.npz",
        "cal_csv": root / "cal-x.csv",
        "eval": root / "eval.npz",
        "graph": root / "mlp.onnx",
        "root": root,
    }


def test_compress_json_has_before_after_and_verdict(files: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "small.onnx"
    code, stdout, err = _cli(
        "compress", str(files["model"]), "--data", str(files["data"]), "--method", "dynamic-int8",
        "--output", str(out), "--energy-seconds", "0.3", "--json",
    )  # fmt: skip
    assert code == 0, err
    data = json.loads(stdout)
    assert data["verdict"]["decision"] == "promote" and data["method"] == "dynamic-int8"
    assert data["after"]["size_bytes"] < data["reference_onnx_fp32"]["size_bytes"] / 2
    for key in ("size_bytes", "latency_p95_ms", "latency_batch_p95_ms", "energy_per_1k_j",
                "energy_method", "accuracy"):  # fmt: skip
        assert key in data["before"] and key in data["after"]
    assert out.is_file()


def test_no_passing_variant_exits_1_and_writes_nothing(
    files: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "never.onnx"
    code, stdout, _ = _cli(
        "compress", str(files["model"]), "--data", str(files["data"]), "--method", "fp16",
        "--policy", str(files["strict"]), "--output", str(out), "--energy-seconds", "0.3",
    )  # fmt: skip
    assert code == 1 and not out.exists()
    assert "rejected by policy strict" in stdout and "nothing was written" in stdout


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        (["--data", "{narrow}"], "10 feature"),
        (["--data", "{data}", "--calibration", "{narrow}"], "--calibration"),
        (["--data", "{data}", "--method", "magic"], "invalid choice"),
        (["--data", "{data}", "--policy", "{root}/missing.yaml"], "missing.yaml"),
        (["--data", "{data}", "--output", "{root}/no/dir/x.onnx"], "--output"),
        (["--data", "{data}", "--output", "{model}"], "must end in .onnx"),
        (["--data", "{data}", "--output", "{root}/small.skops"], "must end in .onnx"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_writes_nothing(
    files: dict[str, Path], extra: list[str], needle: str
) -> None:
    args = [a.format(**{k: str(v) for k, v in files.items()}) for a in extra]
    before = sorted(p.name for p in files["root"].iterdir())
    code, stdout, err = _cli("compress", str(files["model"]), *args)
    assert code == 2 and stdout == ""
    assert len(err.strip().splitlines()) == 1 and needle in err, err
    assert sorted(p.name for p in files["root"].iterdir()) == before


def test_a_model_that_cannot_be_exported_is_one_line(
    tmp_path: Path, files: dict[str, Path]
) -> None:
    import skops.io as sio
    from sklearn.neighbors import KNeighborsClassifier

    data = np.load(files["data"])
    knn = KNeighborsClassifier().fit(data["X"], data["y"])
    sio.dump(knn, tmp_path / "knn.skops")
    code, stdout, err = _cli(
        "compress", str(tmp_path / "knn.skops"), "--data", str(files["data"]),
        "--method", "dynamic-int8", "--energy-seconds", "0.3",
    )  # fmt: skip
    assert code == 2 and stdout == ""
    assert len(err.strip().splitlines()) == 1 and "cannot be compressed" in err, err
    assert not (tmp_path / "knn.compressed.onnx").exists()


def test_an_output_that_is_the_model_itself_is_refused(files: dict[str, Path]) -> None:
    graph = files["graph"]
    before = graph.read_bytes()
    code, stdout, err = _cli(
        "compress", str(graph), "--data", str(files["data"]),
        "--output", str(graph.parent / "." / graph.name),
    )  # fmt: skip
    assert code == 2 and stdout == "" and err.count("\n") == 1
    assert "is the model file itself" in err
    assert graph.read_bytes() == before


def test_an_onnx_model_is_quantized(files: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "int8.onnx"
    code, stdout, err = _cli(
        "compress", str(files["graph"]), "--data", str(files["data"]),
        "--method", "dynamic-int8", "--policy", str(files["lenient"]), "--output", str(out),
        "--energy-seconds", "0.2", "--json",
    )  # fmt: skip
    assert code == 0, err
    data = json.loads(stdout)
    assert data["method"] == "dynamic-int8" and data["reference_onnx_fp32"] is None
    assert out.is_file() and out.stat().st_size < files["graph"].stat().st_size / 2


@pytest.mark.parametrize("calibration", ["cal_x", "cal_csv"])
def test_calibration_rows_need_no_labels(
    files: dict[str, Path], tmp_path: Path, calibration: str
) -> None:
    out = tmp_path / "static.onnx"
    code, stdout, err = _cli(
        "compress", str(files["model"]), "--data", str(files["eval"]),
        "--calibration", str(files[calibration]), "--method", "static-int8",
        "--policy", str(files["lenient"]), "--output", str(out), "--energy-seconds", "0.2",
        "--json",
    )  # fmt: skip
    assert code == 0, err
    (candidate,) = json.loads(stdout)["candidates"]
    assert candidate["error"] is None and any(
        "calibrated on 270 rows" in n for n in candidate["notes"]
    )


def test_a_forest_saved_with_skops_is_compressed(files: dict[str, Path], tmp_path: Path) -> None:
    import skops.io as sio
    from sklearn.ensemble import RandomForestClassifier

    train = np.load(files["data"])
    forest = RandomForestClassifier(n_estimators=40, random_state=0)
    sio.dump(forest.fit(train["X"], train["y"]), tmp_path / "rf.skops")
    out = tmp_path / "rf.onnx"
    code, stdout, err = _cli(
        "compress", str(tmp_path / "rf.skops"), "--data", str(files["data"]),
        "--method", "prune", "--policy", str(files["lenient"]), "--output", str(out),
        "--energy-seconds", "0.2", "--json",
    )  # fmt: skip
    assert code == 0, err
    data = json.loads(stdout)
    assert data["method"] == "prune" and out.is_file()
    assert data["after"]["size_bytes"] < data["reference_onnx_fp32"]["size_bytes"] * 0.6


def test_a_distilled_student_is_a_cascade_stage(files: dict[str, Path], tmp_path: Path) -> None:
    student = tmp_path / "student.onnx"
    code, _, err = _cli(
        "compress", str(files["model"]), "--data", str(files["eval"]),
        "--calibration", str(files["cal_x"]), "--method", "distil",
        "--policy", str(files["lenient"]), "--output", str(student), "--energy-seconds", "0.2",
    )  # fmt: skip
    assert code == 0, err
    code, stdout, err = _cli(
        "cascade", "fit", str(student), str(files["model"]), "--data", str(files["eval"]),
        "--max-accuracy-loss-pts", "1", "--output", str(tmp_path / "cascade.json"),
        "--energy-seconds", "0.05", "--json",
    )  # fmt: skip
    assert code == 0, err
    names = [Path(m["path"]).name for m in json.loads(stdout)["models"]]
    assert names == ["student.onnx", "mlp.skops"]
