"""Feature rows without labels (calibration data), and the width a model takes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from lowcarb.errors import DataError, LowcarbError
from lowcarb.profiling import feature_count, load_dataset, load_features


@pytest.fixture(scope="module")
def rows() -> tuple[Any, Any, Any]:
    from sklearn.datasets import load_digits
    from sklearn.linear_model import LogisticRegression

    x, y = load_digits(return_X_y=True)
    x, y = x[:200] / 16.0, y[:200]
    return x, y, LogisticRegression(max_iter=300).fit(x, y)


def _csv(path: Path, x: Any, label: Any = None) -> Path:
    header = [f"f{i}" for i in range(x.shape[1])] + (["label"] if label is not None else [])
    lines = [",".join(header)]
    for i, r in enumerate(x):
        lines.append(",".join(map(str, [*r, *([int(label[i])] if label is not None else [])])))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_features_without_labels_load_from_npz_and_csv(
    rows: tuple[Any, Any, Any], tmp_path: Path
) -> None:
    x, _, model = rows
    np.savez(tmp_path / "x.npz", X=x)
    loaded, described = load_features(tmp_path / "x.npz", model=model)
    assert np.array_equal(loaded, x) and described == "x.npz (200 rows)"
    features_only = _csv(tmp_path / "x.csv", x)
    loaded, _ = load_features(features_only, model=model)  # 64 columns, the model takes 64
    assert np.allclose(loaded, x)
    # A held-out set needs its labels still; the same file is refused there.
    with pytest.raises(DataError, match="needs X and y"):
        load_dataset(tmp_path / "x.npz")


def test_a_label_column_is_dropped_when_it_is_one(
    rows: tuple[Any, Any, Any], tmp_path: Path
) -> None:
    x, y, model = rows
    labelled = _csv(tmp_path / "xy.csv", x, y)
    loaded, _ = load_features(labelled, model=model)  # 65 columns: the last is the label
    assert np.allclose(loaded, x)
    loaded, _ = load_features(labelled, target="label")  # named, no model needed
    assert np.allclose(loaded, x)
    np.savez(tmp_path / "xy.npz", X=x, y=y)
    assert np.array_equal(load_features(tmp_path / "xy.npz")[0], x)


@pytest.mark.parametrize(
    ("name", "content", "needle"),
    [
        ("e.npz", None, "needs X"),
        ("d.csv", b"a,b\n1,nan\n", "NaN or infinity"),
        ("d.csv", b"a,b\n", "at least one data row"),
        ("d.txt", b"1,2\n", "unsupported calibration set"),
    ],
)
def test_bad_feature_files_are_one_line(
    tmp_path: Path, name: str, content: bytes | None, needle: str
) -> None:
    path = tmp_path / name
    if content is None:
        np.savez(path, features=np.zeros((3, 2)))
    else:
        path.write_bytes(content)
    with pytest.raises(LowcarbError, match=needle) as info:
        load_features(path)
    assert "\n" not in str(info.value)


def test_feature_count(rows: tuple[Any, Any, Any]) -> None:
    _, _, model = rows
    assert feature_count(model) == 64
    assert feature_count(object()) is None
