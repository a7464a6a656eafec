"""``estimate``: arithmetic, provenance, validation and the zone lookup."""

from __future__ import annotations

import dataclasses
import math

import pytest

import lowcarb
import lowcarb.grid
from lowcarb.energy import EstimateResult, estimate
from lowcarb.errors import (
    InvalidValueError,
    UnknownHardwareError,
    UnknownZoneError,
    UsageError,
)
from lowcarb.grid import Intensity


class FakeLookup:
    """A zone table of two entries that records what it was asked."""

    def __init__(self) -> None:
        self.calls: list[str | None] = []

    def __call__(self, zone: str | None) -> Intensity:
        self.calls.append(zone)
        if zone is None:
            return Intensity("WORLD", 480.0, "static:test-world", note="no zone given")
        if zone in ("DE", "aws:eu-central-1"):
            return Intensity("DE", 380.0, "static:test")
        raise UnknownZoneError(zone, ["DE", "FR"])


def test_energy_formula_and_tdp_default() -> None:
    result = estimate(hardware="A100", count=8, hours=10, pue=1.2, intensity_g_per_kwh=100)
    # 8 x 400 W x 10 h x 1.2 = 38.4 kWh; x 100 g = 3.84 kg
    assert result.energy_kwh == pytest.approx(38.4)
    assert result.it_energy_kwh == pytest.approx(32.0)
    assert result.co2e_kg == pytest.approx(3.84)
    assert result.power_w_per_device == 400.0
    assert result.power_source == "tdp:A100-SXM4-40GB"
    assert result.intensity_source == "given"
    assert result.embodied_co2e_kg is None
    assert result.method == "estimated"
    assert any("TDP of A100-SXM4-40GB" in a for a in result.assumptions)


def test_utilization_scales_power_linearly() -> None:
    full = estimate(hardware="T4", count=1, hours=100, intensity_g_per_kwh=0)
    half = estimate(hardware="T4", count=1, hours=100, utilization=0.5, intensity_g_per_kwh=0)
    assert full.energy_kwh == pytest.approx(7.0)
    assert half.energy_kwh == pytest.approx(3.5)
    assert half.power_w_per_device == 70.0
    assert any("utilization 0.5" in a for a in half.assumptions)


def test_power_only_without_hardware() -> None:
    result = estimate(hardware=None, count=2, hours=3, power_w=250, intensity_g_per_kwh=200)
    assert result.hardware is None
    assert result.energy_kwh == pytest.approx(1.5)
    assert result.power_source == "given"


def test_explicit_power_overrides_table_but_keeps_hardware() -> None:
    result = estimate(hardware="H100", count=1, hours=1, power_w=550, intensity_g_per_kwh=0)
    assert result.hardware == "H100-SXM5-80GB"
    assert result.power_w_per_device == 550


def test_zone_uses_lookup() -> None:
    lookup = FakeLookup()
    result = estimate(
        hardware="L4", count=1, hours=1000, zone="aws:eu-central-1", intensity_lookup=lookup
    )
    assert lookup.calls == ["aws:eu-central-1"]
    assert result.intensity_g_per_kwh == 380.0
    assert result.intensity_source == "static:test"
    assert result.zone == "DE"
    assert result.co2e_kg == pytest.approx(72.0 * 0.380)


def test_no_zone_no_intensity_uses_labelled_world_average() -> None:
    lookup = FakeLookup()
    result = estimate(hardware="L4", count=1, hours=1000, intensity_lookup=lookup)
    assert lookup.calls == [None]
    assert result.intensity_g_per_kwh == 480.0
    assert result.zone == "WORLD"
    assert any("world average" in a and "no zone given" in a for a in result.assumptions)


def test_unknown_zone_propagates() -> None:
    with pytest.raises(UnknownZoneError, match="did you mean"):
        estimate(hardware="L4", count=1, hours=1, zone="DF", intensity_lookup=FakeLookup())


def test_a_zone_without_a_lookup_is_a_usage_error() -> None:
    # The energy layer has no zone table: the caller above it passes one.
    with pytest.raises(UsageError, match="intensity_lookup"):
        estimate(hardware="L4", count=1, hours=1, zone="DE")


def test_lowcarb_estimate_prices_zones_with_grid_static_intensity() -> None:
    result = lowcarb.estimate(hardware="L4", count=1, hours=1, zone="DE")
    assert result.intensity_g_per_kwh == lowcarb.grid.static_intensity("DE").intensity_g_per_kwh
    assert result.intensity_source == lowcarb.grid.static_intensity("DE").source


def test_embodied_missing_figure_is_labelled() -> None:
    result = estimate(hardware="H100", count=8, hours=10, intensity_g_per_kwh=0, embodied=True)
    assert result.embodied_co2e_kg is None
    assert any("no cited manufacturing figure for H100-SXM5-80GB" in a for a in result.assumptions)


def test_embodied_amortisation_arithmetic() -> None:
    # 150 kg / (6 y x 8760 h x 0.85) per device-hour; 2 devices x 1000 h.
    result = estimate(
        hardware="A100-PCIE-80GB", count=2, hours=1000, intensity_g_per_kwh=0, embodied=True
    )
    assert result.embodied_co2e_kg == pytest.approx(2 * 150 * 1000 / (6 * 8760 * 0.85))
    custom = estimate(
        hardware="A100-PCIE-80GB",
        count=2,
        hours=1000,
        intensity_g_per_kwh=0,
        embodied=True,
        embodied_lifetime_years=4,
        embodied_usage_fraction=1.0,
    )
    assert custom.embodied_co2e_kg == pytest.approx(2 * 150 * 1000 / (4 * 8760))


def test_result_is_frozen_and_serialises() -> None:
    result = estimate(hardware="T4", count=1, hours=1, intensity_g_per_kwh=1)
    assert isinstance(result, EstimateResult)
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.energy_kwh = 0.0  # type: ignore[misc]
    data = result.to_dict()
    for key in ("energy_kwh", "co2e_kg", "power_w_per_device", "pue", "intensity_g_per_kwh"):
        assert key in data
    assert isinstance(data["assumptions"], list)


@pytest.mark.parametrize(
    ("kwargs", "quoted"),
    [
        ({"hours": -1.0}, "-1.0"),
        ({"hours": math.nan}, "nan"),
        ({"hours": math.inf}, "inf"),
        ({"hours": "3"}, "'3'"),
        ({"count": 0}, "0"),
        ({"count": 1.5}, "1.5"),
        ({"count": True}, "True"),
        ({"power_w": -5.0}, "-5.0"),
        ({"utilization": 1.5}, "1.5"),
        ({"utilization": -0.1}, "-0.1"),
        ({"pue": 0.9}, "0.9"),
        ({"pue": math.nan}, "nan"),
        ({"intensity_g_per_kwh": -3.0}, "-3.0"),
        ({"embodied_usage_fraction": 0.0}, "0.0"),
    ],
)
def test_bad_numbers_are_rejected_with_the_value_quoted(
    kwargs: dict[str, object], quoted: str
) -> None:
    base: dict[str, object] = {
        "hardware": "T4",
        "count": 1,
        "hours": 1.0,
        "intensity_g_per_kwh": 100.0,
    }
    base.update(kwargs)
    with pytest.raises(InvalidValueError) as info:
        estimate(**base)  # type: ignore[arg-type]
    assert quoted in str(info.value)
    assert isinstance(info.value, ValueError)


def test_neither_hardware_nor_power_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="--power-w") as info:
        estimate(hardware=None, count=1, hours=1, intensity_g_per_kwh=1)
    assert not isinstance(info.value, InvalidValueError)


def test_intensity_and_zone_are_exclusive() -> None:
    with pytest.raises(UsageError, match="not both"):
        estimate(hardware="T4", count=1, hours=1, intensity_g_per_kwh=1, zone="DE")


def test_unknown_hardware() -> None:
    with pytest.raises(UnknownHardwareError, match="'T5'"):
        estimate(hardware="T5", count=1, hours=1, intensity_g_per_kwh=1)
