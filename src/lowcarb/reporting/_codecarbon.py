"""CodeCarbon-compatible ``emissions.csv`` output, so CodeCarbon dashboards read lowcarb runs.

Columns and units follow CodeCarbon 3.x's ``EmissionsData`` (``codecarbon/output_methods/
emissions_data.py``): ``duration`` in s, ``emissions`` in kgCO2e, ``emissions_rate`` in kg/s,
powers in W (averages over the run), energies in kWh. As CodeCarbon does (``core/measure.py``,
``emissions_tracker.py``), PUE multiplies every component's power and energy, so
``energy_consumed`` is exactly the sum of ``cpu_energy``, ``gpu_energy`` and ``ram_energy``.
``timestamp`` is local time as ``%Y-%m-%dT%H:%M:%S`` (CodeCarbon's own format, so a file appended
by both tools parses with ``pandas.to_datetime``). ``country_iso_code`` (ISO 3166-1 alpha-3),
``country_name`` and ``region`` (the lower-case ISO 3166-2 subdivision name, as CodeCarbon's geo
metadata writes it) come from the zone through pycountry; a zone that names no country (the
world average) leaves them blank, as CodeCarbon does when it cannot tell. ``tracking_mode`` is
``process`` (lowcarb attributes the tracked process tree); the method of each component is in
lowcarb's own output, which CodeCarbon's schema has no column for. Text cells are neutralised
against spreadsheet formula injection.
"""

from __future__ import annotations

import csv
import io
import platform
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

from lowcarb._files import check_output_path
from lowcarb._text import csv_cell
from lowcarb.errors import UsageError
from lowcarb.grid import Footprint

__all__ = ["CODECARBON_COLUMNS", "append_emissions_csv", "check_emissions_csv", "emissions_row"]

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


def _place(zone: str) -> tuple[str, str, str]:
    """``(country_iso_code, country_name, region)`` of a grid zone or cloud region."""
    import pycountry

    from lowcarb.grid import lookup_region

    cloud = lookup_region(zone) if ":" in zone else None
    zone_id = cloud.zone_id if cloud is not None else zone
    country = pycountry.countries.get(alpha_2=zone_id[:2].upper()) if len(zone_id) >= 2 else None
    if country is None:
        return "", "", ""
    region = ""
    subdivisions: Any = pycountry.subdivisions
    subdivision = subdivisions.get(code=zone_id.upper()) if "-" in zone_id else None
    if subdivision is not None and not isinstance(subdivision, list):
        region = str(subdivision.name).lower()
    return str(country.alpha_3), str(country.name), region


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
        energy_kwh[bucket] += c.energy_kwh * footprint.pue  # facility share, as CodeCarbon
        gpu_count += bucket == "gpu"
    zone = footprint.intensity.zone
    iso3, country_name, region = _place(zone)
    stamp = (timestamp or m.started_at).astimezone()
    duration_s = max(m.duration_s, 1e-9)
    emissions_kg = footprint.co2e_g / 1000.0

    def power_w(kwh: float) -> float:
        return kwh * 3_600_000.0 / duration_s

    values: dict[str, object] = {
        "timestamp": stamp.strftime("%Y-%m-%dT%H:%M:%S"),
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
        "energy_consumed": sum(energy_kwh.values()),
        "water_consumed": 0.0,
        "country_name": country_name,
        "country_iso_code": iso3,
        "region": region,
        "cloud_provider": zone.split(":", 1)[0] if ":" in zone else "",
        "cloud_region": zone.split(":", 1)[1] if ":" in zone else "",
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
        "on_cloud": "Y" if ":" in zone else "N",
        "pue": footprint.pue,
        "wue": 0,
    }
    return {k: str(csv_cell(values[k])) for k in CODECARBON_COLUMNS}


def check_emissions_csv(path: Path, *, what: str = "--emissions-csv") -> bool:
    """Check before the work that ``path`` can take a row; True when the header must be written.

    Raises:
        UsageError: Not a writable file path, or a file with another header (lowcarb never
            rewrites a file it did not write).
    """
    check_output_path(path, what=what)
    if not path.exists() or path.stat().st_size == 0:
        return True
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            header = next(csv.reader(fh), [])
    except (UnicodeDecodeError, csv.Error):
        header = []
    if tuple(header) != CODECARBON_COLUMNS:
        raise UsageError(
            f"{what} {str(path)!r} exists with a different header than CodeCarbon 3.x's "
            "emissions.csv; choose another path"
        )
    return False


def append_emissions_csv(path: Path, row: dict[str, str]) -> None:
    """Append a row, writing the header for a new file; the row goes in one write.

    An existing file with a different header is left untouched and raises UsageError: lowcarb never
    rewrites a file it did not write.
    """
    write_header = check_emissions_csv(path)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=CODECARBON_COLUMNS, lineterminator="\n")
    if write_header:
        writer.writeheader()
    writer.writerow(row)
    with path.open("a", newline="", encoding="utf-8") as fh:
        fh.write(buf.getvalue())
