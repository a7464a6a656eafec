"""Hardware spec table: accelerators and CPUs with their power figures and sources.

Owned by the estimate work; the CPU estimation model uses the unknown-CPU per-vCPU coefficients
below and :func:`~lowcarb.energy._hardware_lookup.match_cpu_brand` (the lookups over this table are
in :mod:`lowcarb.energy._hardware_lookup`; the row type, :class:`HardwareSpec`, is in
:mod:`lowcarb.energy._hardware_spec`).

Every power figure carries its citation in ``source``. ``tdp_w`` is the vendor's thermal design
power (board power for GPUs, chip TDP for TPUs, TDP / processor base power per socket for CPUs).
Where a *measured average* power per device is published (Google TPUs, whose TDP is far above what
they draw), it is in ``typical_power_w`` and :func:`lowcarb.energy.estimate` prefers it.

Cloud-custom CPUs (AWS ``...M``/``...CL``/``...C``/``7R13``/``7571``, GCP ``7B12``) have no vendor
datasheet; their rows say which public figure or retail sibling stands in.
"""

from __future__ import annotations

import re

from lowcarb.energy._hardware_spec import HardwareSpec

__all__ = [
    "UNKNOWN_CPU_COEFFICIENTS_SOURCE",
    "UNKNOWN_CPU_MAX_W_PER_VCPU",
    "UNKNOWN_CPU_MIN_W_PER_VCPU",
    "known_hardware",
]

# Cloud Carbon Footprint, "Methodology: Compute" (2021, coefficients averaged over the
# microarchitectures AWS uses; from SPECpower_ssj2008 results): per-vCPU power at 0% and 100% load.
UNKNOWN_CPU_MIN_W_PER_VCPU = 0.74
UNKNOWN_CPU_MAX_W_PER_VCPU = 3.5
UNKNOWN_CPU_COEFFICIENTS_SOURCE = (
    "Cloud Carbon Footprint methodology (2021), AWS average min/max watts per vCPU "
    "derived from SPECpower_ssj2008"
)


# --- citations ------------------------------------------------------------------------------------
_V100 = (
    "NVIDIA Tesla V100 datasheet (2018): SXM2 300 W, PCIe 250 W max board power; "
    "https://images.nvidia.com/content/technologies/volta/pdf/"
    "volta-v100-datasheet-update-us-1165301-r5.pdf"
)
_A100 = (
    "NVIDIA A100 Tensor Core GPU datasheet (2021): SXM4 40/80 GB 400 W, PCIe 80 GB 300 W; "
    "https://www.nvidia.com/content/dam/en-zz/Solutions/Data-Center/a100/pdf/"
    "nvidia-a100-datasheet-us-nvidia-1758950-r4-web.pdf"
)
_A100_PCIE40 = (
    "NVIDIA A100 PCIe 40 GB product brief/datasheet (2020): 250 W max board power; "
    "https://www.nvidia.com/content/dam/en-zz/Solutions/Data-Center/a100/pdf/"
    "nvidia-a100-datasheet.pdf"
)
_H100 = (
    "NVIDIA H100 Tensor Core GPU datasheet (2022): SXM5 up to 700 W, PCIe up to 350 W "
    "(configurable max board power); "
    "https://resources.nvidia.com/en-us-tensor-core/nvidia-tensor-core-gpu-datasheet"
)
# Luccioni, Viguier & Ligozat 2023, "Estimating the Carbon Footprint of BLOOM, a 176B Parameter
# Language Model", JMLR 24(253), section on embodied emissions: 150 kgCO2e per A100 GPU (their
# estimate; NVIDIA published no figure), amortised over a 6-year life at 85% usage. The host
# server (HPE Apollo 6500 Gen10 Plus, 8 GPUs, ~2,500 kgCO2e by the authors' proxy) is NOT included.
_A100_EMBODIED = (
    "Luccioni et al. 2023 (JMLR 24(253)), embodied emissions: 150 kgCO2e per A100 GPU "
    "(authors' estimate; GPU only, host server share excluded)"
)
_TPU_TABLE4 = "Patterson et al. 2021, 'Carbon Emissions and Large Neural Network Training', Table 4"


def _cpu(token: str) -> str:
    """A pattern that finds ``token`` as a whole model number in a /proc/cpuinfo model name."""
    return r"(?<![\w-])" + re.escape(token).replace(r"\ ", r"\s+") + r"(?![\w+])"


def _gpu(name: str, tdp_w: float, source: str, *aliases: str, a100: bool = False) -> HardwareSpec:
    if a100:
        return HardwareSpec(
            name, "gpu", tdp_w, source, aliases, embodied_kg=150.0, embodied_source=_A100_EMBODIED
        )
    return HardwareSpec(name, "gpu", tdp_w, source, aliases)


def _tpu(name: str, tdp_w: float, source: str, typical_w: float | None, why: str) -> HardwareSpec:
    compact = name.replace("-", "")  # TPUv3
    aliases = (compact, name.replace("-", " "))  # TPUv3, TPU v3
    return HardwareSpec(
        name, "tpu", tdp_w, source, aliases, typical_power_w=typical_w, typical_power_source=why
    )


def _x86(
    name: str, tdp_w: float, cores: int, threads: int, source: str, *brands: str
) -> HardwareSpec:
    """A CPU row; ``brands`` are the model tokens as /proc/cpuinfo spells them (first = alias)."""
    short = (re.sub(r"^(?:Platinum|Gold|EPYC|Ryzen \d)\s+", "", b) for b in brands)
    aliases = tuple(dict.fromkeys((*brands, *short)))
    patterns = tuple(_cpu(b) for b in brands)
    return HardwareSpec(
        name, "cpu", tdp_w, source, aliases, cores, threads, cpu_brand_patterns=patterns
    )


_AWS = "AWS-custom part; Intel publishes no datasheet."
_PROXY = "AMD publishes no TDP for this cloud-custom part. Proxy:"

_TABLE: tuple[HardwareSpec, ...] = (
    # --- NVIDIA GPUs (aliases include the names NVML reports) ------------------------------------
    _gpu("V100-SXM2-16GB", 300.0, _V100, "V100-16GB"),
    _gpu("V100-SXM2-32GB", 300.0, _V100, "V100", "V100-SXM2", "V100-32GB"),
    _gpu("V100-PCIE-16GB", 250.0, _V100),
    _gpu("V100-PCIE-32GB", 250.0, _V100, "V100-PCIE"),
    _gpu("A100-SXM4-40GB", 400.0, _A100, "A100", "A100-SXM4", "A100-SXM", "A100-40GB", a100=True),
    _gpu("A100-SXM4-80GB", 400.0, _A100, "A100-80GB", "A100-SXM-80GB", a100=True),
    _gpu("A100-PCIE-40GB", 250.0, _A100_PCIE40, "A100-PCIE", a100=True),
    _gpu("A100-PCIE-80GB", 300.0, _A100, "A100-80GB-PCIE", a100=True),
    _gpu("H100-SXM5-80GB", 700.0, _H100, "H100", "H100-SXM", "H100-SXM5", "H100 80GB HBM3"),
    _gpu("H100-PCIE-80GB", 350.0, _H100, "H100-PCIE"),
    _gpu(
        "L4",
        72.0,
        "NVIDIA L4 Tensor Core GPU datasheet (2023): 72 W max thermal design power; "
        "https://www.nvidia.com/en-us/data-center/l4/",
    ),
    _gpu(
        "T4",
        70.0,
        "NVIDIA T4 Tensor Core GPU datasheet (2019): 70 W max power; https://www.nvidia.com/"
        "content/dam/en-zz/Solutions/Data-Center/tesla-t4/t4-tensor-core-datasheet-951643.pdf",
    ),
    _gpu(
        "A10",
        150.0,
        "NVIDIA A10 Tensor Core GPU datasheet (2021): 150 W max TDP; "
        "https://www.nvidia.com/en-us/data-center/products/a10-gpu/",
    ),
    _gpu(
        "A10G",
        300.0,
        "No NVIDIA datasheet (AWS-specific SKU of EC2 G5 instances); 300 W is the default/max "
        "power limit nvidia-smi reports for A10G on G5, an upper bound (the retail A10 is 150 W)",
    ),
    # --- Google TPUs: chip TDP, and the measured system average power per chip -----------------
    _tpu(
        "TPU-v2",
        280.0,
        f"{_TPU_TABLE4}: TPU v2 chip TDP 280 W",
        208.0,
        f"{_TPU_TABLE4}, Evolved Transformer NAS column: measured system average power per "
        "accelerator 208 W, including memory, network interface, fans and host CPU share",
    ),
    _tpu(
        "TPU-v3",
        450.0,
        f"{_TPU_TABLE4}: TPU v3 chip TDP 450 W",
        289.0,
        f"{_TPU_TABLE4}, Meena column: measured system average power per accelerator 289 W, "
        "including memory, network interface, fans and host CPU share (the figure Thoppilan et "
        "al. 2022, LaMDA, section 10, also uses for TPU v3); other Table 4 TPU v3 runs: 245-310 W",
    ),
    _tpu(
        "TPU-v4",
        192.0,
        "Google Cloud TPU v4 system architecture documentation: 192 W maximum power per chip "
        "(as summarised at https://glennklockwood.com/garden/tpuv4); chip only, no host share",
        None,
        "",
    ),
    # --- Intel Xeon (server) ---------------------------------------------------------------------
    _x86(
        "Xeon-Platinum-8175M",
        240.0,
        24,
        48,
        f"{_AWS} Skylake-SP (EC2 m5/c5/r5): 240 W TDP, 24C/48T per WikiChip "
        "(en.wikichip.org/wiki/intel/xeon_platinum/8175m); same TDP in CodeCarbon cpu_power.csv",
        "Platinum 8175M",
    ),
    _x86(
        "Xeon-Platinum-8259CL",
        210.0,
        24,
        48,
        f"{_AWS} Cascade Lake (EC2 m5/c5/g4dn): 210 W TDP, 24C/48T per WikiChip "
        "(en.wikichip.org/wiki/intel/xeon_platinum/8259cl); same TDP in CodeCarbon cpu_power.csv",
        "Platinum 8259CL",
    ),
    _x86(
        "Xeon-Platinum-8375C",
        300.0,
        32,
        64,
        f"{_AWS} Ice Lake-SP (EC2 m6i/c6i/p4d): 300 W TDP, 32C/64T per WikiChip "
        "(en.wikichip.org/wiki/intel/xeon_platinum/8375c); same TDP in CodeCarbon cpu_power.csv",
        "Platinum 8375C",
    ),
    _x86(
        "Xeon-Platinum-8480+",
        350.0,
        56,
        112,
        "Intel ARK, Xeon Platinum 8480+ (Sapphire Rapids): 56C/112T, 350 W TDP. The 8480C "
        "(custom part in NVIDIA DGX H100 and cloud H100 hosts) is assumed identical",
        "Platinum 8480+",
        "Platinum 8480C",
    ),
    _x86(
        "Xeon-Gold-6148",
        150.0,
        20,
        40,
        "Intel ARK, Xeon Gold 6148 (Skylake-SP): 20C/40T, 150 W TDP",
        "Gold 6148",
    ),
    _x86(
        "Xeon-Gold-6248",
        150.0,
        20,
        40,
        "Intel ARK, Xeon Gold 6248 (Cascade Lake): 20C/40T, 150 W TDP",
        "Gold 6248",
    ),
    _x86(
        "Xeon-E5-2686-v4",
        145.0,
        18,
        36,
        f"{_AWS} Broadwell-EP (EC2 m4/r4/i3/p3): 145 W TDP, 18C/36T per WikiChip "
        "(en.wikichip.org/wiki/intel/xeon_e5/e5-2686_v4); same TDP in CodeCarbon cpu_power.csv",
        "E5-2686 v4",
    ),
    # --- AMD EPYC (server) -----------------------------------------------------------------------
    _x86(
        "EPYC-7571",
        180.0,
        32,
        64,
        f"AWS Naples (EC2 m5a/r5a/t3a), 32C/64T. {_PROXY} the retail EPYC 7601 (same 32-core "
        "Naples package, 2.2 GHz base), 180 W TDP per AMD's product page",
        "EPYC 7571",
    ),
    _x86(
        "EPYC-7R13",
        225.0,
        48,
        96,
        f"AWS Milan (EC2 m6a/c6a/r6a), 48C/96T. {_PROXY} the retail 48-core EPYC 7643, 225 W "
        "default TDP per AMD's product page (CodeCarbon cpu_power.csv also uses 225 W)",
        "EPYC 7R13",
    ),
    _x86(
        "EPYC-7763",
        280.0,
        64,
        128,
        "AMD product page, EPYC 7763 (Milan): 64C/128T, 280 W default TDP",
        "EPYC 7763",
    ),
    _x86(
        "EPYC-9654",
        360.0,
        96,
        192,
        "AMD product page, EPYC 9654 (Genoa): 96C/192T, 360 W default TDP (the single-socket "
        "9654P has the same figures)",
        "EPYC 9654",
        "EPYC 9654P",
    ),
    _x86(
        "EPYC-7B12",
        225.0,
        64,
        128,
        f"GCP Rome (N2D and A2 hosts), 64C/128T. {_PROXY} the retail 64-core EPYC 7742, 225 W "
        "default TDP (configurable to 240 W) per AMD's product page",
        "EPYC 7B12",
    ),
    # --- desktop CPUs ----------------------------------------------------------------------------
    _x86(
        "Core-i9-13900K",
        125.0,
        24,
        32,
        "Intel ARK, Core i9-13900K: 24C (8P+16E)/32T, 125 W processor base power (253 W maximum "
        "turbo power, which sustained all-core loads can reach); the 13900KF is the same die",
        "i9-13900K",
        "i9-13900KF",
    ),
    _x86(
        "Core-i7-12700K",
        125.0,
        12,
        20,
        "Intel ARK, Core i7-12700K: 12C (8P+4E)/20T, 125 W processor base power (190 W maximum "
        "turbo power); the 12700KF is the same die",
        "i7-12700K",
        "i7-12700KF",
    ),
    _x86(
        "Ryzen-9-7950X",
        170.0,
        16,
        32,
        "AMD product page, Ryzen 9 7950X: 16C/32T, 170 W default TDP",
        "Ryzen 9 7950X",
    ),
    _x86(
        "Ryzen-9-5950X",
        105.0,
        16,
        32,
        "AMD product page, Ryzen 9 5950X: 16C/32T, 105 W default TDP",
        "Ryzen 9 5950X",
    ),
    _x86(
        "Ryzen-7-5800X",
        105.0,
        8,
        16,
        "AMD product page, Ryzen 7 5800X: 8C/16T, 105 W default TDP",
        "Ryzen 7 5800X",
    ),
)


def known_hardware() -> tuple[HardwareSpec, ...]:
    """All specs in the table."""
    return _TABLE
