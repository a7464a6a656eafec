"""lowcarb.compression: cheaper models, proven before and after, and cascades.

- **Variants** of a fitted model: ONNX export (skl2onnx), dynamic and static INT8 and FP16 with ONNX
  Runtime, structured pruning that removes trees, boosting stages or hidden units, and
  distillation into a smaller student on the teacher's soft labels.
- **Cascades** (:func:`fit_cascade`, :func:`load_cascade`, :func:`cascade_profile`): an ordered
  list of models with confidence thresholds fitted to the least expected energy within an accuracy
  loss against the largest, cheaper operating points for a dirty grid, and a profile the gate reads.
- :func:`compress`: every applicable variant profiled before and after (size, latency at batch 1
  and 64, joules per 1,000 inferences with method, held-out accuracy) and judged by the promotion
  policy; the best that passes is written, one that loses more than the policy allows is not.
  :func:`split_heldout` makes calibration and evaluation rows of one labelled set;
  :func:`check_compress_output` says where a result may be written (a new ``.onnx`` file).
"""

from __future__ import annotations

from lowcarb.compression._cascade import (
    Cascade,
    FittedOn,
    OperatingPoint,
    PointChoice,
    Routed,
    Stage,
)
from lowcarb.compression._cascade_file import cascade_to_dict, load_cascade, save_cascade
from lowcarb.compression._cascade_fit import DEFAULT_MARGIN_SD, fit_cascade, measure_stage_energy
from lowcarb.compression._cascade_profile import CascadeProfile, cascade_profile, router_cost_ms
from lowcarb.compression._compress import (
    DEFAULT_POLICY,
    METHODS,
    Candidate,
    CompressionReport,
    compress,
)
from lowcarb.compression._distil import Distilled, distil
from lowcarb.compression._inputs import check_compress_output, split_heldout
from lowcarb.compression._quantize import to_fp16, to_static_int8
from lowcarb.compression._variants import InferenceModel, export, inference_energy, prune

__all__ = [
    "DEFAULT_MARGIN_SD",
    "DEFAULT_POLICY",
    "METHODS",
    "Candidate",
    "Cascade",
    "CascadeProfile",
    "CompressionReport",
    "Distilled",
    "FittedOn",
    "InferenceModel",
    "OperatingPoint",
    "PointChoice",
    "Routed",
    "Stage",
    "cascade_profile",
    "cascade_to_dict",
    "check_compress_output",
    "compress",
    "distil",
    "export",
    "fit_cascade",
    "inference_energy",
    "load_cascade",
    "measure_stage_energy",
    "prune",
    "router_cost_ms",
    "save_cascade",
    "split_heldout",
    "to_fp16",
    "to_static_int8",
]
