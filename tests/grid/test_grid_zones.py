"""Zone catalogue and cloud-region lookup."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from lowcarb.errors import UnknownZoneError
from lowcarb.grid import cloud_regions, lookup_region, lookup_zone, resolve_name, zones


def test_catalogue_covers_every_zone_of_the_2022_traces(grid_data_dir: Path) -> None:
    with (grid_data_dir / "em2022_123zones" / "mean_stats_2020_2022.csv").open() as fh:
        trace_zones = {row["zonecode"] for row in csv.DictReader(fh)}
    assert len(trace_zones) == 123
    known = {z.zone_id for z in zones()}
    assert trace_zones <= known
    assert {"WORLD", "BR", "NO"} <= known


def test_zone_ids_are_unique_and_named() -> None:
    ids = [z.zone_id for z in zones()]
    assert len(ids) == len(set(ids))
    assert zones()[0].zone_id == "WORLD"
    assert all(z.name for z in zones())
    assert lookup_zone("US-CAL-CISO").name == "California Independent System Operator"
    assert lookup_zone("US-TEX-ERCO").kind == "balancing-area"
    assert lookup_zone("SE-SE3").kind == "region"
    assert lookup_zone("FR").kind == "country"


def test_lookup_is_case_insensitive_and_strips() -> None:
    assert lookup_zone(" de ").zone_id == "DE"
    assert lookup_zone("us-mida-pjm").zone_id == "US-MIDA-PJM"


@pytest.mark.parametrize(
    ("name", "zone_id"),
    [
        ("aws:us-east-1", "US-MIDA-PJM"),
        ("us-east-1", "US-MIDA-PJM"),
        ("AWS:EU-WEST-2", "GB"),
        ("gcp:europe-west4", "NL"),
        ("europe-west4", "NL"),
        ("azure:westeurope", "NL"),
        ("westeurope", "NL"),
        ("gcp:us-central1", "US-MIDW-MISO"),
        ("azure:southcentralus", "US-TEX-ERCO"),
        ("aws:us-west-1", "US-CAL-CISO"),
    ],
)
def test_cloud_regions_resolve_to_zones(name: str, zone_id: str) -> None:
    zone, region = resolve_name(name)
    assert zone.zone_id == zone_id
    assert region is not None
    assert region.zone_id == zone_id
    assert lookup_zone(name).zone_id == zone_id


def test_zone_id_resolves_without_region() -> None:
    zone, region = resolve_name("DE")
    assert zone.zone_id == "DE"
    assert region is None


def test_every_major_provider_is_mapped_to_known_zones() -> None:
    regions = cloud_regions()
    known = {z.zone_id for z in zones()}
    for provider in ("aws", "gcp", "azure"):
        mapped = [r for r in regions if r.provider == provider]
        assert len(mapped) >= 20, provider
    assert all(r.zone_id in known for r in regions)
    assert len({r.key for r in regions}) == len(regions)


def test_bare_region_names_are_unambiguous_across_providers() -> None:
    names = [r.region for r in cloud_regions()]
    assert len(names) == len(set(names))


def test_unknown_zone_suggests_close_matches() -> None:
    with pytest.raises(UnknownZoneError) as info:
        lookup_zone("US-CAL-CSO")
    assert "US-CAL-CISO" in info.value.suggestions
    assert "lowcarb zones" in str(info.value)
    assert "\n" not in str(info.value)


def test_unknown_country_with_subzones_lists_them() -> None:
    with pytest.raises(UnknownZoneError, match=r"SE-SE1, SE-SE2, SE-SE3, SE-SE4"):
        lookup_zone("SE")


def test_zone_name_instead_of_id_points_to_the_id() -> None:
    with pytest.raises(UnknownZoneError, match=r"Germany is zone 'DE'"):
        lookup_zone("Germany")


def test_unknown_region_of_known_provider_suggests_regions() -> None:
    with pytest.raises(UnknownZoneError) as info:
        lookup_zone("aws:us-east-9")
    assert "aws:us-east-1" in info.value.suggestions


def test_lookup_region_returns_none_for_non_regions() -> None:
    assert lookup_region("DE") is None
    assert lookup_region("foo:bar") is None
    region = lookup_region("azure:westeurope")
    assert region is not None
    assert region.key == "azure:westeurope"
