"""Load a model file and a held-out set for ``lowcarb profile``.

Models: ONNX graphs (preferred: loading one runs no code from the file), scikit-learn estimators
saved with skops (``.skops``; only types skops considers safe are loaded), and, with an explicit
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
from pathlib import Path
from typing import Any

import numpy as np

from lowcarb._files import check_input_file, read_text_file
from lowcarb.errors import DataError, UsageError
from lowcarb.profiling._torch import TORCH_SUFFIXES, load_torch

__all__ = ["check_features", "load_dataset", "load_model"]

_PICKLE = (".pkl", ".pickle")
#: The largest CSV held-out set read (it is parsed in memory).
MAX_CSV_BYTES = 256 << 20


def _regular_file(p: Path, what: str) -> int:
    """Size of ``p`` in bytes, after refusing what cannot be a model or data file."""
    return check_input_file(p, what=what)


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
        # scikit-learn's own optimiser state, which every fitted MLP carries: plain classes that
        # run no code on load, trusted by name (skops lists them as untrusted by default).
        untrusted = [t for t in sio.get_untrusted_types(file=p) if t not in _SKLEARN_STATE]
        if untrusted:
            raise UsageError(
                f"{str(p)!r} holds types skops does not trust ({', '.join(untrusted[:3])}); "
                "export the model to ONNX instead"
            )
        return sio.load(p, trusted=sorted(_SKLEARN_STATE))
    except (OSError, ValueError, TypeError) as exc:
        raise DataError(f"model file {str(p)!r} cannot be loaded: {exc}") from None


def check_features(model: Any, x: Any, *, data: str) -> None:
    """Refuse a held-out set whose width differs from what the model was fitted on.

    Raises:
        DataError: The number of feature columns does not match (one line with both numbers).
    """
    expected = getattr(model, "n_features_in_", None)
    if expected is None:
        shape = getattr(model, "input_shape", None)
        expected = shape[-1] if shape and isinstance(shape[-1], int) else None
    width = x.shape[1] if getattr(x, "ndim", 0) == 2 else None
    if expected is not None and width is not None and int(expected) != int(width):
        raise DataError(
            f"{data} has {width} feature column(s) but the model expects {expected}; give the "
            "held-out set the model was trained for (or --target to name the label column)"
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
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix not in (".npz", ".csv"):
        raise UsageError(f"unsupported held-out set {str(p)!r}: use .npz (X, y) or .csv")
    _regular_file(p, "held-out set")
    if suffix == ".npz":
        try:
            with np.load(p, allow_pickle=False) as data:
                keys = set(data.files)
                for xk, yk in (("X", "y"), ("X_test", "y_test")):
                    if {xk, yk} <= keys:
                        x, y = data[xk], data[yk]
                        break
                else:
                    raise DataError(
                        f"{str(p)!r} has arrays {sorted(keys)}; it needs X and y "
                        "(or X_test and y_test)"
                    )
        except (OSError, ValueError) as exc:
            raise DataError(f"held-out set {str(p)!r} cannot be read: {exc}") from None
    else:
        x, y = _load_csv(p, target)
    _check_arrays(x, y, p)
    if len(x) != len(y) or len(x) == 0:
        raise DataError(
            f"{str(p)!r}: {len(x)} rows but {len(y)} labels; both must match and be > 0"
        )
    return x, y, f"{p.name} ({len(x)} rows)"


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
    if getattr(y, "ndim", 0) != 1:
        raise DataError(f"{str(p)!r}: y must be a 1-D array of labels, got shape {y.shape}")
    if not (np.issubdtype(x.dtype, np.number) or np.issubdtype(x.dtype, np.bool_)):
        raise DataError(f"{str(p)!r}: X must hold numbers, got dtype {x.dtype}; encode it first")
    if not np.all(np.isfinite(x)):
        raise DataError(f"{str(p)!r}: X holds NaN or infinity; impute or drop those rows")


def _load_csv(p: Path, target: str | None) -> tuple[Any, Any]:
    text = read_text_file(p, what="held-out set", max_bytes=MAX_CSV_BYTES)
    try:
        rows = [r for r in csv.reader(io.StringIO(text, newline="")) if r]
    except csv.Error as exc:  # e.g. a field over csv's 128 KiB limit
        raise DataError(f"held-out set {str(p)!r} is not valid CSV: {exc}") from None
    if len(rows) < 2:
        raise DataError(f"{str(p)!r} needs a header row and at least one data row")
    header, body = rows[0], rows[1:]
    for n, r in enumerate(body, start=2):
        if len(r) != len(header):
            raise DataError(
                f"{str(p)!r} row {n} has {len(r)} cells but the header has {len(header)}; "
                "every row needs one value per column"
            )
    column = target if target is not None else header[-1]
    if column not in header:
        shown = ", ".join(header[:20]) + (", ..." if len(header) > 20 else "")
        raise DataError(f"{str(p)!r} has no column {column!r}; columns: {shown}")
    j = header.index(column)
    try:
        x = np.asarray([[float(v) for i, v in enumerate(r) if i != j] for r in body])
    except ValueError as exc:
        raise DataError(f"{str(p)!r}: features must be numbers ({exc})") from None
    return x, _label([r[j] for r in body])
