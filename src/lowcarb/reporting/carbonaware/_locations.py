"""Locations as Carbon Aware SDK clients name them, resolved to Electricity Maps zones.

The SDK's default location source is the list of Azure regions (``eastus``, ``westeurope``), so
its clients send those; lowcarb's zone ids (``DE``, ``US-CAL-CISO``) and cloud regions
(``aws:us-east-1``, a bare ``us-east-1``, ``gcp:europe-west4``) are accepted as well, through
:func:`lowcarb.grid.resolve_name` and lowcarb's cloud-region map (``lowcarb zones`` lists them).
"""

from __future__ import annotations

from dataclasses import dataclass

from lowcarb.errors import InvalidValueError
from lowcarb.grid import resolve_name

__all__ = ["MAX_LOCATION_CHARS", "SdkLocation", "resolve_location"]

#: The longest location name accepted (the longest Azure region name has 18 characters).
MAX_LOCATION_CHARS = 100


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
        UnknownZoneError: Not a known zone or cloud region (the message lists close names).
    """
    text = name.strip()
    if not text:
        raise InvalidValueError("location is empty; give a region such as eastus or a zone id")
    if len(text) > MAX_LOCATION_CHARS or any(ord(c) < 32 or ord(c) == 127 for c in text):
        raise InvalidValueError(
            f"location {text[:40]!r}... is not a location name (too long or control characters); "
            "give a region such as eastus or a zone id such as DE"
        )
    zone, region = resolve_name(text)
    return SdkLocation(name=text, zone_id=zone.zone_id, via=region.key if region else None)
