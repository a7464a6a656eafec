"""Load a model file and a held-out set for ``lowcarb profile``.

Models: ONNX graphs (preferred: loading one runs no code from the file), scikit-learn estimators
saved with skops (``.skops``; only types skops considers safe are loaded, plus scikit-learn's MLP
optimiser state and decision trees, whose node arrays are checked first: see
:mod:`lowcarb.profiling._skops_trees`), and, with an explicit
opt-in, ``pickle`` (``.pkl``, ``.pickle``) or ``joblib`` (``.joblib``) files. Loading a pickle
runs arbitrary code from the file, so it needs ``allow_pickle=True`` (``--allow-pickle``): give it
only for model files you trust (your own training output).

ONNX graphs (``.onnx``) are run by onnxruntime on the CPU (extra ``lowcarb[onnx]``); see
:mod:`lowcarb.profiling._onnx`. PyTorch classifiers (``.pt2`` programs; pickled ``.pt``/``.pth``
modules with the opt-in) need PyTorch; see :mod:`lowcarb.profiling._torch`.

Held-out sets: ``.npz`` with arrays ``X`` and ``y`` (or ``X_test`` and ``y_test``), or a CSV file
with a header row whose label column is ``--target`` (default: the last column).
"""

from __future__ import annotations

import csv
import io
import pickle
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from lowcarb._files import check_input_file, read_text_file
from lowcarb.errors import DataError, UsageError
from lowcarb.profiling._skops_trees import TREE_TYPE, check_trees
from lowcarb.profiling._torch import TORCH_SUFFIXES, is_torch_model, load_torch

__all__ = ["check_features", "feature_count", "load_dataset", "load_features", "load_model"]

_PICKLE = (".pkl", ".pickle")
#: The largest CSV held-out set read (it is parsed in memory).
MAX_CSV_BYTES = 256 << 20


def _regular_file(p: Path, what: str) -> int:
    """Size of ``p`` in bytes, after refusing what cannot be a model or data file."""
    return check_input_file(p, what=what)


# scikit-learn's own optimiser state, which every fitted MLP carries: plain classes that run no
# code on load, trusted by name (skops lists them as untrusted by default). Decision trees
# (TREE_TYPE) are trusted by name too, and then checked: see _load_skops.
_SKLEARN_STATE = frozenset(
    {
        "sklearn.neural_network._stochastic_optimizers.AdamOptimizer",
        "sklearn.neural_network._stochastic_optimizers.SGDOptimizer",
    }
)


def load_model(path: str | Path, *, allow_pickle: bool = False) -> tuple[Any, int]:
    """Load a fitted model; return it with its size on disk in bytes.

    An ``.onnx`` file loads as an :class:`~lowcarb.profiling._onnx.OnnxModel`.

    Args:
        path: The model file.
        allow_pickle: Load ``.pkl``/``.pickle``/``.joblib`` files, which runs code from them.

    Raises:
        UsageError: An unsupported format, a pickle without ``allow_pickle``, or no ``predict``.
        DataError: The file cannot be read, unpickled or run.
        MissingDependencyError: An ``.onnx`` file without the extra ``lowcarb[onnx]``.
    """
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix == ".onnx":
        from lowcarb.profiling._onnx import load_onnx

        size = _regular_file(p, "model file")
        return load_onnx(p), size
    if suffix == ".skops":
        size = _regular_file(p, "model file")
        return _load_skops(p), size
    if suffix in TORCH_SUFFIXES:
        size = _regular_file(p, "model file")
        return load_torch(p, allow_pickle=allow_pickle), size
    if suffix not in (*_PICKLE, ".joblib"):
        raise UsageError(
            f"unsupported model file {str(p)!r}: use an ONNX graph (.onnx), a skops file "
            "(.skops), a PyTorch program (.pt2), or a pickle/joblib/torch file (.pkl, .pickle, "
            ".joblib, .pt, .pth) with --allow-pickle"
        )
    if not allow_pickle:
        raise UsageError(
            f"{str(p)!r} is a pickle: loading it runs any code it contains; pass --allow-pickle "
            "(allow_pickle=True) only for a file you trust, or export the model to ONNX or skops"
        )
    size = _regular_file(p, "model file")
    try:
        if suffix == ".joblib":
            import joblib  # type: ignore[import-untyped]

            model = joblib.load(p)
        else:
            with p.open("rb") as fh:
                # Trusted input by contract (see the module docstring), as with joblib.load.
                model = pickle.load(fh)  # noqa: S301
    except OSError as exc:
        raise DataError(f"model file {str(p)!r} cannot be read: {exc.strerror or exc}") from None
    except (pickle.UnpicklingError, EOFError, AttributeError, ImportError, ValueError) as exc:
        raise DataError(f"model file {str(p)!r} cannot be loaded: {exc}") from None
    if not callable(getattr(model, "predict", None)):
        raise UsageError(f"{str(p)!r} holds a {type(model).__name__}, which has no predict()")
    return model, int(size)


def _load_skops(p: Path) -> Any:
    try:
        import skops.io as sio
    except ImportError:
        raise UsageError(
            f"{str(p)!r} is a skops file; install skops to read it (pip install skops)"
        ) from None
    try:
        untrusted = sio.get_untrusted_types(file=p)
        refused = [t for t in untrusted if t not in _SKLEARN_STATE and t != TREE_TYPE]
        if refused:
            raise UsageError(
                f"{str(p)!r} holds types skops does not trust ({', '.join(refused[:3])}); "
                "export the model to ONNX instead"
            )
        trusted = sorted(_SKLEARN_STATE | ({TREE_TYPE} & set(untrusted)))
        model = sio.load(p, trusted=trusted)
    except (OSError, ValueError, TypeError) as exc:
        raise DataError(f"model file {str(p)!r} cannot be loaded: {exc}") from None
    if TREE_TYPE in untrusted:
        # Trusted by name above, deliberately: skops rebuilds a Tree from arrays without running
        # code, and distrusts it only because scikit-learn follows its node indices unchecked;
        # check_trees checks those indices before anything predicts (see _skops_trees).
        check_trees(model, source=f"model file {str(p)!r}")
    return model


def feature_count(model: Any) -> int | None:
    """How many feature columns ``model`` takes, when it says (None when it does not)."""
    expected = getattr(model, "n_features_in_", None)
    if expected is None:
        shape = getattr(model, "input_shape", None)
        expected = shape[-1] if shape and isinstance(shape[-1], int) else None
    if expected is None and is_torch_model(model):
        expected = model.n_features
    return None if expected is None else int(expected)


def check_features(model: Any, x: Any, *, data: str) -> None:
    """Refuse a held-out set whose width differs from what the model was fitted on.

    Raises:
        DataError: The number of feature columns does not match (one line with both numbers).
    """
    expected = feature_count(model)
    width = x.shape[1] if getattr(x, "ndim", 0) == 2 else None
    if expected is not None and width is not None and expected != int(width):
        raise DataError(
            f"{data} has {width} feature column(s) but the model expects {expected}; give rows "
            "with the features the model was trained on (or --target to name the label column)"
        )


def _label(values: list[str]) -> np.ndarray[Any, Any]:
    for kind in (int, float):
        try:
            return np.asarray([kind(v) for v in values])
        except ValueError:
            continue
    return np.asarray(values)


def load_dataset(path: str | Path, *, target: str | None = None) -> tuple[Any, Any, str]:
    """Load held-out rows and labels; return ``(X, y, description)``.

    Raises:
        DataError: Unreadable, missing arrays or columns, non-numeric features.
        UsageError: An unsupported file type.
    """
    what = "held-out set"
    p = _data_path(path, what)
    if p.suffix.lower() == ".npz":
        choices = [("X", "y"), ("X_test", "y_test")]
        x, y = _read_npz(p, what, choices, "X and y (or X_test and y_test)")
    else:
        header, body = _read_csv(p, what)
        column = target if target is not None else header[-1]
        x, j = _csv_features(p, header, body, column)
        y = _label([r[j] for r in body])
    _check_arrays(x, y, p)
    if len(x) != len(y) or len(x) == 0:
        raise DataError(
            f"{str(p)!r}: {len(x)} rows but {len(y)} labels; both must match and be > 0"
        )
    return x, y, f"{p.name} ({len(x)} rows)"


def load_features(
    path: str | Path, *, target: str | None = None, model: Any = None
) -> tuple[Any, str]:
    """Load feature rows that need no labels (calibration data); return ``(X, description)``.

    An ``.npz`` file needs ``X`` (or ``X_test``); labels beside it are ignored. A CSV file's
    columns are all features, unless ``target`` names a label column, or the file has one column
    more than ``model`` takes: then the last is the label, as :func:`load_dataset` reads it.
    Either way the label column is dropped.

    Raises:
        DataError: Unreadable, missing arrays or columns, non-numeric features.
        UsageError: An unsupported file type.
    """
    what = "calibration set"
    p = _data_path(path, what)
    if p.suffix.lower() == ".npz":
        (x,) = _read_npz(p, what, [("X",), ("X_test",)], "X (or X_test)")
    else:
        header, body = _read_csv(p, what)
        width = feature_count(model) if model is not None else None
        label = target if target is not None else header[-1] if width == len(header) - 1 else None
        x, _ = _csv_features(p, header, body, label)
    _check_arrays(x, None, p)
    if len(x) == 0:
        raise DataError(f"{str(p)!r} has no rows; give at least one")
    return x, f"{p.name} ({len(x)} rows)"


def _data_path(path: str | Path, what: str) -> Path:
    p = Path(path)
    if p.suffix.lower() not in (".npz", ".csv"):
        raise UsageError(f"unsupported {what} {str(p)!r}: use .npz (X, y) or .csv")
    _regular_file(p, what)
    return p


def _read_npz(p: Path, what: str, choices: Sequence[tuple[str, ...]], need: str) -> list[Any]:
    """The arrays named by the first of ``choices`` the file holds all of.

    Raises:
        DataError: Unreadable, or none of the choices is complete (``need`` says what is).
    """
    try:
        with np.load(p, allow_pickle=False) as data:
            for names in choices:
                if set(names) <= set(data.files):
                    return [data[n] for n in names]
            keys = sorted(data.files)
    except (OSError, ValueError) as exc:
        raise DataError(f"{what} {str(p)!r} cannot be read: {exc}") from None
    raise DataError(f"{str(p)!r} has arrays {keys}; it needs {need}")


def _check_arrays(x: Any, y: Any, p: Path) -> None:
    """Refuse features a model cannot be timed on: the wrong shape, text, NaN or infinity.

    Raises:
        DataError: One line naming the problem.
    """
    if getattr(x, "ndim", 0) != 2:
        raise DataError(
            f"{str(p)!r}: X must be a 2-D array (rows x features), got shape {x.shape}; "
            "reshape it, e.g. X.reshape(len(X), -1)"
        )
    if y is not None and getattr(y, "ndim", 0) != 1:
        raise DataError(f"{str(p)!r}: y must be a 1-D array of labels, got shape {y.shape}")
    if not (np.issubdtype(x.dtype, np.number) or np.issubdtype(x.dtype, np.bool_)):
        raise DataError(f"{str(p)!r}: X must hold numbers, got dtype {x.dtype}; encode it first")
    if not np.all(np.isfinite(x)):
        raise DataError(f"{str(p)!r}: X holds NaN or infinity; impute or drop those rows")


def _read_csv(p: Path, what: str) -> tuple[list[str], list[list[str]]]:
    text = read_text_file(p, what=what, max_bytes=MAX_CSV_BYTES)
    try:
        rows = [r for r in csv.reader(io.StringIO(text, newline="")) if r]
    except csv.Error as exc:  # e.g. a field over csv's 128 KiB limit
        raise DataError(f"{what} {str(p)!r} is not valid CSV: {exc}") from None
    if len(rows) < 2:
        raise DataError(f"{str(p)!r} needs a header row and at least one data row")
    header, body = rows[0], rows[1:]
    for n, r in enumerate(body, start=2):
        if len(r) != len(header):
            raise DataError(
                f"{str(p)!r} row {n} has {len(r)} cells but the header has {len(header)}; "
                "every row needs one value per column"
            )
    return header, body


def _csv_features(
    p: Path, header: list[str], body: list[list[str]], label: str | None
) -> tuple[Any, int]:
    """The numeric columns other than ``label`` (all of them for None), and its index (-1)."""
    j = -1
    if label is not None:
        if label not in header:
            shown = ", ".join(header[:20]) + (", ..." if len(header) > 20 else "")
            raise DataError(f"{str(p)!r} has no column {label!r}; columns: {shown}")
        j = header.index(label)
    try:
        x = np.asarray([[float(v) for i, v in enumerate(r) if i != j] for r in body])
    except ValueError as exc:
        raise DataError(f"{str(p)!r}: features must be numbers ({exc})") from None
    return x, j
