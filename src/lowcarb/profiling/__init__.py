"""lowcarb.profiling: the efficiency profile of a model (size, FLOPs, latency, J per 1k, accuracy).

- **The profile** (:class:`Profile`, :func:`parse_profile`, :func:`load_profile`): the JSON of
  DESIGN.md that gates, registries, compression, serving and tuning compare; validated strictly.
- **Measuring** (:func:`profile_model`, ``lowcarb profile``): size, parameters, FLOPs, latency
  p50/p95, energy per 1,000 inferences measured with the Tracker (labelled measured/estimated),
  held-out accuracy, and training CO2e from the ledger (:func:`training_co2e`).
- **Loading** (:func:`load_model`, :func:`load_dataset`, :func:`load_features` for rows without
  labels): ONNX (:class:`OnnxModel`), skops, and pickle only when the caller opts in (it runs any
  code the file contains).
- **Counting** (:func:`count_complexity`): FLOPs and parameters of scikit-learn models and
  ONNX graphs.

See DESIGN.md.
"""

from lowcarb.profiling._complexity import Complexity
from lowcarb.profiling._flops import count_complexity
from lowcarb.profiling._loading import (
    check_features,
    feature_count,
    load_dataset,
    load_features,
    load_model,
)
from lowcarb.profiling._onnx import OnnxModel
from lowcarb.profiling._onnx_classifier import CLASSES_KEY, OUTPUT_KEY
from lowcarb.profiling._profile import (
    OPTIONAL_PROFILE_FIELDS,
    PROFILE_SCHEMA,
    REQUIRED_PROFILE_FIELDS,
    Profile,
    load_profile,
    parse_profile,
    profile_from_dict,
    sha256_hex,
)
from lowcarb.profiling._profiler import (
    EnergyStats,
    LatencyStats,
    ProfileSettings,
    measure_energy,
    measure_latency,
    profile_model,
)
from lowcarb.profiling._render import print_profile
from lowcarb.profiling._torch import TorchModel, is_torch_model
from lowcarb.profiling._training import TrainingCO2e, training_co2e

__all__ = [
    "CLASSES_KEY",
    "OPTIONAL_PROFILE_FIELDS",
    "OUTPUT_KEY",
    "PROFILE_SCHEMA",
    "REQUIRED_PROFILE_FIELDS",
    "Complexity",
    "EnergyStats",
    "LatencyStats",
    "OnnxModel",
    "Profile",
    "ProfileSettings",
    "TorchModel",
    "TrainingCO2e",
    "check_features",
    "count_complexity",
    "feature_count",
    "is_torch_model",
    "load_dataset",
    "load_features",
    "load_model",
    "load_profile",
    "measure_energy",
    "measure_latency",
    "parse_profile",
    "print_profile",
    "profile_from_dict",
    "profile_model",
    "sha256_hex",
    "training_co2e",
]
