"""The data a search trains on: a bundled scikit-learn set (``digits``, ``breast_cancer``,
``wine``, ``iris``; no download) or a user CSV, split into train / validation / test, seeded."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lowcarb.errors import ConfigError, DataError, InvalidValueError
from lowcarb.tuning._sklearn import import_module

__all__ = [
    "BUNDLED_DATASETS",
    "DatasetSpec",
    "Split",
    "load_data",
]

BUNDLED_DATASETS: tuple[str, ...] = ("digits", "breast_cancer", "wine", "iris")


@dataclass(frozen=True, slots=True)
class DatasetSpec:
    """A bundled scikit-learn set (``name``) or a CSV file (``csv``, labels in ``target``, the
    last column when None). Defined here, beside :func:`load_data`, and re-exported by
    ``_space`` (which imports this module, not the other way round)."""

    name: str | None
    csv: Path | None = None
    target: str | None = None


@dataclass(frozen=True, slots=True)
class Split:
    """A dataset split three ways (``x_*`` are 2-D float arrays, ``y_*`` 1-D labels)."""

    x_train: Any
    y_train: Any
    x_val: Any
    y_val: Any
    x_test: Any
    y_test: Any
    feature_count: int
    name: str


def load_data(spec: DatasetSpec, *, test_size: float, validation_size: float, seed: int) -> Split:
    """Load a bundled set or a CSV and split it (stratified, seeded) into train/val/test.

    A CSV is read with :func:`lowcarb.profiling.load_dataset` (bounded size, numeric features,
    the ``target`` column as labels, the last column when ``target`` is None).

    Raises:
        InvalidValueError: Sizes outside (0, 1) or summing to 1 or more.
        DataError: An unreadable or malformed CSV, or too few rows to split.
        ConfigError: An unknown bundled set.
    """
    for label, value in (("test_size", test_size), ("validation_size", validation_size)):
        if not 0.0 < value < 1.0:
            raise InvalidValueError(f"{label} must be between 0 and 1, got {value!r}")
    if test_size + validation_size >= 1.0:
        raise InvalidValueError(
            f"test_size + validation_size must be below 1, got {test_size + validation_size!r}"
        )
    x, y, name = _read(spec)
    selection = import_module("sklearn.model_selection")
    try:
        x_rest, x_test, y_rest, y_test = _split(selection, x, y, test_size, seed)
        x_train, x_val, y_train, y_val = _split(
            selection, x_rest, y_rest, validation_size / (1.0 - test_size), seed
        )
    except ValueError as exc:
        raise DataError(f"dataset {name!r} ({len(y)} rows) cannot be split: {exc}") from None
    return Split(x_train, y_train, x_val, y_val, x_test, y_test, int(x.shape[1]), name)


def _split(selection: Any, x: Any, y: Any, size: float, seed: int) -> Any:
    try:
        return selection.train_test_split(x, y, test_size=size, random_state=seed, stratify=y)
    except ValueError:
        # A class too rare to stratify: split at random rather than refuse the data set.
        return selection.train_test_split(x, y, test_size=size, random_state=seed)


def _read(spec: DatasetSpec) -> tuple[Any, Any, str]:
    if spec.csv is not None:
        from lowcarb.profiling import load_dataset

        x, y, _ = load_dataset(Path(spec.csv), target=spec.target)
        return np.asarray(x, dtype=np.float64), np.asarray(y), Path(spec.csv).name
    if spec.name not in BUNDLED_DATASETS:
        raise ConfigError(
            f"unknown dataset {spec.name!r}; use one of: {', '.join(BUNDLED_DATASETS)}, "
            "or {csv: FILE, target: COLUMN}"
        )
    datasets = import_module("sklearn.datasets")
    x, y = getattr(datasets, f"load_{spec.name}")(return_X_y=True)
    return np.asarray(x, dtype=np.float64), np.asarray(y), str(spec.name)
