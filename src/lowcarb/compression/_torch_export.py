"""PyTorch classifiers to ONNX with ``torch.onnx.export`` (the ``torch.export`` based exporter).

The graph written is the module followed by a softmax (unless the module already ends in one), so
its single output holds class probabilities; the metadata says so (``lowcarb.output``) and names
the classes (``lowcarb.classes``), which lets the graph serve as a cascade stage. The batch
dimension is dynamic. The exporter needs ``onnxscript`` beside PyTorch (extra ``lowcarb[torch]``).
Its progress lines, which it prints on stdout, go to stderr, so ``--json`` output stays one object.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sys
import warnings
from typing import Any

import numpy as np

from lowcarb.errors import MissingDependencyError, UsageError
from lowcarb.profiling import CLASSES_KEY, OUTPUT_KEY, TorchModel

__all__ = ["export_torch"]


def export_torch(model: TorchModel, x_sample: Any) -> bytes:
    """The ONNX graph (float32 input ``[batch, features]``, output probabilities) of ``model``.

    Raises:
        MissingDependencyError: ``onnxscript`` (the exporter's dependency) is not installed.
        UsageError: The exporter cannot translate the module (its first line says why).
    """
    import torch

    try:
        import onnxscript  # noqa: F401  (the exporter imports it; say so before it fails)
    except ImportError:
        raise MissingDependencyError("onnxscript", "torch") from None

    class Probabilities(torch.nn.Module):
        def __init__(self, inner: Any, softmax: bool) -> None:
            super().__init__()
            self.inner = inner
            self.softmax = softmax

        def forward(self, x: Any) -> Any:
            out = self.inner(x)
            return torch.softmax(out, dim=-1) if self.softmax else out

    wrapped = Probabilities(model.module, not model.ends_in_softmax)
    rows = np.asarray(x_sample, dtype=np.float32)[:2]
    if len(rows) < 2:  # a batch of 2 keeps the exporter from specialising the batch to 1
        rows = np.repeat(rows, 2, axis=0)
    sample = torch.as_tensor(rows)
    batch = torch.export.Dim("batch", min=1)
    exporter_log = logging.getLogger("torch.onnx")
    level = exporter_log.level
    exporter_log.setLevel(logging.ERROR)  # "torchvision is not installed" and such, per export
    try:
        with contextlib.redirect_stdout(sys.stderr), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            program = torch.onnx.export(
                wrapped,
                (sample,),
                dynamo=True,
                input_names=["input"],
                output_names=["probabilities"],
                dynamic_shapes=({0: batch},),
                verbose=False,
            )
    except Exception as exc:  # the exporter raises many types; all mean "cannot export"
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UsageError(
            f"{str(model.path)!r} cannot be exported to ONNX by torch.onnx.export: {first[:200]}"
        ) from None
    finally:
        exporter_log.setLevel(level)
    if program is None:  # only when given a file to write, which this call never does
        raise UsageError(f"torch.onnx.export returned no program for {str(model.path)!r}")
    proto = program.model_proto
    for key, value in (
        (OUTPUT_KEY, "probabilities"),
        (CLASSES_KEY, json.dumps([int(c) for c in model.classes_])),
    ):
        prop = proto.metadata_props.add()
        prop.key, prop.value = key, value
    data: bytes = proto.SerializeToString()
    return data
