"""Trace files: the three formats, cleaning, and one-line errors for bad input."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from lowcarb.errors import TraceFormatError
from lowcarb.grid import load_trace, load_trace_table

EM_HEADER = (
    "Datetime (UTC),Country,Zone Name,Zone Id,Carbon Intensity gCO₂eq/kWh (direct),"
    "Carbon Intensity gCO₂eq/kWh (LCA),Low Carbon Percentage,Renewable Percentage,"
    "Data Source,Data Estimated,Data Estimation Method"
)


def _write(tmp_path: Path, text: str, name: str = "t.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _two_col(tmp_path: Path, rows: list[tuple[str, str]], header: str = "time,value") -> Path:
    return _write(tmp_path, header + "\n" + "\n".join(f"{t},{v}" for t, v in rows) + "\n")


def test_reads_wide_em2022_file(grid_data_dir: Path) -> None:
    table = load_trace_table(grid_data_dir / "em2022_123zones" / "em2022_lca_hourly_123zones.csv")
    assert table.format == "wide"
    assert len(table.zones) == 123
    de = table.series("de")
    assert de.zone == "DE"
    assert len(de) == 8760
    assert de.start == datetime(2022, 1, 1, tzinfo=UTC)
    assert de.values_g_per_kwh[0] == pytest.approx(216.56)  # first DE cell of the file
    assert de.mean_g_per_kwh() == pytest.approx(481.454, abs=0.01)
    assert de.kind == "measured"
    assert de.source == "trace:em2022_lca_hourly_123zones.csv[DE]"


def test_reads_electricity_maps_portal_file(grid_data_dir: Path) -> None:
    path = grid_data_dir / "em_raw_2021_2023" / "US-CAL-CISO_2023_hourly.csv"
    lca = load_trace(path)
    assert lca.zone == "US-CAL-CISO"
    assert len(lca) == 8760
    assert lca.values_g_per_kwh[0] == pytest.approx(285.41)
    direct = load_trace(path, scope="direct")
    assert direct.scope == "direct"
    assert direct.values_g_per_kwh[0] == pytest.approx(218.3)
    # The file flags some rows estimated: the series must not claim to be measured.
    assert any("flagged estimated by Electricity Maps" in n for n in lca.notes)
    assert lca.kind == "estimated"
    with pytest.raises(TraceFormatError, match="no zone 'DE'"):
        load_trace(path, zone="DE")


def test_lets_wait_awhile_needs_a_time_zone_then_resamples(grid_data_dir: Path) -> None:
    path = grid_data_dir / "lets_wait_awhile_2020" / "ger_ci.csv"
    with pytest.raises(TraceFormatError, match=r"naive timestamp .*--trace-tz UTC"):
        load_trace(path)
    s = load_trace(path, tz="UTC", zone="DE")
    assert s.zone == "DE"
    assert s.start == datetime(2019, 12, 20, tzinfo=UTC)
    assert any("sub-hourly" in n for n in s.notes)
    # 15-min data: the first hour is the mean of its four quarter-hours.
    raw = [float(line.split(",")[1]) for line in path.read_text().splitlines()[1:5]]
    assert s.values_g_per_kwh[0] == pytest.approx(np.mean(raw))


def test_sub_hourly_duplicates_and_order(tmp_path: Path) -> None:
    path = _two_col(
        tmp_path,
        [
            ("2022-01-01T01:00:00Z", "30"),
            ("2022-01-01T00:00:00Z", "10"),
            ("2022-01-01T00:30:00Z", "20"),
            ("2022-01-01T01:00:00Z", "50"),
        ],
    )
    s = load_trace(path, zone="X")
    assert list(s.values_g_per_kwh) == [15.0, 40.0]
    notes = " ".join(s.notes)
    assert "sorted" in notes
    assert "sub-hourly" in notes
    assert "1 duplicate" in notes


def test_offsets_are_converted_to_utc(tmp_path: Path) -> None:
    path = _two_col(tmp_path, [("2022-06-01T02:00:00+02:00", "5"), ("2022-06-01T03:00+02:00", "6")])
    s = load_trace(path)
    assert s.start == datetime(2022, 6, 1, 0, tzinfo=UTC)
    assert s.zone == "t"  # unlabelled two-column file: named after the file


def test_naive_timestamps_in_a_local_zone(tmp_path: Path) -> None:
    path = _two_col(tmp_path, [("2022-06-01 02:00", "5"), ("2022-06-01 03:00", "6")])
    s = load_trace(path, tz="Europe/Berlin")
    assert s.start == datetime(2022, 6, 1, 0, tzinfo=UTC)
    with pytest.raises(TraceFormatError, match="unknown time zone 'Mars/Base'"):
        load_trace(path, tz="Mars/Base")


def test_column_named_utc_accepts_naive_times(tmp_path: Path) -> None:
    path = _two_col(tmp_path, [("2022-06-01 02:00", "5")], header="time_utc,value")
    assert load_trace(path).start == datetime(2022, 6, 1, 2, tzinfo=UTC)


def test_short_gaps_are_interpolated_long_gaps_rejected(tmp_path: Path) -> None:
    rows = [("2022-01-01T00:00Z", "10"), ("2022-01-01T01:00Z", ""), ("2022-01-01T03:00Z", "40")]
    s = load_trace(_two_col(tmp_path, rows))
    assert list(s.values_g_per_kwh) == [10.0, 20.0, 30.0, 40.0]
    assert any("2 missing hour(s) linearly interpolated" in n for n in s.notes)
    long_gap = [("2022-01-01T00:00Z", "10"), ("2022-01-01T10:00Z", "40")]
    with pytest.raises(TraceFormatError, match="9 consecutive hours missing from 2022-01-01T01"):
        load_trace(_two_col(tmp_path, long_gap))
    assert len(load_trace(_two_col(tmp_path, long_gap), max_gap_h=9)) == 11


def test_leading_and_trailing_empty_values_are_trimmed(tmp_path: Path) -> None:
    rows = [("2022-01-01T00:00Z", ""), ("2022-01-01T01:00Z", "7"), ("2022-01-01T02:00Z", "nan")]
    s = load_trace(_two_col(tmp_path, rows))
    assert s.start == datetime(2022, 1, 1, 1, tzinfo=UTC)
    assert list(s.values_g_per_kwh) == [7.0]


@pytest.mark.parametrize(
    ("value", "match"),
    [("-3", r"line 3: invalid intensity '-3'"), ("abc", r"line 3: non-numeric value 'abc'")],
)
def test_bad_values_name_the_line(tmp_path: Path, value: str, match: str) -> None:
    path = _two_col(tmp_path, [("2022-01-01T00:00Z", "1"), ("2022-01-01T01:00Z", value)])
    with pytest.raises(TraceFormatError, match=match) as info:
        load_trace(path)
    assert "\n" not in str(info.value)


def test_bad_timestamp_and_format_errors(tmp_path: Path) -> None:
    with pytest.raises(TraceFormatError, match="bad timestamp 'yesterday'"):
        load_trace(_two_col(tmp_path, [("yesterday", "1")]))
    with pytest.raises(TraceFormatError, match="unknown trace format"):
        load_trace(_write(tmp_path, "a,b,c\n1,2,3\n"))
    with pytest.raises(TraceFormatError, match="no data rows"):
        load_trace(_write(tmp_path, "time,value\n"))
    with pytest.raises(TraceFormatError, match="does not exist"):
        load_trace(tmp_path / "missing.csv")
    with pytest.raises(TraceFormatError, match="no numeric values"):
        load_trace(_two_col(tmp_path, [("2022-01-01T00:00Z", "")]))


def test_wide_file_needs_a_known_zone(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "datetime_utc,DE,FR\n2022-01-01 00:00:00+00:00,1,2\n2022-01-01 01:00:00+00:00,3,4\n",
    )
    assert list(load_trace(path, zone="FR").values_g_per_kwh) == [2.0, 4.0]
    with pytest.raises(TraceFormatError, match="has 2 zones; choose one with --zone"):
        load_trace(path)
    with pytest.raises(TraceFormatError, match="no zone 'GB'"):
        load_trace(path, zone="GB")


def test_em_file_missing_column_or_mixed_zones(tmp_path: Path) -> None:
    no_lca = (
        "Datetime (UTC),Zone Id,Carbon Intensity gCO₂eq/kWh (direct)\n2022-01-01 00:00:00,DE,1\n"
    )
    with pytest.raises(TraceFormatError, match=r"without the column .*\(LCA\)"):
        load_trace(_write(tmp_path, no_lca))
    mixed = (
        EM_HEADER
        + "\n2022-01-01 00:00:00,G,G,DE,1,2,,,,false,\n2022-01-01 01:00:00,F,F,FR,1,2,,,,false,\n"
    )
    with pytest.raises(TraceFormatError, match="expected one 'Zone Id'"):
        load_trace(_write(tmp_path, mixed))
    short = EM_HEADER + "\n2022-01-01 00:00:00,G,G\n"
    with pytest.raises(TraceFormatError, match="line 2: 3 columns"):
        load_trace(_write(tmp_path, short))
