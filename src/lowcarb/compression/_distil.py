"""Knowledge distillation: a small student learns the teacher's soft labels.

The student is a ``StandardScaler`` then an ``MLPRegressor`` (one small hidden layer) fitted to
the teacher's class probabilities (``predict_proba``), not to hard labels: the soft labels carry
what the teacher knows about which classes look alike (Hinton et al. 2015, "Distilling the
Knowledge in a Neural Network"). Its transfer set is the rows given (never the rows it is judged
on) plus jittered copies of them, labelled by the teacher, so no true label is needed. The student
is exported to ONNX with an ``ArgMax`` and a ``Gather`` of the teacher's classes appended, so the
file answers labels like the teacher, and with a second output, ``probabilities``: the scores
clipped at 0, plus a tiny floor, divided by their sum (a regressor's outputs are close to
probabilities but not bound to sum to 1 or stay above 0), with the classes named in the metadata
(``lowcarb.classes``), so a student can be a cascade stage. Two students are fitted, with and
without a ``StandardScaler`` before the MLP, and the one whose held-out fit to the teacher's
probabilities (the early-stopping split of the transfer rows, never the judged rows) is better is
kept: the
teacher's own preprocessing is not part of the student (a teacher pipeline scaling raw digits
pixels inside was learned to 43% without a scaler, 89% with one), while on inputs already on
one scale the scaler can cost a few points.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from lowcarb.errors import DataError, MissingDependencyError, UsageError
from lowcarb.profiling import CLASSES_KEY

__all__ = ["Distilled", "distil"]

#: Added to every clipped score before normalising (see the module): a student whose scores are
#: all at or below 0 gives uniform probabilities, the least sure answer, instead of 0/0.
_FLOOR = 1e-6


@dataclass(frozen=True)
class Distilled:
    """A student model and its ONNX graph.

    Attributes:
        student: The fitted pipeline (a scaler or not, then ``MLPRegressor``; probabilities out).
        onnx_bytes: The graph: rows in; the teacher's class labels out, then probabilities.
        hidden: The student's hidden width.
        transfer_rows: Rows it learned from (given plus jittered copies).
    """

    student: Any
    onnx_bytes: bytes
    hidden: int
    transfer_rows: int


def distil(
    teacher: Any,
    x_transfer: Any,
    *,
    hidden: int = 32,
    copies: int = 4,
    jitter: float = 0.05,
    seed: int = 0,
    max_iter: int = 300,
) -> Distilled:
    """Distil ``teacher`` into a one-hidden-layer student (see the module).

    Raises:
        UsageError: The teacher gives no class probabilities (``predict_proba`` and ``classes_``).
        DataError: Too few transfer rows.
    """
    if not hasattr(teacher, "predict_proba") or getattr(teacher, "classes_", None) is None:
        raise UsageError(
            f"{type(teacher).__name__} gives no class probabilities (predict_proba), which "
            "distillation learns from: distil a scikit-learn classifier"
        )
    try:
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.neural_network import MLPRegressor
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler
    except ImportError:
        raise MissingDependencyError("sklearn", "demo") from None
    x = np.asarray(x_transfer, dtype=np.float64)
    if x.ndim != 2 or len(x) < 20:
        raise DataError(f"distillation needs at least 20 transfer rows, got {len(x)}")
    rng = np.random.default_rng(seed)
    scale = x.std(axis=0) + 1e-12
    augmented = [x] + [x + rng.normal(0.0, jitter, x.shape) * scale for _ in range(copies)]
    rows = np.vstack(augmented)
    soft = np.asarray(teacher.predict_proba(rows), dtype=np.float64)

    def mlp() -> Any:
        return MLPRegressor(
            hidden_layer_sizes=(hidden,), max_iter=max_iter, random_state=seed, early_stopping=True
        )

    # Both students see the same rows and hold out the same 10% (same seed); the one that fits
    # the teacher's probabilities better there is kept.
    students = [make_pipeline(StandardScaler(), mlp()), make_pipeline(mlp())]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for student in students:
            student.fit(rows, soft)
    best = max(students, key=lambda s: float(s[-1].best_validation_score_))
    return Distilled(best, _export(best, teacher.classes_, x), hidden, len(rows))


def _export(student: Any, classes: Any, x_sample: Any) -> bytes:
    try:
        import onnx
        from onnx import TensorProto, helper, numpy_helper
        from skl2onnx import to_onnx
    except ImportError:
        raise MissingDependencyError("skl2onnx", "onnx") from None
    proto = to_onnx(student, np.asarray(x_sample[:1], dtype=np.float32))
    graph = proto.graph
    scores = graph.output[0].name
    last = graph.node[-1]
    if last.op_type == "Reshape" and list(last.output) == [scores]:
        # skl2onnx reshapes a multi-output regressor's scores to one column; the scores per class
        # are the Reshape's input.
        scores = last.input[0]
        graph.node.remove(last)
    labels = np.asarray(classes)
    dtype = TensorProto.INT64 if labels.dtype.kind in "iu" else TensorProto.STRING
    values = labels.astype(np.int64) if dtype == TensorProto.INT64 else labels.astype(str)
    graph.initializer.extend(
        [
            numpy_helper.from_array(np.asarray(values), "lowcarb_classes"),
            numpy_helper.from_array(np.asarray(_FLOOR, dtype=np.float32), "lowcarb_floor"),
            numpy_helper.from_array(np.asarray([1], dtype=np.int64), "lowcarb_axis"),
        ]
    )
    opset = next((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), 13)
    # ReduceSum takes its axes as an input from opset 13, as an attribute before.
    total = (
        helper.make_node("ReduceSum", ["lowcarb_kept", "lowcarb_axis"], ["lowcarb_total"])
        if opset >= 13
        else helper.make_node("ReduceSum", ["lowcarb_kept"], ["lowcarb_total"], axes=[1])
    )
    graph.node.extend(
        [
            helper.make_node("ArgMax", [scores], ["lowcarb_index"], axis=1, keepdims=0),
            helper.make_node("Gather", ["lowcarb_classes", "lowcarb_index"], ["label"], axis=0),
            helper.make_node("Relu", [scores], ["lowcarb_positive"]),
            helper.make_node("Add", ["lowcarb_positive", "lowcarb_floor"], ["lowcarb_kept"]),
            total,
            helper.make_node("Div", ["lowcarb_kept", "lowcarb_total"], ["probabilities"]),
        ]
    )
    del graph.output[:]
    graph.output.extend(
        [
            helper.make_tensor_value_info("label", dtype, [None]),
            helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, [None, len(labels)]),
        ]
    )
    meta = proto.metadata_props.add()
    meta.key, meta.value = CLASSES_KEY, json.dumps(values.tolist())
    onnx.checker.check_model(proto)
    data: bytes = proto.SerializeToString()
    return data
