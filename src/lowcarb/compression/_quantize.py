"""ONNX graphs made cheaper: static INT8 with calibration data, and FP16.

Both start from the FP32 graph that :func:`~lowcarb.compression.export` writes (skl2onnx).

- Static INT8 follows ONNX Runtime's recipe: ``quant_pre_process`` (shape inference and graph
  optimisation; the symbolic shape pass is skipped, as it does not know skl2onnx's ``ai.onnx.ml``
  operators), then ``quantize_static`` in QDQ format with int8 weights and activations, their
  ranges calibrated (MinMax) on rows the caller provides, which must not be the rows the result is
  judged on.
- FP16 converts weights and arithmetic with ``onnxconverter_common.float16`` keeping float32 at
  the graph's edges; skl2onnx's leading float32 ``Cast`` of the input becomes an ``Identity`` first
  (it would otherwise feed float32 into float16 arithmetic).
"""

from __future__ import annotations

import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from lowcarb.errors import DataError, MissingDependencyError, UsageError

__all__ = ["to_fp16", "to_static_int8"]


def _onnx() -> Any:
    try:
        import onnx
    except ImportError:
        raise MissingDependencyError("onnx", "onnx") from None
    return onnx


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:200]


def to_static_int8(data: bytes, calibration: Any, *, batch_size: int = 16) -> bytes:
    """Static INT8 (QDQ) of an FP32 graph, activations calibrated on ``calibration`` rows.

    Raises:
        DataError: The calibration rows do not fit the graph (feature count, values).
        UsageError: The graph cannot be quantized (the message says why).
    """
    onnx = _onnx()
    try:
        from onnxruntime.quantization import (
            CalibrationDataReader,
            QuantFormat,
            QuantType,
            quantize_static,
        )
        from onnxruntime.quantization.shape_inference import quant_pre_process
    except ImportError:
        raise MissingDependencyError("onnxruntime", "onnx") from None
    proto = onnx.load_from_string(data)
    name = proto.graph.input[0].name
    dims = proto.graph.input[0].type.tensor_type.shape.dim
    width = dims[1].dim_value if len(dims) > 1 else 0
    rows = np.asarray(calibration, dtype=np.float32)
    if rows.ndim != 2 or (width and rows.shape[1] != width) or not len(rows):
        shape = "x".join(map(str, rows.shape))
        raise DataError(
            f"calibration data has shape {shape}; the model takes rows of {width or '?'} "
            "features: give held-out rows of the same features"
        )
    if not np.isfinite(rows).all():
        raise DataError("calibration data holds NaN or infinite values; clean the rows first")
    batches = [{name: rows[i : i + batch_size]} for i in range(0, len(rows), batch_size)]

    class _Reader(CalibrationDataReader):  # type: ignore[misc]  # ORT's class is untyped
        def __init__(self) -> None:
            self._it = iter(batches)

        def get_next(self) -> dict[str, Any] | None:
            return next(self._it, None)

    typed = onnx.load_from_string(data)
    _settle_float_types(typed)  # types known downstream of ONNX-ML operators: calibrated too
    with tempfile.TemporaryDirectory(prefix="lowcarb-static-int8-") as tmp:
        src, pre, out = Path(tmp, "fp32.onnx"), Path(tmp, "pre.onnx"), Path(tmp, "int8.onnx")
        src.write_bytes(typed.SerializeToString())
        try:
            quant_pre_process(str(src), str(pre), skip_symbolic_shape=True)
            quantize_static(
                str(pre),
                str(out),
                _Reader(),
                quant_format=QuantFormat.QDQ,
                weight_type=QuantType.QInt8,
                activation_type=QuantType.QInt8,
            )
        except Exception as exc:  # ORT raises many types; all mean "cannot quantize"
            raise UsageError(f"static int8 failed: {_first_line(exc)}") from None
        result = out.read_bytes()
    ops = {n.op_type for n in onnx.load_from_string(result).graph.node}
    if "QuantizeLinear" not in ops:
        raise UsageError("static int8 found nothing to quantize in this graph (no MatMul/Gemm)")
    return result


def to_fp16(data: bytes) -> bytes:
    """FP16 weights and arithmetic, float32 inputs and outputs.

    Raises:
        UsageError: The graph has nothing FP16 applies to, or conversion fails.
    """
    onnx = _onnx()
    try:
        from onnxconverter_common import float16
    except ImportError:
        raise MissingDependencyError("onnxconverter_common", "onnx") from None
    proto = onnx.load_from_string(data)
    if not {n.op_type for n in proto.graph.node} & {"MatMul", "Gemm", "Conv"}:
        raise UsageError(
            "fp16 does not apply: the graph has no MatMul/Gemm/Conv (tree and linear models "
            "become ai.onnx.ml operators)"
        )
    _settle_float_types(proto)
    try:
        with warnings.catch_warnings():
            # The converter warns for every weight below FP16's range that it rounds: that is
            # what FP16 is, and the variant's accuracy is measured, not assumed.
            warnings.simplefilter("ignore", UserWarning)
            converted = float16.convert_float_to_float16(proto, keep_io_types=True)
    except Exception as exc:  # the converter raises many types; all mean "cannot convert"
        raise UsageError(f"fp16 conversion failed: {_first_line(exc)}") from None
    result: bytes = converted.SerializeToString()
    return result


#: ONNX-ML operators whose output is always ``tensor(float)`` (the ONNX-ML operator specs).
_FLOAT_ML_OPS = frozenset({"Scaler", "Normalizer", "FeatureVectorizer"})


def _settle_float_types(proto: Any) -> None:
    """Prepare a graph for the FP16 converter and the INT8 quantizer: Cast-to-float nodes on
    tensors that are float already (skl2onnx casts its input, and a scaler's output, to be safe)
    become Identity, and the float outputs of ONNX-ML operators get their type declared, which
    shape inference cannot give them. Without it, on a StandardScaler + MLP pipeline: the FP16
    converter left such a Cast declaring float while making its output FP16 (ONNX Runtime
    refused the graph), and static INT8 found the tensors after the scaler untyped, so left
    them out of calibration and then failed on the softmax output ("Only an existing tensor
    can be modified")."""
    from onnx import TensorProto, helper, shape_inference

    try:
        inferred = shape_inference.infer_shapes(proto).graph
        known = [*inferred.value_info, *inferred.input, *inferred.output]
        types = {vi.name: vi.type.tensor_type.elem_type for vi in known}
    except Exception:  # inference is a help here, not a requirement
        types = {}
    declared = {vi.name for vi in proto.graph.value_info}
    floats = {proto.graph.input[0].name} if types.get(proto.graph.input[0].name, 1) == 1 else set()
    floats |= {name for name, t in types.items() if t == TensorProto.FLOAT}
    for node in proto.graph.node:
        if node.domain == "ai.onnx.ml" and node.op_type in _FLOAT_ML_OPS:
            for out in node.output:
                floats.add(out)
                if out not in declared:
                    proto.graph.value_info.append(
                        helper.make_tensor_value_info(out, TensorProto.FLOAT, None)
                    )
    for node in proto.graph.node:
        to_float = any(a.name == "to" and a.i == TensorProto.FLOAT for a in node.attribute)
        if node.op_type == "Cast" and to_float and node.input[0] in floats:
            node.op_type = "Identity"
            del node.attribute[:]
