"""What a server answers with: one model, or a cascade of them (``lowcarb.compression``).

Both load through the library's own loaders: :func:`lowcarb.profiling.load_model` for a model file
(ONNX, skops; pickle only when the caller opts in) and :func:`lowcarb.compression.load_cascade`
for a cascade file (``.json``; each stage's SHA-256 checked).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lowcarb._text import plain
from lowcarb.errors import UsageError
from lowcarb.profiling import load_model

__all__ = ["SINGLE_POINT", "SINGLE_STAGE", "ServedModel", "load_served_model"]

#: Longest model name (it is a metric label and a URL path segment).
MAX_NAME_CHARS = 100
#: The stage label and operating point of a single model.
SINGLE_STAGE = "model"
SINGLE_POINT = "default"


@dataclass(frozen=True)
class ServedModel:
    """A fitted model or cascade with the name it is served under.

    Attributes:
        name: The name in responses, metric labels and ``/models/{name}/predict``.
        model: Anything with ``predict(rows) -> one prediction per row``, or a ``Cascade``.
        n_features: Columns each row must have, or None when the model does not say.
        stages: Stage labels, cheapest first (``("model",)`` for a single model).
        stage_energy_per_1k_j: Each stage's joules per 1,000 requests, used only to split a
            measured batch among the stages it passed through (all 1.0 when unknown).
        points: The operating points (``("default",)`` for a single model).
        point: The operating point in use.
    """

    name: str
    model: Any
    n_features: int | None
    stages: tuple[str, ...] = (SINGLE_STAGE,)
    stage_energy_per_1k_j: tuple[float, ...] = (1.0,)
    points: tuple[str, ...] = (SINGLE_POINT,)
    point: str = SINGLE_POINT

    @property
    def is_cascade(self) -> bool:
        return len(self.stages) > 1

    @classmethod
    def wrap(cls, model: Any, *, name: str) -> ServedModel:
        """Serve an in-memory model (its width from ``n_features_in_`` or its input shape)."""
        return cls(check_name(name), model, expected_width(model))

    @classmethod
    def wrap_cascade(cls, cascade: Any, *, name: str, point: str | None = None) -> ServedModel:
        """Serve a ``lowcarb.compression.Cascade`` at ``point`` (default: its fitted point)."""
        chosen = cascade.resolve_point(point).name
        labels: list[str] = []
        for k, stage in enumerate(cascade.stages):
            label = Path(stage.path).stem
            labels.append(label if label not in labels else f"{label}-{k + 1}")
        return cls(
            check_name(name),
            cascade,
            expected_width(cascade.stages[0].model),
            stages=tuple(labels),
            stage_energy_per_1k_j=tuple(float(s.energy_per_1k_j) for s in cascade.stages),
            points=tuple(p.name for p in cascade.points),
            point=chosen,
        )

    def predict(self, rows: Any) -> tuple[Any, np.ndarray[Any, Any] | None]:
        """Predictions for ``rows``, and for a cascade the stage index that answered each row."""
        return self.predict_at(rows, self.point)

    def predict_at(self, rows: Any, point: str) -> tuple[Any, np.ndarray[Any, Any] | None]:
        """As :meth:`predict`, at a given operating point (a cascade's; ignored for a model)."""
        if self.is_cascade:
            routed = self.model.predict(rows, point=point)
            return routed.predictions, routed.stages
        return self.model.predict(rows), None


def check_name(name: str) -> str:
    """Refuse a name that cannot be a metric label and a URL segment."""
    if not name or len(name) > MAX_NAME_CHARS or not name.isprintable() or "/" in name:
        raise UsageError(
            f"model name {plain(name)[:MAX_NAME_CHARS]!r} is not usable: give 1 to "
            f"{MAX_NAME_CHARS} printable characters without '/' (--name)"
        )
    return name


def expected_width(model: Any) -> int | None:
    """The number of feature columns the model was fitted on, if it says."""
    expected = getattr(model, "n_features_in_", None)
    if expected is None:
        shape = getattr(model, "input_shape", None)
        expected = shape[-1] if shape and isinstance(shape[-1], int) else None
    return int(expected) if expected is not None else None


def load_served_model(
    path: str | Path,
    *,
    allow_pickle: bool = False,
    name: str | None = None,
    point: str | None = None,
) -> ServedModel:
    """Load a model file (ONNX, skops; pickle only with ``allow_pickle``) or a cascade (``.json``).

    Args:
        path: The model or cascade file.
        allow_pickle: Load pickle/joblib files, which runs any code they contain.
        name: The name to serve it under (default: the file name without its suffix).
        point: A cascade's operating point (default: the fitted one); refused for a model.

    Raises:
        LowcarbError: The file cannot be loaded (one line naming the problem and the fix).
    """
    p = Path(path)
    served_name = name if name is not None else p.stem
    if p.suffix.lower() == ".json":
        from lowcarb.compression import load_cascade

        cascade = load_cascade(p, allow_pickle=allow_pickle)
        return ServedModel.wrap_cascade(cascade, name=served_name, point=point)
    if point is not None:
        raise UsageError(
            f"--point {point!r} names a cascade operating point, but {str(p)!r} is a single model"
        )
    model, _size = load_model(p, allow_pickle=allow_pickle)
    return ServedModel.wrap(model, name=served_name)
