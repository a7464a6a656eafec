"""`lowcarb serve`: a model file that cannot be loaded stops startup with exit 2, one line."""

from __future__ import annotations

from io import StringIO
from pathlib import Path
from typing import Any

import pytest

import lowcarb.serving
from lowcarb.cli import main
from lowcarb.cli._common import CliContext


def _run(argv: list[str]) -> tuple[int, str, str]:
    out, err = StringIO(), StringIO()
    code = main(argv, ctx=CliContext(stdout=out, stderr=err, environ={}))
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def no_server(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    started: list[Any] = []
    monkeypatch.setattr(lowcarb.serving, "run_server", lambda *a, **k: started.append(a))
    return started


@pytest.mark.parametrize(
    ("name", "content", "extra", "says"),
    [
        ("broken.onnx", b"not an onnx graph", [], "broken.onnx"),
        ("model.pkl", b"\x80\x04N.", [], "--allow-pickle"),
        ("model.txt", b"x", [], "unsupported model file"),
        ("missing.onnx", None, [], "missing.onnx"),
    ],
)
def test_bad_model_file_exits_2_with_one_line_before_binding(
    tmp_path: Path,
    no_server: list[Any],
    name: str,
    content: bytes | None,
    extra: list[str],
    says: str,
) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    code, out, err = _run(["serve", str(path), "--port", "1", *extra])
    assert code == 2, err
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("lowcarb: error:") and says in err, err
    assert no_server == []  # never got as far as binding the port


def test_good_model_reaches_the_server_with_the_options(
    iris_onnx_cli: Path, no_server: list[Any]
) -> None:
    code, _, err = _run(["serve", str(iris_onnx_cli), "--port", "9", "--no-metering"])
    assert code == 0, err
    assert len(no_server) == 1


@pytest.mark.parametrize("argv", [["--port", "70000"], ["--max-batch", "0"]])
def test_bad_options_exit_2(
    tmp_path: Path, argv: list[str], no_server: list[Any], capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, _ = _run(["serve", str(tmp_path / "m.onnx"), *argv])
    assert code == 2 and no_server == []
    assert argv[0] in capsys.readouterr().err  # argparse's one line names the option


@pytest.fixture
def iris_onnx_cli(tmp_path: Path) -> Path:
    import numpy as np
    from skl2onnx import to_onnx
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    x, y = load_iris(return_X_y=True)
    path = tmp_path / "iris.onnx"
    model = LogisticRegression(max_iter=300).fit(x, y)
    path.write_bytes(to_onnx(model, x[:1].astype(np.float32)).SerializeToString())
    return path


def test_dirty_above_needs_a_cascade(iris_onnx_cli: Path, no_server: list[Any]) -> None:
    code, _, err = _run(["serve", str(iris_onnx_cli), "--dirty-above", "300"])
    assert code == 2 and no_server == []
    assert len(err.strip().splitlines()) == 1 and "--dirty-above" in err


def test_a_port_in_use_is_one_line_and_exit_2(iris_onnx_cli: Path) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        code, out, err = _run(["serve", str(iris_onnx_cli), "--port", str(port), "--no-metering"])
    assert code == 2, err
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("lowcarb: error:"), err
    assert f"127.0.0.1:{port}" in err and "--port" in err


def test_a_host_that_is_not_an_address_is_one_line_and_exit_2(iris_onnx_cli: Path) -> None:
    code, _, err = _run(["serve", str(iris_onnx_cli), "--host", "no such host.invalid"])
    assert code == 2, err
    assert err.count("\n") == 1 and "--host" in err, err


def test_feature_log_in_a_missing_directory_fails_before_binding(
    iris_onnx_cli: Path, tmp_path: Path, no_server: list[Any]
) -> None:
    target = tmp_path / "no-such-dir" / "features.jsonl"
    code, _, err = _run(["serve", str(iris_onnx_cli), "--log-features", str(target)])
    assert code == 2 and no_server == []
    assert err.count("\n") == 1 and "--log-features" in err, err


def test_serve_options_reach_the_app(
    iris_onnx_cli: Path, tmp_path: Path, no_server: list[Any]
) -> None:
    log = tmp_path / "features.jsonl"
    argv = ["serve", str(iris_onnx_cli), "--no-metering", "--no-energy-headers"]
    code, _, err = _run([*argv, "--log-features", str(log)])
    assert code == 0, err
    (app,) = no_server[0]
    config = app.state.lowcarb.config
    assert config.feature_log == log and config.energy_headers is False
