"""Every location of the Carbon Aware SDK's default list answers: data, or a 400 saying why not.

The SDK's default location source is its list of Azure regions, so its clients send those names.
Source of the list (its 55 keys, in file order):
https://github.com/Green-Software-Foundation/carbon-aware-sdk/blob/0510fc2f829cdbd7033042f0a34ad2ad7046b760/src/data/location-sources/azure-regions.json
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from lowcarb.errors import UnknownZoneError
from lowcarb.reporting.carbonaware import resolve_location

if TYPE_CHECKING:
    from starlette.testclient import TestClient

SDK_DEFAULT_REGIONS = [
    "eastus", "eastus2", "southcentralus", "westus2", "westus3", "australiaeast",
    "southeastasia", "northeurope", "swedencentral", "uksouth", "westeurope", "centralus",
    "southafricanorth", "centralindia", "eastasia", "japaneast", "koreacentral",
    "canadacentral", "francecentral", "germanywestcentral", "italynorth", "norwayeast",
    "polandcentral", "spaincentral", "mexicocentral", "brazilsouth", "eastus2euap",
    "israelcentral", "qatarcentral", "brazilus", "eastusstg", "northcentralus", "westus",
    "jioindiawest", "switzerlandnorth", "uaenorth", "centraluseuap", "westcentralus",
    "southafricawest", "australiacentral", "australiacentral2", "australiasoutheast",
    "japanwest", "jioindiacentral", "koreasouth", "southindia", "westindia", "canadaeast",
    "francesouth", "germanynorth", "norwaywest", "switzerlandwest", "ukwest", "uaecentral",
    "brazilsoutheast",
]  # fmt: skip

#: Public regions whose zone lowcarb has no data for: region -> the zone the message names.
NO_DATA = {
    "uaenorth": "AE",
    "uaecentral": "AE",
    "qatarcentral": "QA",
    "mexicocentral": "MX",
    "southindia": "IN-SO",
}
#: Azure's non-public regions: region -> the public region the message suggests.
NOT_PUBLIC = {
    "centraluseuap": "centralus",
    "eastus2euap": "eastus2",
    "eastusstg": "eastus",
    "brazilus": "brazilsouth",
}
#: Regions mapped to grid zones after the audit found them answering "unknown zone" (each
#: region's city per Microsoft's "Azure geographies" page, and the zone serving that city).
MAPPED_LATER = {
    "koreasouth": "KR",  # Busan
    "germanynorth": "DE",  # Berlin
    "francesouth": "FR",  # Marseille
    "norwaywest": "NO-NO2",  # Stavanger: bidding zone NO2, southwest Norway
    "switzerlandwest": "CH",  # Geneva
    "australiacentral": "AU-NSW",  # Canberra: the NEM's NSW1 region covers the ACT
    "australiacentral2": "AU-NSW",  # Canberra
    "brazilsoutheast": "BR-CS",  # Rio de Janeiro: the south-east/centre-west subsystem
    "southafricawest": "ZA",  # Cape Town
    "jioindiawest": "IN-WE",  # Jamnagar, Gujarat: the Western grid region
    "jioindiacentral": "IN-MH",  # Nagpur, Maharashtra
}


def test_the_list_is_the_sdks() -> None:
    assert len(SDK_DEFAULT_REGIONS) == len(set(SDK_DEFAULT_REGIONS)) == 55
    assert set(NO_DATA) | set(NOT_PUBLIC) | set(MAPPED_LATER) <= set(SDK_DEFAULT_REGIONS)


@pytest.mark.parametrize("region", sorted(MAPPED_LATER))
def test_the_regions_once_unknown_resolve_to_their_zone(region: str) -> None:
    location = resolve_location(region)
    assert (location.zone_id, location.via) == (MAPPED_LATER[region], f"azure:{region}")


def test_every_default_region_has_data_or_a_400_that_says_why(
    profile_client: TestClient,
) -> None:
    served = [r for r in SDK_DEFAULT_REGIONS if r not in NO_DATA and r not in NOT_PUBLIC]
    assert len(served) == 46
    for region in SDK_DEFAULT_REGIONS:
        response = profile_client.get(
            "/emissions/bylocation",
            params={"location": region, "time": "2022-06-01T00:00Z", "toTime": "2022-06-01T03:00Z"},
        )
        if region in served:
            assert response.status_code == 200, (region, response.text)
            zone = resolve_location(region).zone_id
            assert response.headers["X-Lowcarb-Zones"] == f"{region}={zone}"
            points = response.json()
            assert points and all(p["location"] == region and p["rating"] > 0 for p in points)
            continue
        assert response.status_code == 400, (region, response.text)
        problem = response.json()
        (message,) = problem["errors"]["location"]
        if region in NO_DATA:
            assert f"grid zone {NO_DATA[region]}, and lowcarb has no data" in message
        else:
            assert "non-public regions" in message
            assert message.endswith(f"ask for the public region {NOT_PUBLIC[region]})")


@pytest.mark.parametrize("region", [*NO_DATA, *NOT_PUBLIC])
def test_a_region_not_served_is_still_an_unknown_zone_to_python_callers(region: str) -> None:
    with pytest.raises(UnknownZoneError) as info:
        resolve_location(region)
    assert "\n" not in str(info.value) and region in str(info.value)
