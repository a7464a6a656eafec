"""The model a server answers with: loaded through :func:`lowcarb.profiling.load_model`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lowcarb._text import plain
from lowcarb.errors import UsageError
from lowcarb.profiling import load_model

__all__ = ["ServedModel", "load_served_model"]

#: Longest model name (it is a metric label and a URL path segment).
MAX_NAME_CHARS = 100


@dataclass(frozen=True)
class ServedModel:
    """A fitted model with the name it is served under.

    Attributes:
        name: The name in responses, metric labels and ``/models/{name}/predict``.
        model: Anything with ``predict(rows) -> one prediction per row``.
        n_features: Columns each row must have, or None when the model does not say.
    """

    name: str
    model: Any
    n_features: int | None

    @classmethod
    def wrap(cls, model: Any, *, name: str) -> ServedModel:
        """Serve an in-memory model (its width from ``n_features_in_`` or its input shape)."""
        return cls(check_name(name), model, expected_width(model))


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
    path: str | Path, *, allow_pickle: bool = False, name: str | None = None
) -> ServedModel:
    """Load a model file to serve (ONNX, skops; pickle only with ``allow_pickle``).

    Args:
        path: The model file.
        allow_pickle: Load pickle/joblib files, which runs any code they contain.
        name: The name to serve it under (default: the file name without its suffix).

    Raises:
        LowcarbError: The file cannot be loaded (one line naming the problem and the fix).
    """
    model, _size = load_model(path, allow_pickle=allow_pickle)
    return ServedModel.wrap(model, name=name if name is not None else Path(path).stem)
