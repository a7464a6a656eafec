"""Parameter and FLOP counts of fitted scikit-learn models, derived from their fitted arrays.

Counting convention (per inference, i.e. per input row):

- A dense layer or linear model with ``d`` inputs and ``k`` outputs costs ``2*d*k`` FLOPs: ``d*k``
  multiplications and ``d*k`` additions (``d-1`` per output plus the bias). This is the usual
  "one multiply-accumulate = 2 FLOPs" convention; tools that count MACs (fvcore, thop) report half.
  Activations, the logistic/softmax link and the final argmax are not counted.
- A decision tree costs one comparison per internal node on the path to a leaf. The path length
  is the expected depth under the training distribution (each leaf's depth weighted by the
  training samples that reached it, ``tree_.n_node_samples``). Ensembles add one addition per
  tree and output value to aggregate the leaves.
- Scalers (standard, min-max) cost 2 FLOPs per feature.

Parameters are the fitted numbers: weights and biases; split thresholds and leaf values.
Anything else (kernels, neighbours, unknown pipeline steps) is "not derivable" and says why.
Models are inspected by their fitted attributes, so scikit-learn itself is not imported here.
ONNX graphs (:class:`~lowcarb.profiling._onnx.OnnxModel`) are counted from the graph under the
same convention by :func:`~lowcarb.profiling._onnx_complexity.count_onnx_complexity`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from lowcarb.profiling._complexity import Complexity
from lowcarb.profiling._onnx import OnnxModel
from lowcarb.profiling._onnx_complexity import count_onnx_complexity

__all__ = ["Complexity", "count_complexity"]


def _linear(model: Any) -> Complexity:
    coef = np.atleast_2d(np.asarray(model.coef_))
    k, d = coef.shape
    intercept = np.asarray(getattr(model, "intercept_", 0.0))
    params = int(coef.size + (intercept.size if np.ndim(intercept) else 1))
    return Complexity(
        float(2 * k * d), params, f"linear: {k} output(s) x {d} features, 2 FLOPs/MAC"
    )


def _mlp(model: Any) -> Complexity:
    flops = 0
    params = 0
    shapes = []
    for w, b in zip(model.coefs_, model.intercepts_, strict=True):
        i, o = np.shape(w)
        flops += 2 * i * o
        params += int(np.size(w) + np.size(b))
        shapes.append(f"{i}x{o}")
    note = f"MLP layers {' -> '.join(shapes)}, 2 FLOPs/MAC, activations not counted"
    return Complexity(float(flops), params, note)


def _tree_stats(tree: Any) -> tuple[float, int, int]:
    """(expected comparisons per row, thresholds + leaf values, output values per leaf)."""
    t = tree.tree_
    left = np.asarray(t.children_left)
    right = np.asarray(t.children_right)
    samples = np.asarray(t.n_node_samples, dtype=float)
    depth = np.zeros(t.node_count, dtype=float)
    # Nodes are numbered so that a child always follows its parent.
    for node in range(t.node_count):
        if left[node] != -1:
            depth[left[node]] = depth[node] + 1
            depth[right[node]] = depth[node] + 1
    leaves = left == -1
    expected = float((depth[leaves] * samples[leaves]).sum() / samples[0]) if samples[0] else 0.0
    values_per_leaf = int(np.prod(np.shape(t.value)[1:]))
    params = int((~leaves).sum() + leaves.sum() * values_per_leaf)
    return expected, params, values_per_leaf


def _trees(model: Any, trees: Sequence[Any], kind: str) -> Complexity:
    comparisons = 0.0
    params = 0
    aggregate = 0
    for tree in trees:
        e, p, v = _tree_stats(tree)
        comparisons += e
        params += p
        aggregate += v
    if len(trees) == 1:
        aggregate = 0
    note = (
        f"{kind}: {len(trees)} tree(s), {comparisons:.1f} expected comparisons per row "
        f"(leaf depth weighted by training samples) + {aggregate} leaf-value additions"
    )
    return Complexity(comparisons + aggregate, params, note)


def _scaler(model: Any) -> Complexity | None:
    name = type(model).__name__
    if name == "StandardScaler":
        d = int(model.n_features_in_)
        params = sum(int(np.size(a)) for a in (model.mean_, model.scale_) if a is not None)
        return Complexity(float(2 * d), params, f"StandardScaler: 2 FLOPs x {d} features")
    if name == "MinMaxScaler":
        d = int(model.n_features_in_)
        return Complexity(float(2 * d), 2 * d, f"MinMaxScaler: 2 FLOPs x {d} features")
    return None


def count_complexity(model: Any) -> Complexity:
    """Count FLOPs per inference and parameters of a fitted scikit-learn model.

    Supported: ONNX graphs loaded by :func:`~lowcarb.profiling.load_model` (see
    :mod:`lowcarb.profiling._onnx_complexity`), linear models (``sklearn.linear_model``,
    ``LinearSVC``/``LinearSVR``), MLPs, decision trees, random forests, extra trees, gradient
    boosting, and pipelines of standard or min-max scalers followed by one of those.

    Args:
        model: A fitted estimator.

    Returns:
        The counts, or ``flops=None, params=None`` with a note saying why they are not derivable.
    """
    cls = type(model)
    name = cls.__name__
    if isinstance(model, OnnxModel):
        return count_onnx_complexity(model.proto, output=model.output_name)
    if hasattr(model, "steps"):  # Pipeline
        parts = []
        for step_name, step in model.steps:
            if step is None or step == "passthrough":
                continue
            c = _scaler(step) or count_complexity(step)
            if c.flops is None or c.params is None:
                return Complexity(None, None, f"pipeline step {step_name!r}: {c.note}")
            parts.append(c)
        return Complexity(
            sum(p.flops or 0.0 for p in parts),
            sum(p.params or 0 for p in parts),
            "pipeline: " + "; ".join(p.note for p in parts),
        )
    if hasattr(model, "coefs_") and hasattr(model, "intercepts_"):
        return _mlp(model)
    if hasattr(model, "tree_"):
        return _trees(model, [model], name)
    estimators = getattr(model, "estimators_", None)
    if estimators is not None and name.startswith(("RandomForest", "ExtraTrees", "GradientBoost")):
        flat = list(np.asarray(estimators, dtype=object).ravel())
        if all(hasattr(t, "tree_") for t in flat):
            return _trees(model, flat, name)
    linear_module = cls.__module__.startswith("sklearn.linear_model")
    if (linear_module or name in ("LinearSVC", "LinearSVR")) and hasattr(model, "coef_"):
        return _linear(model)
    return Complexity(None, None, f"FLOPs not derivable for {cls.__module__}.{name}")
