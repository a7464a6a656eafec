"""Static annual intensity table, world-average fallback and zone precedence."""

from __future__ import annotations

import csv
import importlib.util
import sys
from pathlib import Path

import pytest

from lowcarb.errors import InvalidValueError, UnknownZoneError
from lowcarb.grid import annual_factors, resolve_zone, static_intensity, zones

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "src" / "lowcarb" / "grid" / "data"


def test_every_zone_has_an_annual_factor() -> None:
    factor_ids = {f.zone_id for f in annual_factors()}
    assert {z.zone_id for z in zones()} == factor_ids


def test_factors_match_electricity_maps_2022_means(grid_data_dir: Path) -> None:
    with (grid_data_dir / "em2022_123zones" / "mean_stats_2020_2022.csv").open() as fh:
        means = {row["zonecode"]: float(row["2022"]) for row in csv.DictReader(fh)}
    for zone_id, mean in means.items():
        got = static_intensity(zone_id)
        assert got.intensity_g_per_kwh == pytest.approx(mean, abs=0.051), zone_id
        assert got.year == 2022
        assert got.kind == "estimated"
        assert got.scope == "lifecycle"
        assert got.signal == "average"
        assert got.source == "static:electricitymaps-2022-lca"
        assert got.time is None


def test_known_values() -> None:
    assert static_intensity("DE").intensity_g_per_kwh == pytest.approx(481.5)
    assert static_intensity("FR").intensity_g_per_kwh == pytest.approx(85.0, abs=15)
    assert static_intensity("de").zone == "DE"


def test_no_zone_gives_labelled_world_average() -> None:
    for empty in (None, "", "  "):
        got = static_intensity(empty)
        assert got.zone == "WORLD"
        assert got.intensity_g_per_kwh == 480.0
        assert got.year == 2023
        assert got.source == "static:ember-ger-2024"
        assert "no zone configured" in got.note
        assert "world average" in got.note
        assert "LOWCARB_ZONE" in got.note


def test_explicit_world_has_no_warning_note() -> None:
    got = static_intensity("WORLD")
    assert got.intensity_g_per_kwh == 480.0
    assert got.note == ""


def test_cloud_region_names_the_mapping() -> None:
    got = static_intensity("aws:us-east-1")
    assert got.zone == "US-MIDA-PJM"
    assert got.intensity_g_per_kwh == static_intensity("US-MIDA-PJM").intensity_g_per_kwh
    assert "aws:us-east-1->US-MIDA-PJM" in got.source
    assert "N. Virginia" in got.note
    assert static_intensity("us-east-1") == got


def test_unknown_zone_raises_with_suggestion() -> None:
    with pytest.raises(UnknownZoneError, match=r"'DE'"):
        static_intensity("DEU")


def test_resolve_zone_precedence() -> None:
    env = {"LOWCARB_ZONE": "FR"}
    assert resolve_zone("DE", environ=env, config_zone="GB") == "DE"
    assert resolve_zone(None, environ=env, config_zone="GB") == "FR"
    assert resolve_zone(None, environ={}, config_zone="GB") == "GB"
    assert resolve_zone(None, environ={}, config_zone=None) is None
    assert resolve_zone(None, environ={"LOWCARB_ZONE": " "}, config_zone=" NL ") == "NL"
    with pytest.raises(InvalidValueError, match="--zone is empty"):
        resolve_zone("  ", environ={}, config_zone="NL")  # an explicit blank flag is a mistake
    assert resolve_zone(" aws:us-east-1 ", environ=env, config_zone=None) == "aws:us-east-1"


def _load_script() -> object:
    spec = importlib.util.spec_from_file_location(
        "build_profiles", REPO / "scripts" / "build_profiles.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["build_profiles"] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_shipped_tables_are_what_the_script_builds(grid_data_dir: Path, tmp_path: Path) -> None:
    script = _load_script()
    script.build(grid_data_dir, tmp_path)  # type: ignore[attr-defined]
    for name in ("annual_intensity.csv", "profiles.csv"):
        assert (tmp_path / name).read_bytes() == (DATA / name).read_bytes(), name


def test_attribution_sits_beside_the_data() -> None:
    text = (DATA / "ATTRIBUTION.md").read_text()
    assert "ODbL" in text
    assert "Electricity Maps" in text
    assert "Ember" in text
