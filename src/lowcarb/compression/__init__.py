"""lowcarb.compression: cheaper models, proven before and after, and cascades.

- **Variants** of a fitted model: ONNX export (skl2onnx), dynamic and static INT8 and FP16 with ONNX
  Runtime, structured pruning that removes trees, boosting stages or hidden units, and
  distillation into a smaller student on the teacher's soft labels.
- :func:`compress`: every applicable variant profiled before and after (size, latency at batch 1
  and 64, joules per 1,000 inferences with method, held-out accuracy) and judged by the promotion
  policy; the best that passes is written, one that loses more than the policy allows is not.
"""

from __future__ import annotations

from lowcarb.compression._compress import (
    DEFAULT_POLICY,
    METHODS,
    Candidate,
    CompressionReport,
    compress,
)
from lowcarb.compression._distil import Distilled, distil
from lowcarb.compression._quantize import to_fp16, to_static_int8
from lowcarb.compression._variants import InferenceModel, export, inference_energy, prune

__all__ = [
    "DEFAULT_POLICY",
    "METHODS",
    "Candidate",
    "CompressionReport",
    "Distilled",
    "InferenceModel",
    "compress",
    "distil",
    "export",
    "inference_energy",
    "prune",
    "to_fp16",
    "to_static_int8",
]
