"""Where a run drew its power, in CodeCarbon's terms: country, region and cloud columns.

CodeCarbon 3.x fills ``country_iso_code`` (ISO 3166-1 alpha-3) and ``country_name`` from a
geolocation lookup or pycountry, and ``region`` with the lower-case state or province
(``external/geography.py``); on a cloud it writes the provider and region, and in ``region`` the
state or city of the data centres (``core/emissions.py``, ``get_cloud_geo_region``). lowcarb never
geolocates, so all of this comes from the zone or cloud region the run was priced with, through
lowcarb's zone catalogue and pycountry. What cannot be told is left blank, as CodeCarbon does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lowcarb.errors import UnknownZoneError
from lowcarb.grid import resolve_name

__all__ = ["Place", "place_of"]

# Electricity Maps US zones whose second segment lies in one state (``US-CAL-CISO`` is in
# California); the others (``US-MIDA-PJM``, ``US-NW-BPAT``, ...) span several states, so their
# region stays blank rather than naming one state wrongly. Values are ISO 3166-2 codes, named by
# pycountry.
_US_SINGLE_STATE = {"CAL": "US-CA", "FLA": "US-FL", "NY": "US-NY", "TEX": "US-TX"}


@dataclass(frozen=True, slots=True)
class Place:
    """CodeCarbon's location columns of one row ("" where unknown)."""

    country_iso_code: str = ""
    country_name: str = ""
    region: str = ""
    cloud_provider: str = ""
    cloud_region: str = ""


def _subdivision_name(code: str) -> str:
    """The lower-case name of an ISO 3166-2 subdivision (``AU-NSW`` -> ``new south wales``)."""
    import pycountry

    subdivisions: Any = pycountry.subdivisions
    found = subdivisions.get(code=code.upper())
    if found is None or isinstance(found, list):  # a country code returns all its subdivisions
        return ""
    return str(found.name).lower()


def _region_of_zone(zone_id: str, kind: str, name: str) -> str:
    if kind not in {"region", "balancing-area"}:
        return ""
    by_code = _subdivision_name(zone_id)
    if by_code:
        return by_code
    parts = zone_id.upper().split("-")
    if parts[0] == "US" and len(parts) > 1:
        state = _US_SINGLE_STATE.get(parts[1])
        return _subdivision_name(state) if state else ""
    # A grid region without an ISO code (``DK-DK1`` "West Denmark", ``IT-NO`` "North Italy"):
    # its own name, lower-cased as CodeCarbon writes regions.
    return name.lower() if kind == "region" else ""


def place_of(location: str) -> Place:
    """CodeCarbon's location columns for a zone id (``DE``, ``AU-NSW``, ``US-CAL-CISO``) or a cloud
    region (``aws:eu-central-1``, or a bare unambiguous ``eu-central-1``).

    ``WORLD``, a blank location and names neither lowcarb nor pycountry knows give blank columns.
    """
    import pycountry

    text = location.strip()
    if not text or text.upper() == "WORLD":
        return Place()
    try:
        zone, cloud = resolve_name(text)  # as pricing resolves it: zone ids first, then regions
    except UnknownZoneError:
        zone, cloud = None, None
    if zone is not None:
        alpha_2, region = zone.country, _region_of_zone(zone.zone_id, zone.kind, zone.name)
    else:  # a zone outside the catalogue (from a trace, say): its country prefix, if one
        alpha_2, region = text.split("-", 1)[0], ""
    country = pycountry.countries.get(alpha_2=alpha_2.upper()) if len(alpha_2) == 2 else None
    if country is None:
        return Place()
    if cloud is None:
        return Place(str(country.alpha_3), str(country.name), region)
    # On a cloud CodeCarbon's region is the data centres' state or city, as written
    # ("N. Virginia, US" -> "N. Virginia"); a location that is only a country gives none.
    city, sep, _ = cloud.location.rpartition(", ")
    return Place(
        str(country.alpha_3), str(country.name), city if sep else "", *cloud.key.split(":")
    )
