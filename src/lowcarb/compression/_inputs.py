"""What ``compress`` reads and writes: where the result may go, and how one labelled set is split.

- :func:`check_compress_output`: the compressed model is a new ``.onnx`` file, never the model
  file itself (``-o m.skops`` once wrote ONNX bytes over the model it was compressing).
- :func:`split_heldout`: one labelled held-out set made into calibration rows and evaluation rows,
  shuffled with a seed and split class by class, so a file sorted by label does not calibrate on
  some classes and judge on the others.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from lowcarb._files import check_output_path
from lowcarb.errors import DataError, UsageError

__all__ = ["check_compress_output", "split_heldout"]


def check_compress_output(output: str | Path, *, model_path: str | Path | None = None) -> Path:
    """Check where a compressed model may be written, before any work.

    Raises:
        UsageError: Not an ``.onnx`` name, the model file itself, or a path that cannot be written.
    """
    target = Path(output)
    if target.suffix.lower() != ".onnx":
        raise UsageError(
            f"--output {str(target)!r} must end in .onnx: the compressed model is an ONNX graph"
        )
    if model_path is not None and target.resolve() == Path(model_path).resolve():
        raise UsageError(
            f"--output {str(target)!r} is the model file itself; write the compressed model to "
            "a new .onnx file"
        )
    return check_output_path(target, what="--output")


def split_heldout(x: Any, y: Any, *, seed: int = 0, min_rows: int = 40) -> tuple[Any, Any, Any]:
    """Split labelled rows in two halves, calibration and evaluation: ``(x_cal, x_eval, y_eval)``.

    The rows are shuffled with ``seed`` and split class by class (stratified: each class is
    dealt alternately to the two halves), so a file sorted by label does not give the halves
    different classes. Row order inside each half is the file's.

    Raises:
        DataError: Fewer than ``min_rows`` rows, or rows and labels that differ in number.
    """
    x_arr, y_arr = np.asarray(x), np.asarray(y)
    if len(x_arr) != len(y_arr):
        raise DataError(f"{len(x_arr)} rows but {len(y_arr)} labels; both must match")
    if len(x_arr) < min_rows:
        raise DataError(
            f"{len(x_arr)} rows cannot be split into calibration and evaluation halves: give at "
            f"least {min_rows}, or separate calibration rows (--calibration)"
        )
    shuffled = np.random.default_rng(seed).permutation(len(x_arr))
    dealt = shuffled[np.argsort(y_arr[shuffled], kind="stable")]  # by class, shuffled within
    cal, ev = np.sort(dealt[0::2]), np.sort(dealt[1::2])
    return x_arr[cal], x_arr[ev], y_arr[ev]
