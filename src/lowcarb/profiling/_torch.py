"""PyTorch classifiers: load one for profiling and compression, with a scikit-learn-like face.

Two file forms (PyTorch imported lazily; it is an optional install):

- ``.pt2``: a program saved by ``torch.export.save``. Loading it (``torch.export.load``) reads
  tensors and a serialised graph; it runs no Python code from the file, so no opt-in is needed.
- ``.pt``/``.pth``: a whole ``nn.Module`` saved by ``torch.save(model)``. That is a pickle:
  loading it runs code from the file, so it needs ``allow_pickle=True`` (``--allow-pickle``).

The module maps float32 rows ``[N, F]`` to class scores ``[N, C]`` (logits, as
``nn.CrossEntropyLoss`` expects; a module ending in ``nn.Softmax`` gives probabilities and is
used as it is). Classes are ``0..C-1``; ``predict`` is the argmax, ``predict_proba`` the softmax.
``C`` and ``F`` are read from the model (the program's input shape, or the first and last
``in_features``/``out_features`` of the module), never guessed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from lowcarb.errors import DataError, MissingDependencyError, UsageError

__all__ = ["TORCH_SUFFIXES", "TorchModel", "is_torch_model", "load_torch"]

#: File suffixes loaded as PyTorch models.
TORCH_SUFFIXES = (".pt2", ".pt", ".pth")


def _torch() -> Any:
    try:
        import torch
    except ImportError:
        raise MissingDependencyError("torch", "torch") from None
    return torch


class TorchModel:
    """A PyTorch classifier run on the CPU, with ``predict``, ``predict_proba`` and ``classes_``.

    Attributes:
        path: The model file.
        module: The ``nn.Module`` (for a ``.pt2`` program: ``ExportedProgram.module()``).
        n_features: Input features per row.
        classes_: ``0..C-1``.
        source: ``torch.export program`` or ``pickled nn.Module``.
    """

    def __init__(self, path: Path, module: Any, n_features: int, source: str) -> None:
        torch = _torch()
        self.path = path
        self.module = module
        self.n_features = n_features
        self.source = source
        with torch.no_grad():
            probe = self._scores(np.zeros((1, n_features), dtype=np.float32))
        if probe.ndim != 2 or probe.shape[1] < 2:
            raise UsageError(
                f"{str(path)!r} returns shape {tuple(probe.shape)} for one row; a classifier "
                "returns class scores [rows, classes]"
            )
        self.classes_: np.ndarray[Any, Any] = np.arange(probe.shape[1])
        last = list(module.modules())[-1] if hasattr(module, "modules") else None
        self.ends_in_softmax = type(last).__name__ == "Softmax"

    def _scores(self, x: Any) -> np.ndarray[Any, Any]:
        torch = _torch()
        rows = torch.as_tensor(np.asarray(x, dtype=np.float32))
        try:
            with torch.no_grad():
                out = self.module(rows)
        except (RuntimeError, TypeError, ValueError, AssertionError) as exc:
            # A torch.export program checks its input shapes with assertions ("Guard failed").
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise DataError(
                f"{str(self.path)!r} cannot run on rows of shape {tuple(rows.shape)}: "
                f"{first[:200]}; give rows of {self.n_features} features (a program must be "
                "exported with a dynamic batch dimension)"
            ) from None
        if isinstance(out, tuple | list):
            out = out[0]
        return np.asarray(out.detach().numpy(), dtype=np.float64)

    def predict(self, x: Any) -> np.ndarray[Any, Any]:
        """Class labels (argmax of the scores)."""
        return np.asarray(self.classes_[self._scores(x).argmax(axis=1)])

    def predict_proba(self, x: Any) -> np.ndarray[Any, Any]:
        """Class probabilities: the softmax of the scores (as they are after a Softmax)."""
        scores = self._scores(x)
        if self.ends_in_softmax:
            return scores
        shifted = np.exp(scores - scores.max(axis=1, keepdims=True))
        return np.asarray(shifted / shifted.sum(axis=1, keepdims=True))

    def __repr__(self) -> str:
        return f"TorchModel({str(self.path)!r}, {self.source})"


def is_torch_model(model: Any) -> bool:
    """Whether ``model`` is a :class:`TorchModel`."""
    return isinstance(model, TorchModel)


def _module_features(module: Any) -> int | None:
    for m in module.modules():
        n = getattr(m, "in_features", None)
        if isinstance(n, int):
            return n
    return None


def load_torch(path: Path, *, allow_pickle: bool) -> TorchModel:
    """Load a ``.pt2`` program or (with ``allow_pickle``) a pickled ``.pt``/``.pth`` module.

    Raises:
        MissingDependencyError: PyTorch is not installed.
        UsageError: A pickle without ``allow_pickle``, or a model whose input size is unknown.
        DataError: The file cannot be loaded.
    """
    torch = _torch()
    if path.suffix.lower() == ".pt2":
        try:
            program = torch.export.load(str(path))
        except Exception as exc:  # torch raises many types for a bad archive
            raise DataError(f"{str(path)!r} is not a torch.export program: {exc}") from None
        shapes = [
            n.meta["val"].shape
            for n in program.graph.nodes
            if n.op == "placeholder" and n.name in program.graph_signature.user_inputs
        ]
        if len(shapes) != 1 or len(shapes[0]) != 2:
            raise UsageError(
                f"{str(path)!r} takes {len(shapes)} input(s); a classifier program takes one "
                "[rows, features] tensor"
            )
        return TorchModel(path, program.module(), int(shapes[0][1]), "torch.export program")
    if not allow_pickle:
        raise UsageError(
            f"{str(path)!r} is a pickled PyTorch module: loading it runs any code it contains; "
            "pass --allow-pickle (allow_pickle=True) only for a file you trust, or save it with "
            "torch.export.save as .pt2"
        )
    try:
        # Trusted input by contract (allow_pickle), as with pickle.load in _loading.
        module = torch.load(str(path), weights_only=False, map_location="cpu")
    except Exception as exc:  # torch raises many types for a bad pickle
        raise DataError(f"model file {str(path)!r} cannot be loaded: {exc}") from None
    if not isinstance(module, torch.nn.Module):
        raise UsageError(
            f"{str(path)!r} holds a {type(module).__name__}, not an nn.Module; save the whole "
            "model (torch.save(model)) or a torch.export program (.pt2)"
        )
    module.eval()
    n = _module_features(module)
    if n is None:
        raise UsageError(
            f"{str(path)!r}: the module has no layer with in_features; save it with "
            "torch.export.save (.pt2), which records its input shape"
        )
    return TorchModel(path, module, n, "pickled nn.Module")
