"""lowcarb.energy: meters, process-tree attribution, the energy monitor, hardware specs, estimates.

Every figure is in joules per component with its provenance: ``measured`` (RAPL or NVML counters,
NVML power samples) or ``estimated`` (the CPU and memory models), and by which sensor or model.
See DESIGN.md.
"""

from lowcarb.energy._cpu_model import CpuModelMeter
from lowcarb.energy._detect import METER_NAMES, DetectedMeters, detect_meters, parse_meter_names
from lowcarb.energy._discovery import MeterDetector
from lowcarb.energy._estimate import (
    EMBODIED_LIFETIME_YEARS,
    EMBODIED_USAGE_FRACTION,
    EstimateResult,
    IntensityLookup,
    estimate,
)
from lowcarb.energy._fake import FakeMeter
from lowcarb.energy._hardware import known_hardware
from lowcarb.energy._hardware_lookup import lookup_hardware, match_cpu_brand
from lowcarb.energy._hardware_spec import HardwareSpec
from lowcarb.energy._memory_model import MEMORY_W_PER_GB, MemoryModelMeter
from lowcarb.energy._meter import Meter
from lowcarb.energy._monitor import EnergyMonitor
from lowcarb.energy._nvml import NvmlMeter
from lowcarb.energy._process import ProcessTree, TreeSample
from lowcarb.energy._rapl import RaplMeter
from lowcarb.energy._types import J_PER_KWH, ComponentEnergy, Measurement, Method

__all__ = [
    "EMBODIED_LIFETIME_YEARS",
    "EMBODIED_USAGE_FRACTION",
    "J_PER_KWH",
    "MEMORY_W_PER_GB",
    "METER_NAMES",
    "ComponentEnergy",
    "CpuModelMeter",
    "DetectedMeters",
    "EnergyMonitor",
    "EstimateResult",
    "FakeMeter",
    "HardwareSpec",
    "IntensityLookup",
    "Measurement",
    "MemoryModelMeter",
    "Meter",
    "MeterDetector",
    "Method",
    "NvmlMeter",
    "ProcessTree",
    "RaplMeter",
    "TreeSample",
    "detect_meters",
    "estimate",
    "known_hardware",
    "lookup_hardware",
    "match_cpu_brand",
    "parse_meter_names",
]
