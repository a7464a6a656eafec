"""Build lowcarb's embedded grid tables from the shared Electricity Maps traces.

Writes, under ``src/lowcarb/grid/data/``:

* ``annual_intensity.csv``: one annual-average carbon intensity per zone (gCO2e/kWh, LCA), with its
  year and source, plus the ``WORLD`` average, used by :func:`lowcarb.grid.static_intensity`.
* ``profiles.csv``: per zone, month (1-12) and hour of day (UTC, 0-23), the mean 2022 intensity,
  used as the offline forecast fallback.

Sources (Electricity Maps data, ODbL 1.0; see ``src/lowcarb/grid/data/ATTRIBUTION.md``):

* ``em2022_123zones/mean_stats_2020_2022.csv`` (column ``2022``) for the 123 zones it covers, and
  ``em2022_123zones/em2022_lca_hourly_123zones.csv`` for their hourly profiles;
* ``em_raw_2021_2023/{BR,NO}_2022_hourly.csv`` (column ``Carbon Intensity gCO₂eq/kWh (LCA)``)
  for the country-level zones BR and NO, which the 123-zone set only has as sub-zones.

Usage::

    .venv/bin/python scripts/build_profiles.py [--data-dir ../shared/data/grid] [--out DIR]
"""

from __future__ import annotations

import argparse
import csv
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data" / "grid"
DEFAULT_OUT = REPO / "src" / "lowcarb" / "grid" / "data"

YEAR = 2022
EM_SOURCE = "electricitymaps-2022-lca"
# Ember, "Global Electricity Review 2024" (May 2024): the emissions intensity of world electricity
# generation was 480 gCO2e/kWh in 2023. Ember's emissions are lifecycle figures (supporting
# material, "Emissions": full lifecycle emissions including upstream methane and supply chain).
WORLD_G_PER_KWH = 480.0
WORLD_YEAR = 2023
WORLD_SOURCE = "ember-ger-2024"
RAW_COUNTRY_ZONES = ("BR", "NO")
LCA_COLUMN = "Carbon Intensity gCO₂eq/kWh (LCA)"


def _read_hourly_wide(path: Path) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Zones, hour timestamps (datetime64[h], UTC) and values (hours x zones)."""
    with path.open(newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        times: list[np.datetime64] = []
        rows: list[list[float]] = []
        for row in reader:
            stamp = datetime.fromisoformat(row[0]).astimezone(UTC).replace(tzinfo=None)
            times.append(np.datetime64(stamp, "h"))
            rows.append([float(v) for v in row[1:]])
    return header[1:], np.array(times, dtype="datetime64[h]"), np.array(rows, dtype=float)


def _read_portal(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Hour timestamps and LCA values of an Electricity Maps data-portal CSV (UTC, hourly)."""
    times: list[np.datetime64] = []
    values: list[float] = []
    with path.open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            times.append(np.datetime64(row["Datetime (UTC)"].replace(" ", "T"), "h"))
            values.append(float(row[LCA_COLUMN]))
    return np.array(times, dtype="datetime64[h]"), np.array(values, dtype=float)


def _profile(times: np.ndarray, values: np.ndarray) -> np.ndarray:
    """12 x 24 mean by month and UTC hour of day."""
    months = times.astype("datetime64[M]").astype(int) % 12
    hours = (times - times.astype("datetime64[D]")).astype(int)
    out = np.full((12, 24), np.nan)
    for m in range(12):
        for h in range(24):
            sel = (months == m) & (hours == h) & np.isfinite(values)
            if sel.any():
                out[m, h] = values[sel].mean()
    if np.isnan(out).any():
        raise SystemExit("a month x hour cell has no data; refusing to write a partial profile")
    return out


def build(data_dir: Path, out_dir: Path) -> None:
    """Write ``annual_intensity.csv`` and ``profiles.csv`` into ``out_dir``."""
    means: dict[str, float] = {}
    with (data_dir / "em2022_123zones" / "mean_stats_2020_2022.csv").open(newline="") as fh:
        for row in csv.DictReader(fh):
            means[row["zonecode"]] = float(row[str(YEAR)])
    zones, times, values = _read_hourly_wide(
        data_dir / "em2022_123zones" / "em2022_lca_hourly_123zones.csv"
    )
    profiles = {z: _profile(times, values[:, i]) for i, z in enumerate(zones)}
    for zone in RAW_COUNTRY_ZONES:
        raw_times, raw_values = _read_portal(
            data_dir / "em_raw_2021_2023" / f"{zone}_{YEAR}_hourly.csv"
        )
        means[zone] = float(np.nanmean(raw_values))
        profiles[zone] = _profile(raw_times, raw_values)

    out_dir.mkdir(parents=True, exist_ok=True)
    with (out_dir / "annual_intensity.csv").open("w", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(["zone_id", "intensity_g_per_kwh", "year", "signal", "scope", "source"])
        writer.writerow(
            ["WORLD", f"{WORLD_G_PER_KWH:.1f}", WORLD_YEAR, "average", "lifecycle", WORLD_SOURCE]
        )
        for zone in sorted(means):
            writer.writerow([zone, f"{means[zone]:.1f}", YEAR, "average", "lifecycle", EM_SOURCE])
    with (out_dir / "profiles.csv").open("w", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(["zone_id", "month", *(f"h{h:02d}" for h in range(24))])
        for zone in sorted(profiles):
            for m in range(12):
                writer.writerow([zone, m + 1, *(f"{v:.1f}" for v in profiles[zone][m])])
    print(f"wrote {len(means) + 1} annual figures and {len(profiles)} zone profiles to {out_dir}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    build(args.data_dir, args.out)


if __name__ == "__main__":
    main()
