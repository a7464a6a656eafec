"""A real small ONNX model (iris, logistic regression) for the serving tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression


@pytest.fixture(scope="session")
def iris_onnx(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from skl2onnx import to_onnx

    x, y = load_iris(return_X_y=True)
    model = LogisticRegression(max_iter=500).fit(x, y)
    path = tmp_path_factory.mktemp("serving") / "iris.onnx"
    path.write_bytes(to_onnx(model, x[:1].astype(np.float32)).SerializeToString())
    return path


@pytest.fixture(scope="session")
def iris_rows() -> list[list[float]]:
    x, _ = load_iris(return_X_y=True)
    return [[float(v) for v in row] for row in x[::10]]
