"""The CodeCarbon-compatible CSV is read by CodeCarbon's own code and by pandas."""

from __future__ import annotations

import csv
import dataclasses
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from lowcarb.errors import LowcarbError, UsageError
from lowcarb.ledger.testing import sample_footprint
from lowcarb.tracking import (
    CODECARBON_COLUMNS,
    append_emissions_csv,
    check_emissions_csv,
    emissions_row,
)

pd = pytest.importorskip("pandas")
pytest.importorskip("codecarbon")


def _codecarbon_tracker_row(path: Path) -> None:
    """Append one row with CodeCarbon's own tracker, offline (the country is given, so nothing is
    looked up over the network)."""
    from codecarbon import OfflineEmissionsTracker
    from codecarbon.output_methods.base_output import OutputMethod

    tracker = OfflineEmissionsTracker(
        country_iso_code="DEU",
        output_dir=str(path.parent),
        output_file=path.name,
        project_name="cc",
        log_level="error",
        measure_power_secs=1,
        tracking_mode="process",
        output_methods=[OutputMethod.CSV],
    )
    tracker.start()
    tracker.stop()


def _codecarbon_rereads(path: Path) -> None:
    """CodeCarbon's own reading code: in ``update`` mode FileOutput reads the whole file with
    pandas, checks the header and rewrites it with one more row."""
    from codecarbon.output_methods.emissions_data import EmissionsData
    from codecarbon.output_methods.file import FileOutput

    values: dict[str, object] = {}
    for f in dataclasses.fields(EmissionsData):
        values[f.name] = 0.0 if f.type in ("float", float) else 0 if f.type in ("int", int) else ""
    values.update(
        timestamp=datetime.now().strftime("%Y-%m-%dT%H:%M:%S"),
        project_name="cc",
        run_id="cc-update",
        on_cloud="N",
        tracking_mode="machine",
    )
    output = FileOutput(path.name, str(path.parent), on_csv_write="update")
    data = EmissionsData(**values)  # type: ignore[arg-type]
    assert output.has_valid_headers(data)
    output.out(data, None)  # type: ignore[arg-type]


def test_a_file_appended_by_both_tools_is_read_by_codecarbon_and_pandas(tmp_path: Path) -> None:
    path = tmp_path / "emissions.csv"
    footprint = sample_footprint(zone="AU-NSW", pue=1.5)
    append_emissions_csv(path, emissions_row(footprint, project_name="detector", run_id="r1"))
    _codecarbon_tracker_row(path)
    append_emissions_csv(path, emissions_row(footprint, project_name="detector", run_id="r2"))
    _codecarbon_rereads(path)
    # CodeCarbon backs up a file whose header it does not accept: it must have accepted ours.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["emissions.csv"]
    frame = pd.read_csv(path)
    assert list(frame["project_name"]) == ["detector", "cc", "detector", "cc"]
    assert list(frame["run_id"])[::2] == ["r1", "r2"] and frame["run_id"].iloc[3] == "cc-update"
    stamps = pd.to_datetime(frame["timestamp"])  # one format for every row, or this raises
    assert stamps.notna().all()
    mine = frame.iloc[0]
    theirs = frame.iloc[1]
    assert (mine["country_iso_code"], mine["country_name"]) == ("AUS", "Australia")
    assert mine["region"] == "new south wales"
    assert theirs["country_iso_code"] == "DEU"  # CodeCarbon's own row kept, as it wrote it
    assert len(str(mine["timestamp"])) == len(str(theirs["timestamp"]))


def test_pue_applies_to_components_and_total_alike() -> None:
    footprint = sample_footprint(cpu_j=3_600_000.0, gpu_j=7_200_000.0, pue=1.5)
    row = emissions_row(footprint, project_name="p", run_id="r")
    cpu, gpu, ram = (float(row[k]) for k in ("cpu_energy", "gpu_energy", "ram_energy"))
    assert (cpu, gpu, ram) == pytest.approx((1.5, 3.0, 0.0))  # kWh x PUE, as CodeCarbon
    assert float(row["energy_consumed"]) == pytest.approx(cpu + gpu + ram)
    assert float(row["energy_consumed"]) == pytest.approx(footprint.energy_kwh)
    # Powers are energies over the run (1 h here), PUE included: 1.5 kWh in 1 h is 1,500 W.
    assert float(row["cpu_power"]) == pytest.approx(1500.0)
    assert float(row["gpu_power"]) == pytest.approx(3000.0)


def test_columns_are_exactly_codecarbons() -> None:
    from codecarbon.output_methods.emissions_data import EmissionsData

    fields = [f.name for f in dataclasses.fields(EmissionsData)]
    assert list(CODECARBON_COLUMNS) == fields


def test_a_cloud_region_fills_the_cloud_columns() -> None:
    footprint = sample_footprint(zone="DE")  # aws:eu-central-1 is priced as zone DE
    row = emissions_row(footprint, project_name="p", run_id="r", location="aws:eu-central-1")
    assert (row["cloud_provider"], row["cloud_region"], row["on_cloud"]) == (
        "aws",
        "eu-central-1",
        "Y",
    )
    assert (row["country_iso_code"], row["region"]) == ("DEU", "Frankfurt")
    plain = emissions_row(footprint, project_name="p", run_id="r")
    assert (plain["cloud_provider"], plain["on_cloud"], plain["region"]) == ("", "N", "")


def test_timestamp_is_codecarbons_format_and_marks_the_end_of_the_run() -> None:
    when = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    row = emissions_row(sample_footprint(), project_name="p", run_id="r", timestamp=when)
    assert row["timestamp"] == when.astimezone().strftime("%Y-%m-%dT%H:%M:%S")
    started = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    footprint = sample_footprint(started_at=started, duration_s=90.0)
    ended = (started + timedelta(seconds=90)).astimezone().strftime("%Y-%m-%dT%H:%M:%S")
    assert emissions_row(footprint, project_name="p", run_id="r")["timestamp"] == ended


def test_formula_like_names_are_neutralised(tmp_path: Path) -> None:
    row = emissions_row(sample_footprint(), project_name="=cmd|'/c calc'!A1", run_id="@r")
    path = tmp_path / "e.csv"
    append_emissions_csv(path, row)
    with path.open(newline="") as fh:
        (read,) = list(csv.DictReader(fh))
    assert (read["project_name"], read["run_id"]) == ("'=cmd|'/c calc'!A1", "'@r")


def test_foreign_or_unwritable_targets_are_refused_before_work(tmp_path: Path) -> None:
    foreign = tmp_path / "other.csv"
    foreign.write_text("a,b\n1,2\n")
    with pytest.raises(UsageError, match="different header"):
        check_emissions_csv(foreign)
    with pytest.raises(UsageError, match="different header"):
        append_emissions_csv(foreign, emissions_row(sample_footprint(), project_name="p"))
    assert foreign.read_text() == "a,b\n1,2\n"
    with pytest.raises(UsageError, match="does not exist"):
        check_emissions_csv(tmp_path / "no" / "e.csv")
    with pytest.raises(UsageError, match="directory"):
        check_emissions_csv(tmp_path)
    assert check_emissions_csv(tmp_path / "new.csv") is True
    assert not (tmp_path / "new.csv").exists()


def test_a_header_in_another_order_is_accepted_and_followed(tmp_path: Path) -> None:
    """CodeCarbon accepts its columns in any order and writes in the file's order; lowcarb too."""
    path = tmp_path / "e.csv"
    reordered = list(reversed(CODECARBON_COLUMNS))
    path.write_text(",".join(reordered) + "\n")
    assert check_emissions_csv(path) is False
    append_emissions_csv(path, emissions_row(sample_footprint(), project_name="p", run_id="r"))
    with path.open(newline="") as fh:
        (read,) = list(csv.DictReader(fh))
    assert read["run_id"] == "r" and read["country_iso_code"] == "DEU"


def test_an_unterminated_last_line_is_not_joined(tmp_path: Path) -> None:
    path = tmp_path / "e.csv"
    append_emissions_csv(path, emissions_row(sample_footprint(), project_name="p", run_id="r1"))
    path.write_bytes(path.read_bytes().rstrip(b"\n"))
    append_emissions_csv(path, emissions_row(sample_footprint(), project_name="p", run_id="r2"))
    assert list(pd.read_csv(path)["run_id"]) == ["r1", "r2"]


def test_a_failed_write_leaves_the_file_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "e.csv"
    append_emissions_csv(path, emissions_row(sample_footprint(), project_name="p", run_id="r1"))
    before = path.read_bytes()
    real_write = os.write

    def half_then_full(fd: int, data: bytes) -> int:
        if fd == state["fd"]:
            if state["calls"] == 0:
                state["calls"] += 1
                return real_write(fd, data[: len(data) // 2])  # half the row reaches the disk
            raise OSError(28, "No space left on device")
        return real_write(fd, data)

    real_open = os.open
    state = {"fd": -1, "calls": 0}

    def track_open(file: str | os.PathLike[str], flags: int, mode: int = 0o777) -> int:
        fd = real_open(file, flags, mode)
        if Path(file) == path or Path(file) == tmp_path / "new.csv":
            state["fd"] = fd
        return fd

    monkeypatch.setattr(os, "open", track_open)
    monkeypatch.setattr(os, "write", half_then_full)
    with pytest.raises(LowcarbError, match=r"No space left on device.*unchanged"):
        append_emissions_csv(path, emissions_row(sample_footprint(), project_name="p"))
    assert path.read_bytes() == before
    state["calls"] = 0
    with pytest.raises(LowcarbError, match="unchanged"):
        append_emissions_csv(tmp_path / "new.csv", emissions_row(sample_footprint()))
    assert not (tmp_path / "new.csv").exists()  # a file this call created is removed again
