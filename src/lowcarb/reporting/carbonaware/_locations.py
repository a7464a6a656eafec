"""Locations as Carbon Aware SDK clients name them, resolved to Electricity Maps zones.

The SDK's default location source is the list of Azure regions (``eastus``, ``westeurope``), so
its clients send those; lowcarb's zone ids (``DE``, ``US-CAL-CISO``) and cloud regions
(``aws:us-east-1``, a bare ``us-east-1``, ``gcp:europe-west4``) are accepted as well, through
:func:`lowcarb.grid.resolve_name` and lowcarb's cloud-region map (``lowcarb zones`` lists them).

A few names of the SDK's default list (``azure-regions.json``) cannot be answered: public regions
whose grid zone lowcarb has no data for, and Azure's non-public regions (early-access canaries,
staging). They get a 400 that says which and why, not a bare "unknown zone".
"""

from __future__ import annotations

from dataclasses import dataclass

from lowcarb.errors import InvalidValueError, UnknownZoneError
from lowcarb.grid import resolve_name

__all__ = ["MAX_LOCATION_CHARS", "SdkLocation", "resolve_location"]

#: The longest location name accepted (the longest Azure region name has 18 characters).
MAX_LOCATION_CHARS = 100

#: Public Azure regions of the SDK's default list whose grid zone lowcarb has no data for (the
#: embedded tables are Electricity Maps' 2022 set of 123 zones, which has none of these):
#: region -> (where, per Microsoft's "Azure geographies" page, and the Electricity Maps zone).
_NO_DATA = {
    "uaenorth": ("Dubai, United Arab Emirates", "AE"),
    "uaecentral": ("Abu Dhabi, United Arab Emirates", "AE"),
    "qatarcentral": ("Doha, Qatar", "QA"),
    "mexicocentral": ("Querétaro, Mexico", "MX"),
    "southindia": ("Chennai, India", "IN-SO"),
}
#: Non-public Azure regions of the SDK's default list: region -> what it is, and the public
#: region to ask for instead.
_NOT_PUBLIC = {
    "centraluseuap": ("early-access canary", "centralus"),
    "eastus2euap": ("early-access canary", "eastus2"),
    "eastusstg": ("staging", "eastus"),
    "brazilus": ("logical, listed at latitude 0, longitude 0", "brazilsouth"),
}


def _not_served(text: str) -> UnknownZoneError | None:
    key = text.lower()
    if key in _NO_DATA:
        where, zone = _NO_DATA[key]
        return UnknownZoneError(
            text,
            [],
            hint=f"the Azure region {key} is in {where}, grid zone {zone}, and lowcarb has no "
            "data for that zone; ask for a location it has (`lowcarb zones` lists them)",
        )
    if key in _NOT_PUBLIC:
        what, public = _NOT_PUBLIC[key]
        return UnknownZoneError(
            text,
            [],
            hint=f"{key} is one of Azure's non-public regions ({what}), which lowcarb does "
            f"not map; ask for the public region {public}",
        )
    return None


@dataclass(frozen=True, slots=True)
class SdkLocation:
    """A location from a request and the zone whose data answers it.

    Attributes:
        name: The location as the client sent it (echoed back in responses, as the SDK does).
        zone_id: The Electricity Maps zone id.
        via: ``provider:region`` when the name was a cloud region, else None.
    """

    name: str
    zone_id: str
    via: str | None


def resolve_location(name: str) -> SdkLocation:
    """Resolve a location name (Azure region, zone id or cloud region) to its zone.

    Raises:
        InvalidValueError: Empty, too long or with control characters.
        UnknownZoneError: Not a known zone or cloud region (the message lists close names, or
            says why a region of the SDK's default list is not served).
    """
    text = name.strip()
    if not text:
        raise InvalidValueError("location is empty; give a region such as eastus or a zone id")
    if len(text) > MAX_LOCATION_CHARS or any(ord(c) < 32 or ord(c) == 127 for c in text):
        raise InvalidValueError(
            f"location {text[:40]!r}... is not a location name (too long or control characters); "
            "give a region such as eastus or a zone id such as DE"
        )
    try:
        zone, region = resolve_name(text)
    except UnknownZoneError:
        better = _not_served(text)
        if better is not None:
            raise better from None
        raise
    return SdkLocation(name=text, zone_id=zone.zone_id, via=region.key if region else None)
