"""The cascade file: a small JSON object naming the models by path and hash, and the thresholds.

::

    {
      "version": 1,
      "models": [{"path": "small.skops", "sha256": "...", "size_bytes": 1234,
                  "energy_per_1k_j": 0.05, "energy_method": "estimated"}, ...],
      "thresholds": [0.93],
      "operating_points": [{"name": "fitted", "thresholds": [0.93], "accuracy": 0.97,
                            "energy_per_1k_j": 1.2, "share_per_stage": [0.85, 0.15],
                            "max_accuracy_loss_pts": 0.5, "margin_sd": 2.0}, ...],
      "fitted_on": {"dataset": "val.npz (360 rows)", "rows": 360, "largest_accuracy": 0.972,
                    "max_accuracy_loss_pts": 0.5, "margin_sd": 2.0}
    }

Model paths are relative to the cascade file's directory (absolute paths are read as given).
``thresholds`` are the fitted point's. Loading checks every model exists and still has the
recorded SHA-256 *before* loading it (a changed pickle is never run), that every threshold is in
0..1, and that the stages predict the same classes.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lowcarb._files import check_input_file, check_output_path, read_input_bytes, write_atomic
from lowcarb._formats import load_json
from lowcarb.compression._cascade import (
    FITTED_POINT,
    Cascade,
    FittedOn,
    OperatingPoint,
    Stage,
    check_thresholds,
)
from lowcarb.compression._cascade_fit import check_same_classes
from lowcarb.errors import DataError, UsageError
from lowcarb.profiling import load_model

__all__ = ["CASCADE_FILE_VERSION", "cascade_to_dict", "load_cascade", "save_cascade"]

#: Version of the cascade file format written by :func:`save_cascade`.
CASCADE_FILE_VERSION = 1
#: The largest cascade file read (a cascade file is a few kilobytes).
MAX_CASCADE_BYTES = 1 << 20
_MAX_STAGES = 16
_MAX_POINTS = 64


def cascade_to_dict(cascade: Cascade, *, relative_to: Path | None = None) -> dict[str, Any]:
    """The cascade as its JSON object; model paths relative to ``relative_to`` when given."""

    def shown(p: Path) -> str:
        if relative_to is None:
            return str(p)
        return os.path.relpath(p.resolve(), relative_to.resolve())

    return {
        "version": CASCADE_FILE_VERSION,
        "models": [
            {
                "path": shown(s.path),
                "sha256": s.sha256,
                "size_bytes": s.size_bytes,
                "energy_per_1k_j": s.energy_per_1k_j,
                "energy_method": s.energy_method,
            }
            for s in cascade.stages
        ],
        "thresholds": list(cascade.fitted.thresholds),
        "operating_points": [
            {
                "name": p.name,
                "thresholds": list(p.thresholds),
                "accuracy": p.accuracy,
                "energy_per_1k_j": p.energy_per_1k_j,
                "share_per_stage": list(p.share_per_stage),
                "max_accuracy_loss_pts": p.max_accuracy_loss_pts,
            }
            for p in cascade.points
        ],
        "fitted_on": {
            "dataset": cascade.fitted_on.dataset,
            "rows": cascade.fitted_on.rows,
            "largest_accuracy": cascade.fitted_on.largest_accuracy,
            "max_accuracy_loss_pts": cascade.fitted_on.max_accuracy_loss_pts,
            "margin_sd": cascade.fitted_on.margin_sd,
        },
    }


def save_cascade(path: str | Path, cascade: Cascade) -> None:
    """Write the cascade file atomically (all of it or nothing); model paths relative to it.

    Raises:
        UsageError: ``path`` cannot be written (a directory, a missing parent...).
    """
    target = check_output_path(path, what="cascade file")
    data = cascade_to_dict(cascade, relative_to=target.parent)
    write_atomic(target, json.dumps(data, indent=2) + "\n")


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _field(obj: Mapping[str, Any], key: str, kind: type | tuple[type, ...], source: str) -> Any:
    if not isinstance(obj, Mapping) or key not in obj:
        raise DataError(
            f"{source}: missing field {key!r}; write the file with `lowcarb cascade fit`"
        )
    value = obj[key]
    bad_bool = isinstance(value, bool) and bool not in (
        kind if isinstance(kind, tuple) else (kind,)
    )
    if bad_bool or not isinstance(value, kind):
        raise DataError(f"{source}: field {key!r} has the wrong type: {value!r}")
    if isinstance(value, float) and not math.isfinite(value):
        raise DataError(f"{source}: field {key!r} must be finite, got {value!r}")
    return value


def _number(obj: Mapping[str, Any], key: str, source: str, lo: float, hi: float) -> float:
    value = float(_field(obj, key, (int, float), source))
    if not lo <= value <= hi:
        raise DataError(f"{source}: field {key!r} is {value!r}; it must be in {lo:g}..{hi:g}")
    return value


def _list(obj: Mapping[str, Any], key: str, source: str, limit: int) -> list[Any]:
    value: list[Any] = _field(obj, key, list, source)
    if not value or len(value) > limit:
        raise DataError(f"{source}: field {key!r} must hold 1..{limit} entries, got {len(value)}")
    return value


def _point(raw: Any, stages: int, source: str) -> OperatingPoint:
    name = _field(raw, "name", str, source)
    where = f"{source}, operating point {name!r}"
    thresholds = check_thresholds(
        _field(raw, "thresholds", list, where), stages=stages, source=where
    )
    shares = _field(raw, "share_per_stage", list, where)
    if len(shares) != stages or not all(
        isinstance(s, int | float) and not isinstance(s, bool) and 0 <= s <= 1 for s in shares
    ):
        raise DataError(f"{where}: share_per_stage {shares!r} must be {stages} numbers in 0..1")
    return OperatingPoint(
        name,
        thresholds,
        _number(raw, "accuracy", where, 0.0, 1.0),
        _number(raw, "energy_per_1k_j", where, 0.0, 1e12),
        tuple(float(s) for s in shares),
        _number(raw, "max_accuracy_loss_pts", where, 0.0, 100.0),
    )


def load_cascade(path: str | Path, *, allow_pickle: bool = False) -> Cascade:
    """Read a cascade file and load its models, checking each one's SHA-256 first.

    Args:
        path: The cascade file.
        allow_pickle: Load pickle/joblib stage models (runs code from them; trusted files only).

    Raises:
        UsageError: The file or a model is missing, or a model's SHA-256 differs from the
            recorded one (the message names the cascade file and the model).
        InvalidValueError: A threshold outside 0..1.
        DataError: Not JSON, too large, or a field missing or of the wrong type.
    """
    p = Path(path)
    source = f"cascade file {str(p)!r}"
    raw = read_input_bytes(p, what="cascade file", max_bytes=MAX_CASCADE_BYTES)
    data = load_json(raw, source=source)
    if not isinstance(data, Mapping):
        raise DataError(f"{source}: must be a JSON object, got {type(data).__name__}")
    version = _field(data, "version", int, source)
    if version != CASCADE_FILE_VERSION:
        raise DataError(
            f"{source}: version {version!r} is not supported (this lowcarb reads version "
            f"{CASCADE_FILE_VERSION}); refit with `lowcarb cascade fit`"
        )
    models = _list(data, "models", source, _MAX_STAGES)
    if len(models) < 2:
        raise DataError(f"{source}: a cascade needs at least 2 models, got {len(models)}")
    thresholds = check_thresholds(
        _field(data, "thresholds", list, source), stages=len(models), source=source
    )
    points = [_point(r, len(models), source) for r in _list(data, "operating_points", source, 64)]
    fitted = next((pt for pt in points if pt.name == FITTED_POINT), None)
    if fitted is not None and fitted.thresholds != thresholds:
        raise DataError(
            f"{source}: thresholds {list(thresholds)!r} differ from the fitted point's "
            f"{list(fitted.thresholds)!r}, whose figures would then be wrong; refit the cascade"
        )
    raw_fit = _field(data, "fitted_on", Mapping, source)
    fitted_on = FittedOn(
        _field(raw_fit, "dataset", str, f"{source}, fitted_on"),
        int(_number(raw_fit, "rows", f"{source}, fitted_on", 1, 2**53)),
        _number(raw_fit, "largest_accuracy", f"{source}, fitted_on", 0.0, 1.0),
        _number(raw_fit, "max_accuracy_loss_pts", f"{source}, fitted_on", 0.0, 100.0),
        _number(raw_fit, "margin_sd", f"{source}, fitted_on", 0.0, 100.0)
        if "margin_sd" in raw_fit
        else 0.0,
    )
    stages = [_stage(m, i, p, source, allow_pickle) for i, m in enumerate(models)]
    check_same_classes([(s.path, s.model) for s in stages], source=source)
    return Cascade(stages, points, fitted_on)


def _stage(raw: Any, i: int, cascade_path: Path, source: str, allow_pickle: bool) -> Stage:
    where = f"{source}, model {i + 1}"
    rel = _field(raw, "path", str, where)
    expected = _field(raw, "sha256", str, where).lower()
    method = _field(raw, "energy_method", str, where)
    if method not in ("measured", "estimated"):
        raise DataError(f"{where}: energy_method {method!r} must be 'measured' or 'estimated'")
    model_path = Path(rel) if Path(rel).is_absolute() else cascade_path.parent / rel
    try:
        size = check_input_file(model_path, what="model file")
    except UsageError as exc:
        raise UsageError(f"{source}: {exc}; refit the cascade or restore the model") from None
    actual = _sha256_file(model_path)
    if actual != expected:
        raise UsageError(
            f"{source}: model {str(model_path)!r} has changed (sha256 {actual[:12]}..., the "
            f"cascade was fitted on {expected[:12]}...); restore that model or refit the cascade"
        )
    model, _ = load_model(model_path, allow_pickle=allow_pickle)
    return Stage(
        model_path,
        actual,
        model,
        _number(raw, "energy_per_1k_j", where, 0.0, 1e12),
        "measured" if method == "measured" else "estimated",
        size,
    )
