"""lowcarb.energy exports exactly its public surface."""

from __future__ import annotations

import lowcarb.energy


def test_energy_all_is_exactly_the_public_surface() -> None:
    assert sorted(lowcarb.energy.__all__) == sorted(
        [
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
    )
    for name in lowcarb.energy.__all__:
        assert getattr(lowcarb.energy, name) is not None
    public = {n for n in vars(lowcarb.energy) if not n.startswith("_")}
    assert public - {"annotations"} == set(lowcarb.energy.__all__)
