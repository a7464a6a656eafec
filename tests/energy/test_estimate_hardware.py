"""The hardware spec table: lookups, aliases, CPU brand matching, citations."""

from __future__ import annotations

import re

import pytest

from lowcarb.energy._hardware import (
    UNKNOWN_CPU_COEFFICIENTS_SOURCE,
    UNKNOWN_CPU_MAX_W_PER_VCPU,
    UNKNOWN_CPU_MIN_W_PER_VCPU,
    known_hardware,
)
from lowcarb.energy._hardware_lookup import _build_index, lookup_hardware, match_cpu_brand
from lowcarb.energy._hardware_spec import HardwareSpec
from lowcarb.errors import UnknownHardwareError


@pytest.mark.parametrize(
    ("name", "expected", "tdp_w"),
    [
        ("V100", "V100-SXM2-32GB", 300),
        ("tesla v100-sxm2-16gb", "V100-SXM2-16GB", 300),
        ("Tesla V100-PCIE-32GB", "V100-PCIE-32GB", 250),
        ("a100", "A100-SXM4-40GB", 400),
        ("NVIDIA A100-SXM4-80GB", "A100-SXM4-80GB", 400),
        ("a100 sxm4 80gb", "A100-SXM4-80GB", 400),
        ("A100_PCIE_40GB", "A100-PCIE-40GB", 250),
        ("NVIDIA A100 80GB PCIe", "A100-PCIE-80GB", 300),
        ("H100", "H100-SXM5-80GB", 700),
        ("NVIDIA H100 80GB HBM3", "H100-SXM5-80GB", 700),
        ("h100-pcie", "H100-PCIE-80GB", 350),
        ("NVIDIA L4", "L4", 72),
        ("Tesla T4", "T4", 70),
        ("a10g", "A10G", 300),
        ("TPUv2", "TPU-v2", 280),
        ("tpu v3", "TPU-v3", 450),
        ("TPU-V4", "TPU-v4", 192),
        ("EPYC 7763", "EPYC-7763", 280),
        ("Xeon-Platinum-8480C", "Xeon-Platinum-8480+", 350),
        ("intel xeon gold 6248", "Xeon-Gold-6248", 150),
    ],
)
def test_lookup_by_name_and_alias(name: str, expected: str, tdp_w: float) -> None:
    spec = lookup_hardware(name)
    assert spec.name == expected
    assert spec.tdp_w == tdp_w


def test_lookup_accepts_a_cpuinfo_model_name() -> None:
    assert lookup_hardware("AMD EPYC 7763 64-Core Processor").name == "EPYC-7763"


def test_unknown_hardware_lists_close_names() -> None:
    with pytest.raises(UnknownHardwareError) as info:
        lookup_hardware("A100-SXM4-81GB")
    assert info.value.name == "A100-SXM4-81GB"
    assert "A100-SXM4-80GB" in info.value.suggestions
    assert "did you mean" in str(info.value)
    assert "--list-hardware" in str(info.value)


def test_unknown_hardware_without_close_names() -> None:
    with pytest.raises(UnknownHardwareError, match="unknown hardware 'zzzz'"):
        lookup_hardware("zzzz")


# Model names as /proc/cpuinfo reports them on real machines and cloud instances.
REAL_BRANDS = [
    ("Intel(R) Xeon(R) Platinum 8175M CPU @ 2.50GHz", "Xeon-Platinum-8175M"),
    ("Intel(R) Xeon(R) Platinum 8259CL CPU @ 2.50GHz", "Xeon-Platinum-8259CL"),
    ("Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz", "Xeon-Platinum-8375C"),
    ("Intel(R) Xeon(R) Platinum 8480+", "Xeon-Platinum-8480+"),
    ("Intel(R) Xeon(R) Platinum 8480C", "Xeon-Platinum-8480+"),
    ("Intel(R) Xeon(R) Gold 6148 CPU @ 2.40GHz", "Xeon-Gold-6148"),
    ("Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz", "Xeon-Gold-6248"),
    ("Intel(R) Xeon(R) CPU E5-2686 v4 @ 2.30GHz", "Xeon-E5-2686-v4"),
    ("AMD EPYC 7571", "EPYC-7571"),
    ("AMD EPYC 7R13 Processor", "EPYC-7R13"),
    ("AMD EPYC 7763 64-Core Processor", "EPYC-7763"),
    ("AMD EPYC 9654 96-Core Processor", "EPYC-9654"),
    ("AMD EPYC 9654P 96-Core Processor", "EPYC-9654"),
    ("AMD EPYC 7B12", "EPYC-7B12"),
    ("13th Gen Intel(R) Core(TM) i9-13900K", "Core-i9-13900K"),
    ("12th Gen Intel(R) Core(TM) i7-12700K", "Core-i7-12700K"),
    ("AMD Ryzen 9 7950X 16-Core Processor", "Ryzen-9-7950X"),
    ("AMD Ryzen 9 5950X 16-Core Processor", "Ryzen-9-5950X"),
    ("AMD Ryzen 7 5800X 8-Core Processor", "Ryzen-7-5800X"),
]


@pytest.mark.parametrize(("brand", "expected"), REAL_BRANDS)
def test_match_cpu_brand(brand: str, expected: str) -> None:
    spec = match_cpu_brand(brand)
    assert spec is not None
    assert spec.name == expected
    assert spec.kind == "cpu"


@pytest.mark.parametrize(
    "brand",
    [
        "Intel(R) Xeon(R) Processor @ 2.80GHz",  # what this project's VM reports
        "Intel(R) Xeon(R) CPU @ 2.20GHz",  # GCP's generic name
        "AMD EPYC Processor",
        "AMD EPYC-Rome Processor",
        # Neighbouring SKUs with different TDPs must not borrow a row.
        "Intel(R) Xeon(R) Gold 6148F CPU @ 2.40GHz",
        "Intel(R) Xeon(R) Gold 6248R CPU @ 3.00GHz",
        "13th Gen Intel(R) Core(TM) i9-13900KS",
        "AMD Ryzen 9 7950X3D 16-Core Processor",
        "AMD EPYC 7763X 64-Core Processor",
        "Intel(R) Xeon(R) CPU E5-2686 v3 @ 2.00GHz",
        "",
    ],
)
def test_generic_or_other_brands_match_nothing(brand: str) -> None:
    assert match_cpu_brand(brand) is None


def test_every_figure_is_cited() -> None:
    specs = known_hardware()
    assert len(specs) >= 30
    for spec in specs:
        assert spec.tdp_w > 0, spec.name
        assert len(spec.source) > 20, spec.name
        if spec.embodied_kg is not None:
            assert spec.embodied_source, spec.name
        if spec.typical_power_w is not None:
            assert spec.typical_power_source, spec.name
            assert 0 < spec.typical_power_w < spec.tdp_w, spec.name
        if spec.kind == "cpu":
            assert spec.cores and spec.threads and spec.threads >= spec.cores, spec.name
            assert spec.cpu_brand_patterns, spec.name
            for pattern in spec.cpu_brand_patterns:
                re.compile(pattern)
        else:
            assert not spec.cpu_brand_patterns, spec.name
    # Every vendor datasheet citation of a GPU carries a URL or says why there is none.
    for spec in specs:
        if spec.kind == "gpu":
            assert "http" in spec.source or "No NVIDIA datasheet" in spec.source, spec.name


def test_table_covers_the_required_devices() -> None:
    names = {s.name for s in known_hardware()}
    required = {
        "V100-SXM2-16GB",
        "V100-SXM2-32GB",
        "V100-PCIE-16GB",
        "A100-SXM4-40GB",
        "A100-SXM4-80GB",
        "A100-PCIE-40GB",
        "A100-PCIE-80GB",
        "H100-SXM5-80GB",
        "H100-PCIE-80GB",
        "L4",
        "T4",
        "A10G",
        "TPU-v2",
        "TPU-v3",
        "TPU-v4",
        "Xeon-Platinum-8175M",
        "Xeon-Platinum-8259CL",
        "Xeon-Platinum-8375C",
        "Xeon-Platinum-8480+",
        "Xeon-Gold-6148",
        "Xeon-Gold-6248",
        "Xeon-E5-2686-v4",
        "EPYC-7571",
        "EPYC-7R13",
        "EPYC-7763",
        "EPYC-9654",
        "EPYC-7B12",
    }
    assert required <= names


def test_names_and_aliases_are_unambiguous() -> None:
    a = HardwareSpec("X-1", "gpu", 1.0, "test")
    b = HardwareSpec("X-2", "gpu", 2.0, "test", aliases=("x 1",))
    with pytest.raises(RuntimeError, match="ambiguous"):
        _build_index((a, b))


def test_embodied_figures_only_where_cited() -> None:
    with_embodied = {s.name for s in known_hardware() if s.embodied_kg is not None}
    assert with_embodied == {"A100-SXM4-40GB", "A100-SXM4-80GB", "A100-PCIE-40GB", "A100-PCIE-80GB"}
    assert lookup_hardware("A100").embodied_kg == 150.0


def test_unknown_cpu_coefficients_are_kept() -> None:
    assert UNKNOWN_CPU_MIN_W_PER_VCPU == 0.74
    assert UNKNOWN_CPU_MAX_W_PER_VCPU == 3.5
    assert "Cloud Carbon Footprint" in UNKNOWN_CPU_COEFFICIENTS_SOURCE
