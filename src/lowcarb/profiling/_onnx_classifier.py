"""What a classifier's ONNX graph says about its outputs: probabilities or scores, and its classes.

Class probabilities (``predict_proba`` and ``classes_`` of
:class:`~lowcarb.profiling._onnx.OnnxModel`, which a cascade stage needs) are read from the graph,
never guessed: the probability output is skl2onnx's second output (a ``[N, C]`` tensor, or the
sequence of maps its ``ZipMap`` makes) unless it comes from a classifier node that applies no
transform (a LinearSVC's or an SVC's decision scores, see :func:`scores_from`), or the first output
when the graph's metadata says it holds probabilities (:data:`OUTPUT_KEY` ``= probabilities``, which
``lowcarb compress`` writes for a PyTorch export); the classes come from the metadata
:data:`CLASSES_KEY` (a JSON list), else from the ``classlabels_*`` attribute of a
``ZipMap``/``LinearClassifier``/``TreeEnsembleClassifier``/``SVMClassifier`` node, else from an
initializer named ``classes`` (skl2onnx's MLP); see :func:`classes_of`.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

__all__ = ["CLASSES_KEY", "OUTPUT_KEY", "classes_of", "scores_from"]

#: Metadata key holding the class labels (a JSON list) of a classifier graph.
CLASSES_KEY = "lowcarb.classes"
#: Metadata key saying what the first output holds (``probabilities``).
OUTPUT_KEY = "lowcarb.output"
_CLASS_ATTRS = ("classlabels_int64s", "classlabels_ints", "classlabels_strings")
# The ``ai.onnx.ml`` classifier nodes; with ZipMap, the nodes that name their classes.
_ML_CLASSIFIERS = frozenset({"LinearClassifier", "TreeEnsembleClassifier", "SVMClassifier"})
_CLASSIFIER_OPS = _ML_CLASSIFIERS | {"ZipMap"}
#: Operators after which a classifier's scores are shares, not raw scores (see scores_from).
_NORMALISING = frozenset(
    {"Softmax", "LogSoftmax", "Sigmoid", "Normalizer", "Div", "Exp", "Clip", "HardSigmoid"}
)


def scores_from(proto: Any, name: str) -> str | None:
    """What makes graph output ``name`` decision scores rather than probabilities, or None.

    skl2onnx names a classifier's second output ``probabilities`` whatever it holds; it holds raw
    scores when the ``ai.onnx.ml`` classifier node it comes from applies no transform
    (``post_transform`` NONE): a ``LinearClassifier`` of a LinearSVC (or of a ``raw_scores``
    export), an ``SVMClassifier`` without Platt scaling (``prob_a``: an SVC fitted without
    ``probability=True``). Each path back from the output stops at the first classifier node,
    or at an operator that turns scores into shares (:data:`_NORMALISING`: a calibrator's
    sigmoid or isotonic map and its division by the sum, a softmax); graphs with no classifier
    node (an MLP's softmax, k-neighbours' votes) and tree ensembles (leaf class shares, or a
    logistic/softmax transform) give probabilities.
    """
    producer = {out: node for node in proto.graph.node for out in node.output}
    todo, seen = [name], set()
    while todo:
        node = producer.get(todo.pop())
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        if node.op_type in _NORMALISING:
            continue  # scores turned into shares on this path (a calibrator, a softmax)
        if node.op_type not in _ML_CLASSIFIERS:
            todo.extend(node.input)
            continue
        attrs = {a.name: a for a in node.attribute}
        post = attrs["post_transform"].s.decode() if "post_transform" in attrs else "NONE"
        platt = "prob_a" in attrs and len(attrs["prob_a"].floats) > 0
        if node.op_type != "TreeEnsembleClassifier" and post == "NONE" and not platt:
            what = "without Platt scaling" if node.op_type == "SVMClassifier" else "untransformed"
            return f"{node.op_type} node {node.name!r} is {what}"
    return None


def classes_of(proto: Any, meta: dict[str, str]) -> np.ndarray[Any, Any] | None:
    """The class labels in the order of the probability columns, or None when the graph has none.

    ``meta`` is the graph's metadata (``metadata_props`` as a dict).
    """
    if CLASSES_KEY in meta:
        try:
            labels = json.loads(meta[CLASSES_KEY])
        except ValueError:
            labels = None
        if isinstance(labels, list) and labels:
            return np.asarray(labels)
    for node in proto.graph.node:
        if node.op_type not in _CLASSIFIER_OPS:
            continue
        for a in node.attribute:
            if a.name in _CLASS_ATTRS and (a.ints or a.strings):
                if a.strings:
                    return np.asarray([v.decode() for v in a.strings])
                return np.asarray(list(a.ints), dtype=np.int64)
    for init in proto.graph.initializer:
        if init.name == "classes":
            import onnx

            return np.asarray(onnx.numpy_helper.to_array(init)).ravel()
    return None
