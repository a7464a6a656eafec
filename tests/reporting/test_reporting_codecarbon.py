"""The CodeCarbon-compatible CSV is read by CodeCarbon's own code and by pandas."""

from __future__ import annotations

import csv
import dataclasses
from datetime import UTC, datetime
from pathlib import Path

import pytest

from lowcarb.errors import UsageError
from lowcarb.ledger.testing import sample_footprint
from lowcarb.reporting import (
    CODECARBON_COLUMNS,
    append_emissions_csv,
    check_emissions_csv,
    emissions_row,
)

pd = pytest.importorskip("pandas")
pytest.importorskip("codecarbon")


def _codecarbon_row(path: Path) -> None:
    """Append one row with CodeCarbon's own writer (offline: nothing is looked up)."""
    from codecarbon.output_methods.emissions_data import EmissionsData
    from codecarbon.output_methods.file import FileOutput

    fields = {f.name: f for f in dataclasses.fields(EmissionsData)}
    values: dict[str, object] = {}
    for name, f in fields.items():
        values[name] = 0.0 if f.type in ("float", float) else 0 if f.type in ("int", int) else ""
    values.update(
        timestamp=datetime.now().strftime("%Y-%m-%dT%H:%M:%S"),  # as CodeCarbon's tracker does
        project_name="cc", run_id="cc-run", country_name="Germany", country_iso_code="DEU",
        region="", on_cloud="N", tracking_mode="machine",
    )  # fmt: skip
    FileOutput(path.name, str(path.parent)).out(EmissionsData(**values), None)  # type: ignore[arg-type]


def test_a_file_appended_by_both_tools_reads_in_pandas(tmp_path: Path) -> None:
    path = tmp_path / "emissions.csv"
    footprint = sample_footprint(zone="DE", pue=1.5)
    append_emissions_csv(path, emissions_row(footprint, project_name="detector", run_id="r1"))
    _codecarbon_row(path)
    append_emissions_csv(path, emissions_row(footprint, project_name="detector", run_id="r2"))
    frame = pd.read_csv(path)
    assert list(frame["run_id"]) == ["r1", "cc-run", "r2"]
    stamps = pd.to_datetime(frame["timestamp"])  # one format for every row, or this raises
    assert stamps.notna().all()
    mine = frame[frame["project_name"] == "detector"].iloc[0]
    assert (mine["country_iso_code"], mine["country_name"]) == ("DEU", "Germany")


def test_pue_applies_to_components_and_total_alike() -> None:
    footprint = sample_footprint(cpu_j=3_600_000.0, gpu_j=7_200_000.0, pue=1.5)
    row = emissions_row(footprint, project_name="p", run_id="r")
    cpu, gpu, ram = (float(row[k]) for k in ("cpu_energy", "gpu_energy", "ram_energy"))
    assert (cpu, gpu, ram) == pytest.approx((1.5, 3.0, 0.0))  # kWh x PUE, as CodeCarbon
    assert float(row["energy_consumed"]) == pytest.approx(cpu + gpu + ram)
    assert float(row["energy_consumed"]) == pytest.approx(footprint.energy_kwh)


@pytest.mark.parametrize(
    ("zone", "iso3", "name", "region"),
    [
        ("DE", "DEU", "Germany", ""),
        ("AU-NSW", "AUS", "Australia", "new south wales"),
        ("US-CAL-CISO", "USA", "United States", ""),
        ("WORLD", "", "", ""),
    ],
)
def test_country_and_region_from_the_zone(zone: str, iso3: str, name: str, region: str) -> None:
    row = emissions_row(sample_footprint(zone=zone), project_name="p", run_id="r")
    assert (row["country_iso_code"], row["country_name"], row["region"]) == (iso3, name, region)


def test_timestamp_is_codecarbons_format() -> None:
    when = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    row = emissions_row(sample_footprint(), project_name="p", run_id="r", timestamp=when)
    assert row["timestamp"] == when.astimezone().strftime("%Y-%m-%dT%H:%M:%S")


def test_formula_like_names_are_neutralised(tmp_path: Path) -> None:
    row = emissions_row(sample_footprint(), project_name="=cmd|'/c calc'!A1", run_id="r")
    path = tmp_path / "e.csv"
    append_emissions_csv(path, row)
    with path.open(newline="") as fh:
        (read,) = list(csv.DictReader(fh))
    assert read["project_name"] == "'=cmd|'/c calc'!A1"


def test_foreign_or_unwritable_targets_are_refused_before_work(tmp_path: Path) -> None:
    foreign = tmp_path / "other.csv"
    foreign.write_text("a,b\n1,2\n")
    with pytest.raises(UsageError, match="different header"):
        check_emissions_csv(foreign)
    assert foreign.read_text() == "a,b\n1,2\n"
    with pytest.raises(UsageError, match="does not exist"):
        check_emissions_csv(tmp_path / "no" / "e.csv")
    assert check_emissions_csv(tmp_path / "new.csv") is True
    assert not (tmp_path / "new.csv").exists()
    assert len(CODECARBON_COLUMNS) == len(set(CODECARBON_COLUMNS))
