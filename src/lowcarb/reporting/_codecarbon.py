"""CodeCarbon-compatible ``emissions.csv`` output, so CodeCarbon dashboards read lowcarb runs.

Columns and units follow CodeCarbon 3.x's ``EmissionsData`` (``codecarbon/output_methods/
emissions_data.py``): ``duration`` in s, ``emissions`` in kgCO2e, ``emissions_rate`` in kg/s,
powers in W (averages over the run), energies in kWh. ``cpu_energy``/``gpu_energy``/``ram_energy``
are device energies; ``energy_consumed`` is their sum times ``pue`` (what the emissions price).
``tracking_mode`` is ``process`` (lowcarb attributes the tracked process tree); the method of
each component is in lowcarb's own output, which CodeCarbon's schema has no column for.
"""

from __future__ import annotations

import csv
import io
import platform
import uuid
from datetime import datetime
from pathlib import Path

from lowcarb.errors import UsageError
from lowcarb.grid import Footprint

__all__ = ["CODECARBON_COLUMNS", "append_emissions_csv", "emissions_row"]

CODECARBON_COLUMNS: tuple[str, ...] = (
    "timestamp", "project_name", "run_id", "experiment_id", "duration", "emissions",
    "emissions_rate", "cpu_power", "gpu_power", "ram_power", "cpu_energy", "gpu_energy",
    "ram_energy", "energy_consumed", "water_consumed", "country_name", "country_iso_code",
    "region", "cloud_provider", "cloud_region", "os", "python_version", "codecarbon_version",
    "cpu_count", "cpu_model", "gpu_count", "gpu_model", "longitude", "latitude",
    "ram_total_size", "tracking_mode", "cpu_utilization_percent", "gpu_utilization_percent",
    "ram_utilization_percent", "ram_used_gb", "on_cloud", "pue", "wue",
)  # fmt: skip

_CPU_NAMES = {"cpu", "package"}
_RAM_NAMES = {"ram", "dram", "memory"}


def _bucket(name: str) -> str:
    base = name.split(":", 1)[0].lower()
    if base.startswith("gpu"):
        return "gpu"
    if base in _RAM_NAMES:
        return "ram"
    return "cpu"


def emissions_row(
    footprint: Footprint,
    *,
    project_name: str = "lowcarb",
    run_id: str | None = None,
    timestamp: datetime | None = None,
    cpu_model: str = "",
) -> dict[str, str]:
    """One ``emissions.csv`` row for a footprint."""
    m = footprint.measurement
    energy_kwh = {"cpu": 0.0, "gpu": 0.0, "ram": 0.0}
    gpu_count = 0
    for c in m.components:
        bucket = _bucket(c.name)
        energy_kwh[bucket] += c.energy_kwh
        gpu_count += bucket == "gpu"
    duration_s = max(m.duration_s, 1e-9)
    emissions_kg = footprint.co2e_g / 1000.0

    def power_w(kwh: float) -> float:
        return kwh * 3_600_000.0 / duration_s

    values: dict[str, object] = {
        "timestamp": (timestamp or m.started_at).isoformat(timespec="seconds"),
        "project_name": project_name,
        "run_id": run_id or str(uuid.uuid4()),
        "experiment_id": "",
        "duration": m.duration_s,
        "emissions": emissions_kg,
        "emissions_rate": emissions_kg / duration_s,
        "cpu_power": power_w(energy_kwh["cpu"]),
        "gpu_power": power_w(energy_kwh["gpu"]),
        "ram_power": power_w(energy_kwh["ram"]),
        "cpu_energy": energy_kwh["cpu"],
        "gpu_energy": energy_kwh["gpu"],
        "ram_energy": energy_kwh["ram"],
        "energy_consumed": footprint.energy_kwh,
        "water_consumed": 0.0,
        "country_name": "",
        "country_iso_code": "",
        "region": footprint.intensity.zone,
        "cloud_provider": "",
        "cloud_region": "",
        "os": platform.platform(),
        "python_version": platform.python_version(),
        "codecarbon_version": "",
        "cpu_count": "",
        "cpu_model": cpu_model,
        "gpu_count": gpu_count,
        "gpu_model": "",
        "longitude": "",
        "latitude": "",
        "ram_total_size": "",
        "tracking_mode": "process",
        "cpu_utilization_percent": "",
        "gpu_utilization_percent": "",
        "ram_utilization_percent": "",
        "ram_used_gb": "",
        "on_cloud": "N",
        "pue": footprint.pue,
        "wue": 0,
    }
    return {k: str(values[k]) for k in CODECARBON_COLUMNS}


def append_emissions_csv(path: Path, row: dict[str, str]) -> None:
    """Append a row, writing the header for a new file.

    An existing file with a different header is left untouched and raises UsageError: lowcarb never
    rewrites a file it did not write.
    """
    if path.exists() and path.stat().st_size > 0:
        with path.open(newline="", encoding="utf-8") as fh:
            header = next(csv.reader(fh), [])
        if tuple(header) != CODECARBON_COLUMNS:
            raise UsageError(
                f"{str(path)!r} exists with a different header than CodeCarbon 3.x's "
                "emissions.csv; choose another --emissions-csv path"
            )
        write_header = False
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_header = True
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=CODECARBON_COLUMNS, lineterminator="\n")
    if write_header:
        writer.writeheader()
    writer.writerow(row)
    with path.open("a", newline="", encoding="utf-8") as fh:
        fh.write(buf.getvalue())
