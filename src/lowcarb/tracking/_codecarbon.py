"""CodeCarbon-compatible ``emissions.csv`` output, so CodeCarbon dashboards read lowcarb runs.

Columns and units follow CodeCarbon 3.x's ``EmissionsData`` (``codecarbon/output_methods/
emissions_data.py``): ``duration`` in s, ``emissions`` in kgCO2e, ``emissions_rate`` in kg/s,
powers in W (averages over the run), energies in kWh. As CodeCarbon does (``core/measure.py``,
``emissions_tracker.py``), PUE multiplies every component's power and energy, so
``energy_consumed`` is exactly the sum of ``cpu_energy``, ``gpu_energy`` and ``ram_energy``.
``timestamp`` is the local time the run ended, as ``%Y-%m-%dT%H:%M:%S`` (CodeCarbon stamps a row
with ``datetime.now()`` when it stops, in this format, so a file appended by both tools parses with
``pandas.to_datetime``). The location columns come from the zone or cloud region through
:mod:`lowcarb.tracking._place` (pycountry); what cannot be told is blank, as in CodeCarbon.
``tracking_mode`` is ``process`` (lowcarb attributes the tracked process tree); the method of
each component is in lowcarb's own output, which CodeCarbon's schema has no column for. Text cells
are neutralised against spreadsheet formula injection.
"""

from __future__ import annotations

import csv
import io
import os
import platform
import uuid
from datetime import datetime, timedelta
from pathlib import Path

from lowcarb._files import check_output_path
from lowcarb._text import csv_cell
from lowcarb.errors import LowcarbError, UsageError
from lowcarb.grid import Footprint
from lowcarb.tracking._place import place_of

__all__ = ["CODECARBON_COLUMNS", "append_emissions_csv", "check_emissions_csv", "emissions_row"]

# fmt: skip below: the columns stay in CodeCarbon's order and wrapping, easy to diff against it.
CODECARBON_COLUMNS: tuple[str, ...] = (
    "timestamp", "project_name", "run_id", "experiment_id", "duration", "emissions",
    "emissions_rate", "cpu_power", "gpu_power", "ram_power", "cpu_energy", "gpu_energy",
    "ram_energy", "energy_consumed", "water_consumed", "country_name", "country_iso_code",
    "region", "cloud_provider", "cloud_region", "os", "python_version", "codecarbon_version",
    "cpu_count", "cpu_model", "gpu_count", "gpu_model", "longitude", "latitude",
    "ram_total_size", "tracking_mode", "cpu_utilization_percent", "gpu_utilization_percent",
    "ram_utilization_percent", "ram_used_gb", "on_cloud", "pue", "wue",
)  # fmt: skip

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
    location: str | None = None,
) -> dict[str, str]:
    """One ``emissions.csv`` row for a footprint, every cell a string.

    Args:
        footprint: The measured or estimated run.
        project_name: CodeCarbon's ``project_name``: the run's project (``--project``,
            ``LOWCARB_PROJECT`` or the config file, as resolved by the caller).
        run_id: The ledger record id, or None for a fresh UUID.
        timestamp: When the run ended; default ``started_at`` plus the duration.
        cpu_model: CodeCarbon's ``cpu_model``, when known.
        location: The zone or cloud region as configured (``aws:eu-central-1``); default the
            footprint's zone. A cloud region fills ``cloud_provider``/``cloud_region`` and
            ``on_cloud``, which the resolved zone alone cannot.
    """
    m = footprint.measurement
    energy_kwh = {"cpu": 0.0, "gpu": 0.0, "ram": 0.0}
    gpu_count = 0
    for c in m.components:
        bucket = _bucket(c.name)
        energy_kwh[bucket] += c.energy_kwh * footprint.pue  # facility share, as CodeCarbon
        gpu_count += bucket == "gpu"
    place = place_of(location if location is not None else footprint.intensity.zone)
    stamp = (timestamp or m.started_at + timedelta(seconds=m.duration_s)).astimezone()
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
        "country_name": place.country_name,
        "country_iso_code": place.country_iso_code,
        "region": place.region,
        "cloud_provider": place.cloud_provider,
        "cloud_region": place.cloud_region,
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
        "on_cloud": "Y" if place.cloud_provider else "N",
        "pue": footprint.pue,
        "wue": 0,
    }
    return {k: str(csv_cell(values[k])) for k in CODECARBON_COLUMNS}


def _read_header(path: Path) -> list[str]:
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            return next(csv.reader(fh), [])
    except (UnicodeDecodeError, csv.Error):
        return []


def _file_columns(path: Path, *, what: str) -> tuple[str, ...] | None:
    """The columns of an existing emissions file in its own order; None for a new or empty file.

    CodeCarbon accepts a header in any order (``FileOutput.has_valid_headers`` compares sorted
    names) and writes in the file's order, so lowcarb does the same.
    """
    if not path.exists() or path.stat().st_size == 0:
        return None
    header = _read_header(path)
    if len(header) != len(CODECARBON_COLUMNS) or set(header) != set(CODECARBON_COLUMNS):
        raise UsageError(
            f"{what} {str(path)!r} exists with a different header than CodeCarbon 3.x's "
            "emissions.csv; choose another path"
        )
    return tuple(header)


def check_emissions_csv(path: Path, *, what: str = "--emissions-csv") -> bool:
    """Check before the work that ``path`` can take a row; True when the header must be written.

    Creates nothing.

    Raises:
        UsageError: Not a writable file path, or a file with another header (lowcarb never
            rewrites a file it did not write).
    """
    check_output_path(path, what=what)
    return _file_columns(path, what=what) is None


def _lock(fd: int) -> None:
    """Hold an exclusive advisory lock on the file until ``fd`` closes, so two runs appending at
    once cannot both write the header (a no-op where ``flock`` does not exist)."""
    try:
        import fcntl
    except ImportError:  # Windows: appends are still one write each
        return
    fcntl.flock(fd, fcntl.LOCK_EX)


def append_emissions_csv(path: Path, row: dict[str, str], *, what: str = "--emissions-csv") -> None:
    """Append a row, writing the header for a new file; all or nothing.

    The row (and header) go in one write, flushed to disk; if that fails (disk full, say) the file
    is cut back to its old length, or removed if this call created it, and a one-line error says
    so. An existing file with a different header is left untouched: lowcarb never rewrites a file
    it did not write.

    Raises:
        UsageError: The path cannot take a row (see :func:`check_emissions_csv`).
        LowcarbError: The write failed; the file is as it was.
    """
    check_output_path(path, what=what)
    existed = path.exists()
    try:
        fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError as exc:
        raise UsageError(f"{what} {str(path)!r} cannot be opened: {exc.strerror}") from None
    try:
        _lock(fd)
        start = os.fstat(fd).st_size
        columns = _file_columns(path, what=what) if start else None
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=columns or CODECARBON_COLUMNS, lineterminator="\n")
        if columns is None:
            writer.writeheader()
        elif not _ends_with_newline(fd, start):
            buf.write("\n")  # another writer left the last line unterminated: do not join it
        writer.writerow(row)
        data = buf.getvalue().encode("utf-8")
        try:
            written = 0
            while written < len(data):
                written += os.write(fd, data[written:])
            os.fsync(fd)
        except OSError as exc:
            os.ftruncate(fd, start)
            if not existed:
                path.unlink(missing_ok=True)
            raise LowcarbError(
                f"{what} {str(path)!r}: the row could not be written ({exc.strerror}); "
                "the file is unchanged"
            ) from None
    finally:
        os.close(fd)


def _ends_with_newline(fd: int, size: int) -> bool:
    try:
        return os.pread(fd, 1, size - 1) in (b"\n", b"\r")
    except (OSError, AttributeError):  # no pread (Windows): CodeCarbon's own files end in one
        return True
