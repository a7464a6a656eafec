"""The NVML meter on a real GPU, against two references read in the same run.

A PyTorch workload (bf16 matrix products, then an idle stretch) runs under a
:class:`lowcarb.Tracker` whose meters are detected as on any machine. Beside it, with nothing of
lowcarb in them:

* ``counter``: ``nvmlDeviceGetTotalEnergyConsumption`` read straight from ``pynvml`` just before
  the tracker starts and just after it stops (the same hardware counter lowcarb reads, so this
  checks lowcarb's bookkeeping: window edges, units, device selection);
* ``power_integral``: ``nvmlDeviceGetPowerUsage`` sampled every 20 ms on a thread and
  integrated by trapezoids over the same window (another sensor path: the board power reading,
  averaged by the driver).

Prints ONE JSON line, ratios first: ``gpu_vs_counter`` (expected 1.00 within the edges' few
milliseconds) and ``gpu_vs_power_integral`` (expected near 1; the power reading is averaged over
a window by the driver, so edges and load steps differ a little). Without a GPU usable through
NVML (or without PyTorch with CUDA) it prints ``{"skipped": "<reason>"}`` and exits 0: CI has no
GPU.

Usage::

    python benchmarks/gpu_energy.py                 # about 40 s
    python benchmarks/gpu_energy.py --busy-s 10 --idle-s 5
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import threading
import time
from typing import Any


def skip(reason: str) -> int:
    print(json.dumps({"benchmark": "gpu_energy", "skipped": reason}))
    return 0


def power_integral(nvml: Any, handle: Any, stop: threading.Event, out: dict[str, float]) -> None:
    """Trapezoids of the board power (W) over time (s), every 20 ms, until ``stop``."""
    t0 = time.monotonic()
    last_t, last_w = t0, nvml.nvmlDeviceGetPowerUsage(handle) / 1000.0
    joules, n = 0.0, 1
    while not stop.wait(0.02):
        t, w = time.monotonic(), nvml.nvmlDeviceGetPowerUsage(handle) / 1000.0
        joules += (w + last_w) / 2.0 * (t - last_t)
        last_t, last_w, n = t, w, n + 1
    out.update(joules=joules, seconds=last_t - t0, samples=n)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--busy-s", type=float, default=20.0, help="seconds of matrix products")
    p.add_argument("--idle-s", type=float, default=10.0, help="seconds idle after them")
    p.add_argument("--size", type=int, default=8192, help="matrix size")
    args = p.parse_args()
    try:
        import pynvml as nvml

        nvml.nvmlInit()
    except Exception as exc:  # no package, no driver
        return skip(f"NVML not usable: {exc}")
    try:
        import torch
    except ImportError:
        return skip("PyTorch is not installed")
    if not torch.cuda.is_available() or not nvml.nvmlDeviceGetCount():
        return skip("no CUDA GPU")

    from lowcarb import Tracker

    handle = nvml.nvmlDeviceGetHandleByIndex(torch.cuda.current_device())
    name = nvml.nvmlDeviceGetName(handle)
    a = torch.randn(args.size, args.size, device="cuda", dtype=torch.bfloat16)
    b = torch.randn(args.size, args.size, device="cuda", dtype=torch.bfloat16)
    (a @ b).sum().item()  # warm-up: kernels loaded, clocks up

    tracker = Tracker("gpu-energy-check", zone="DE", ledger="", environ={})
    stop, integral = threading.Event(), {}
    sampler = threading.Thread(target=power_integral, args=(nvml, handle, stop, integral))
    counter0 = nvml.nvmlDeviceGetTotalEnergyConsumption(handle)
    sampler.start()
    tracker.start()
    tracker.wait_ready(timeout_s=30.0)
    t0 = time.monotonic()
    products = 0
    while time.monotonic() - t0 < args.busy_s:
        for _ in range(20):
            a @ b
        torch.cuda.synchronize()
        products += 20
    busy_s = time.monotonic() - t0
    time.sleep(args.idle_s)
    footprint = tracker.stop()
    counter1 = nvml.nvmlDeviceGetTotalEnergyConsumption(handle)
    stop.set()
    sampler.join()
    nvml.nvmlShutdown()

    m = footprint.measurement
    gpu = [c for c in m.components if c.name.startswith("gpu")]
    gpu_j = sum(c.energy_j for c in gpu)
    counter_j = (counter1 - counter0) / 1000.0
    tflops = 2.0 * args.size**3 * products / busy_s / 1e12
    out = {
        "benchmark": "gpu_energy",
        "ratios": {
            "gpu_vs_counter": round(gpu_j / counter_j, 4) if counter_j else None,
            "gpu_vs_power_integral": round(gpu_j / integral["joules"], 4),
        },
        "gpu": name if isinstance(name, str) else name.decode(),
        "lowcarb_gpu_j": round(gpu_j, 1),
        "lowcarb_gpu_components": [
            {
                "name": c.name,
                "energy_j": round(c.energy_j, 1),
                "method": c.method,
                "source": c.source,
                "detail": c.detail,
            }
            for c in gpu
        ],
        "lowcarb_window_s": round(m.duration_s, 3),
        "counter_j": round(counter_j, 1),
        "power_integral_j": round(integral["joules"], 1),
        "power_samples": integral["samples"],
        "power_integral_s": round(integral["seconds"], 3),
        "busy_s": round(busy_s, 2),
        "idle_s": args.idle_s,
        "bf16_tflops": round(tflops, 1),
        "all_components": [
            {"name": c.name, "energy_j": round(c.energy_j, 1), "method": c.method}
            for c in m.components
        ],
        "co2e_g": round(footprint.co2e_g, 3),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "note": "the counter and the power integral cover a window a few ms wider than the "
        "tracker's (read just before start and just after stop)",
    }
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
