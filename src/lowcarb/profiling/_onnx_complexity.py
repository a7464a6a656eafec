"""ONNX graphs: their parameters and FLOPs per inference, counted from the graph.

Counting convention (per inference: static shapes with the batch dimension set to 1; only the nodes
the first output depends on, since ``predict`` computes nothing else). It is the convention of
:mod:`lowcarb.profiling._flops`, so a scikit-learn model and its ONNX conversion count the same:

- ``MatMul``/``Gemm`` cost ``2*M*N*K`` FLOPs (one multiply-accumulate = 2 FLOPs). That count already
  holds the one addition per output a bias needs (``K`` multiplications and ``K-1`` additions plus
  the bias), so a bias (``Gemm``'s ``C``, ``Conv``'s ``B``, or an ``Add`` of a constant straight
  onto a MatMul/Gemm/Conv output) adds nothing; without a bias it overcounts by ``M*N``.
- ``Conv`` costs ``2*Cout*Hout*Wout*(Cin/groups)*kH*kW`` (any number of spatial dimensions).
- Quantized graphs (ONNX Runtime's INT8): ``MatMulInteger``/``QLinearMatMul`` count as
  ``MatMul`` and ``ConvInteger``/``QLinearConv`` as ``Conv``, an integer multiply-accumulate being
  2 operations like a float one, so an INT8 variant and its FP32 original compare; quantizing and
  dequantizing (``QuantizeLinear``, ``DequantizeLinear``, ``DynamicQuantizeLinear``) are
  conversions, not counted, as ``Cast`` is (about one operation per element, named in the note).
- ``Add``/``Sub``/``Mul``/``Div`` (other than a bias) cost 1 FLOP per output element.
- Activations and links (``Relu``, ``Sigmoid``, ``Tanh``, ``Softmax``, ``LeakyRelu``,
  ``LogSoftmax``), the final ``ArgMax`` and data movement (``Cast``, ``Reshape``, ``ZipMap``, ...)
  are not counted, as in ``_flops.py`` (activations cost one FLOP per element or so; they are named
  in the note).
- ``LinearClassifier``/``LinearRegressor`` (``ai.onnx.ml``): ``2*d*k`` for ``k`` outputs of ``d``
  features; the post-transform (softmax, logistic) is a link and not counted.
- ``TreeEnsembleClassifier``/``TreeEnsembleRegressor``: one comparison per branch node on the
  expected path, plus one addition per tree and output value to aggregate the leaves (as
  ``_flops.py``). ONNX graphs do not carry the training samples that ``_flops.py`` weights leaves
  by, so the path is weighted by ``nodes_hitrates`` when the graph has them and otherwise each
  branch is taken with probability 1/2 (the expected path of a random walk down the tree).

Any other operator, or a shape that stays unknown after ``onnx.shape_inference.infer_shapes``,
makes the FLOPs ``None`` with a note naming it: never a silently wrong number.

Parameters are the elements of floating-point initializers (weights, biases), of integer
initializers that quantized operators take (INT8 weights, INT32 biases, zero points), plus the
numeric weights of ML operators (coefficients, intercepts, split thresholds, leaf values); other
integer initializers (class labels, shapes) are not parameters.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import TYPE_CHECKING, Any

import numpy as np

from lowcarb.profiling._complexity import Complexity
from lowcarb.profiling._onnx import import_onnx

if TYPE_CHECKING:
    import onnx

__all__ = ["count_onnx_complexity"]

#: Matrix products (left operand first) and convolutions (by the input holding the weight).
_MATMUL = frozenset({"MatMul", "Gemm", "MatMulInteger", "QLinearMatMul"})
_CONV_W = {"Conv": 1, "ConvInteger": 1, "QLinearConv": 3}
_MAC = _MATMUL | frozenset(_CONV_W)
#: Operators whose integer inputs are quantized weights, biases or zero points (parameters).
_QUANTIZED_INPUTS = frozenset(
    {"DequantizeLinear", "MatMulInteger", "QLinearMatMul", "ConvInteger", "QLinearConv"}
)
_ELEMENTWISE = frozenset({"Add", "Sub", "Mul", "Div"})
# fmt: skip below: one op per line would hide the two groups (activations, data movement).
_NOT_COUNTED = frozenset(
    {
        # activations and links, as _flops.py
        "Relu", "Sigmoid", "Tanh", "Softmax", "LogSoftmax", "LeakyRelu", "ArgMax", "ArgMin",
        # data movement, no arithmetic
        "Cast", "Reshape", "Flatten", "Squeeze", "Unsqueeze", "Transpose", "Identity", "Constant",
        "Shape", "Gather", "Concat", "Dropout", "ArrayFeatureExtractor", "ZipMap",
        # conversions to and from 8-bit integers
        "QuantizeLinear", "DequantizeLinear", "DynamicQuantizeLinear",
    }
)  # fmt: skip
_TREES = frozenset({"TreeEnsembleClassifier", "TreeEnsembleRegressor"})
_LINEAR = frozenset({"LinearClassifier", "LinearRegressor"})


def _params(onnx: Any, graph: Any) -> int:
    total = 0
    quantized = {i for n in graph.node if n.op_type in _QUANTIZED_INPUTS for i in n.input}
    for init in graph.initializer:
        dtype = onnx.helper.tensor_dtype_to_np_dtype(init.data_type)
        if np.dtype(dtype).kind in "fc" or init.name in quantized:
            total += int(np.prod(init.dims, dtype=np.int64))
    for node in graph.node:
        if node.op_type in _LINEAR:
            attrs = _attrs(onnx, node)
            total += len(attrs.get("coefficients", ())) + len(attrs.get("intercepts", ()))
        elif node.op_type in _TREES:
            attrs = _attrs(onnx, node)
            modes = attrs.get("nodes_modes", ())
            total += sum(1 for m in modes if _text(m) != "LEAF")
            total += len(attrs.get("class_weights", attrs.get("target_weights", ())))
    return total


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _attrs(onnx: Any, node: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for a in node.attribute:
        value = onnx.helper.get_attribute_value(a)
        if a.name.endswith("_as_tensor"):  # double-precision variants of the float attributes
            out[a.name.removesuffix("_as_tensor")] = onnx.numpy_helper.to_array(value).ravel()
        else:
            out[a.name] = value
    return out


def _static(onnx: Any, proto: onnx.ModelProto) -> Any:
    """A copy of the graph with the batch dimension set to 1 and shapes inferred."""
    fixed = onnx.ModelProto()
    fixed.CopyFrom(proto)
    init_names = {i.name for i in fixed.graph.initializer}
    for value in fixed.graph.input:
        dims = value.type.tensor_type.shape.dim
        if value.name not in init_names and len(dims) > 0 and dims[0].dim_value <= 0:
            dims[0].Clear()
            dims[0].dim_value = 1
    del fixed.graph.value_info[:]
    return onnx.shape_inference.infer_shapes(fixed)


def _shapes(graph: Any) -> dict[str, tuple[int, ...] | None]:
    shapes: dict[str, tuple[int, ...] | None] = {}
    for value in (*graph.input, *graph.value_info, *graph.output):
        t = value.type.tensor_type
        if not t.HasField("shape"):
            shapes.setdefault(value.name, None)
            continue
        dims = tuple(int(d.dim_value) if d.dim_value > 0 else -1 for d in t.shape.dim)
        shapes[value.name] = None if -1 in dims else dims
    for init in graph.initializer:
        shapes[init.name] = tuple(int(d) for d in init.dims)
    return shapes


def _needed(graph: Any, output: str) -> list[Any]:
    """The nodes ``output`` depends on, in graph order."""
    producer = {name: i for i, n in enumerate(graph.node) for name in n.output}
    keep: set[int] = set()
    stack = [output]
    while stack:
        i = producer.get(stack.pop())
        if i is None or i in keep:
            continue
        keep.add(i)
        stack.extend(graph.node[i].input)
    return [n for i, n in enumerate(graph.node) if i in keep]


def _tree_flops(onnx: Any, node: Any) -> float:
    a = _attrs(onnx, node)
    trees, ids = list(a["nodes_treeids"]), list(a["nodes_nodeids"])
    modes = [_text(m) for m in a["nodes_modes"]]
    true_ids, false_ids = list(a["nodes_truenodeids"]), list(a["nodes_falsenodeids"])
    hits = list(a.get("nodes_hitrates", ()))
    weighted = _has_hitrates(onnx, node)
    index = {(t, n): i for i, (t, n) in enumerate(zip(trees, ids, strict=True))}
    children: dict[int, list[int]] = defaultdict(list)
    for i, mode in enumerate(modes):
        if mode != "LEAF":
            children[i] = [index[(trees[i], true_ids[i])], index[(trees[i], false_ids[i])]]
    has_parent = {c for cs in children.values() for c in cs}
    roots = [i for i in range(len(modes)) if i not in has_parent]
    comparisons = 0.0
    for root in roots:
        stack = [(root, 1.0)]
        while stack:
            i, p = stack.pop()
            if i not in children:
                continue
            comparisons += p
            kids = children[i]
            total = sum(hits[k] for k in kids) if weighted else 0.0
            for k in kids:
                stack.append((k, p * (hits[k] / total if total > 0 else 0.5)))
    outputs = len(set(a.get("class_ids", a.get("target_ids", ())))) or 1
    aggregate = outputs * len(roots) if len(roots) > 1 else 0
    return comparisons + aggregate


def _has_hitrates(onnx: Any, node: Any) -> bool:
    a = _attrs(onnx, node)
    hits = list(a.get("nodes_hitrates", ()))
    return len(hits) == len(a["nodes_modes"]) and len(set(hits)) > 1


def _node_flops(
    onnx: Any, node: Any, shapes: dict[str, tuple[int, ...] | None], bias_of: set[str]
) -> float | None:
    """FLOPs of one node, 0.0 for those not counted, None when a shape is unknown."""
    op = node.op_type
    if op in _NOT_COUNTED:
        return 0.0
    if op in _LINEAR:
        a = _attrs(onnx, node)
        return 2.0 * len(a.get("coefficients", ()))
    if op in _TREES:
        return _tree_flops(onnx, node)
    out = shapes.get(node.output[0])
    if op in _ELEMENTWISE:
        if op == "Add" and any(i in bias_of for i in node.input):
            return 0.0  # a bias, held by the MatMul/Gemm/Conv count
        return None if out is None else float(np.prod(out, dtype=np.int64))
    if op in _MATMUL:
        a_shape = shapes.get(node.input[0])
        if out is None or a_shape is None or not a_shape:
            return None
        trans_a = op == "Gemm" and any(x.name == "transA" and x.i for x in node.attribute)
        k = a_shape[0] if trans_a and len(a_shape) == 2 else a_shape[-1]
        return 2.0 * float(np.prod(out, dtype=np.int64)) * k
    if op in _CONV_W:
        w = shapes.get(node.input[_CONV_W[op]])
        if out is None or w is None:
            return None
        return 2.0 * float(np.prod(out, dtype=np.int64)) * float(np.prod(w[1:], dtype=np.int64))
    raise KeyError(op)


def count_onnx_complexity(proto: onnx.ModelProto, *, output: str | None = None) -> Complexity:
    """Count FLOPs per inference (batch 1) and parameters of an ONNX graph.

    Args:
        proto: The graph.
        output: The output whose dependencies are counted (default: the first, as ``predict``).

    Returns:
        The counts; ``flops`` is None, with a note naming them, when the graph has operators
        this counter does not know or shapes that stay unknown at batch 1.
    """
    onnx = import_onnx()
    params = _params(onnx, proto.graph)
    try:
        inferred = _static(onnx, proto)
    except Exception as exc:  # onnx raises InferenceError and ValidationError subclasses
        return Complexity(None, params, f"ONNX shape inference failed: {exc}")
    graph = inferred.graph
    target = output or graph.output[0].name
    nodes = _needed(graph, target)
    unknown = sorted(
        {n.op_type for n in nodes if n.op_type not in (_NOT_COUNTED | _ELEMENTWISE | _MAC)}
        - _LINEAR
        - _TREES
    )
    if unknown:
        return Complexity(
            None, params, f"FLOPs not derivable: ONNX operator(s) {', '.join(unknown)} not counted"
        )
    shapes = _shapes(graph)
    constants = {i.name for i in graph.initializer}
    constants |= {o for n in graph.node if n.op_type == "Constant" for o in n.output}
    mac_outputs = {o for n in nodes if n.op_type in _MAC for o in n.output}
    # An Add of a constant onto a MatMul/Gemm/Conv output is that layer's bias.
    bias_of = {
        i
        for n in nodes
        if n.op_type == "Add" and any(x in mac_outputs for x in n.input)
        for i in n.input
        if i in constants
    }
    by_op: defaultdict[str, float] = defaultdict(float)
    counts: Counter[str] = Counter()
    for n in nodes:
        f = _node_flops(onnx, n, shapes, bias_of)
        if f is None:
            why = f"shape of {n.op_type} node {n.name or n.output[0]!r} unknown at batch 1"
            return Complexity(None, params, f"FLOPs not derivable: {why}")
        op = "Add (bias)" if n.op_type == "Add" and not f else n.op_type
        by_op[op] += f
        counts[op] += 1
    counted = ", ".join(f"{op} x{counts[op]} {by_op[op]:g}" for op in sorted(by_op) if by_op[op])
    free = ", ".join(sorted(op for op in counts if not by_op[op]))
    note = (
        f"ONNX graph at batch 1, nodes behind output {target!r}: {counted or 'no arithmetic'}; "
        f"not counted: {free or 'none'} (2 FLOPs/MAC with bias, activations and data movement "
        "free, as for scikit-learn)"
    )
    if any(n.op_type in _TREES for n in nodes):
        note += (
            "; tree paths weighted by nodes_hitrates"
            if all(_has_hitrates(onnx, n) for n in nodes if n.op_type in _TREES)
            else "; tree paths: each branch taken with probability 1/2 (no hit rates in the graph)"
        )
    return Complexity(float(sum(by_op.values())), params, note)
